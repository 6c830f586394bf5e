/* fuzz_json.c — libFuzzer target for the strict JSON parser (untrusted request bodies, not NUL-terminated).
 * Property: a document ig_json_parse accepts, re-serialized by cJSON_PrintUnformatted, is accepted again
 * (no limit on its size: printing may lengthen numbers, e.g. 1e14 -> 100000000000000). */
#include "core/err.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy into an exact-size heap buffer so ASan catches any read past in.len */
    char *p = malloc(size ? size : 1);
    char *printed = NULL;
    cJSON *j = NULL, *again = NULL;
    const char *why = NULL;
    if (!p) return 0;
    memcpy(p, data, size);

    int rc = ig_json_parse(ig_iov(p, size), NULL, &j, &why);
    if ((rc == IG_OK) != (j != NULL) || (rc == IG_EBADJSON && !why)) abort();
    if (rc != IG_OK) goto out;
    printed = cJSON_PrintUnformatted(j);
    if (!printed) goto out; /* allocation failure */
    ig_json_limits_t lim = {strlen(printed), IG_JSON_DEFAULT_MAX_DEPTH};
    if (ig_json_parse(ig_iov(printed, lim.max_bytes), &lim, &again, &why) != IG_OK) abort();
    /* and it means the same */
    if (!cJSON_Compare(j, again, 1)) abort();
out:
    cJSON_Delete(again);
    free(printed);
    cJSON_Delete(j);
    free(p);
    return 0;
}
