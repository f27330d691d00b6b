/* progress.c - the progress bar (see progress.h). It only ever writes to stderr and only on a terminal,
 * so output files, pipes and logs never see it. */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "twin_common.h"

#define BAR_WIDTH     30
#define REDRAW_EVERY  100 /* ms */

void ctl_progress_begin(struct ctl_progress *p, const char *what, const char *unit, uint64_t total)
{
	p->on = isatty(STDERR_FILENO) == 1;
	p->what = what;
	p->unit = unit;
	p->total = total;
	p->last_ms = 0;
}

void ctl_progress_update(struct ctl_progress *p, uint64_t done, uint64_t count)
{
	int64_t now = twin_now_ms();
	if (!p->on || now - p->last_ms < REDRAW_EVERY) {
		return;
	}
	p->last_ms = now;
	if (!p->total) {
		fprintf(stderr, "\r%s: %llu %s", p->what, (unsigned long long)count, p->unit);
		return;
	}
	uint64_t shown = done > p->total ? p->total : done;
	int filled = (int)(shown * BAR_WIDTH / p->total);
	char bar[BAR_WIDTH + 1];
	for (int i = 0; i < BAR_WIDTH; i++) {
		bar[i] = i < filled ? '#' : '.';
	}
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r%s [%s] %3d%% %llu %s", p->what, bar, (int)(shown * 100 / p->total),
			(unsigned long long)count, p->unit);
}

void ctl_progress_end(struct ctl_progress *p)
{
	if (p->on && p->last_ms) {
		fputs("\r\033[K", stderr);
	}
}
