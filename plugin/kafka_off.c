/* kafka_off.c - the Kafka hooks of a build without -DTWIN_KAFKA (the default): no librdkafka; a
 * plugin_opt_kafka_* line is an unknown option, refused by the config parser. */
#include "plugin.h"

bool twin_kafka_hook_option(const char *key)
{
	(void)key;
	return false;
}

enum twin_rc twin_kafka_hook_open(struct twin_plugin *tp, const char *const *keys, const char *const *values,
		int n, struct twin_error *err)
{
	(void)tp;
	(void)keys;
	(void)values;
	(void)n;
	(void)err;
	return TWIN_OK;
}

void twin_kafka_hook_close(struct twin_plugin *tp)
{
	(void)tp;
}

void twin_kafka_hook_event(struct twin_plugin *tp, const struct twin_out *o)
{
	(void)tp;
	(void)o;
}

void twin_kafka_hook_tick(struct twin_plugin *tp)
{
	(void)tp;
}

struct twin_out *twin_kafka_hook_take(struct twin_plugin *tp)
{
	(void)tp;
	return NULL;
}
