/* writer.h - the writer thread: takes queued operations, applies them to twins (parse, merge, delta),
 * writes each changed twin once per batch, commits with fsync, and only then releases the answers. */
#ifndef TWIN_WRITER_H
#define TWIN_WRITER_H

#include <stdatomic.h>

#include "config.h"
#include "metrics.h"
#include "model.h"
#include "queue.h"
#include "store.h"

struct twin_writer_deps {
	struct twin_store *store;
	const struct twin_config *cfg;
	struct twin_opq *in;
	struct twin_outq *out;
	struct twin_metrics *metrics;
	_Atomic uint64_t *done_seq;   /* every op with seq <= this is committed (or failed) */
	struct twin_models_slot *models; /* the models in force (each batch takes the set of its start) */
	void (*wake)(void *wake_ctx); /* called after outbound messages were queued */
	void *wake_ctx;
};

struct twin_writer;

enum twin_rc twin_writer_start(const struct twin_writer_deps *deps, struct twin_writer **out);
/* Drains the queue, commits what it held, and joins the thread. */
void twin_writer_stop(struct twin_writer *w);

/* One batch, synchronously (the thread's body; exposed for unit tests): applies ops (entries: a telemetry
 * op carries the later messages of its twin in op->more), commits, appends answers and device messages to
 * out, then publishes done as the new done_seq (0: leaves it). Takes ownership of the ops. */
void twin_writer_process(struct twin_writer *w, struct twin_op *ops, uint64_t done,
		struct twin_out_list *out);
struct twin_writer *twin_writer_new(const struct twin_writer_deps *deps);
void twin_writer_free(struct twin_writer *w);

#endif
