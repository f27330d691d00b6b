/* stats.c - medians of rounds, percentiles of latency samples, and the report: rows are collected while
 * the scenarios run and printed as aligned tables at the end (throughputs, end to end, latencies,
 * single-arm figures, notes). */
#include "stats.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void series_add(struct series *s, double v)
{
	if (s->n < (int)(sizeof(s->v) / sizeof(s->v[0]))) {
		s->v[s->n++] = v;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double series_median(const struct series *s)
{
	double v[BENCH_MAX_ROUNDS];
	if (s->n == 0) {
		return NAN;
	}
	memcpy(v, s->v, sizeof(double) * (size_t)s->n);
	qsort(v, (size_t)s->n, sizeof(double), cmp_double);
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

int samples_add(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		double *nv = realloc(s->v, cap * sizeof(double));
		if (!nv) {
			return -1;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

void samples_free(struct samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

double samples_pct(struct samples *s, double pct)
{
	if (s->n == 0) {
		return NAN;
	}
	qsort(s->v, s->n, sizeof(double), cmp_double);
	size_t i = (size_t)ceil(pct / 100.0 * (double)s->n);
	return s->v[i ? i - 1 : 0];
}

enum row_kind { ROW_TPUT, ROW_E2E, ROW_LAT, ROW_SINGLE, ROW_NOTE };

struct row {
	enum row_kind kind;
	char name[64];
	char text[256];
	double a[3], b[3]; /* tput: median bare, median plugin; lat: p50/p99/p99.9 of each arm */
	double goal;
	int met;
	struct e2e_row e2e;
};

static struct row rows[80];
static int nrows, judge = 1;

void report_judge(int on)
{
	judge = on;
}

static struct row *add_row(enum row_kind kind, const char *name)
{
	if (nrows == (int)(sizeof(rows) / sizeof(rows[0]))) {
		return NULL;
	}
	struct row *r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

void report_tput(const char *name, const struct series *bare, const struct series *plugin, double goal)
{
	struct row *r = add_row(ROW_TPUT, name);
	if (r) {
		r->a[0] = series_median(bare);
		r->b[0] = series_median(plugin);
		r->goal = goal;
	}
}

void report_e2e(const struct e2e_row *e)
{
	struct row *r = add_row(ROW_E2E, e->name);
	if (r) {
		r->e2e = *e;
	}
}

void report_lat(const char *name, struct samples *bare, struct samples *plugin, double goal_p99)
{
	struct row *r = add_row(ROW_LAT, name);
	if (!r) {
		return;
	}
	static const double pct[3] = {50, 99, 99.9};
	for (int i = 0; i < 3; i++) {
		r->a[i] = bare ? samples_pct(bare, pct[i]) : NAN;
		r->b[i] = samples_pct(plugin, pct[i]);
	}
	r->goal = goal_p99;
}

void report_single(const char *name, const char *text, int met)
{
	struct row *r = add_row(ROW_SINGLE, name);
	if (r) {
		snprintf(r->text, sizeof(r->text), "%s", text);
		r->met = met;
	}
}

void report_note(const char *fmt, ...)
{
	struct row *r = add_row(ROW_NOTE, "");
	if (r) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->text, sizeof(r->text), fmt, ap);
		va_end(ap);
	}
}

static const char *verdict(int met)
{
	return met < 0 || !judge ? "" : met ? "met" : "MISSED";
}

/* "-" for a figure not measured (NAN or negative). */
static void cell(double v, int width, int decimals)
{
	if (v != v || v < 0) {
		printf(" %*s", width, "-");
	} else {
		printf(" %*.*f", width, decimals, v);
	}
}

static void print_e2e(void)
{
	int any = 0;
	for (int i = 0; i < nrows; i++) {
		const struct e2e_row *e = &rows[i].e2e;
		if (rows[i].kind != ROW_E2E) {
			continue;
		}
		if (!any++) {
			printf("\nend to end (median of rounds; twin e2e: twin updates/s from the first publish until every "
					"message reached its twin)\n");
			printf("%-36s %9s %9s %9s %8s %8s %10s | %6s %13s | %13s\n", "", "bare", "twin", "twin", "e2e/",
					"", "peak", "writer", "broker us/msg", "RSS MB at end");
			printf("%-36s %9s %9s %9s %8s %8s %10s | %6s %6s %6s | %6s %6s\n", "scenario", "in/s", "in/s",
					"e2e/s", "bare in", "dropped", "queue", "us/msg", "bare", "twin", "bare", "twin");
		}
		printf("%-36s", e->name);
		cell(e->bare_in, 9, 0);
		cell(e->twin_in, 9, 0);
		cell(e->twin_e2e, 9, 0);
		cell(e->ratio, 8, 3);
		printf(" %8lld", e->dropped);
		cell((double)e->peak_queue, 10, 0);
		printf(" |");
		cell(e->writer_us, 6, 1);
		cell(e->broker_us[0], 6, 1);
		cell(e->broker_us[1], 6, 1);
		printf(" |");
		cell(e->rss_mb[0], 6, 1);
		cell(e->rss_mb[1], 6, 1);
		printf("\n");
	}
}

void report_print(void)
{
	printf("\n%-40s %12s %12s %7s  %s\n", "throughput (msg/s, median of rounds)", "bare", "plugin",
			"ratio", "goal");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		if (r->kind != ROW_TPUT) {
			continue;
		}
		double ratio = r->b[0] / r->a[0];
		if (r->goal > 0) {
			printf("%-40s %12.0f %12.0f %7.3f  >= %.2f %s\n", r->name, r->a[0], r->b[0], ratio,
					r->goal, verdict(ratio >= r->goal));
		} else {
			printf("%-40s %12.0f %12.0f %7.3f\n", r->name, r->a[0], r->b[0], ratio);
		}
	}
	print_e2e();
	printf("\n%-32s %8s %8s %8s | %8s %8s %8s  %s\n", "latency (us, pooled rounds)", "bare p50",
			"p99", "p99.9", "twin p50", "p99", "p99.9", "goal (twin p99)");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		if (r->kind != ROW_LAT) {
			continue;
		}
		printf("%-32s %8.0f %8.0f %8.0f | %8.0f %8.0f %8.0f", r->name, r->a[0], r->a[1], r->a[2],
				r->b[0], r->b[1], r->b[2]);
		if (r->goal > 0) {
			printf("  <= %.0f %s", r->goal, verdict(r->b[1] <= r->goal));
		}
		printf("\n");
	}
	printf("\n%-32s %s\n", "plugin only", "figure");
	for (int i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		if (r->kind == ROW_SINGLE) {
			printf("%-32s %s %s\n", r->name, r->text, verdict(r->met));
		}
	}
	int notes = 0;
	for (int i = 0; i < nrows; i++) {
		if (rows[i].kind == ROW_NOTE) {
			printf("%s%s\n", notes++ ? "  " : "\nnotes:\n  ", rows[i].text);
		}
	}
	if (!judge) {
		printf("\nnothing was checked: no figure is judged against its goal in a smoke run, which only proves "
			   "that every scenario runs (the goals are the full run's: README, Performance)\n");
	}
}
