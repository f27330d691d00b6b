/* main.c - twinctl: the command line (global options, the command table) and its --help text.
 *
 * twinctl works on a mosquitto-twin database directory directly, with the same core (twin_core) the
 * plugin uses, and no broker involved. The read-only commands open the store read-only and take no lock,
 * so they work beside a running broker (LMDB lets other processes read while one writes); import writes
 * and therefore needs the store's lock, which a running broker holds. `model from-wot` converts a file and
 * opens no store. */
#include "twinctl.h"

#include <string.h>

#include "version.h"

static const char help[] =
		"usage: twinctl [-d DB_DIR] COMMAND [ARGS]\n"
		"       twinctl --version | --help\n"
		"\n"
		"Reads and writes a mosquitto-twin database directory (plugin_opt_db_path; default\n"
		"-d " CTL_DEFAULT_DB ").\n"
		"\n"
		"Read-only (safe while a broker runs on DB_DIR; they see one consistent snapshot):\n"
		"  ls [--prefix P]      twin ids in byte order, one per line\n"
		"  get ID               the twin's JSON, as $twin/{id}/get answers it (without connected)\n"
		"  export [FILE|-]      every twin as JSON Lines (one document per line) to FILE or stdout\n"
		"  stats [--json]       twins, tombstones, desired, history; entries and bytes per table; map use\n"
		"  compact OUT_DIR      a compacted copy of the database into OUT_DIR (which must not hold one)\n"
		"  check                verifies that every twin loads and the desired index matches;\n"
		"                       exit code 0 = consistent, 1 = problems (listed)\n"
		"\n"
		"Writing (refused while a broker runs on DB_DIR; holds the lock meanwhile):\n"
		"  import [FILE|-]      JSON Lines of twin documents (as export writes them)\n"
		"    --from ditto       Eclipse Ditto things instead: a JSON array (GET /api/2/things), a\n"
		"                       search answer {\"items\": [...]}, or JSON Lines of things\n"
		"    --models DIR       with --from ditto: the broker's model files (plugin_opt_models_dir).\n"
		"                       A thing's definition becomes attributes.model when it stands for a\n"
		"                       model of DIR and the twin conforms to it: org.acme:rack-th:1.2.0 and\n"
		"                       .../rack-th-1.2.0.tm.jsonld stand for rack-th-1.2.0, else rack-th.\n"
		"                       Otherwise (and without --models) it is kept as attributes.definition,\n"
		"                       with a note on stderr saying why\n"
		"    --keep-existing    skip twins that exist (default: replace them, versions continuing)\n"
		"    --strict           stop at the first bad record (default: report it, go on)\n"
		"    --batch N          records per transaction (default 1000)\n"
		"    --max-twin-bytes N, --max-depth N\n"
		"                       the broker's limits, if it runs with others than 65536 and 16\n"
		"\n"
		"An imported twin that exists is replaced: its version, and that of each section that\n"
		"changed, continues after the stored one (or after a deleted twin's tombstone), so no\n"
		"version is ever reused. A twin whose content is already stored is skipped. Every import\n"
		"ends with a summary line: imported, skipped (why), errors (their lines), and what became\n"
		"of the Ditto things' definitions.\n"
		"\n"
		"Models (no database involved):\n"
		"  model from-wot [--name NAME] FILE|-\n"
		"                       a W3C WoT Thing Model as a model file on stdout: readOnly properties\n"
		"                       go to reported, writeOnly ones to desired, writable ones to both;\n"
		"                       what the model subset lacks is left out and listed on stderr. NAME\n"
		"                       defaults to the file's name without version and extension\n"
		"                       (rack-th-1.0.0.tm.jsonld: rack-th), as import --models looks it up\n"
		"\n"
		"Cluster (a -DTWIN_CLUSTER=ON build; talks to running shards over NATS, no DB_DIR):\n"
		"  cluster status SHARD... [--nats URLS] [--subject S]\n"
		"                       each shard's slots and frozen slots\n"
		"  cluster move-slot SLOT --from SHARD --to SHARD [--nats URLS] [--subject S]\n"
		"          [--haproxy SOCKET --map FILE [--backend NAME]] [--grace-ms MS] [--abort]\n"
		"                       moves a slot's twins (versions, history, tombstones) to another\n"
		"                       shard, switches HAProxy's map (runtime and file) and the shards'\n"
		"                       persisted slot tables, disconnects the slot's devices; requests\n"
		"                       meanwhile answer 503 (retry). Run it again to resume after a failure\n"
		"\n"
		"Run twinctl as the user the broker runs as (sudo -u mosquitto twinctl ...): readers\n"
		"write LMDB's lock file, and the files an import creates must be the broker's.\n"
		"\n"
		"Exit codes: 0 done, 1 failed or problems found or records refused, 2 usage.\n";

#ifndef TWINCTL_CLUSTER
static int cluster_missing(const struct ctl *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	return ctl_fail("this twinctl was built without -DTWIN_CLUSTER=ON: use the twinctl of a cluster build "
					"(build-cluster/twinctl)");
}
#endif

static const struct {
	const char *name;
	ctl_cmd_fn fn;
} commands[] = {
		{"ls", ctl_cmd_ls},
		{"get", ctl_cmd_get},
		{"export", ctl_cmd_export},
		{"import", ctl_cmd_import},
		{"stats", ctl_cmd_stats},
		{"compact", ctl_cmd_compact},
		{"check", ctl_cmd_check},
		{"model", ctl_cmd_model},
#ifdef TWINCTL_CLUSTER
		{"cluster", ctl_cmd_cluster},
#else
		{"cluster", cluster_missing},
#endif
};

int main(int argc, char **argv)
{
	struct ctl c = {CTL_DEFAULT_DB};
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(help, stdout);
			return CTL_OK;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("twinctl (mosquitto-twin) %s\n", twin_version());
			return CTL_OK;
		}
		if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			c.db = argv[++i];
		} else {
			return ctl_usage("unknown option '%s'", argv[i]);
		}
	}
	if (i == argc) {
		fputs(help, stderr);
		return CTL_USAGE;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (!strcmp(argv[i], commands[k].name)) {
			return commands[k].fn(&c, argc - i, argv + i);
		}
	}
	return ctl_usage("unknown command '%s'", argv[i]);
}
