/* twin_format.h - how a twin is stored in LMDB: a compact binary form (format 2) of the public document,
 * with a reader for the older JSON form (format 1). The only module that knows the stored bytes. */
#ifndef TWIN_TWIN_FORMAT_H
#define TWIN_TWIN_FORMAT_H

#include <cjson/cJSON.h>

#include "jsonx.h"
#include "twin.h"

/* The public document of the stored value val (its key is id); NULL if the value is damaged or not ours. */
cJSON *twin_doc_load(const char *id, size_t id_len, const void *val, size_t len);
/* Writes the stored form of doc into b (replacing its contents). False on allocation failure. */
bool twin_doc_store(const cJSON *doc, struct twin_buf *b);

#endif
