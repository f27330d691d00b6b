/* twin_kafka_mock.c - twin-kafka-mock TOPIC PARTITIONS: a librdkafka mock cluster (3 brokers, real Kafka
 * protocol on 127.0.0.1 ports) holding TOPIC, for tests/e2e/test_kafka_events.py. It prints
 * "bootstrap <servers>", then runs commands read from stdin, one a line, until end of input:
 *   consume   prints every message of TOPIC from its start, one JSON line each:
 *             {"partition","offset","key_hex","value"} (value: the message, which must be JSON), then "end".
 *   down N    broker N (1..3) stops answering (its connections close); "ok"
 *   up N      it answers again; "ok"
 * The cluster lives as long as this process. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define WAIT_MS 10000 /* the longest wait for a message known to be there */

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* the consumer is assigned its partitions (no group membership), but polls need a group id */
	if ((bootstrap && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err))) ||
			(type == RD_KAFKA_CONSUMER && (rd_kafka_conf_set(conf, "group.id", "twin-kafka-mock", err,
					sizeof(err)) || rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))))) {
		fprintf(stderr, "twin-kafka-mock: %s\n", err);
		exit(1);
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "twin-kafka-mock: %s\n", err);
		exit(1);
	}
	return rk;
}

static void print_message(const rd_kafka_message_t *m)
{
	printf("{\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"key_hex\":\"", m->partition, m->offset);
	for (size_t i = 0; i < m->key_len; i++) {
		printf("%02x", ((const unsigned char *)m->key)[i]);
	}
	printf("\",\"value\":%.*s}\n", (int)m->len, (const char *)m->payload);
}

/* Every message of topic's partitions, up to their high watermarks now. */
static int consume(const char *bootstrap, const char *topic, int partitions)
{
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, bootstrap);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
	int64_t left = 0;
	for (int p = 0; p < partitions; p++) {
		int64_t low, high;
		if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, WAIT_MS)) {
			fprintf(stderr, "twin-kafka-mock: no watermarks for %s[%d]\n", topic, p);
			return 1;
		}
		left += high - low;
		rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	int rc = 0, errors = 0;
	while (left > 0 && errors < 100) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, WAIT_MS);
		if (!m) {
			fprintf(stderr, "twin-kafka-mock: %" PRId64 " messages not delivered\n", left);
			rc = 1;
			break;
		}
		if (!m->err) {
			print_message(m);
			left--;
		} else if (errors++ < 10) {
			fprintf(stderr, "twin-kafka-mock: %s\n", rd_kafka_message_errstr(m));
		}
		rd_kafka_message_destroy(m);
	}
	rc = left ? 1 : rc;
	printf("end\n");
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atoi(argv[2]) < 1) {
		fputs("usage: twin-kafka-mock TOPIC PARTITIONS\n", stderr);
		return 2;
	}
	const char *topic = argv[1];
	int partitions = atoi(argv[2]);
	rd_kafka_t *owner = client(RD_KAFKA_PRODUCER, NULL);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 3);
	if (!mc || rd_kafka_mock_topic_create(mc, topic, partitions, 3)) {
		fputs("twin-kafka-mock: cannot start the mock cluster\n", stderr);
		return 1;
	}
	const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
	printf("bootstrap %s\n", bootstrap);
	fflush(stdout);
	char line[64];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), stdin)) {
		int broker;
		if (!strcmp(line, "consume\n")) {
			rc = consume(bootstrap, topic, partitions);
		} else if (sscanf(line, "down %d", &broker) == 1 || sscanf(line, "up %d", &broker) == 1) {
			rd_kafka_resp_err_t e = line[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, broker)
					: rd_kafka_mock_broker_set_up(mc, broker);
			printf("%s\n", e ? rd_kafka_err2str(e) : "ok");
			fflush(stdout);
		} else {
			fprintf(stderr, "twin-kafka-mock: unknown command %s", line);
			rc = 2;
		}
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(owner);
	return rc;
}
