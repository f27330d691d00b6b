/* haproxy_map.c - a slot's line in HAProxy's slot map, at run time and on disk (see haproxy_map.h). */
#include "haproxy_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "twinctl.h"

/* One command on the admin socket (non-interactive: HAProxy answers and closes); its answer in out. */
static bool admin(const char *socket_path, const char *cmd, char *out, size_t size)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		return ctl_fail("HAProxy socket path '%s' is too long", socket_path), false;
	}
	strcpy(addr.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return ctl_fail("cannot reach HAProxy's admin socket %s (HAProxy needs `stats socket %s level "
						"admin` in its global section)", socket_path, socket_path), false;
	}
	size_t len = strlen(cmd), got = 0;
	bool ok = write(fd, cmd, len) == (ssize_t)len;
	ssize_t n;
	while (ok && got + 1 < size && (n = read(fd, out + got, size - 1 - got)) > 0) {
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	return ok ? true : (ctl_fail("cannot write to HAProxy's admin socket %s", socket_path), false);
}

bool ctl_haproxy_set(const char *socket_path, const char *map, unsigned slot, const char *backend)
{
	char cmd[1200], out[2048], want[300];
	snprintf(cmd, sizeof(cmd), "set map %s %u %s\n", map, slot, backend);
	if (!admin(socket_path, cmd, out, sizeof(out))) {
		return false;
	}
	if (strstr(out, "not found")) { /* a slot the file left out: add it */
		snprintf(cmd, sizeof(cmd), "add map %s %u %s\n", map, slot, backend);
		if (!admin(socket_path, cmd, out, sizeof(out))) {
			return false;
		}
	}
	if (out[0] && strcmp(out, "\n")) {
		return ctl_fail("HAProxy refused '%.*s': %s (is --map the map file as HAProxy's configuration names "
						"it?)", (int)strlen(cmd) - 1, cmd, out), false;
	}
	snprintf(cmd, sizeof(cmd), "get map %s %u\n", map, slot);
	snprintf(want, sizeof(want), "value=\"%s\"", backend);
	if (!admin(socket_path, cmd, out, sizeof(out)) || !strstr(out, want)) {
		return ctl_fail("HAProxy's map %s does not say %s for slot %u after set map: %s", map, backend, slot,
				out), false;
	}
	return true;
}

bool ctl_map_file_set(const char *map, unsigned slot, const char *backend)
{
	char tmp[4096], line[512];
	bool found = false;
	snprintf(tmp, sizeof(tmp), "%s.twinctl-new", map);
	FILE *in = fopen(map, "r"), *out = in ? fopen(tmp, "w") : NULL;
	if (!out) {
		if (in) {
			fclose(in);
		}
		return ctl_fail("cannot rewrite the map file %s (or write %s beside it)", map, tmp), false;
	}
	while (fgets(line, sizeof(line), in)) {
		char *end;
		unsigned long key = strtoul(line, &end, 10);
		if (end != line && (*end == ' ' || *end == '\t') && key == slot) {
			fprintf(out, "%u %s\n", slot, backend);
			found = true;
		} else {
			fputs(line, out);
		}
	}
	if (!found) {
		fprintf(out, "%u %s\n", slot, backend);
	}
	fclose(in);
	bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
	ok = fclose(out) == 0 && ok && rename(tmp, map) == 0;
	if (!ok) {
		unlink(tmp);
		return ctl_fail("cannot replace the map file %s", map), false;
	}
	return true;
}
