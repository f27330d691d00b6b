/* shard_link.h - twinctl's line to the shards of a fleet: control requests over NATS to
 * <subject>.ctl.<shard> (src/cluster_ctl.h lists the verbs), waiting for each answer. */
#ifndef CTL_SHARD_LINK_H
#define CTL_SHARD_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct ctl_link;

/* Connects to the NATS servers (comma-separated URLs); NULL after printing why. */
struct ctl_link *ctl_link_open(const char *urls, const char *subject);
void ctl_link_close(struct ctl_link *l);

/* The answer of shard to line (+ body): its first line in text (NUL-terminated) and what follows in
 * *rest and *rest_len (valid until the next call). "busy" answers are retried for up to timeout_ms. False
 * after printing why: no answer (the shard is down or not on NATS) or an "error ..." answer. */
bool ctl_link_ask(struct ctl_link *l, const char *shard, const char *line, const void *body,
		size_t body_len, int timeout_ms, char *text, size_t text_size, const void **rest,
		size_t *rest_len);

#endif
