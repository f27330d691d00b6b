/* cputime.c - owns reading the CPU time of each thread of a broker process from /proc/<pid>/task: the
 * scheduler's nanosecond run time (schedstat) where the kernel has it, else utime + stime of stat in clock
 * ticks; and splitting the time between two snapshots into the broker thread and the plugin's writer. The
 * plugin does not name its threads, so the writer is the non-main thread that used the most CPU in the
 * interval (the search thread, the only other one, does nothing under an ingest load). */
#include "cputime.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static double thread_secs(pid_t pid, pid_t tid)
{
	char path[96], buf[1024];
	unsigned long long ns;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	FILE *f = fopen(path, "r");
	if (f) {
		int ok = fscanf(f, "%llu", &ns) == 1;
		fclose(f);
		if (ok) {
			return (double)ns * 1e-9;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (!(f = fopen(path, "r"))) {
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	unsigned long long utime, stime;
	/* after ")": state (field 3) ... utime and stime are fields 14 and 15 */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) {
		return -1;
	}
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

int cpu_snap_take(pid_t pid, struct cpu_snap *s)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	s->n = 0;
	if (!d) {
		return -1;
	}
	/* readdir on a stream of its own is safe (only readdir_r is deprecated); one thread reads it */
	// cppcheck-suppress readdirCalled
	for (struct dirent *e; (e = readdir(d)) && s->n < CPU_MAX_THREADS;) {
		pid_t tid = (pid_t)atoi(e->d_name);
		double t = tid > 0 ? thread_secs(pid, tid) : -1;
		if (t >= 0) {
			s->tid[s->n] = tid;
			s->secs[s->n++] = t;
		}
	}
	closedir(d);
	return s->n > 0 ? 0 : -1;
}

static double total_secs(const struct cpu_snap *s)
{
	double t = 0;
	for (int i = 0; i < s->n; i++) {
		t += s->secs[i];
	}
	return t;
}

int cpu_wait_idle(pid_t pid, double timeout)
{
	struct cpu_snap a, b;
	double end = mono_now() + timeout;
	if (cpu_snap_take(pid, &a) != 0) {
		return -1;
	}
	while (mono_now() < end) {
		struct timespec ts = {0, 200000000};
		nanosleep(&ts, NULL);
		if (cpu_snap_take(pid, &b) != 0) {
			return -1;
		}
		if (total_secs(&b) - total_secs(&a) < 0.004) {
			return 0;
		}
		a = b;
	}
	return -1;
}

static double secs_of(const struct cpu_snap *s, pid_t tid)
{
	for (int i = 0; i < s->n; i++) {
		if (s->tid[i] == tid) {
			return s->secs[i];
		}
	}
	return 0; /* a thread started in between */
}

void cpu_use_between(pid_t pid, const struct cpu_snap *before, const struct cpu_snap *after, struct cpu_use *u)
{
	memset(u, 0, sizeof(*u));
	double total = 0;
	for (int i = 0; i < after->n; i++) {
		double d = after->secs[i] - secs_of(before, after->tid[i]);
		if (after->tid[i] == pid) {
			u->broker = d;
		} else {
			total += d;
			u->writer = d > u->writer ? d : u->writer;
		}
	}
	u->others = total - u->writer;
}
