/* broker.h - start and stop mosquitto processes for the benchmark (see broker.c). */
#ifndef BENCH_BROKER_H
#define BENCH_BROKER_H

#include <limits.h>
#include <sys/types.h>

struct broker {
	pid_t pid;          /* 0 when not running */
	int port;
	int ws_port;        /* a websockets listener too, on this port (0: none) */
	int with_plugin;
	unsigned queue_size; /* plugin_opt_queue_size */
	char opts[128];      /* more plugin options, "name value,name value" */
	double spawned_at;  /* mono_now() just before fork */
	char name[32];
	char dir[1100];     /* its own directory under the run's temp dir */
	char db[PATH_MAX];  /* plugin_opt_db_path */
};

/* Creates the run's temp dir and installs the SIGINT/SIGTERM/exit handlers that stop every broker and
 * remove the temp dir. */
int bench_env_init(void);
void bench_env_cleanup(void);

const char *bench_mosquitto(void); /* env MOSQUITTO, else the build-time path, else "mosquitto" */
const char *bench_plugin(void);    /* env TWIN_PLUGIN, else the plugin of this build tree */

/* Writes the config, forks/execs and waits until the port accepts connections. */
int broker_start(struct broker *b, const char *name, int with_plugin, unsigned queue_size);
/* The same for a plugin broker with more plugin options ("max_twin_bytes 1048576,events false"). */
int broker_start_opts(struct broker *b, const char *name, unsigned queue_size, const char *opts);
/* The same with a websockets listener beside the plain one (b->ws_port), and the plugin's default queue. */
int broker_start_ws(struct broker *b, const char *name, int with_plugin);
/* Fork/exec only (same port, config and db), recording spawned_at; for restart timing. */
int broker_spawn(struct broker *b);
int broker_wait_ready(struct broker *b, double timeout);
/* SIGTERM and wait (SIGKILL after 30 s); *secs = time to exit when not NULL. */
int broker_stop(struct broker *b, double *secs);
/* A field of /proc/<pid>/status in kB (e.g. "RssAnon"), -1 when unknown. */
long broker_status_kb(const struct broker *b, const char *field);
void broker_log_tail(const struct broker *b);

#endif
