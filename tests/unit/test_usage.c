/* Unit tests of src/capture/usage.c: token usage and model from captured responses of every provider and
 * mode (fixtures follow the official API shapes), the cache conventions, truncation at every byte (a field
 * is either right or unknown, never another number), garbage, duplicate and escaped keys, and 10 MiB bodies
 * (correctness only: no timing assertions). Every body is parsed from an exact-size heap copy, so the
 * sanitizer build catches any read past its end. */
#include "unit.h"
#include "capture/usage.h"

#include <stdint.h>

/* Parses `len` bytes of `body` from an exact-size heap copy. */
static void parse_n(const char *provider, const char *body, size_t len, bool stream, ig_usage_t *u)
{
    char *copy = malloc(len ? len : 1);
    if (!copy) abort();
    memcpy(copy, body, len);
    ig_usage_parse(provider, IG_IOV_NULL, ig_iov(copy, len), stream, u);
    free(copy);
}

static void parse(const char *provider, const char *body, bool stream, ig_usage_t *u)
{
    parse_n(provider, body, strlen(body), stream, u);
}

#define CHECK_USAGE(u, in, out, cach, cw)                                                                    \
    do {                                                                                                     \
        CHECK_EQ_INT((u).input, in);                                                                         \
        CHECK_EQ_INT((u).output, out);                                                                       \
        CHECK_EQ_INT((u).cached, cach);                                                                      \
        CHECK_EQ_INT((u).cache_write, cw);                                                                   \
    } while (0)

/* ---- fixtures ---- */

static const char OPENAI_CHAT[] =
    "{\n"
    "  \"id\": \"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\n"
    "  \"object\": \"chat.completion\",\n"
    "  \"created\": 1741569952,\n"
    "  \"model\": \"gpt-4o-2024-08-06\",\n"
    "  \"choices\": [\n"
    "    {\n"
    "      \"index\": 0,\n"
    "      \"message\": {\n"
    "        \"role\": \"assistant\",\n"
    "        \"content\": \"Sure: {\\\"usage\\\": {\\\"prompt_tokens\\\": 999}} is what you asked for.\",\n"
    "        \"refusal\": null,\n"
    "        \"annotations\": []\n"
    "      },\n"
    "      \"logprobs\": null,\n"
    "      \"finish_reason\": \"stop\"\n"
    "    }\n"
    "  ],\n"
    "  \"usage\": {\n"
    "    \"prompt_tokens\": 2006,\n"
    "    \"completion_tokens\": 300,\n"
    "    \"total_tokens\": 2306,\n"
    "    \"prompt_tokens_details\": {\n"
    "      \"cached_tokens\": 1920,\n"
    "      \"audio_tokens\": 0\n"
    "    },\n"
    "    \"completion_tokens_details\": {\n"
    "      \"reasoning_tokens\": 0,\n"
    "      \"audio_tokens\": 0,\n"
    "      \"accepted_prediction_tokens\": 0,\n"
    "      \"rejected_prediction_tokens\": 0\n"
    "    }\n"
    "  },\n"
    "  \"service_tier\": \"default\",\n"
    "  \"system_fingerprint\": \"fp_fc9f1d7035\"\n"
    "}\n";

#define OAI_CHUNK_HEAD                                                                                       \
    "data: {\"id\":\"chatcmpl-123\",\"object\":\"chat.completion.chunk\",\"created\":1694268190,\"model\":"  \
    "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_44709d6fcb\","

static const char OPENAI_STREAM[] = OAI_CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":"
    "null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n" OAI_CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The \\\"usage\\\": {\"},\"logprobs\":null,"
    "\"finish_reason\":null}],\"usage\":null}\n\n" OAI_CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
    "\"usage\":null}\n\n" OAI_CHUNK_HEAD
    "\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":12,\"total_tokens\":21,"
    "\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
    "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}\n\n"
    "data: [DONE]\n\n";

/* the same stream without stream_options.include_usage: no chunk carries usage */
static const char OPENAI_STREAM_NO_USAGE[] = OAI_CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
    "\"logprobs\":null,\"finish_reason\":null}]}\n\n" OAI_CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":null,"
    "\"finish_reason\":null}]}\n\n" OAI_CHUNK_HEAD
    "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static const char OPENAI_EMBEDDINGS[] =
    "{\n"
    "  \"object\": \"list\",\n"
    "  \"data\": [\n"
    "    {\n"
    "      \"object\": \"embedding\",\n"
    "      \"index\": 0,\n"
    "      \"embedding\": [-0.006929283, -0.005336422, 0.00024047505, -0.0046972558]\n"
    "    }\n"
    "  ],\n"
    "  \"model\": \"text-embedding-3-small\",\n"
    "  \"usage\": {\n"
    "    \"prompt_tokens\": 5,\n"
    "    \"total_tokens\": 5\n"
    "  }\n"
    "}\n";

static const char OPENAI_RESPONSES[] =
    "{\"id\":\"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b\",\"object\":\"response\","
    "\"created_at\":1741476542,\"status\":\"completed\",\"error\":null,\"incomplete_details\":null,"
    "\"instructions\":null,\"max_output_tokens\":null,\"model\":\"gpt-4.1-2025-04-14\",\"output\":[{\"type\":"
    "\"message\",\"id\":\"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b\",\"status\":\"completed\","
    "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"In a peaceful grove beneath a "
    "silver moon...\",\"annotations\":[]}]}],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
    "\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":true,\"temperature\":1.0,\"text\":{"
    "\"format\":"
    "{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\","
    "\"usage\":{\"input_tokens\":1036,\"input_tokens_details\":{\"cached_tokens\":1024},\"output_tokens\":87,"
    "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":1123},\"user\":null,"
    "\"metadata\":{}}";

static const char OPENAI_RESPONSES_STREAM[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":"
    "\"response\",\"created_at\":1741290958,\"status\":\"in_progress\",\"model\":\"gpt-4.1-2025-04-14\","
    "\"output\":[],\"usage\":null}}\n\n"
    "event: response.in_progress\n"
    "data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\","
    "\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-4.1-2025-04-14\",\"output\":[],"
    "\"usage\":null}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":\"msg_1\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\"Hi there!\"}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"id\":\"resp_1\",\"object\":"
    "\"response\",\"created_at\":1741290958,\"status\":\"completed\",\"model\":\"gpt-4.1-2025-04-14\","
    "\"output\":[{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\","
    "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there!\",\"annotations\":[]}]}],\"usage\":{"
    "\"input_tokens\":37,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":11,"
    "\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":48}}}\n\n";

static const char ANTHROPIC_MSG[] =
    "{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"model\":"
    "\"claude-3-5-sonnet-20241022\",\"content\":[{\"type\":\"text\",\"text\":\"Hello!\"}],\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":21,\"cache_creation_input_tokens\":"
    "188086,"
    "\"cache_read_input_tokens\":0,\"output_tokens\":393}}";

static const char ANTHROPIC_STREAM[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-20250514\","
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":1800,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: "
    "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":"
    "\"Hello\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
    "\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

static const char OLLAMA_CHAT_STREAM[] =
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":"
    "\"assistant\",\"content\":\"The\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T08:52:19.385406455-07:00\",\"message\":{\"role\":"
    "\"assistant\",\"content\":\" sky\"},\"done\":false}\n"
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"message\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":4883583458,"
    "\"load_duration\":1334875,\"prompt_eval_count\":26,\"prompt_eval_duration\":342546000,\"eval_count\":"
    "282,"
    "\"eval_duration\":4535599000}\n";

static const char OLLAMA_GENERATE[] =
    "{\"model\":\"llama3.2\",\"created_at\":\"2023-08-04T19:22:45.499127Z\",\"response\":\"The sky is blue "
    "because it is the color of the sky.\",\"done\":true,\"done_reason\":\"stop\",\"context\":[1,2,3],"
    "\"total_duration\":5043500667,\"load_duration\":5025959,\"prompt_eval_count\":26,"
    "\"prompt_eval_duration\":325953000,\"eval_count\":290,\"eval_duration\":4709213000}";

/* ---- tests ---- */

TEST(openai_chat)
{
    ig_usage_t u;
    parse("openai", OPENAI_CHAT, false, &u);
    /* the escaped {"usage":...} inside the content is text, not the usage */
    CHECK_USAGE(u, 2006, 300, 1920, 0);
    CHECK_EQ_INT(u.conv, IG_USAGE_CACHED_INCLUDED);
    CHECK_EQ_STR(u.model, "gpt-4o-2024-08-06");
    CHECK(!u.cache_hit);
    CHECK_EQ_INT(ig_usage_input_total(&u, "openai"), 2006);

    /* an older response without details: no cache reported is 0 cached */
    parse("openai",
          "{\"id\":\"c\",\"object\":\"chat.completion\",\"model\":\"gpt-3.5-turbo-0125\",\"choices\":[],"
          "\"usage\":{\"prompt_tokens\":13,\"completion_tokens\":7,\"total_tokens\":20}}",
          false, &u);
    CHECK_USAGE(u, 13, 7, 0, 0);
    CHECK_EQ_STR(u.model, "gpt-3.5-turbo-0125");
    /* OpenAI-compatible servers send null details */
    parse("custom",
          "{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"prompt_tokens_details\":null}}", false,
          &u);
    CHECK_USAGE(u, 3, 4, 0, 0);
    CHECK(u.model[0] == '\0');
}

TEST(openai_stream)
{
    ig_usage_t u;
    parse("openai", OPENAI_STREAM, true, &u);
    CHECK_USAGE(u, 9, 12, 0, 0);
    CHECK_EQ_STR(u.model, "gpt-4o-mini-2024-07-18");

    parse("openai", OPENAI_STREAM_NO_USAGE, true, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    CHECK_EQ_STR(u.model, "gpt-4o-mini-2024-07-18");

    /* CRLF lines, "data:" without a space, no [DONE] */
    parse(
        "openai",
        "data:{\"model\":\"m1\",\"choices\":[]}\r\n\r\n"
        "data:{\"model\":\"m1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\r\n",
        true, &u);
    CHECK_USAGE(u, 1, 2, 0, 0);
    CHECK_EQ_STR(u.model, "m1");

    /* the stream flag is a hint: the framing is read from the body */
    parse("openai", OPENAI_STREAM, false, &u);
    CHECK_USAGE(u, 9, 12, 0, 0);
    parse("openai", OPENAI_CHAT, true, &u);
    CHECK_USAGE(u, 2006, 300, 1920, 0);
}

TEST(openai_embeddings)
{
    ig_usage_t u;
    parse("openai", OPENAI_EMBEDDINGS, false, &u);
    CHECK_USAGE(u, 5, 0, 0, 0); /* no completion tokens: output 0, derived from total - prompt */
    CHECK_EQ_STR(u.model, "text-embedding-3-small");
    /* without total_tokens nothing says output is 0 */
    parse("openai", "{\"usage\":{\"prompt_tokens\":5}}", false, &u);
    CHECK_USAGE(u, 5, -1, 0, 0);
    /* total below prompt: no derivation */
    parse("openai", "{\"usage\":{\"prompt_tokens\":5,\"total_tokens\":4}}", false, &u);
    CHECK_USAGE(u, 5, -1, 0, 0);
}

TEST(openai_responses)
{
    ig_usage_t u;
    parse("openai", OPENAI_RESPONSES, false, &u);
    CHECK_USAGE(u, 1036, 87, 1024, 0);
    CHECK_EQ_INT(u.conv, IG_USAGE_CACHED_INCLUDED);
    CHECK_EQ_STR(u.model, "gpt-4.1-2025-04-14");

    parse("openai", OPENAI_RESPONSES_STREAM, true, &u);
    CHECK_USAGE(u, 37, 11, 0, 0);
    CHECK_EQ_STR(u.model, "gpt-4.1-2025-04-14"); /* from response.created's response.model */
}

TEST(anthropic_message)
{
    ig_usage_t u;
    parse("anthropic", ANTHROPIC_MSG, false, &u);
    CHECK_USAGE(u, 21, 393, 0, 188086);
    CHECK_EQ_INT(u.conv, IG_USAGE_CACHED_SEPARATE);
    CHECK_EQ_STR(u.model, "claude-3-5-sonnet-20241022");
    CHECK_EQ_INT(ig_usage_input_total(&u, "anthropic"), 21 + 188086);

    /* an old response without cache fields is still Anthropic's convention (type "message") */
    parse("anthropic",
          "{\"type\":\"message\",\"model\":\"claude-3-haiku-20240307\",\"usage\":{\"input_tokens\":10,"
          "\"output_tokens\":20}}",
          false, &u);
    CHECK_USAGE(u, 10, 20, 0, 0);
    CHECK_EQ_INT(u.conv, IG_USAGE_CACHED_SEPARATE);
}

TEST(anthropic_stream)
{
    ig_usage_t u;
    parse("anthropic", ANTHROPIC_STREAM, true, &u);
    CHECK_USAGE(u, 25, 15, 1800, 0);
    CHECK_EQ_INT(u.conv, IG_USAGE_CACHED_SEPARATE);
    CHECK_EQ_STR(u.model, "claude-sonnet-4-20250514");
    CHECK_EQ_INT(ig_usage_input_total(&u, "anthropic"), 1825);

    /* message_delta usage is cumulative: with server tools it carries the final input counts */
    static const char start[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":"
        "\"assistant\",\"content\":[],\"model\":\"claude-opus-4-1-20250805\",\"usage\":{\"input_tokens\":"
        "2679,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":3}}}\n\n";
    char body[2048];
    snprintf(
        body, sizeof body,
        "%sevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"input_tokens\":10682,\"cache_creation_input_tokens\":0,"
        "\"cache_read_input_tokens\":0,\"output_tokens\":510,\"server_tool_use\":{\"web_search_requests\":"
        "1}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        start);
    parse("anthropic", body, true, &u);
    CHECK_USAGE(u, 10682, 510, 0, 0);
    CHECK_EQ_STR(u.model, "claude-opus-4-1-20250805");
    /* a compatible server that sends input_tokens 0 in message_delta does not erase message_start's */
    snprintf(
        body, sizeof body,
        "%sevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"input_tokens\":"
        "0,\"cache_read_input_tokens\":7,\"output_tokens\":9}}\n\n",
        start);
    parse("anthropic", body, true, &u);
    CHECK_USAGE(u, 2679, 9, 7, 0);
    /* two message_delta events: the last one counts (cumulative) */
    snprintf(body, sizeof body,
             "%sdata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":4}}\n\n"
             "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":40}}\n\n",
             start);
    parse("anthropic", body, true, &u);
    CHECK_USAGE(u, 2679, 40, 0, 0);
    /* cut before any message_delta: input is known, output is not (message_start's 3 is a placeholder) */
    parse("anthropic", start, true, &u);
    CHECK_USAGE(u, 2679, -1, 0, 0);
    /* an error event mid-stream after message_start */
    snprintf(body, sizeof body,
             "%sevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
             "\"Overloaded\"}}\n\n",
             start);
    parse("anthropic", body, true, &u);
    CHECK_USAGE(u, 2679, -1, 0, 0);
}

TEST(ollama)
{
    ig_usage_t u;
    parse("ollama", OLLAMA_CHAT_STREAM, true, &u);
    CHECK_USAGE(u, 26, 282, 0, 0);
    CHECK_EQ_STR(u.model, "llama3.2");
    /* Ollama streams by default: a caller that thought it did not still gets the counts */
    parse("ollama", OLLAMA_CHAT_STREAM, false, &u);
    CHECK_USAGE(u, 26, 282, 0, 0);

    parse("ollama", OLLAMA_GENERATE, false, &u);
    CHECK_USAGE(u, 26, 290, 0, 0);
    CHECK_EQ_STR(u.model, "llama3.2");

    /* a fully cached prompt: Ollama omits prompt_eval_count (omitempty), which is 0 */
    parse("ollama", "{\"model\":\"qwen2:7b\",\"done\":true,\"eval_count\":5}", false, &u);
    CHECK_USAGE(u, 0, 5, 0, 0);
    CHECK_EQ_STR(u.model, "qwen2:7b");
    /* not done: no counts */
    parse("ollama", "{\"model\":\"qwen2:7b\",\"done\":false,\"eval_count\":5}", false, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    /* an error line ends the stream */
    parse("ollama",
          "{\"model\":\"m\",\"message\":{\"content\":\"a\"},\"done\":false}\n{\"error\":\"model crashed\"}\n",
          true, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    CHECK_EQ_STR(u.model, "m");

    /* Ollama's OpenAI-compatible endpoint */
    parse("ollama",
          "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"llama3.2\","
          "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
          "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"llama3.2\","
          "\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2,\"total_tokens\":13}}\n\n"
          "data: [DONE]\n\n",
          true, &u);
    CHECK_USAGE(u, 11, 2, 0, 0);
    CHECK_EQ_STR(u.model, "llama3.2");
}

TEST(errors_and_garbage)
{
    static const char *const bodies[] = {
        "",
        " \n\t",
        "{",
        "}",
        "[]",
        "null",
        "data: [DONE]\n\n",
        "data:",
        "event: ping\n",
        "{\"error\":{\"message\":\"Incorrect API key "
        "provided\",\"type\":\"invalid_request_error\",\"param\":null,"
        "\"code\":\"invalid_api_key\"}}",
        "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"model: x\"}}",
        "<html><body>502 Bad Gateway</body></html>",
        "{\"usage\":null}",
        "{\"usage\":[1,2]}",
        "{\"usage\":\"prompt_tokens\"}",
        "{\"usage\":{}}x",
        "\x01\x02{\"usage\":{\"prompt_tokens\":1}}",
        "{\"a\":\"\\\"}\",\"b\":{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}}", /* nested only */
        "{\"usage\" {\"prompt_tokens\":1}}",
        "{\"usage\":{\"prompt_tokens\" 1}}",
        "{\"done\":\"true\",\"eval_count\":1}",
        "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}",   /* cut before the last brace */
        "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}}", /* one brace too many: still fine
                                                                             */
    };
    for (size_t k = 0; k < IG_ARRAY_LEN(bodies); k++) {
        ig_usage_t u;
        parse("openai", bodies[k], false, &u);
        if (k < IG_ARRAY_LEN(bodies) - 2) {
            if (u.input != -1 || u.output != -1) fprintf(stderr, "  body %zu: %s\n", k, bodies[k]);
            CHECK_EQ_INT(u.input, -1);
            CHECK_EQ_INT(u.output, -1);
            CHECK(u.model[0] == '\0');
        }
    }
    ig_usage_t u;
    /* a whole usage object in a cut event is used */
    parse("openai", bodies[IG_ARRAY_LEN(bodies) - 2], true, &u);
    CHECK_USAGE(u, 1, 2, 0, 0);
    parse("openai", bodies[IG_ARRAY_LEN(bodies) - 1], true, &u);
    CHECK_USAGE(u, 1, 2, 0, 0);
    /* NULL body, NULL provider */
    ig_usage_parse(NULL, IG_IOV_NULL, IG_IOV_NULL, false, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    CHECK(u.model[0] == '\0');
}

TEST(strict_values)
{
    ig_usage_t u;
    /* counts must be JSON integers >= 0 below 2^53 */
    static const char *const bad[] = {
        "-1", "1.5", "1.0", "1e3", "\"12\"", "true", "012", "9007199254740992", "99999999999999999999"};
    for (size_t k = 0; k < IG_ARRAY_LEN(bad); k++) {
        char body[128];
        snprintf(body, sizeof body, "{\"usage\":{\"prompt_tokens\":%s,\"completion_tokens\":2}}", bad[k]);
        parse("openai", body, false, &u);
        CHECK_EQ_INT(u.input, -1);
        CHECK_EQ_INT(u.output, 2);
    }
    parse("openai", "{\"usage\":{\"prompt_tokens\":9007199254740991,\"completion_tokens\":0}}", false, &u);
    CHECK_EQ_INT(u.input, 9007199254740991LL);
    /* null is absent */
    parse("openai", "{\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":2}}", false, &u);
    CHECK_USAGE(u, -1, 2, 0, 0);

    /* duplicate keys make the member unknown, at any level we read */
    parse("openai", "{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":2,\"completion_tokens\":3}}", false,
          &u);
    CHECK_USAGE(u, -1, 3, 0, 0);
    parse("openai",
          "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":3},\"usage\":{\"prompt_tokens\":100,"
          "\"completion_tokens\":300}}",
          false, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    parse("openai", "{\"model\":\"a\",\"model\":\"b\"}", false, &u);
    CHECK(u.model[0] == '\0');
    /* an escaped member name could be a duplicate in disguise: the object is unreadable */
    parse("openai",
          "{\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":3},\"\\u0075sage\":{\"prompt_tokens\":100}}",
          false, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    /* prompt_tokens and input_tokens disagreeing */
    parse("custom", "{\"usage\":{\"prompt_tokens\":1,\"input_tokens\":2,\"output_tokens\":3}}", false, &u);
    CHECK_USAGE(u, -1, 3, 0, 0);
    parse("custom", "{\"usage\":{\"prompt_tokens\":2,\"input_tokens\":2,\"output_tokens\":3}}", false, &u);
    CHECK_USAGE(u, 2, 3, 0, 0);
    /* both cache conventions at once, dialect unknown: cache counts unknown */
    parse("custom",
          "{\"usage\":{\"input_tokens\":5,\"output_tokens\":3,\"cache_read_input_tokens\":4,"
          "\"input_tokens_details\":{\"cached_tokens\":4}}}",
          false, &u);
    CHECK_USAGE(u, 5, 3, -1, -1);
    /* ... but in an Anthropic event the Anthropic fields decide */
    parse("custom",
          "{\"type\":\"message\",\"usage\":{\"input_tokens\":5,\"output_tokens\":3,\"cache_read_input_"
          "tokens\":4,"
          "\"prompt_tokens_details\":{\"cached_tokens\":4}}}",
          false, &u);
    CHECK_USAGE(u, 5, 3, 4, 0);
    CHECK_EQ_INT(u.conv, IG_USAGE_CACHED_SEPARATE);
}

TEST(models)
{
    ig_usage_t u;
    parse("openai", "{\"model\":\"gpt\\u002d4o\"}", false, &u); /* escapes are decoded */
    CHECK_EQ_STR(u.model, "gpt-4o");
    parse("openai", "{\"model\":\"mod\xc3\xa8le\"}", false, &u); /* UTF-8 kept */
    CHECK_EQ_STR(u.model, "mod\xc3\xa8le");
    static const char *const refused[] = {
        "{\"model\":\"a\\nb\"}",   /* control character */
        "{\"model\":\"a\x01\"}",   /* raw control byte */
        "{\"model\":\"\\u0000\"}", /* NUL */
        "{\"model\":\"\xff\"}",    /* invalid UTF-8 */
        "{\"model\":\"\"}",        /* empty */
        "{\"model\":5}",           "{\"model\":null}",       "{\"model\":[\"gpt-4o\"]}",
        "{\"model\":\"gpt-4o",     "{\"Model\":\"gpt-4o\"}",
    };
    for (size_t k = 0; k < IG_ARRAY_LEN(refused); k++) {
        parse("openai", refused[k], false, &u);
        if (u.model[0]) fprintf(stderr, "  body %zu: model '%s'\n", k, u.model);
        CHECK(u.model[0] == '\0');
    }
    /* 256 bytes are kept, 257 are not, escaped or not */
    char name[300], body[2000];
    memset(name, 'm', 256);
    name[256] = '\0';
    snprintf(body, sizeof body, "{\"model\":\"%s\"}", name);
    parse("openai", body, false, &u);
    CHECK(strlen(u.model) == 256);
    snprintf(body, sizeof body, "{\"model\":\"%sm\"}", name);
    parse("openai", body, false, &u);
    CHECK(u.model[0] == '\0');
    size_t n = (size_t)snprintf(body, sizeof body, "{\"model\":\"");
    for (int k = 0; k < 256; k++)
        n += (size_t)snprintf(body + n, sizeof body - n, "\\u006d");
    snprintf(body + n, sizeof body - n, "\"}");
    parse("openai", body, false, &u);
    CHECK_EQ_STR(u.model, name);
    /* the first stream events give the model, even when usage is absent */
    parse("anthropic", "event: ping\ndata: {\"type\":\"ping\"}\n\ndata: {\"model\":\"m2\"}\n", true, &u);
    CHECK_EQ_STR(u.model, "m2");
}

/* Every prefix of a fixture gives, field by field, the full body's value or unknown: never another number. */
static void check_prefixes(const char *provider, const char *body, bool stream)
{
    ig_usage_t full, u;
    size_t len = strlen(body);
    parse(provider, body, stream, &full);
    for (size_t n = 0; n <= len; n++) {
        parse_n(provider, body, n, stream, &u);
        bool ok = (u.input == full.input || u.input == -1) && (u.output == full.output || u.output == -1) &&
                  (u.cached == full.cached || u.cached == -1) &&
                  (u.cache_write == full.cache_write || u.cache_write == -1) &&
                  (strcmp(u.model, full.model) == 0 || u.model[0] == '\0');
        if (!ok) {
            fprintf(stderr, "  %s cut at %zu/%zu: %lld %lld %lld %lld '%s'\n", provider, n, len,
                    (long long)u.input, (long long)u.output, (long long)u.cached, (long long)u.cache_write,
                    u.model);
            CHECK(ok);
            return;
        }
    }
}

TEST(truncated_at_every_byte)
{
    check_prefixes("openai", OPENAI_CHAT, false);
    check_prefixes("openai", OPENAI_STREAM, true);
    check_prefixes("openai", OPENAI_EMBEDDINGS, false);
    check_prefixes("openai", OPENAI_RESPONSES, false);
    check_prefixes("openai", OPENAI_RESPONSES_STREAM, true);
    check_prefixes("anthropic", ANTHROPIC_MSG, false);
    check_prefixes("anthropic", ANTHROPIC_STREAM, true);
    check_prefixes("ollama", OLLAMA_CHAT_STREAM, true);
    check_prefixes("ollama", OLLAMA_GENERATE, false);

    ig_usage_t u;
    /* a number at the very end may have been longer */
    parse("openai", "{\"usage\":{\"prompt_tokens\":12", false, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    parse("openai", "{\"usage\":{\"prompt_tokens\":12,", false, &u);
    CHECK_USAGE(u, 12, -1, -1, -1);
    /* a cut usage object: what was complete, no derived counts, no "absent means 0" */
    parse("openai", "{\"usage\":{\"prompt_tokens\":5,\"total_tokens\":5", false, &u);
    CHECK_USAGE(u, 5, -1, -1, -1);
    parse("ollama", "{\"model\":\"m\",\"done\":true,\"eval_count\":5,\"eval_duration\":1", false, &u);
    CHECK_USAGE(u, -1, 5, -1, -1);
}

/* ~10 MiB bodies, as the capture ceiling allows: the answer must be right (no timing assertions). */
TEST(huge_bodies)
{
    const size_t target = 10u * 1024 * 1024;
    size_t cap = target + 4096, n = 0;
    char *b = malloc(cap);
    ig_usage_t u;
    CHECK(b != NULL);
    if (!b) return;

    /* OpenAI stream with the usage chunk at the end */
    while (n < target)
        n += (size_t)snprintf(b + n, cap - n,
                              "%s\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok\"}}],"
                              "\"usage\":null}\n\n",
                              OAI_CHUNK_HEAD);
    size_t chunks_end = n;
    n += (size_t)snprintf(b + n, cap - n,
                          "%s\"choices\":[],\"usage\":{\"prompt_tokens\":70000,\"completion_tokens\":65000,"
                          "\"total_tokens\":135000}}\n\ndata: [DONE]\n\n",
                          OAI_CHUNK_HEAD);
    parse_n("openai", b, n, true, &u);
    CHECK_USAGE(u, 70000, 65000, 0, 0);
    CHECK_EQ_STR(u.model, "gpt-4o-mini-2024-07-18");
    /* cut by the capture ceiling before the usage chunk: every line is looked at, nothing found */
    parse_n("openai", b, chunks_end - 7, true, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    CHECK_EQ_STR(u.model, "gpt-4o-mini-2024-07-18");

    /* Anthropic: message_start at the top, message_delta 10 MiB later */
    n = (size_t)snprintf(
        b, cap,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":"
        "\"claude-3-7-sonnet-20250219\",\"usage\":{\"input_tokens\":120000,"
        "\"cache_read_input_tokens\":3,\"cache_creation_input_tokens\":4,\"output_tokens\":1}}}"
        "\n\n");
    while (n < target)
        n += (size_t)snprintf(
            b + n, cap - n,
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
            "\"delta\":{\"type\":\"text_delta\",\"text\":\"usage\"}}\n\n");
    n +=
        (size_t)snprintf(b + n, cap - n,
                         "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                         "\"max_tokens\"},\"usage\":{\"output_tokens\":64000}}\n\nevent: message_stop\n"
                         "data: {\"type\":\"message_stop\"}\n\n");
    parse_n("anthropic", b, n, true, &u);
    CHECK_USAGE(u, 120000, 64000, 3, 4);
    CHECK_EQ_STR(u.model, "claude-3-7-sonnet-20250219");

    /* embeddings: megabytes of numbers before the usage */
    n = (size_t)snprintf(b, cap,
                         "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
                         "\"embedding\":[");
    while (n < target)
        n += (size_t)snprintf(b + n, cap - n, "-0.0069292835,0.0053364220,");
    n += (size_t)snprintf(b + n, cap - n,
                          "0.1]}],\"model\":\"text-embedding-3-large\",\"usage\":{\"prompt_tokens\":8191,"
                          "\"total_tokens\":8191}}");
    parse_n("openai", b, n, false, &u);
    CHECK_USAGE(u, 8191, 0, 0, 0);
    CHECK_EQ_STR(u.model, "text-embedding-3-large");

    /* one 10 MiB line of garbage and one 10 MiB string */
    memset(b, '{', target);
    parse_n("openai", b, target, true, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    n = (size_t)snprintf(b, cap, "{\"content\":\"");
    memset(b + n, '\\', target - n);
    parse_n("openai", b, target, false, &u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    free(b);
}

TEST(conventions)
{
    ig_usage_t u;
    ig_usage_init(&u);
    CHECK_USAGE(u, -1, -1, -1, -1);
    CHECK_EQ_INT(u.conv, IG_USAGE_CONV_BY_PROVIDER);
    CHECK_EQ_INT(ig_usage_input_total(&u, "openai"), -1);

    u = (ig_usage_t){.input = 100, .output = 5, .cached = 30, .cache_write = 20};
    CHECK_EQ_INT(ig_usage_conv(&u, "anthropic"), IG_USAGE_CACHED_SEPARATE);
    CHECK_EQ_INT(ig_usage_conv(&u, "Anthropic"), IG_USAGE_CACHED_SEPARATE);
    CHECK_EQ_INT(ig_usage_conv(&u, "openai"), IG_USAGE_CACHED_INCLUDED);
    CHECK_EQ_INT(ig_usage_conv(&u, NULL), IG_USAGE_CACHED_INCLUDED);
    CHECK_EQ_INT(ig_usage_input_total(&u, "anthropic"), 150);
    CHECK_EQ_INT(ig_usage_input_total(&u, "openai"), 100);
    u.conv = IG_USAGE_CACHED_SEPARATE; /* what the body said wins over the provider name */
    CHECK_EQ_INT(ig_usage_input_total(&u, "my-proxy"), 150);
    u.cached = -1;
    CHECK_EQ_INT(ig_usage_input_total(&u, "my-proxy"), -1);
}

static int64_t max_tokens_of(const char *body)
{
    return ig_usage_request_max_tokens(ig_iov_str(body));
}

TEST(request_max_tokens)
{
    CHECK_EQ_INT(max_tokens_of("{\"model\":\"m\",\"max_tokens\":512,\"messages\":[]}"), 512);
    CHECK_EQ_INT(max_tokens_of("{\"max_completion_tokens\":64}"), 64);
    CHECK_EQ_INT(max_tokens_of("{\"input\":\"x\",\"max_output_tokens\":9}"), 9);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":null,\"max_completion_tokens\":7}"), 7);
    /* nested members are not the request's cap; bad values are no cap */
    CHECK_EQ_INT(max_tokens_of("{\"options\":{\"max_tokens\":5}}"), -1);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":0}"), -1);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":-3}"), -1);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":1.5}"), -1);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":\"100\"}"), -1);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":10,\"max_tokens\":20}"), -1); /* duplicated: ambiguous */
    CHECK_EQ_INT(max_tokens_of("not json"), -1);
    CHECK_EQ_INT(max_tokens_of(""), -1);
    CHECK_EQ_INT(max_tokens_of("{\"max_tokens\":40,\"messages\":[{\"content\":\"cut"), 40); /* cut after it */
}

TEST(request_fields_in_one_pass)
{
    char model[IG_USAGE_MODEL_MAX + 1];
    int64_t c = 0;
    CHECK_EQ_INT(
        ig_usage_request_fields(ig_iov_str("{\"model\":\"gpt-4o\",\"max_tokens\":50,\"n\":3}"), model, &c),
        50);
    CHECK_EQ_STR(model, "gpt-4o");
    CHECK_EQ_INT(c, 3);
    CHECK_EQ_INT(ig_usage_request_fields(ig_iov_str("{\"best_of\":5,\"n\":2}"), model, &c), -1);
    CHECK_EQ_STR(model, "");
    CHECK_EQ_INT(c, 5);
    CHECK_EQ_INT(ig_usage_request_fields(ig_iov_str("{\"model\":\"m\"}"), model, &c), -1);
    CHECK_EQ_INT(c, 1);
    /* present but unreadable, or huge: counted as the most, never fewer */
    ig_usage_request_fields(ig_iov_str("{\"n\":\"7\"}"), model, &c);
    CHECK_EQ_INT(c, IG_USAGE_MAX_CHOICES);
    ig_usage_request_fields(ig_iov_str("{\"n\":100000}"), model, &c);
    CHECK_EQ_INT(c, IG_USAGE_MAX_CHOICES);
    CHECK_EQ_INT(ig_usage_request_fields(ig_iov_str("{\"max_tokens\":8}"), model, NULL), 8);
}

int main(void)
{
    RUN(request_max_tokens);
    RUN(request_fields_in_one_pass);
    RUN(openai_chat);
    RUN(openai_stream);
    RUN(openai_embeddings);
    RUN(openai_responses);
    RUN(anthropic_message);
    RUN(anthropic_stream);
    RUN(ollama);
    RUN(errors_and_garbage);
    RUN(strict_values);
    RUN(models);
    RUN(truncated_at_every_byte);
    RUN(huge_bodies);
    RUN(conventions);
    UNIT_DONE();
}
