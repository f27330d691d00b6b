/* presence.h - which devices are connected (broker thread only): a set of twin ids whose device (the
 * client with that client id, or that username with telemetry_id_from username) published telemetry for
 * it and has not disconnected since. The plugin keeps one more such set, of the client ids of requesters
 * on a websockets listener (plugin/websockets.c). Answers made on another thread (a search) carry marks
 * instead: the places where they say `"connected":false`, which the broker thread sets from the set before
 * sending. */
#ifndef TWIN_PRESENCE_H
#define TWIN_PRESENCE_H

#include <stdbool.h>

#include "twin_common.h"

struct twin_presence;

void twin_presence_set(struct twin_presence **set, const char *client_id, size_t len);
void twin_presence_clear(struct twin_presence **set, const char *client_id, size_t len);
bool twin_presence_has(struct twin_presence *set, const char *client_id, size_t len);
void twin_presence_free(struct twin_presence **set);

/* Where an answer says `"connected":false`, and for which twin. */
struct twin_presence_marks;
/* Notes that payload[at, at + 5) is the `false` of twin id; false on allocation failure. */
bool twin_presence_mark(struct twin_presence_marks **m, size_t at, const char *id, size_t id_len);
/* Writes `true ` (same length: JSON allows the space) at each mark whose twin is in the set. */
void twin_presence_fill(struct twin_presence *set, char *payload, const struct twin_presence_marks *m);
void twin_presence_marks_free(struct twin_presence_marks *m);

#endif
