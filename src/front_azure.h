/* front_azure.h - the Azure IoT Hub device twin front (docs/compat-fronts.md): its topics
 * ($iothub/twin/GET/?$rid=, $iothub/twin/PATCH/properties/reported/?$rid=, answers on
 * $iothub/twin/res/{status}/?$rid=, desired pushes on $iothub/twin/PATCH/properties/desired/?$version=),
 * the device id of a connection, its request bodies and its documents. Its ops for the front table are
 * twin_front_azure (front.h); the writer calls the desired push directly. Calls only the core below
 * (topic, request, jsonx, twin). Pure: no broker calls. */
#ifndef TWIN_FRONT_AZURE_H
#define TWIN_FRONT_AZURE_H

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "front.h"
#include "jsonx.h"
#include "queue.h"
#include "request.h"
#include "topic.h"

#define TWIN_AZURE_PREFIX  "$iothub/twin/"
#define TWIN_AZURE_MAX_RID 128 /* a longer $rid is answered 400 (on a topic with that $rid) */

/* topic is past TWIN_AZURE_PREFIX. GET and PATCH/properties/reported are REQUEST (verb get / update,
 * rid set when the topic has one); answers and desired pushes (res/..., PATCH/properties/desired/...)
 * are RESERVED; anything else under $iothub/twin/ is a REQUEST with an unknown verb. */
void twin_azure_classify(const char *rest, size_t rest_len, struct twin_topic_match *m);

/* The device id of a connection, from where telemetry_id_from says: the client id (the Azure SDK's
 * client id is its device id), or with from_username the username: its second level when it has the
 * SDK's form "{hub}/{deviceId}/...", else the whole username (a certificate identity with
 * use_identity_as_username). NULL when that source is missing. */
const char *twin_azure_device_id(const char *username, const char *client_id, bool from_username,
		size_t *len);

/* A reported patch: the payload is a JSON object, a merge patch of reported, without top-level names
 * starting with '$' (Azure's own). */
enum twin_rc twin_azure_parse_patch(const char *payload, size_t len, int max_depth,
		struct twin_request *req, struct twin_error *err);

/* A request topic with a $version parameter: a conditional patch, which the front does not serve. */
bool twin_azure_conditional(const char *topic);

/* res/200: {"desired":{...,"$version":d},"reported":{...,"$version":r}}; doc NULL: a twin not created
 * yet (empty sections). */
struct twin_out *twin_azure_get_answer(const struct twin_route *r, const cJSON *doc,
		struct twin_buf *b);
/* res/204/?$rid=..&$version={reported version}, empty. */
struct twin_out *twin_azure_patch_answer(const struct twin_route *r, const cJSON *doc);
/* res/{status}: {"errorCode": status * 1000, "message": ...}. */
struct twin_out *twin_azure_error_answer(const struct twin_route *r, const struct twin_error *e);

/* The desired-change push for device id: the changed desired leaves and "$version", to be delivered
 * to the client holding the device's Azure session (to_session). */
struct twin_out *twin_azure_desired_push(const char *id, const cJSON *changed, const cJSON *doc,
		struct twin_buf *b);

#endif
