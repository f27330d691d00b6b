/* progress.h - a one-line progress bar on stderr, drawn only when stderr is a terminal. */
#ifndef CTL_PROGRESS_H
#define CTL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct ctl_progress {
	bool on;
	const char *what, *unit; /* "export", "twins" */
	uint64_t total;          /* of `done`; 0 = unknown (no bar, only the count) */
	int64_t last_ms;
};

void ctl_progress_begin(struct ctl_progress *p, const char *what, const char *unit, uint64_t total);
/* done of total (bytes, twins), count of unit; redrawn at most 10 times a second. */
void ctl_progress_update(struct ctl_progress *p, uint64_t done, uint64_t count);
/* Clears the line. */
void ctl_progress_end(struct ctl_progress *p);

#endif
