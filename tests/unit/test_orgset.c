/*
 * test_orgset.c — an org's logging and outbound settings: parsing, validation and plan rules
 * (capture/orgset).
 */
#include "capture/orgset.h"
#include "core/err.h"
#include "core/json.h"
#include "net/outbound.h"
#include "store/store.h"
#include "unit.h"

/* Parses JSON text as settings: the result code, *why, and the settings in *out (cleared by the caller). */
static int parse(const char *text, ig_orgset_t *out, const char **why)
{
    cJSON *doc = ig_json_parse_raw(text, strlen(text), NULL, false);
    char err[256];
    int rc = doc ? ig_orgset_parse(doc, out, why, err, sizeof err) : IG_EINTERNAL;
    cJSON_Delete(doc);
    return rc;
}

TEST(defaults_when_empty)
{
    ig_orgset_t s;
    const char *why = NULL;
    CHECK_EQ_INT(parse("{}", &s, &why), IG_OK);
    CHECK_EQ_INT(s.capture, IG_CAPTURE_FULL);
    CHECK_EQ_INT(s.retention_days, -1);
    CHECK(!s.redact);
    CHECK_EQ_INT(s.detectors, IG_PII_DEFAULTS);
    CHECK(s.allowlist == NULL);
    CHECK_EQ_INT(ig_orgset_retention_days(&s, IG_STORE_PLAN_FREE), IG_RETENTION_FREE_DAYS);
    CHECK_EQ_INT(ig_orgset_retention_days(&s, IG_STORE_PLAN_ENTERPRISE), IG_RETENTION_ENTERPRISE_DEFAULT);
    ig_orgset_clear(&s);
}

TEST(capture_retention_redaction)
{
    ig_orgset_t s;
    const char *why = NULL;
    CHECK_EQ_INT(parse("{\"capture\":\"metadata\",\"retention_days\":90,"
                       "\"redaction\":{\"enabled\":true,\"mode\":\"drop\",\"detectors\":[\"email\",\"card\"],"
                       "\"custom\":[\"ORD-[0-9]{6}\"]}}",
                       &s, &why),
                 IG_OK);
    CHECK_EQ_INT(s.capture, IG_CAPTURE_METADATA);
    CHECK_EQ_INT(ig_orgset_retention_days(&s, IG_STORE_PLAN_ENTERPRISE), 90);
    CHECK_EQ_INT(ig_orgset_retention_days(&s, IG_STORE_PLAN_FREE), IG_RETENTION_FREE_DAYS);
    CHECK(s.redact);
    CHECK_EQ_INT(s.redact_mode, IG_REDACT_DROP);
    CHECK_EQ_INT(s.detectors, IG_PII_EMAIL | IG_PII_CARD);
    CHECK_EQ_INT(s.ncustom, 1);
    CHECK(ig_orgset_redacts(&s, IG_STORE_PLAN_ENTERPRISE, false));
    CHECK(!ig_orgset_redacts(&s, IG_STORE_PLAN_FREE, false));
    CHECK(ig_orgset_redacts(&s, IG_STORE_PLAN_FREE, true));
    ig_orgset_clear(&s);
}

TEST(refuses_bad_values_naming_the_member)
{
    static const char *const bad[][2] = {
        {"[]", "settings must be an object"},
        {"{\"colour\":1}", "unknown setting"},
        {"{\"capture\":\"most\"}", "settings.capture"},
        {"{\"retention_days\":8}", "settings.retention_days"},
        {"{\"redaction\":{\"mode\":\"blur\"}}", "settings.redaction.mode"},
        {"{\"redaction\":{\"detectors\":[\"iban\"]}}", "settings.redaction.detectors"},
        {"{\"redaction\":{\"custom\":[\"(unclosed\"]}}", "settings.redaction.custom"},
        {"{\"outbound_allowlist\":\"hooks.example.com\"}", "settings.outbound_allowlist"},
        {"{\"outbound_allowlist\":[\"\"]}", "settings.outbound_allowlist"},
        {"{\"outbound_allowlist\":[1]}", "settings.outbound_allowlist"},
        {"{\"outbound_allowlist\":[\"a.example,b.example\"]}", "settings.outbound_allowlist"},
        {"{\"outbound_allowlist\":[\"hooks.example.com:99999\"]}", "settings.outbound_allowlist"},
        {"{\"outbound_allowlist\":[\"10.0.0.0/33\"]}", "settings.outbound_allowlist"},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        ig_orgset_t s;
        const char *why = NULL;
        int rc = parse(bad[i][0], &s, &why);
        CHECK_EQ_INT(rc, IG_EINVAL);
        CHECK(why && strncmp(why, bad[i][1], strlen(bad[i][1])) == 0);
        if (rc != IG_EINVAL || !why || strncmp(why, bad[i][1], strlen(bad[i][1])) != 0)
            fprintf(stderr, "  input %s: %s\n", bad[i][0], why ? why : "(no reason)");
        CHECK(s.allowlist == NULL && s.custom == NULL); /* nothing half-parsed is left behind */
        ig_orgset_clear(&s);
    }
}

TEST(outbound_allowlist_joined_for_the_validator)
{
    ig_orgset_t s;
    const char *why = NULL;
    CHECK_EQ_INT(parse("{\"outbound_allowlist\":[\"hooks.example.com:8443\",\"203.0.113.0/24:9000\","
                       "\"[2001:db8::1]:8443\"]}",
                       &s, &why),
                 IG_OK);
    CHECK_EQ_STR(s.allowlist, "hooks.example.com:8443,203.0.113.0/24:9000,[2001:db8::1]:8443");
    CHECK_EQ_INT(ig_outbound_allowlist_validate(s.allowlist, NULL), IG_OK);
    ig_orgset_clear(&s);
    CHECK_EQ_INT(parse("{\"outbound_allowlist\":[]}", &s, &why), IG_OK);
    CHECK(s.allowlist == NULL);
    ig_orgset_clear(&s);
}

TEST(rate_limits)
{
    ig_orgset_t s;
    const char *why = NULL;
    CHECK_EQ_INT(
        parse("{\"rate_limits\":{\"requests_per_minute\":600,\"tokens_per_minute\":null}}", &s, &why), IG_OK);
    CHECK_EQ_INT(s.rpm_limit, 600);
    CHECK_EQ_INT(s.tpm_limit, 0);
    ig_orgset_clear(&s);
    CHECK_EQ_INT(parse("{\"rate_limits\":null}", &s, &why), IG_OK);
    CHECK_EQ_INT(s.rpm_limit, 0);
    ig_orgset_clear(&s);
    static const char *const bad[] = {
        "{\"rate_limits\":{\"requests_per_minute\":0}}",
        "{\"rate_limits\":{\"requests_per_minute\":-5}}",
        "{\"rate_limits\":{\"requests_per_minute\":2.5}}",
        "{\"rate_limits\":{\"tokens_per_minute\":\"9\"}}",
        "{\"rate_limits\":{\"per_hour\":1}}",
        "{\"rate_limits\":[]}",
        "{\"rate_limits\":{\"tokens_per_minute\":70000000000000}}",
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        CHECK_EQ_INT(parse(bad[i], &s, &why), IG_EINVAL);
        CHECK(why && strcmp(why, "settings.rate_limits is invalid") == 0);
        ig_orgset_clear(&s);
    }
}

TEST(guardrails)
{
    ig_orgset_t s;
    const char *why = NULL;
    /* absent: the defaults (PII off, injection log_only), not "asked for" */
    CHECK_EQ_INT(parse("{}", &s, &why), IG_OK);
    CHECK_EQ_INT(s.guard.pii, IG_GUARD_OFF);
    CHECK_EQ_INT(s.guard.injection, IG_GUARD_LOG_ONLY);
    CHECK(!s.guard_on);
    ig_guardset_t eff = ig_orgset_guard(&s, IG_STORE_PLAN_ENTERPRISE);
    CHECK_EQ_INT(eff.injection, IG_GUARD_LOG_ONLY);
    eff = ig_orgset_guard(&s, IG_STORE_PLAN_FREE);
    CHECK_EQ_INT(eff.injection, IG_GUARD_OFF);
    CHECK_EQ_INT(eff.pii, IG_GUARD_OFF);
    ig_orgset_clear(&s);
    CHECK_EQ_INT(parse("{\"guardrails\":{\"pii\":\"block\",\"injection_threshold\":40}}", &s, &why), IG_OK);
    CHECK_EQ_INT(s.guard.pii, IG_GUARD_BLOCK);
    CHECK_EQ_INT(s.guard.injection, IG_GUARD_LOG_ONLY);
    CHECK_EQ_INT(s.guard.threshold, 40);
    CHECK(s.guard_on);
    ig_orgset_clear(&s);
    /* all off: not an Enterprise feature in use */
    CHECK_EQ_INT(parse("{\"guardrails\":{\"pii\":\"off\",\"injection\":\"off\"}}", &s, &why), IG_OK);
    CHECK(!s.guard_on);
    ig_orgset_clear(&s);
    CHECK_EQ_INT(parse("{\"guardrails\":{\"pii\":\"maybe\"}}", &s, &why), IG_EINVAL);
    CHECK(why && strstr(why, "guardrails.pii"));
    CHECK_EQ_INT(parse("{\"guardrails\":true}", &s, &why), IG_EINVAL);
    /* the stored text form */
    ig_orgset_parse_text("{\"guardrails\":{\"pii\":\"redact\",\"injection\":\"block\"}}", &s);
    CHECK_EQ_INT(s.guard.pii, IG_GUARD_REDACT);
    CHECK_EQ_INT(s.guard.injection, IG_GUARD_BLOCK);
    ig_orgset_clear(&s);
}

TEST(stored_text_falls_back_to_defaults)
{
    ig_orgset_t s;
    ig_orgset_parse_text("{\"capture\":\"off\",\"outbound_allowlist\":[\"a.example:8443\"]}", &s);
    CHECK_EQ_INT(s.capture, IG_CAPTURE_OFF);
    CHECK_EQ_STR(s.allowlist, "a.example:8443");
    ig_orgset_clear(&s);
    ig_orgset_parse_text("not json", &s);
    CHECK_EQ_INT(s.capture, IG_CAPTURE_FULL);
    CHECK(s.allowlist == NULL);
    ig_orgset_clear(&s);
    ig_orgset_parse_text(NULL, &s);
    CHECK_EQ_INT(s.capture, IG_CAPTURE_FULL);
    ig_orgset_clear(&s);
}

int main(void)
{
    RUN(defaults_when_empty);
    RUN(capture_retention_redaction);
    RUN(refuses_bad_values_naming_the_member);
    RUN(outbound_allowlist_joined_for_the_validator);
    RUN(rate_limits);
    RUN(guardrails);
    RUN(stored_text_falls_back_to_defaults);
    UNIT_DONE();
}
