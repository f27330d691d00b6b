/* haproxy_map.h - pointing a slot at another shard in HAProxy: the running map through the admin socket
 * (`stats socket ... level admin`), and the map file, so that a reload or restart keeps it. */
#ifndef CTL_HAPROXY_MAP_H
#define CTL_HAPROXY_MAP_H

#include <stdbool.h>

/* `set map MAP SLOT BACKEND` on the socket, then checks with `get map`; false after printing why. */
bool ctl_haproxy_set(const char *socket_path, const char *map, unsigned slot, const char *backend);
/* Rewrites the line of slot in the map file (`SLOT BACKEND`) by writing a copy and renaming it over the
 * file; false after printing why. */
bool ctl_map_file_set(const char *map, unsigned slot, const char *backend);

#endif
