/* broker.c - owns the mosquitto processes: the run's temp dir, a generated config per broker (loopback
 * listener on a free port, and a websockets one for (l), set_tcp_nodelay, no persistence,
 * max_queued_messages 10000000, log to a file, the plugin and its options in the plugin arm), fork/exec,
 * readiness, SIGTERM, and the guarantee that every broker is stopped and the temp dir removed on exit, on
 * errors and on SIGINT/SIGTERM. */
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#ifndef TWIN_BENCH_MOSQUITTO
#define TWIN_BENCH_MOSQUITTO "mosquitto"
#endif
#ifndef TWIN_BENCH_PLUGIN
#define TWIN_BENCH_PLUGIN "mosquitto_twin.so"
#endif

#define MAX_BROKERS 8

static char tmp_root[1024];
static int keep_tmp; /* TWIN_KEEP_TMP=1: leave the temp dir (configs, logs, db) for inspection */
static struct broker *live[MAX_BROKERS]; /* read by the signal handler */

const char *bench_mosquitto(void)
{
	const char *e = getenv("MOSQUITTO");
	return e && *e ? e : TWIN_BENCH_MOSQUITTO;
}

const char *bench_plugin(void)
{
	const char *e = getenv("TWIN_PLUGIN");
	return e && *e ? e : TWIN_BENCH_PLUGIN;
}

/* Async-signal-safe: kill, waitpid, nanosleep, fork, execve. */
static void stop_all_and_remove(void)
{
	for (int i = 0; i < MAX_BROKERS; i++) {
		if (live[i] && live[i]->pid > 0) {
			kill(live[i]->pid, SIGTERM);
		}
	}
	for (int i = 0; i < MAX_BROKERS; i++) {
		if (!live[i] || live[i]->pid <= 0) {
			continue;
		}
		for (int t = 0; t < 3000 && waitpid(live[i]->pid, NULL, WNOHANG) == 0; t++) {
			struct timespec ts = {0, 10000000};
			nanosleep(&ts, NULL);
			if (t == 2999) {
				kill(live[i]->pid, SIGKILL);
				waitpid(live[i]->pid, NULL, 0);
			}
		}
		live[i]->pid = 0;
		live[i] = NULL;
	}
	if (tmp_root[0] && !keep_tmp) {
		pid_t p = fork();
		if (p == 0) {
			char *argv[] = {"rm", "-rf", tmp_root, NULL};
			char *envp[] = {NULL};
			execve("/bin/rm", argv, envp);
			_exit(127);
		}
		if (p > 0) {
			waitpid(p, NULL, 0);
		}
		tmp_root[0] = '\0';
	}
}

static void on_signal(int sig)
{
	stop_all_and_remove();
	_exit(128 + sig);
}

void bench_env_cleanup(void)
{
	stop_all_and_remove();
}

int bench_env_init(void)
{
	const char *t = getenv("TMPDIR"), *keep = getenv("TWIN_KEEP_TMP");
	keep_tmp = keep && strcmp(keep, "1") == 0;
	snprintf(tmp_root, sizeof(tmp_root), "%s/twin-bench-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmp_root)) {
		perror("mkdtemp");
		tmp_root[0] = '\0';
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(bench_env_cleanup);
	return 0;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
			getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
		port = ntohs(a.sin_port);
	}
	if (fd >= 0) {
		close(fd);
	}
	return port;
}

static int write_config(const struct broker *b)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/mosquitto.conf", b->dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
			"persistence false\nmax_queued_messages 10000000\nlog_dest file %s/broker.log\n",
			b->port, b->dir);
	if (geteuid() == 0) {
		fprintf(f, "user root\n");
	}
	if (b->ws_port) { /* socket_domain: else 2.0.11 binds a websockets listener to every address */
		fprintf(f, "listener %d 127.0.0.1\nsocket_domain ipv4\nprotocol websockets\n", b->ws_port);
	}
	if (b->with_plugin) {
		/* request_rate_per_client 0: (c) and (g) drive thousands of requests a second through one
		 * connection; the other limits stay at their defaults */
		fprintf(f, "plugin %s\nplugin_opt_db_path %s\nplugin_opt_map_size 4294967296\n"
				"plugin_opt_queue_size %u\nplugin_opt_request_rate_per_client 0\n", bench_plugin(), b->db,
				b->queue_size);
		/* the scenario's own options, then TWIN_BENCH_OPTS="events false,history_max 10" (design
		 * experiments): "name value" pairs separated by commas */
		const char *lists[] = {b->opts, getenv("TWIN_BENCH_OPTS")};
		for (int l = 0; l < 2; l++) {
			for (const char *o = lists[l]; o && *o; o += strcspn(o, ",") + (o[strcspn(o, ",")] == ',')) {
				fprintf(f, "plugin_opt_%.*s\n", (int)strcspn(o, ","), o);
			}
		}
	}
	return fclose(f);
}

static void track(struct broker *b, int on)
{
	for (int i = 0; i < MAX_BROKERS; i++) {
		if (on ? live[i] == NULL : live[i] == b) {
			live[i] = on ? b : NULL;
			return;
		}
	}
}

int broker_spawn(struct broker *b)
{
	char conf[PATH_MAX + 16];
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", b->dir);
	b->spawned_at = mono_now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		setsid(); /* the terminal's Ctrl-C reaches the bench, which stops the broker */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		char err[PATH_MAX + 16];
		snprintf(err, sizeof(err), "%s/stderr.log", b->dir);
		int null = open("/dev/null", O_RDWR), errfd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		execlp(bench_mosquitto(), "mosquitto", "-c", conf, (char *)NULL);
		fprintf(stderr, "twin_bench: cannot exec %s: %s\n", bench_mosquitto(), strerror(errno));
		_exit(127);
	}
	b->pid = pid;
	track(b, 1);
	return 0;
}

int broker_wait_ready(struct broker *b, double timeout)
{
	double end = mono_now() + timeout;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	while (mono_now() < end) {
		int status;
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			fprintf(stderr, "twin_bench: broker %s exited during start-up\n", b->name);
			track(b, 0);
			b->pid = 0;
			broker_log_tail(b);
			return -1;
		}
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0) {
			close(fd);
		}
		if (ok) {
			return 0;
		}
		usleep(2000);
	}
	fprintf(stderr, "twin_bench: broker %s did not listen within %.0f s\n", b->name, timeout);
	broker_log_tail(b);
	return -1;
}

static int start(struct broker *b, const char *name, int with_plugin, unsigned queue_size)
{
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->with_plugin = with_plugin;
	b->queue_size = queue_size;
	b->port = free_port();
	snprintf(b->dir, sizeof(b->dir), "%s/%s", tmp_root, name);
	snprintf(b->db, sizeof(b->db), "%s/db", b->dir);
	if (b->port < 0 || mkdir(b->dir, 0700) != 0) {
		perror("twin_bench: broker dir/port");
		return -1;
	}
	if (write_config(b) != 0 || broker_spawn(b) != 0) {
		return -1;
	}
	return broker_wait_ready(b, 30);
}

int broker_start(struct broker *b, const char *name, int with_plugin, unsigned queue_size)
{
	memset(b, 0, sizeof(*b));
	return start(b, name, with_plugin, queue_size);
}

int broker_start_ws(struct broker *b, const char *name, int with_plugin)
{
	memset(b, 0, sizeof(*b));
	b->ws_port = free_port();
	return b->ws_port < 0 ? -1 : start(b, name, with_plugin, 1000000);
}

int broker_start_opts(struct broker *b, const char *name, unsigned queue_size, const char *opts)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->opts, sizeof(b->opts), "%s", opts);
	return start(b, name, 1, queue_size);
}


int broker_stop(struct broker *b, double *secs)
{
	if (b->pid <= 0) {
		return 0;
	}
	double t0 = mono_now();
	int status = 0;
	kill(b->pid, SIGTERM);
	for (int t = 0; waitpid(b->pid, &status, WNOHANG) == 0; t++) {
		if (t == 30000) {
			fprintf(stderr, "twin_bench: broker %s ignored SIGTERM for 30 s, killing it\n", b->name);
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			break;
		}
		usleep(1000);
	}
	if (secs) {
		*secs = mono_now() - t0;
	}
	track(b, 0);
	b->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "twin_bench: broker %s ended abnormally (status 0x%x)\n", b->name, status);
		broker_log_tail(b);
		return -1;
	}
	return 0;
}

long broker_status_kb(const struct broker *b, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

void broker_log_tail(const struct broker *b)
{
	char cmd[2 * PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "tail -n 15 '%s/stderr.log' '%s/broker.log' >&2", b->dir, b->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "(no log for broker %s)\n", b->name);
	}
}
