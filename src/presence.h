/* presence.h - which devices are connected (broker thread only): a set of twin ids whose device (the
 * client with that client id, or that username with telemetry_id_from username) published telemetry for
 * it and has not disconnected since. The plugin keeps one more such set, of the client ids of requesters
 * on a websockets listener (plugin/websockets.c). */
#ifndef TWIN_PRESENCE_H
#define TWIN_PRESENCE_H

#include <stdbool.h>

#include "twin_common.h"

struct twin_presence;

void twin_presence_set(struct twin_presence **set, const char *client_id, size_t len);
void twin_presence_clear(struct twin_presence **set, const char *client_id, size_t len);
bool twin_presence_has(struct twin_presence *set, const char *client_id, size_t len);
void twin_presence_free(struct twin_presence **set);

#endif
