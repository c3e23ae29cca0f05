/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_hook.c: webhook authentication (bearer token and
 * X-Herald-Signature HMAC-SHA256: valid, wrong, missing) and the payload
 * variables for plain JSON, Alertmanager and Grafana bodies, text/plain
 * bodies and invalid JSON (with its position).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "engine/run/runtime_int.h"
#include "pki/pki.h"

static void
hex(const unsigned char *p, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void
hmac_should_match_rfc4231_vector(void **state)
{
    unsigned char mac[32];
    char          h[65];

    (void)state;
    assert_int_equal(pki_hmac_sha256("Jefe", 4,
        "what do ya want for nothing?", 28, mac), 0);
    hex(mac, 32, h);
    assert_string_equal(h, "5bdcc146bf60754e6a042426089575c7"
                           "5a003f089d2739839dec58b964ec3843");
}

static void
verify_should_accept_token_or_signature_and_refuse_otherwise(void **state)
{
    const char   *tok = "s3cr3t-token", *body = "{\"status\":\"firing\"}";
    unsigned char mac[32];
    char          sig[80], h[65];
    struct errbuf eb = { 0 };

    (void)state;
    assert_int_equal(pki_hmac_sha256(tok, strlen(tok), body, strlen(body),
        mac), 0);
    hex(mac, 32, h);
    snprintf(sig, sizeof(sig), "sha256=%s", h);

    assert_int_equal(eng_hook_verify(tok, "Bearer s3cr3t-token", NULL, body,
                         strlen(body), &eb), 0);
    assert_int_equal(eng_hook_verify(tok, NULL, sig, body, strlen(body), &eb),
        0);
    /* upper-case hex is the same signature */
    for (size_t i = 7; sig[i]; i++)
        if (sig[i] >= 'a' && sig[i] <= 'f')
            sig[i] = (char)(sig[i] - 32);
    assert_int_equal(eng_hook_verify(tok, NULL, sig, body, strlen(body), &eb),
        0);

    assert_int_equal(eng_hook_verify(tok, "Bearer wrong", NULL, body,
                         strlen(body), &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "wrong webhook token"));
    assert_int_equal(eng_hook_verify(tok, "Basic abc", NULL, body,
                         strlen(body), &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "Bearer"));
    /* a signature over a different body */
    assert_int_equal(eng_hook_verify(tok, NULL, sig, "{}", 2, &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "does not match"));
    assert_int_equal(eng_hook_verify(tok, NULL, "sha256=abc", body,
                         strlen(body), &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "64 hex digits"));
    assert_int_equal(eng_hook_verify(tok, NULL, "md5=abc", body, strlen(body),
                         &eb), ERR_AUTH);
    assert_int_equal(eng_hook_verify(tok, NULL, NULL, body, strlen(body),
                         &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "missing credentials"));
    /* no token configured: nothing gets in */
    assert_int_equal(eng_hook_verify(NULL, "Bearer ", NULL, body,
                         strlen(body), &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "no webhook token"));
    /* the token never appears in a message */
    assert_null(strstr(eb.msg, tok));
}

static void
vars_should_flatten_top_level_fields(void **state)
{
    const char     *body = "{\"host\":\"r1\",\"count\":3,\"ratio\":0.5,"
                           "\"up\":false,\"none\":null,\"tags\":[\"a\",\"b\"],"
                           "\"meta\":{\"k\":\"v\"},\"odd-name.x\":\"y\"}";
    struct eng_vars vs = { 0 };
    struct errbuf   eb = { 0 };

    (void)state;
    assert_int_equal(eng_webhook_vars(body, strlen(body), "application/json",
                         &vs, &eb), 0);
    assert_string_equal(eng_vars_get(&vs, "_webhook_body"), body);
    assert_string_equal(eng_vars_get(&vs, "_webhook_host"), "r1");
    assert_string_equal(eng_vars_get(&vs, "_webhook_count"), "3");
    assert_string_equal(eng_vars_get(&vs, "_webhook_ratio"), "0.5");
    assert_string_equal(eng_vars_get(&vs, "_webhook_up"), "false");
    assert_string_equal(eng_vars_get(&vs, "_webhook_none"), "");
    assert_string_equal(eng_vars_get(&vs, "_webhook_tags"), "[\"a\",\"b\"]");
    assert_string_equal(eng_vars_get(&vs, "_webhook_meta"), "{\"k\":\"v\"}");
    assert_string_equal(eng_vars_get(&vs, "_webhook_odd_name_x"), "y");
    /* not an alert payload: no derived variables */
    assert_null(eng_vars_get(&vs, "_webhook_alertname"));
    eng_vars_free(&vs);
}

static void
vars_should_derive_alert_fields_from_alertmanager(void **state)
{
    const char *body =
        "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"HighCPU\\\"}\","
        "\"status\":\"firing\",\"receiver\":\"herald\","
        "\"groupLabels\":{\"alertname\":\"HighCPU\"},"
        "\"commonLabels\":{\"alertname\":\"HighCPU\",\"severity\":\"critical\"},"
        "\"commonAnnotations\":{\"summary\":\"CPU above 90% on r1\"},"
        "\"externalURL\":\"http://am:9093\",\"alerts\":[{\"status\":\"firing\","
        "\"labels\":{\"alertname\":\"HighCPU\",\"severity\":\"critical\"},"
        "\"annotations\":{\"summary\":\"CPU above 90% on r1\"}}]}";
    const char *only_alert =
        "{\"receiver\":\"herald\",\"status\":\"firing\",\"commonLabels\":{},"
        "\"commonAnnotations\":{},\"alerts\":[{\"labels\":{\"alertname\":"
        "\"DiskFull\",\"severity\":\"warning\"},\"annotations\":{\"summary\":"
        "\"/var is full\"}}]}";
    struct eng_vars vs = { 0 };
    struct errbuf   eb = { 0 };

    (void)state;
    assert_int_equal(eng_webhook_vars(body, strlen(body), NULL, &vs, &eb), 0);
    assert_string_equal(eng_vars_get(&vs, "_webhook_status"), "firing");
    assert_string_equal(eng_vars_get(&vs, "_webhook_receiver"), "herald");
    assert_string_equal(eng_vars_get(&vs, "_webhook_externalURL"),
        "http://am:9093");
    assert_string_equal(eng_vars_get(&vs, "_webhook_alertname"), "HighCPU");
    assert_string_equal(eng_vars_get(&vs, "_webhook_severity"), "critical");
    assert_string_equal(eng_vars_get(&vs, "_webhook_summary"),
        "CPU above 90% on r1");
    eng_vars_free(&vs);
    /* common labels empty: taken from the first alert */
    assert_int_equal(eng_webhook_vars(only_alert, strlen(only_alert),
                         "application/json; charset=utf-8", &vs, &eb), 0);
    assert_string_equal(eng_vars_get(&vs, "_webhook_alertname"), "DiskFull");
    assert_string_equal(eng_vars_get(&vs, "_webhook_severity"), "warning");
    assert_string_equal(eng_vars_get(&vs, "_webhook_summary"), "/var is full");
    eng_vars_free(&vs);
}

static void
vars_should_read_grafana_payloads(void **state)
{
    const char *legacy =
        "{\"title\":\"[Alerting] Link down\",\"ruleId\":1,\"ruleName\":"
        "\"Link down\",\"state\":\"alerting\",\"message\":\"Gi0/1 is down\","
        "\"ruleUrl\":\"http://grafana/d/x\",\"evalMatches\":[]}";
    struct eng_vars vs = { 0 };
    struct errbuf   eb = { 0 };

    (void)state;
    assert_int_equal(eng_webhook_vars(legacy, strlen(legacy), NULL, &vs, &eb),
        0);
    assert_string_equal(eng_vars_get(&vs, "_webhook_title"),
        "[Alerting] Link down");
    assert_string_equal(eng_vars_get(&vs, "_webhook_state"), "alerting");
    assert_string_equal(eng_vars_get(&vs, "_webhook_ruleId"), "1");
    assert_string_equal(eng_vars_get(&vs, "_webhook_message"),
        "Gi0/1 is down");
    assert_string_equal(eng_vars_get(&vs, "_webhook_evalMatches"), "[]");
    assert_string_equal(eng_vars_get(&vs, "_webhook_alertname"), "Link down");
    assert_string_equal(eng_vars_get(&vs, "_webhook_summary"),
        "Gi0/1 is down");
    assert_string_equal(eng_vars_get(&vs, "_webhook_severity"), "");
    eng_vars_free(&vs);
}

static void
vars_should_take_text_plain_and_refuse_invalid_json(void **state)
{
    const char     *bad = "{\n  \"a\": 1,\n  \"b\": tru\n}";
    struct eng_vars vs = { 0 };
    struct errbuf   eb = { 0 };

    (void)state;
    assert_int_equal(eng_webhook_vars("link down on r1", 15,
                         "text/plain; charset=utf-8", &vs, &eb), 0);
    assert_string_equal(eng_vars_get(&vs, "_webhook_body"), "link down on r1");
    assert_int_equal(vs.n, 1);
    eng_vars_free(&vs);

    assert_int_equal(eng_webhook_vars("link down on r1", 15,
                         "application/json", &vs, &eb), ERR_INVAL);
    assert_string_equal(eb.code, "invalid_json");
    assert_non_null(strstr(eb.msg, "text/plain"));
    eng_vars_free(&vs);

    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_webhook_vars(bad, strlen(bad), NULL, &vs, &eb),
        ERR_INVAL);
    assert_int_equal(eb.line, 3);
    assert_true(eb.col >= 8);
    assert_non_null(strstr(eb.msg, "line 3"));
    eng_vars_free(&vs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_should_match_rfc4231_vector),
        cmocka_unit_test(
            verify_should_accept_token_or_signature_and_refuse_otherwise),
        cmocka_unit_test(vars_should_flatten_top_level_fields),
        cmocka_unit_test(vars_should_derive_alert_fields_from_alertmanager),
        cmocka_unit_test(vars_should_read_grafana_payloads),
        cmocka_unit_test(vars_should_take_text_plain_and_refuse_invalid_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
