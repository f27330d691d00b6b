/* twin_events.c - twin-events: reads the shards' twin change events from their JetStream stream and
 * prints one JSON line per event: {"seq","time_ns","subject","msg_id","event"} (event: the
 * $twin/{id}/events payload, as published). A consumer starts where it likes: the stream's first event,
 * a stream sequence, a time, or only new events; --filter narrows it to slots or twins by subject.
 * It reads through an ordered consumer (libnats: ephemeral, in stream order, re-created by the library
 * after a NATS node's failure) and stops once it has read everything stored when it started (then waiting
 * --idle-ms more for new events), after --max events, or never with --follow. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

static const char usage[] =
		"usage: twin-events --nats URL [--nats URL...] [--stream NAME] [--filter SUBJECT]\n"
		"                   [--from-seq N | --since UNIX_MS | --new] [--idle-ms MS | --follow] [--max N]\n"
		"  --nats     a NATS server; repeat it for every node of the cluster\n"
		"  --stream   the stream (plugin_opt_cluster_events_stream; default TWIN_EVENTS)\n"
		"  --filter   a subject filter, e.g. twin.events.17.> (slot 17) or twin.events.*.rack-12\n"
		"             (default: every event)\n"
		"  --from-seq the first stream sequence to read; --since the first time (ms since 1970);\n"
		"             --new: only events stored from now on (default: from the stream's first event)\n"
		"  --idle-ms  once it has read what was stored when it started, wait this long for each new event\n"
		"             (default 0: stop then); --follow: never stop\n"
		"  --max      stop after this many events (default: no limit)\n";

static long long number(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (end == v || *end || errno || n < 0) {
		fprintf(stderr, "twin-events: %s needs a non-negative integer, not '%s'\n", opt, v);
		exit(2);
	}
	return n;
}

/* s as a JSON string (subjects and message ids are plain, but a stream may hold anything). */
static void put_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			putchar('\\');
			putchar(*s);
		} else if ((unsigned char)*s < 0x20) {
			printf("\\u%04x", (unsigned char)*s);
		} else {
			putchar(*s);
		}
	}
	putchar('"');
}

#define CATCH_UP_MS 10000 /* the longest wait for an event known to be stored */

/* Prints m; returns how many events the consumer still has to deliver (0 when not a stream message). */
static uint64_t print_event(natsMsg *m)
{
	jsMsgMetaData *meta = NULL;
	const char *id = "";
	natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
	if (natsMsg_GetMetaData(&meta, m) != NATS_OK) {
		return 0;
	}
	uint64_t pending = meta->NumPending;
	printf("{\"seq\":%llu,\"time_ns\":%lld,\"subject\":", (unsigned long long)meta->Sequence.Stream,
			(long long)meta->Timestamp);
	put_string(natsMsg_GetSubject(m));
	fputs(",\"msg_id\":", stdout);
	put_string(id ? id : "");
	printf(",\"event\":%.*s}\n", natsMsg_GetDataLength(m), natsMsg_GetData(m));
	jsMsgMetaData_Destroy(meta);
	return pending;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {{"nats", 1, NULL, 'n'}, {"stream", 1, NULL, 's'},
			{"filter", 1, NULL, 'f'}, {"from-seq", 1, NULL, 'q'}, {"since", 1, NULL, 't'},
			{"new", 0, NULL, 'N'}, {"idle-ms", 1, NULL, 'i'}, {"follow", 0, NULL, 'F'}, {"max", 1, NULL, 'm'},
			{"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *urls[16], *stream = "TWIN_EVENTS", *filter = NULL;
	int n_urls = 0;
	long long idle_ms = 0, max = -1;
	bool follow = false;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Config.DeliverPolicy = js_DeliverAll;
	for (int c; (c = getopt_long(argc, argv, "", longs, NULL)) != -1;) {
		switch (c) {
			case 'n':
				if (n_urls == (int)(sizeof(urls) / sizeof(urls[0]))) {
					fputs("twin-events: at most 16 --nats\n", stderr);
					return 2;
				}
				urls[n_urls++] = optarg;
				break;
			case 's': stream = optarg; break;
			case 'f': filter = optarg; break;
			case 'q':
				so.Config.DeliverPolicy = js_DeliverByStartSequence;
				so.Config.OptStartSeq = (uint64_t)number("--from-seq", optarg);
				break;
			case 't':
				so.Config.DeliverPolicy = js_DeliverByStartTime;
				so.Config.OptStartTime = number("--since", optarg) * 1000000LL;
				break;
			case 'N': so.Config.DeliverPolicy = js_DeliverNew; break;
			case 'i': idle_ms = number("--idle-ms", optarg); break;
			case 'F': follow = true; break;
			case 'm': max = number("--max", optarg); break;
			case 'h': fputs(usage, stdout); return 0;
			default: fputs(usage, stderr); return 2;
		}
	}
	if (!n_urls || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	so.Stream = stream;
	so.Ordered = true;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	natsSubscription *sub = NULL;
	natsOptions *opts = NULL;
	natsStatus s = natsOptions_Create(&opts);
	if (s == NATS_OK) s = natsOptions_SetServers(opts, urls, n_urls);
	if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
	if (s == NATS_OK) s = natsConnection_JetStream(&js, nc, NULL);
	jsErrCode jerr = 0;
	jsStreamInfo *si = NULL;
	if (s == NATS_OK && !filter) { /* every event: the stream's own subject */
		s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
		if (s == NATS_OK && si->Config->SubjectsLen > 0) {
			filter = si->Config->Subjects[0];
		}
	}
	if (s == NATS_OK) s = js_SubscribeSync(&sub, js, filter ? filter : ">", NULL, &so, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr, "twin-events: cannot read stream %s from %s: %s (JetStream error %d); is NATS up, "
				"and does a shard with plugin_opt_cluster_events on run?\n", stream, urls[0],
				natsStatus_GetText(s), (int)jerr);
	}
	uint64_t pending = 0; /* events stored that the consumer has yet to deliver */
	jsConsumerInfo *ci = NULL;
	if (s == NATS_OK && natsSubscription_GetConsumerInfo(&ci, sub, NULL, &jerr) == NATS_OK) {
		pending = ci->NumPending;
		jsConsumerInfo_Destroy(ci);
	}
	long long n = 0;
	while (s == NATS_OK && (max < 0 || n < max)) {
		natsMsg *m = NULL;
		s = natsSubscription_NextMsg(&m, sub, pending || follow ? CATCH_UP_MS : idle_ms);
		if (s == NATS_TIMEOUT && follow) {
			s = NATS_OK;
		} else if (s == NATS_TIMEOUT && pending) {
			fprintf(stderr, "twin-events: %llu events stored but not delivered within %d ms\n",
					(unsigned long long)pending, CATCH_UP_MS);
			s = NATS_ERR;
		} else if (s == NATS_OK) {
			pending = print_event(m);
			natsMsg_Destroy(m);
			n++;
		}
	}
	fflush(stdout);
	int rc = s == NATS_OK || s == NATS_TIMEOUT ? 0 : 1;
	natsSubscription_Destroy(sub);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	nats_Close();
	return rc;
}
