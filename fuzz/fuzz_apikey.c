/* fuzz_apikey.c — libFuzzer target for the API key format check (untrusted header bytes, not NUL-terminated).
 */
#include "auth/apikey.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* copy into an exact-size heap buffer so ASan catches any read past key.len */
    char *p = malloc(size ? size : 1);
    if (!p) return 0;
    memcpy(p, data, size);
    int rc = ig_apikey_check(ig_iov(p, size));
    if (rc == IG_OK) {
        uint8_t h[32];
        char pre[13];
        ig_apikey_hash(ig_iov(p, size), h);
        ig_apikey_hash_prefix(h, pre);
        if (size != IG_APIKEY_LEN || memcmp(p, IG_APIKEY_PREFIX, IG_APIKEY_PREFIX_LEN) != 0) abort();
    }
    free(p);
    return 0;
}
