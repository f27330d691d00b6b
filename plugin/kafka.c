/* kafka.c - the glue of the optional Kafka sink when built with -DTWIN_KAFKA=ON (src/kafka_sink.c): reads
 * the plugin_opt_kafka_* lines, hands every message about to be published to the sink, runs its delivery
 * reports on every tick, and reports its counters as retained $SYS/broker/twin/kafka (at most once a
 * second, when they changed). Broker thread only. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "kafka_sink.h"
#include "plugin.h"

#define REPORT_INTERVAL_MS 1000

struct twin_kafka_hook {
	struct twin_kafka_config cfg;
	struct twin_kafka *sink;
	struct twin_out_list out; /* its log lines and reports, for twin_publish_pending */
	struct twin_kafka_counts reported;
	int64_t next_report_ms;
};

static void log_line(void *ctx, enum twin_log_level level, const char *msg)
{
	struct twin_kafka_hook *h = ctx;
	struct twin_out *o = twin_out_log(level, "%s", msg);
	if (o) {
		twin_out_list_add(&h->out, o);
	}
}

bool twin_kafka_hook_option(const char *key)
{
	return twin_kafka_option(key);
}

enum twin_rc twin_kafka_hook_open(struct twin_plugin *tp, const char *const *keys, const char *const *values,
		int n, struct twin_error *err)
{
	bool configured;
	struct twin_kafka_hook *h = calloc(1, sizeof(*h));
	if (!h) {
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	enum twin_rc rc = twin_kafka_config_parse(&h->cfg, keys, values, n, &configured, err);
	if (rc == TWIN_OK && configured && !tp->cfg.events) {
		rc = twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_kafka_brokers needs plugin_opt_events true (the "
				"Kafka topic carries the $twin/{id}/events messages)");
	}
	if (rc == TWIN_OK && configured) {
		rc = twin_kafka_open(&h->cfg, log_line, h, &h->sink, err);
	}
	if (rc != TWIN_OK || !configured) {
		twin_kafka_config_free(&h->cfg);
		free(h);
		return rc;
	}
	tp->kafka = h;
	mosquitto_log_printf(MOSQ_LOG_INFO, "mosquitto_twin: kafka sink: brokers=%s topic=%s buffer=%lld",
			h->cfg.brokers, h->cfg.topic, (long long)h->cfg.buffer);
	return TWIN_OK;
}

void twin_kafka_hook_close(struct twin_plugin *tp)
{
	struct twin_kafka_hook *h = tp->kafka;
	if (h) {
		twin_kafka_close(h->sink); /* its last log lines are in h->out */
		for (struct twin_out *o = h->out.head; o; o = o->next) {
			mosquitto_log_printf(MOSQ_LOG_WARNING, "%s", o->payload);
		}
		twin_out_list_free(&h->out);
		twin_kafka_config_free(&h->cfg);
		free(h);
		tp->kafka = NULL;
	}
}

void twin_kafka_hook_event(struct twin_plugin *tp, const struct twin_out *o)
{
	if (tp->kafka && o->kind == TWIN_OUT_PUBLISH && !o->target && o->status <= 0) {
		twin_kafka_offer(tp->kafka->sink, o->topic, o->payload, o->payload_len);
	}
}

static void report(struct twin_kafka_hook *h)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	struct twin_kafka_counts c;
	twin_kafka_get_counts(h->sink, &c);
	if (now < h->next_report_ms || (h->next_report_ms && !memcmp(&c, &h->reported, sizeof(c)))) {
		return;
	}
	h->next_report_ms = now + REPORT_INTERVAL_MS;
	h->reported = c;
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "published", (double)c.published);
	cJSON_AddNumberToObject(j, "dropped", (double)c.dropped);
	cJSON_AddNumberToObject(j, "pending", (double)c.pending);
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	struct twin_out *o = text ? twin_out_publish(NULL, "$SYS/broker/twin/kafka", text, strlen(text), 0, true)
			: NULL;
	if (o) {
		twin_out_list_add(&h->out, o);
	}
	cJSON_free(text);
}

void twin_kafka_hook_tick(struct twin_plugin *tp)
{
	if (tp->kafka) {
		twin_kafka_poll(tp->kafka->sink);
		report(tp->kafka);
	}
}

struct twin_out *twin_kafka_hook_take(struct twin_plugin *tp)
{
	struct twin_kafka_hook *h = tp->kafka;
	struct twin_out *o = h ? h->out.head : NULL;
	if (o) {
		h->out.head = o->next;
		if (!h->out.head) {
			h->out.tail = NULL;
		}
		o->next = NULL;
	}
	return o;
}
