/* azure_session.h - which client holds the Azure session of which device (broker thread only): a client
 * that sent an $iothub/twin/ request for a device holds it until it disconnects, or until another client
 * asks for the same device. Desired pushes go to that client, and to nobody when there is none. */
#ifndef TWIN_AZURE_SESSION_H
#define TWIN_AZURE_SESSION_H

#include <stddef.h>

struct twin_azure_session;

/* One entry per session, found by device id or by client id. Zero-initialised: empty. */
struct twin_azure_sessions {
	struct twin_azure_session *by_device, *by_client;
};

void twin_azure_session_set(struct twin_azure_sessions *s, const char *device, size_t device_len,
		const char *client_id);
/* The client id holding device's session, or NULL. */
const char *twin_azure_session_client(const struct twin_azure_sessions *s, const char *device,
		size_t device_len);
void twin_azure_session_client_gone(struct twin_azure_sessions *s, const char *client_id);
void twin_azure_session_free(struct twin_azure_sessions *s);

#endif
