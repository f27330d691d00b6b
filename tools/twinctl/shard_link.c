/* shard_link.c - control requests to shards over NATS (see shard_link.h), with libnats's synchronous
 * request: twinctl is a command-line tool, waiting is its job. */
#include "shard_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "twinctl.h"

#define BUSY_PAUSE_MS 20

struct ctl_link {
	natsConnection *nc;
	natsMsg *last;
	char subject[128];
};

struct ctl_link *ctl_link_open(const char *urls, const char *subject)
{
	struct ctl_link *l = calloc(1, sizeof(*l));
	natsOptions *opts = NULL;
	natsStatus s = l ? natsOptions_Create(&opts) : NATS_NO_MEMORY;
	if (s == NATS_OK) s = natsOptions_SetURL(opts, urls);
	if (s == NATS_OK) s = natsOptions_SetName(opts, "twinctl");
	if (s == NATS_OK) s = natsConnection_Connect(&l->nc, opts);
	natsOptions_Destroy(opts);
	if (s != NATS_OK) {
		ctl_fail("cannot connect to NATS at %s: %s (give the shards' plugin_opt_cluster_nats with --nats)",
				urls, natsStatus_GetText(s));
		free(l);
		nats_Close();
		return NULL;
	}
	snprintf(l->subject, sizeof(l->subject), "%s", subject);
	return l;
}

void ctl_link_close(struct ctl_link *l)
{
	if (l) {
		natsMsg_Destroy(l->last);
		natsConnection_Destroy(l->nc);
		free(l);
	}
	nats_Close();
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

bool ctl_link_ask(struct ctl_link *l, const char *shard, const char *line, const void *body,
		size_t body_len, int timeout_ms, char *text, size_t text_size, const void **rest,
		size_t *rest_len)
{
	char subject[256];
	size_t line_len = strlen(line);
	char *data = malloc(line_len + 1 + body_len);
	if (!data) {
		return ctl_fail("out of memory"), false;
	}
	memcpy(data, line, line_len);
	data[line_len] = '\n';
	if (body_len) {
		memcpy(data + line_len + 1, body, body_len);
	}
	snprintf(subject, sizeof(subject), "%s.ctl.%s", l->subject, shard);
	for (int waited = 0;; waited += BUSY_PAUSE_MS) {
		natsMsg_Destroy(l->last);
		l->last = NULL;
		natsStatus s = natsConnection_Request(&l->last, l->nc, subject, data, (int)(line_len + 1 + body_len),
				timeout_ms);
		if (s != NATS_OK) {
			free(data);
			ctl_fail("shard %s does not answer '%s' on %s: %s (is it running, with plugin_opt_cluster_nats "
					 "and plugin_opt_cluster_shard %s?)", shard, line, subject, natsStatus_GetText(s), shard);
			return false;
		}
		const char *d = natsMsg_GetData(l->last);
		size_t n = (size_t)natsMsg_GetDataLength(l->last);
		const char *nl = memchr(d, '\n', n);
		size_t first = nl ? (size_t)(nl - d) : n;
		snprintf(text, text_size, "%.*s", (int)first, d);
		*rest = nl ? nl + 1 : d + n;
		*rest_len = nl ? n - first - 1 : 0;
		if (strncmp(text, "busy", 4) || waited >= timeout_ms) {
			break;
		}
		pause_ms(BUSY_PAUSE_MS);
	}
	free(data);
	if (strncmp(text, "ok", 2)) {
		ctl_fail("shard %s answered '%s': %s", shard, line, text);
		return false;
	}
	return true;
}
