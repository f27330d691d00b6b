/* twin_render.h - a stored twin's public JSON written straight from its stored bytes (format 2), without
 * building its document: what a get answers, at a cost that grows linearly with the twin. */
#ifndef TWIN_TWIN_RENDER_H
#define TWIN_TWIN_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "jsonx.h"

/* Appends to b exactly what twin_json_write writes for twin_doc_load(id, id_len, val, len), byte for
 * byte. False (b unchanged) when it cannot vouch for that: a format 1 value, a damaged one, a text that
 * is not canonical or nests deeper than it reads, or no memory. Then load the twin and write that. */
bool twin_doc_render(const char *id, size_t id_len, const void *val, size_t len, struct twin_buf *b);

#endif
