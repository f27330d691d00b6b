/* model_name.c - the model names a definition stands for (see model_name.h). */
#include "model_name.h"

#include <stdio.h>
#include <string.h>

static const char *const extensions[] = {".tm.jsonld", ".jsonld", ".tm.json", ".json"};

/* Adds s[0..len) to names[0..n) when it is a valid model name not there yet; returns the new count. */
static int add(char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1], int n, const char *s, size_t len)
{
	if (n == CTL_MODEL_NAMES || !twin_model_name_valid(s, len)) {
		return n;
	}
	for (int i = 0; i < n; i++) {
		if (strlen(names[i]) == len && !memcmp(names[i], s, len)) {
			return n;
		}
	}
	memcpy(names[n], s, len);
	names[n][len] = '\0';
	return n + 1;
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Where the separator of a trailing version ("-1.2.0", "_1.2", "-v2") is in s[0..len); len when none. */
static size_t version_at(const char *s, size_t len)
{
	size_t i = len;
	while (i > 0 && (digit(s[i - 1]) || s[i - 1] == '.')) {
		i--;
	}
	if (i == len || !digit(s[i])) {
		return len;
	}
	if (i > 0 && (s[i - 1] == 'v' || s[i - 1] == 'V')) {
		i--;
	}
	return i > 1 && (s[i - 1] == '-' || s[i - 1] == '_') ? i - 1 : len;
}

/* "namespace:name:version" */
static int ditto_names(const char *def, char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1])
{
	const char *version = strrchr(def, ':') + 1;
	const char *name = version - 1;
	while (name > def && name[-1] != ':') {
		name--;
	}
	size_t name_len = (size_t)(version - 1 - name);
	char both[TWIN_MODEL_MAX_NAME + 2];
	int len = snprintf(both, sizeof(both), "%.*s-%s", (int)name_len, name, version);
	int n = *version && len > 0 && (size_t)len < sizeof(both) ? add(names, 0, both, (size_t)len) : 0;
	return add(names, n, name, name_len);
}

/* A URL or file path */
static int file_names(const char *def, char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1])
{
	size_t end = strcspn(def, "?#");
	const char *stem = def + end;
	while (stem > def && stem[-1] != '/') {
		stem--;
	}
	size_t len = (size_t)(def + end - stem);
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		size_t ext = strlen(extensions[i]);
		if (len > ext && !memcmp(stem + len - ext, extensions[i], ext)) {
			len -= ext;
			break;
		}
	}
	int n = add(names, 0, stem, len);
	return add(names, n, stem, version_at(stem, len));
}

int ctl_model_names(const char *def, char names[CTL_MODEL_NAMES][TWIN_MODEL_MAX_NAME + 1])
{
	return strchr(def, ':') && !strchr(def, '/') ? ditto_names(def, names) : file_names(def, names);
}
