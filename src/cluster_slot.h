/* cluster_slot.h - which slot a twin id falls in, and which slots a shard owns. The slot function is
 * HAProxy's: `crc32,mod(N)` on the MQTT client id (cluster/haproxy.cfg.in), so a device routed by HAProxy
 * lands on the shard that owns its twin. */
#ifndef TWIN_CLUSTER_SLOT_H
#define TWIN_CLUSTER_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin_common.h"

#define TWIN_CLUSTER_MAX_SLOTS 65536

/* The CRC-32 of HAProxy's `crc32` converter (zlib's: reflected 0xEDB88320, inverted in and out). */
uint32_t twin_cluster_crc32(const void *data, size_t len);
/* crc32(id) mod nslots: HAProxy's `crc32,mod(nslots)`. */
unsigned twin_cluster_slot(const char *id, size_t len, unsigned nslots);

/* The slots one shard owns, out of nslots. */
struct twin_slot_set {
	unsigned nslots;
	unsigned owned; /* how many */
	uint8_t *bits;
};
/* spec: comma-separated slots and inclusive ranges, e.g. "0-341,1000". Fails (err names the part) on
 * anything else, a slot >= nslots, or a reversed range. Release with twin_slot_set_free. */
enum twin_rc twin_slot_set_parse(struct twin_slot_set *s, const char *spec, unsigned nslots,
		struct twin_error *err);
bool twin_slot_set_has(const struct twin_slot_set *s, unsigned slot);
/* Adds more's slots to s (both of the same nslots). */
void twin_slot_set_add(struct twin_slot_set *s, const struct twin_slot_set *more);
/* The slots s does not have, in cluster_slots' form ("342-682,1000"); malloc'd, NULL: out of memory. */
char *twin_slot_set_missing(const struct twin_slot_set *s);
void twin_slot_set_free(struct twin_slot_set *s);
/* Adds or removes one slot (< nslots); true when that changed the set. */
bool twin_slot_set_put(struct twin_slot_set *s, unsigned slot, bool owned);
/* The set as a cluster_slots spec ("0-341,500"), malloc'd; "" when empty; NULL: out of memory. */
char *twin_slot_set_format(const struct twin_slot_set *s);

#endif
