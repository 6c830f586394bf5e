/*
 * usage.h — token usage (and the model name) read from a captured provider response, by the log writer.
 *
 * What is read, by response shape (the shape decides, not the provider name: custom providers speak one of
 * these dialects, and Ollama also serves the OpenAI one under /v1):
 *   OpenAI chat / completions / embeddings   usage.prompt_tokens, usage.completion_tokens,
 *                                            usage.prompt_tokens_details.cached_tokens. Embeddings have no
 *                                            completion_tokens: output = total_tokens - prompt_tokens (0).
 *   OpenAI Responses API                     usage.input_tokens, usage.output_tokens,
 *                                            usage.input_tokens_details.cached_tokens; streamed, the
 *                                            response.completed (or .incomplete / .failed) event's
 *                                            response.usage.
 *   OpenAI streams (SSE)                     the last chunk carrying a usage object (sent when the client
 *                                            asked for stream_options.include_usage; otherwise none: -1).
 *   Anthropic                                usage.input_tokens, usage.output_tokens,
 *                                            usage.cache_read_input_tokens,
 * usage.cache_creation_input_tokens; streamed: message_start's message.usage, overridden field by field by
 * the last message_delta's usage (cumulative counts). Output comes only from a message_delta: message_start's
 *                                            output_tokens is a placeholder, not the final count.
 *   Ollama (/api/chat, /api/generate)        the final object ("done": true): prompt_eval_count, eval_count,
 *                                            NDJSON-streamed or not. Ollama omits a zero count (Go
 *                                            omitempty), so in a complete final object an absent count is 0.
 *
 * Conventions of ig_usage_t: -1 means unknown (store NULL). Numbers are the provider's own, not normalized:
 * `input` is prompt_tokens / input_tokens / prompt_eval_count as sent, so whether it includes the cached
 * tokens depends on the dialect, recorded in `conv` (see ig_usage_conv_t). ig_usage_input_total() gives the
 * whole prompt size in either convention.
 *
 * Truncated bodies (the capture ceiling) give what was complete before the cut and -1 for the rest, never a
 * guess: a number is taken only when a delimiter follows it (a cut "12" may have been "1234"), a value only
 * when it is whole, and the derived counts (embeddings' output, Ollama's omitted zeros) only from a complete
 * object. A member name that appears twice in an object we read makes that member unknown.
 *
 * Speed: no JSON tree is built for the body. The few objects on the path to the counts are walked in place
 * (values we do not need are skipped at memchr speed), streams are scanned from their END for the last
 * usage-bearing event (a line is looked at only if it contains `"usage"` followed by an object, or Ollama's
 * `"done"`), and only the first events are read for the model. cJSON (whose parses are serialized process
 * wide) is used only to decode a model name that contains escapes. A 10 MiB body costs one pass at most.
 */
#ifndef IG_CAPTURE_USAGE_H
#define IG_CAPTURE_USAGE_H

#include "core/common.h"

/* Longest model name kept (bytes of UTF-8), the same bound as the request's model in capture.c. */
#define IG_USAGE_MODEL_MAX 256

/* How `input` relates to the cache counts. */
typedef enum {
    IG_USAGE_CONV_BY_PROVIDER = 0, /* not known from the body: decided by the provider name ("anthropic" is
                                      SEPARATE, every other provider INCLUDED); what a zeroed struct means */
    IG_USAGE_CACHED_INCLUDED,      /* OpenAI: input counts every prompt token; cached and cache_write are
                                      parts of it */
    IG_USAGE_CACHED_SEPARATE,      /* Anthropic: input excludes cache reads and cache writes; the prompt is
                                      input + cached + cache_write */
} ig_usage_conv_t;

typedef struct {
    int64_t input;       /* prompt tokens as the provider counts them (see conv); -1 unknown */
    int64_t output;      /* completion tokens (reasoning tokens included, as billed); -1 unknown */
    int64_t cached;      /* prompt tokens read from the provider's prompt cache; 0 none, -1 unknown */
    int64_t cache_write; /* prompt tokens written to the prompt cache (Anthropic); 0 none, -1 unknown */
    ig_usage_conv_t conv;
    /* The response was served from a cache rather than generated. No provider says so in the body today:
     * always false for now; the hook is looks_like_cache_hit() in usage.c. */
    bool cache_hit;
    /* `model` of the response (first stream event for streams): the exact model that answered, e.g.
     * "gpt-4o-2024-08-06" for a request that said "gpt-4o". Use it when the request had none. "" = none.
     * Valid UTF-8 without control characters, NUL-terminated. */
    char model[IG_USAGE_MODEL_MAX + 1];
} ig_usage_t;

/* All counts unknown (-1), conv BY_PROVIDER, no cache hit, no model. */
void ig_usage_init(ig_usage_t *u);

/*
 * Fills *out (always: on garbage everything is unknown) from a captured response.
 *   provider   name of the provider ("openai", "anthropic", "ollama", a custom one); may be NULL. Only a
 *              hint: the body's dialect decides what is read and sets out->conv when it can tell.
 *   req_body   the captured request; not read today (the response carries everything), accepted so that
 *              callers need not change when a dialect needs it. May be IG_IOV_NULL.
 *   resp_body  the captured response, possibly truncated, not NUL-terminated; no byte past len is read.
 *   stream     whether the request streamed. Also a hint: the framing is read from the body itself (SSE
 *              "data:" lines, NDJSON, or one JSON object), because Ollama streams unless told not to and a
 *              caller cannot always know which happened.
 * Thread-safe; allocates only to decode a model name that has escapes. `out` NULL does nothing.
 */
void ig_usage_parse(const char *provider, ig_iov_t req_body, ig_iov_t resp_body, bool stream,
                    ig_usage_t *out);

/* The convention that applies to `u` for `provider`: u->conv unless BY_PROVIDER, then the provider's. */
ig_usage_conv_t ig_usage_conv(const ig_usage_t *u, const char *provider);

/* Whole prompt size in tokens whatever the convention (input, plus cached and cache_write when they are
 * SEPARATE), or -1 when a needed count is unknown. */
int64_t ig_usage_input_total(const ig_usage_t *u, const char *provider);

/* The top-level "model" of a request body, without building a JSON tree (bodies reach 10 MiB and more; the
 * scan skips values it does not need). false when there is none, it is not a string, or the body is not an
 * object; a body cut after the model still gives it. */
bool ig_usage_request_model(ig_iov_t req_body, char dst[IG_USAGE_MODEL_MAX + 1]);
/* The output-token cap the request asks for: max_tokens, max_completion_tokens or max_output_tokens at the
 * top level of a JSON object (the first present, positive, integral one); -1 when none. No JSON tree is
 * built: cheap enough for the event loop. */
int64_t ig_usage_request_max_tokens(ig_iov_t req_body);
/* Most answers a request can ask for (n, best_of) that estimates count; more is counted as this many. */
#define IG_USAGE_MAX_CHOICES 128
/* All in one pass over the body: returns the output-token cap as ig_usage_request_max_tokens, writes the
 * model as ig_usage_request_model ("" when none) and, when choices is not NULL, the number of answers the
 * request makes the model generate: the larger of n and best_of (1 when neither; IG_USAGE_MAX_CHOICES when
 * one is present but unreadable, or larger). */
int64_t ig_usage_request_fields(ig_iov_t req_body, char model[IG_USAGE_MODEL_MAX + 1], int64_t *choices);

#endif