/* delta.c - desired vs reported (see delta.h). Absent in reported counts as different, as in AWS shadows.
 * Speed: reported is searched by a finder (jsonidx.h), indexed when it is big, so a twin of thousands of
 * keys costs linear time, not desired x reported; small objects are searched linearly as before. */
#include "delta.h"

#include "jsonidx.h"

cJSON *twin_delta_compute(const cJSON *desired, const cJSON *reported)
{
	cJSON *delta = cJSON_CreateObject();
	const cJSON *d;
	struct twin_finder f;
	if (!delta) {
		return NULL;
	}
	twin_finder_init(&f, cJSON_IsObject(reported) ? reported : NULL, false, true);
	cJSON_ArrayForEach(d, desired)
	{
		const cJSON *r = cJSON_IsObject(reported) ? twin_finder_get(&f, d->string) : NULL;
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
		} else if (!r || !twin_json_equal(d, r)) {
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
	twin_finder_free(&f);
	return delta;
oom:
	twin_finder_free(&f);
	cJSON_Delete(delta);
	return NULL;
}
