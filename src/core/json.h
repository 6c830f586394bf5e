/*
 * json.h — strict parsing of untrusted JSON bodies on top of cJSON, typed getters, and string escaping.
 *
 * cJSON alone is lenient in ways that matter for a gateway: it keeps duplicate keys (a policy reading the
 * first `model` while the upstream reads the last one), turns \u0000 into a NUL that silently truncates a
 * string, accepts invalid UTF-8, raw control characters, numbers like 01 / 1. / -.5, trailing garbage, and
 * 1e999 (infinity). ig_json_parse() closes all of these: whatever it accepts is RFC 8259 JSON with unique
 * keys, valid UTF-8 (no surrogates, no U+0000) and finite numbers, and the cJSON tree means exactly what the
 * bytes say.
 */
#ifndef IG_CORE_JSON_H
#define IG_CORE_JSON_H

#include "core/buf.h"
#include "core/common.h"

#include <cjson/cJSON.h>

/* Default body ceiling: management API bodies (signup, keys, settings) are well under 4 KiB; 64 KiB is the
 * pre-authentication body ceiling (IG_PREAUTH_MAX_BODY_BYTES) and bounds the tree cJSON builds. */
#define IG_JSON_DEFAULT_MAX_BYTES (64u * 1024)
/* Default nesting: no request schema we accept goes beyond ~6 levels; 32 leaves room for tool-call schemas
 * and bounds the recursion of everything that walks the tree later (cJSON_Delete, cJSON_Print). */
#define IG_JSON_DEFAULT_MAX_DEPTH 32

/* Largest number magnitude accepted. cJSON_Print writes numbers with 15 significant digits whenever that
 * reads back within 1 ulp, so DBL_MAX is written as 1.79769313486232e+308, which reads back as infinity.
 * Refusing magnitudes above this keeps "accepted => re-serialization is accepted" true. */
#define IG_JSON_MAX_MAGNITUDE 1.79769313486231e308

typedef struct {
    size_t max_bytes; /* inputs longer than this are IG_ETOOBIG */
    int max_depth;    /* open arrays/objects at any point; 0 = scalars only. cJSON itself refuses > 1000 */
} ig_json_limits_t;

#define IG_JSON_LIMITS_DEFAULT ((ig_json_limits_t){IG_JSON_DEFAULT_MAX_BYTES, IG_JSON_DEFAULT_MAX_DEPTH})

/*
 * Parses `in` (not NUL-terminated; no byte past in.len is read) strictly.
 * `lim` NULL means IG_JSON_LIMITS_DEFAULT. `why` may be NULL.
 *
 * IG_OK:       *out is the tree (the caller frees it with cJSON_Delete), *why = NULL.
 * IG_ETOOBIG:  in.len > max_bytes (nothing is parsed).
 * IG_EBADJSON: *why is a short static reason that never echoes input, for:
 *   - syntax errors (RFC 8259 grammar: only space/tab/CR/LF as whitespace, no BOM, strict number grammar,
 *     no raw control characters in strings, valid escapes only), and an empty input;
 *   - trailing bytes after the value other than whitespace;
 *   - invalid UTF-8 anywhere (overlongs, UTF-8-encoded surrogates, > U+10FFFF, truncated sequences);
 *   - a \u0000 escape or a raw NUL byte;
 *   - a lone or mismatched UTF-16 surrogate escape;
 *   - nesting deeper than max_depth (or deeper than cJSON's CJSON_NESTING_LIMIT);
 *   - duplicate keys in any object (exact byte comparison after unescaping: "a" and "\u0061" collide);
 *   - numbers that are not finite (1e999) or above IG_JSON_MAX_MAGNITUDE.
 * IG_EINVAL:   out is NULL, lim->max_depth < 0, or in.base is NULL with in.len > 0.
 * IG_ENOMEM:   allocation failure in the duplicate-key check. (An allocation failure inside cJSON cannot be
 *              told apart from a syntax error and reads as IG_EBADJSON.)
 * On any error *out is NULL and *why (if why != NULL) is a static reason for that error too.
 */
int ig_json_parse(ig_iov_t in, const ig_json_limits_t *lim, cJSON **out, const char **why);

/*
 * Typed getters for validation code. `obj` must be an object (else IG_EINVAL); `key` is matched
 * case-sensitively. IG_OK, IG_ENOTFOUND when absent, IG_EINVAL when the value has the wrong type (JSON null
 * is a wrong type, not an absence). Outputs are written only on IG_OK.
 */
/* *val points into the tree (valid until cJSON_Delete) and is NUL-terminated; *len (if len != NULL) is its
 * length. Trees from ig_json_parse never contain NUL inside a string, so *len == strlen(*val). */
int ig_json_get_str(const cJSON *obj, const char *key, const char **val, size_t *len);
/* Integral numbers only (1.0 and 1e2 are integral, 1.5 is not), with magnitude below 2^53: 2^53 itself is
 * refused because 2^53 + 1 reads as the same double, so accepting it would accept a number that changed. */
int ig_json_get_int(const cJSON *obj, const char *key, int64_t *val);
int ig_json_get_bool(const cJSON *obj, const char *key, bool *val);

/* IG_OK when every key of `obj` appears in `allowed` (NULL-terminated list). Otherwise IG_EINVAL and *bad
 * (if bad != NULL) = the first offending key, pointing into the tree; *bad = NULL if obj is not an object. */
int ig_json_only_keys(const cJSON *obj, const char *const *allowed, const char **bad);

/*
 * Appends `s` as a JSON string literal, quotes included, for building responses. `"` and `\` are escaped,
 * control characters become \b \f \n \r \t or \u00XX (NUL becomes \u0000), valid UTF-8 passes through
 * unchanged, and each byte of an invalid UTF-8 sequence becomes \ufffd, so the output is always valid JSON.
 * All or nothing: on IG_ETOOBIG (buffer ceiling) or IG_ENOMEM the buffer is left as it was.
 */
int ig_json_append_str(ig_buf_t *b, ig_iov_t s);

/* cJSON_ParseWithLengthOpts behind a process-wide mutex: cJSON records the last error position in a global
 * on every parse, a data race between threads (undefined behaviour, flagged by ThreadSanitizer). Every
 * parse in ingate goes through here. */
cJSON *ig_json_parse_raw(const char *p, size_t len, const char **end, bool require_nul);

#endif
