/* model_name.h - which model a thing's definition stands for: the names `import --from ditto --models`
 * looks for, and the name `model from-wot` gives the model of a Thing Model file, so that the two meet. */
#ifndef CTL_MODEL_NAME_H
#define CTL_MODEL_NAME_H

#include "model.h"

#define CTL_MODEL_NAMES 2

/* The model names that def stands for, most specific first; returns how many (0-2: only valid model
 * names count). def is a Ditto definition "namespace:name:version" (-> name-version, name), or the URL or
 * file path of a WoT Thing Model (anything with a '/', or without a ':'): its last segment without
 * ?query, #fragment and extension (.tm.jsonld, .jsonld, .tm.json, .json), then that without a trailing
 * version (-1.2.0, _1.2, -v2). "https://models.acme.com/rack-th-1.2.0.tm.jsonld" and
 * "org.acme:rack-th:1.2.0" both give rack-th-1.2.0, rack-th. */
int ctl_model_names(const char *def, char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1]);

#endif
