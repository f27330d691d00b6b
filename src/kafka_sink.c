/* kafka_sink.c - the Kafka sink (see kafka_sink.h) on librdkafka's producer: enable.idempotence (acks=all,
 * at most 5 in flight, order kept per partition across retries), key = twin id (murmur2_random, as Java
 * clients partition), value = the $twin/{id}/events JSON. librdkafka retries until message.timeout.ms
 * (5 minutes); an event it gives up on, or one that finds its queue full, is dropped and counted.
 * Threads: every function here runs on the broker thread; librdkafka's threads do the network and never
 * call back outside rd_kafka_poll. Must never: block the broker thread (produce only enqueues). */
#include "kafka_sink.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cluster_evkey.h"

#define CLOSE_WAIT_MS 2000

struct twin_kafka {
	rd_kafka_t *rk;
	char *topic;
	void (*log)(void *ctx, enum twin_log_level level, const char *msg);
	void *ctx;
	uint64_t published, dropped;
	bool full;    /* dropping for a full queue (logged when it starts) */
	bool failing; /* librdkafka gives events up (logged when it starts) */
};

bool twin_kafka_option(const char *key)
{
	return strncmp(key, "kafka_", 6) == 0;
}

enum twin_rc twin_kafka_config_parse(struct twin_kafka_config *cfg, const char *const *keys,
		const char *const *values, int n, bool *configured, struct twin_error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->buffer = 100000;
	*configured = false;
	enum twin_rc rc = TWIN_OK;
	for (int i = 0; rc == TWIN_OK && i < n; i++) {
		const char *key = keys[i], *value = values[i] ? values[i] : "";
		if (!twin_kafka_option(key)) {
			continue;
		}
		*configured = true;
		char **field = !strcmp(key, "kafka_brokers") ? &cfg->brokers : !strcmp(key, "kafka_topic") ? &cfg->topic
				: NULL;
		if (field && *value) {
			free(*field);
			if (!(*field = strdup(value))) {
				rc = twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
			}
		} else if (field) {
			rc = twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_%s must not be empty", key);
		} else if (!strcmp(key, "kafka_buffer")) {
			char *end;
			errno = 0;
			long long v = strtoll(value, &end, 10);
			if (end == value || *end || errno || v < 1 || v > 10000000) {
				rc = twin_fail(err, TWIN_ERR_CONFIG, "plugin_opt_kafka_buffer must be an integer in "
						"1..10000000, not '%.50s'", value);
			}
			cfg->buffer = v;
		} else {
			rc = twin_fail(err, TWIN_ERR_CONFIG, "unknown option plugin_opt_%s (Kafka options: kafka_brokers, "
					"kafka_topic, kafka_buffer)", key);
		}
	}
	if (rc == TWIN_OK && *configured && !cfg->brokers) {
		rc = twin_fail(err, TWIN_ERR_CONFIG, "the Kafka sink needs plugin_opt_kafka_brokers (host:port,...)");
	}
	if (rc == TWIN_OK && *configured && !cfg->topic && !(cfg->topic = strdup("twin-events"))) {
		rc = twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	if (rc != TWIN_OK) {
		twin_kafka_config_free(cfg);
	}
	return rc;
}

void twin_kafka_config_free(struct twin_kafka_config *cfg)
{
	free(cfg->brokers);
	free(cfg->topic);
	memset(cfg, 0, sizeof(*cfg));
}

static void say(struct twin_kafka *k, enum twin_log_level level, const char *what, const char *detail)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "mosquitto_twin: kafka: %s%s", what, detail);
	k->log(k->ctx, level, msg);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct twin_kafka *k = opaque;
	(void)rk;
	if (!m->err) {
		k->published++;
		k->failing = false;
		return;
	}
	k->dropped++;
	if (!k->failing) {
		k->failing = true;
		say(k, TWIN_LOG_WARNING, "events are not delivered and are dropped (counted in $SYS/broker/twin/kafka "
				"dropped; logged again after the next delivery): ", rd_kafka_err2str(m->err));
	}
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)err;
	say(opaque, TWIN_LOG_WARNING, "", reason);
}

enum twin_rc twin_kafka_open(const struct twin_kafka_config *cfg,
		void (*log)(void *ctx, enum twin_log_level level, const char *msg), void *ctx,
		struct twin_kafka **out, struct twin_error *err)
{
	struct twin_kafka *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char buffer[32], why[512] = "";
	snprintf(buffer, sizeof(buffer), "%" PRId64, cfg->buffer);
	const char *settings[][2] = {{"bootstrap.servers", cfg->brokers}, {"enable.idempotence", "true"},
			{"linger.ms", "5"}, {"queue.buffering.max.messages", buffer}};
	rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
	if (!k || !conf || !tconf || !(k->topic = strdup(cfg->topic))) {
		rd_kafka_topic_conf_destroy(tconf);
		rd_kafka_conf_destroy(conf);
		free(k);
		return twin_fail(err, TWIN_ERR_NOMEM, "out of memory");
	}
	k->log = log;
	k->ctx = ctx;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], why, sizeof(why)) != RD_KAFKA_CONF_OK) {
			break;
		}
	}
	if (!*why) { /* a topic setting: how Java clients partition by key */
		rd_kafka_topic_conf_set(tconf, "partitioner", "murmur2_random", why, sizeof(why));
	}
	rd_kafka_conf_set_default_topic_conf(conf, tconf); /* takes tconf */
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error); /* on the broker thread, in rd_kafka_poll */
	rd_kafka_conf_set_log_cb(conf, NULL);       /* not librdkafka's own lines on the broker's stderr */
	if (!*why) {
		k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why)); /* takes conf when it works */
	}
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		free(k->topic);
		free(k);
		return twin_fail(err, TWIN_ERR_CONFIG, "cannot start the Kafka producer for %.200s: %s", cfg->brokers,
				why);
	}
	/* librdkafka keeps global state past rd_kafka_destroy: it stays loaded when the broker unloads the
	 * plugin (else its memory reads as leaked, and nothing of it may run after its code is gone) */
	// cppcheck-suppress leakReturnValNotUsed ; never closed: staying loaded is the point
	dlopen("librdkafka.so.1", RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
	*out = k;
	return TWIN_OK;
}

void twin_kafka_offer(struct twin_kafka *k, const char *topic, const char *payload, size_t len)
{
	const char *id;
	size_t id_len;
	int64_t version;
	if (!twin_evkey_change(topic, payload, len, &id, &id_len, &version)) {
		return;
	}
	rd_kafka_resp_err_t e = rd_kafka_producev(k->rk, RD_KAFKA_V_TOPIC(k->topic),
			RD_KAFKA_V_KEY(id, id_len), RD_KAFKA_V_VALUE((void *)payload, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
	if (!e) {
		k->full = false;
		return;
	}
	k->dropped++;
	if (!k->full) {
		k->full = true;
		say(k, TWIN_LOG_WARNING, "cannot queue events (dropping them, counted in $SYS/broker/twin/kafka "
				"dropped; check Kafka or raise plugin_opt_kafka_buffer): ", rd_kafka_err2str(e));
	}
}

void twin_kafka_poll(struct twin_kafka *k)
{
	rd_kafka_poll(k->rk, 0);
}

void twin_kafka_get_counts(struct twin_kafka *k, struct twin_kafka_counts *out)
{
	out->published = k->published;
	out->dropped = k->dropped;
	out->pending = (uint64_t)rd_kafka_outq_len(k->rk);
}

void twin_kafka_close(struct twin_kafka *k)
{
	if (!k) {
		return;
	}
	rd_kafka_flush(k->rk, CLOSE_WAIT_MS);
	int left = rd_kafka_outq_len(k->rk);
	if (left > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%d", left);
		say(k, TWIN_LOG_WARNING, "events not delivered to Kafka at shutdown (dropped): ", n);
	}
	rd_kafka_destroy(k->rk);
	free(k->topic);
	free(k);
}
