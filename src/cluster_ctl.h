/* cluster_ctl.h - the operator's control of a shard's slots, for moving a slot to another shard
 * (twinctl cluster move-slot drives it; README "Moving a slot"). Requests come over NATS on
 * <subject>.ctl.<shard> (NATS is the operator's infrastructure: devices and apps never reach it) as a
 * text line "VERB [SLOT [ARG]]" plus, for import, a chunk of records (cluster_records.h); answers are a
 * text line "ok ..." or "error <what to do>", plus records for export:
 *   status              ok slots=SPEC frozen=SPEC
 *   freeze SLOT         stop serving the slot (requests 503, telemetry disconnects its publisher
 *                       unacknowledged), answered once every write queued before it is committed
 *   unfreeze SLOT [MS]  serve it again (when still owned); a slot that moved away keeps refusing its
 *                       telemetry MS more (devices still arriving through HAProxy's old route)
 *   export SLOT CURSOR  a frozen slot's records from CURSOR ("00" to begin): ok NEXT N\n<records>
 *   count SLOT          ok TWINS TOMBSTONES DESIRED HISTORY: the slot's records here
 *   purge SLOT          delete the slot's records (refused while owned), answered once committed
 *   import SLOT         write the records that follow (refused while owned): ok queued | busy
 *   sync                answered once everything queued before it is committed
 *   own SLOT, drop SLOT change the slot table, persisted in the store; answered once committed
 *   kick SLOT CURSOR    disconnect the devices of the slot's twins (a chunk): ok NEXT N
 *   desired SLOT CURSOR publish the retained desired messages of the slot's twins with a delta (a
 *                       chunk; the new owner): ok NEXT N
 *   undesired SLOT CURSOR  clear them (the old owner, before its purge): ok NEXT N
 * Every verb is idempotent. Threads: twin_ctl_queue on libnats's delivery thread, the rest on the broker
 * thread. */
#ifndef TWIN_CLUSTER_CTL_H
#define TWIN_CLUSTER_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster_nats.h"
#include "cluster_slot.h"
#include "engine.h"

/* What the control acts on (cluster.c's). */
struct twin_ctl_shard {
	const char *name;
	struct twin_slot_set *slots;
	struct twin_nats *nats;
	void (*kick)(void *ctx, const char *id); /* the device of twin id */
	void *kick_ctx;
};

struct twin_ctl;

struct twin_ctl *twin_ctl_new(unsigned nslots);
void twin_ctl_free(struct twin_ctl *c);
/* Delivery thread: keeps a request for twin_ctl_run; false when out of memory (the caller times out). */
bool twin_ctl_queue(struct twin_ctl *c, const char *reply, const void *data, size_t len);
/* Broker thread: runs the queued requests, answers those whose commit came. */
void twin_ctl_run(struct twin_ctl *c, const struct twin_ctl_shard *sh, struct twin_engine *e);
/* Broker thread: whether slot is frozen here. */
bool twin_ctl_frozen(struct twin_ctl *c, unsigned slot);

#endif
