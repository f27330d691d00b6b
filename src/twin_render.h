/* twin_render.h - a stored twin's public JSON written straight from its stored bytes (format 2), without
 * building its document: what a get answers, at a cost that grows linearly with the twin. */
#ifndef TWIN_TWIN_RENDER_H
#define TWIN_TWIN_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "jsonx.h"

/* A stored twin as a get reads it: its key, its stored value, and the model shown for a twin whose
 * attributes name none (the default_model option; NULL: none). */
struct twin_stored {
	const char *id;
	size_t id_len;
	const void *val;
	size_t len;
	const char *default_model;
};

/* Appends to b exactly what twin_json_write writes for the twin a get answers with: twin_doc_load's
 * document after twin_doc_show_model (model_check.h), byte for byte. False (b unchanged) when it cannot
 * vouch for that: a format 1 value, a damaged one, a text that is not canonical or nests deeper than it
 * reads, or no memory. Then load the twin and write that. */
bool twin_doc_render(const struct twin_stored *t, struct twin_buf *b);

#endif
