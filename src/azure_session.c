/* azure_session.c - the Azure session table (see azure_session.h), in two uthash tables over the same
 * entries. */
#include "azure_session.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct twin_azure_session {
	UT_hash_handle by_device, by_client;
	size_t device_len, client_len;
	char *client; /* points into data, after the device id; NUL-terminated */
	char data[];
};

static void drop(struct twin_azure_sessions *s, struct twin_azure_session *e)
{
	HASH_DELETE(by_device, s->by_device, e);
	HASH_DELETE(by_client, s->by_client, e);
	free(e);
}

void twin_azure_session_set(struct twin_azure_sessions *s, const char *device, size_t device_len,
		const char *client_id)
{
	struct twin_azure_session *e = NULL;
	size_t client_len = strlen(client_id);
	HASH_FIND(by_client, s->by_client, client_id, client_len, e);
	if (e && e->device_len == device_len && !memcmp(e->data, device, device_len)) {
		return; /* the usual case: the same client asks again */
	}
	if (e) {
		drop(s, e);
	}
	HASH_FIND(by_device, s->by_device, device, device_len, e);
	if (e) {
		drop(s, e); /* another client took the device over */
	}
	if (!(e = calloc(1, sizeof(*e) + device_len + client_len + 1))) {
		return;
	}
	memcpy(e->data, device, device_len);
	e->device_len = device_len;
	e->client = e->data + device_len;
	memcpy(e->client, client_id, client_len + 1);
	e->client_len = client_len;
	HASH_ADD(by_device, s->by_device, data, device_len, e);
	if (!e->by_device.tbl) { /* HASH_NONFATAL_OOM: not added */
		free(e);
		return;
	}
	HASH_ADD_KEYPTR(by_client, s->by_client, e->client, client_len, e);
	if (!e->by_client.tbl) {
		HASH_DELETE(by_device, s->by_device, e);
		free(e);
	}
}

const char *twin_azure_session_client(const struct twin_azure_sessions *s, const char *device,
		size_t device_len)
{
	struct twin_azure_session *e = NULL;
	HASH_FIND(by_device, s->by_device, device, device_len, e);
	return e ? e->client : NULL;
}

void twin_azure_session_client_gone(struct twin_azure_sessions *s, const char *client_id)
{
	struct twin_azure_session *e = NULL;
	HASH_FIND(by_client, s->by_client, client_id, strlen(client_id), e);
	if (e) {
		drop(s, e);
	}
}

void twin_azure_session_free(struct twin_azure_sessions *s)
{
	struct twin_azure_session *e = s->by_device;
	HASH_CLEAR(by_client, s->by_client); /* the tables go first; the elements stay linked by next */
	HASH_CLEAR(by_device, s->by_device);
	while (e) {
		struct twin_azure_session *next = e->by_device.next;
		free(e);
		e = next;
	}
}
