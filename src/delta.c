/* delta.c - desired vs reported (see delta.h). Absent in reported counts as different, as in AWS shadows. */
#include "delta.h"

cJSON *twin_delta_compute(const cJSON *desired, const cJSON *reported)
{
	cJSON *delta = cJSON_CreateObject();
	const cJSON *d;
	if (!delta) {
		return NULL;
	}
	cJSON_ArrayForEach(d, desired)
	{
		const cJSON *r = cJSON_IsObject(reported)
				? cJSON_GetObjectItemCaseSensitive(reported, d->string)
				: NULL;
		cJSON *add = NULL;
		if (cJSON_IsObject(d) && d->child) {
			add = twin_delta_compute(d, r);
			if (!add) {
				goto oom;
			}
			if (!add->child) {
				cJSON_Delete(add);
				continue;
			}
		} else if (!r || !cJSON_Compare(d, r, 1)) {
			if (!(add = cJSON_Duplicate(d, 1))) {
				goto oom;
			}
		} else {
			continue;
		}
		if (!cJSON_AddItemToObject(delta, d->string, add)) {
			cJSON_Delete(add);
			goto oom;
		}
	}
	return delta;
oom:
	cJSON_Delete(delta);
	return NULL;
}
