/* cmd_model.c - `twinctl model from-wot [--name NAME] FILE|-`: a W3C WoT Thing Model as a twin model file
 * on stdout (wot.h says what maps and what is left out), each left-out keyword noted on stderr with where
 * the Thing Model has it. The model is named NAME, else after the file the way `import --from ditto
 * --models` names the model of a thing whose definition is that file's URL (model_name.h), without the
 * version: rack-th-1.0.0.tm.jsonld -> rack-th. Needs no database. */
#include "twinctl.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "model_name.h"
#include "wot.h"

#define MAX_TM_BYTES (16 << 20)
#define USAGE        "usage: twinctl model from-wot [--name NAME] FILE|-"

/* All of f (at most MAX_TM_BYTES); NULL after saying why. */
static char *read_all(FILE *f, const char *path, size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);
	*len = 0;
	while (buf) {
		*len += fread(buf + *len, 1, cap - *len, f);
		if (*len < cap || cap > MAX_TM_BYTES) {
			break;
		}
		char *grown = realloc(buf, cap * 2);
		if (!grown) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = grown;
		cap *= 2;
	}
	if (!buf) {
		ctl_fail("out of memory");
	} else if (ferror(f) || *len > MAX_TM_BYTES) {
		ctl_fail("cannot read '%s'%s", path, ferror(f) ? "" : ": over 16 MiB");
		free(buf);
		buf = NULL;
	}
	return buf;
}

static void print_notes(const struct ctl_wot_notes *notes)
{
	for (size_t i = 0; i < notes->n; i++) {
		const struct ctl_wot_note *n = &notes->v[i];
		char where[512] = "";
		size_t len = 0;
		for (int k = 0; k < n->count && k < 3; k++) {
			len += (size_t)snprintf(where + len, sizeof(where) - len, "%s%s",
					!k ? "" : k + 1 < n->count || n->count > 3 ? ", " : " and ", n->where[k]);
		}
		if (n->count > 3) {
			snprintf(where + len, sizeof(where) - len, " and %d more", n->count - 3);
		}
		ctl_note("from-wot: left out %s at %s: %s", n->what, where, n->why);
	}
}

/* The model's name into out: NAME, else after the file. CTL_OK or CTL_USAGE. */
static int name_of(const char *name, const char *path, char out[TWIN_MODEL_MAX_NAME + 1])
{
	char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1], file[4096];
	if (name && !twin_model_name_valid(name, strlen(name))) {
		return ctl_usage("--name '%.100s': a model name is 1-64 of A-Z a-z 0-9 . _ -", name);
	}
	if (name) {
		snprintf(out, TWIN_MODEL_MAX_NAME + 1, "%s", name);
		return CTL_OK;
	}
	if (!strcmp(path, "-")) {
		return ctl_usage("reading standard input: give the model a name with --name NAME");
	}
	snprintf(file, sizeof(file), "%s%s", strchr(path, '/') ? "" : "./", path); /* a file, not a Ditto name */
	int n = ctl_model_names(file, names);
	if (!n) {
		return ctl_usage("cannot name a model after '%.100s': give it a name with --name NAME", path);
	}
	memcpy(out, names[n - 1], TWIN_MODEL_MAX_NAME + 1);
	return CTL_OK;
}

static int from_wot(const char *name, const char *path)
{
	struct twin_error err;
	struct ctl_wot_notes notes = {NULL, 0};
	size_t len;
	FILE *f = ctl_open_file(path, "r");
	char *text = f ? read_all(f, path, &len) : NULL;
	if (f && f != stdin) {
		fclose(f);
	}
	if (!text) {
		return CTL_FAIL;
	}
	cJSON *tm = twin_json_parse(text, len, &err);
	cJSON *model = tm ? ctl_wot_model(tm, name, &notes, &err) : NULL;
	char *out = model ? cJSON_Print(model) : NULL;
	int rc = CTL_OK;
	if (!model) {
		rc = ctl_fail("%s: %s", strcmp(path, "-") ? path : "standard input", err.msg);
	} else if (!out) {
		rc = ctl_fail("out of memory");
	} else {
		print_notes(&notes);
		puts(out);
		rc = ctl_close_file(stdout, NULL) ? CTL_OK : CTL_FAIL;
	}
	free(out);
	cJSON_Delete(model);
	cJSON_Delete(tm);
	ctl_wot_notes_free(&notes);
	free(text);
	return rc;
}

int ctl_cmd_model(const struct ctl *c, int argc, char **argv)
{
	const char *name = NULL, *path = NULL;
	char model_name[TWIN_MODEL_MAX_NAME + 1];
	(void)c;
	if (argc < 2 || strcmp(argv[1], "from-wot")) {
		return ctl_usage(USAGE);
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			name = argv[++i];
		} else if ((argv[i][0] == '-' && argv[i][1]) || path) {
			return ctl_usage(USAGE);
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		return ctl_usage(USAGE);
	}
	int rc = name_of(name, path, model_name);
	return rc ? rc : from_wot(model_name, path);
}
