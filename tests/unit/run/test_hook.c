/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_hook.c: webhook authentication (the bearer token
 * against its stored SHA-256; X-Herald-Signature over "<timestamp>.<body>":
 * valid, wrong, missing, the old body-only scheme, the timestamp window;
 * the replay cache) and the payload
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
    assert_int_equal(pki_hmac_sha256("Jefe", 4, "what do ya want for nothing?",
                         28, mac),
        0);
    hex(mac, 32, h);
    assert_string_equal(h,
        "5bdcc146bf60754e6a042426089575c7"
        "5a003f089d2739839dec58b964ec3843");
}

#define NOW 1700000000LL

/* sha256=<hex HMAC-SHA256(key, "<ts>.<body>")> */
static void
sign(const char *key, const char *ts, const char *body, char *sig, size_t sz)
{
    unsigned char mac[32];
    char          msg[512], h[65];

    snprintf(msg, sizeof(msg), "%s.%s", ts, body);
    assert_int_equal(pki_hmac_sha256(key, strlen(key), msg, strlen(msg), mac),
        0);
    hex(mac, 32, h);
    snprintf(sig, sz, "sha256=%s", h);
}

/* hex SHA-256, as the store holds a token */
static void
digest(const char *tok, char out[65])
{
    unsigned char d[32];

    assert_int_equal(pki_sha256(tok, strlen(tok), d), 0);
    hex(d, 32, out);
}

static void
sha256_should_match_fips_vector(void **state)
{
    char h[65];

    (void)state;
    digest("abc", h);
    assert_string_equal(h,
        "ba7816bf8f01cfea414140de5dae2223"
        "b00361a396177a9cb410ff61f20015ad");
}

static int
check(const char *tokhash, const char *secret, const char *auth, const char *ts,
    const char *sig, const char *body, long long now, struct errbuf *eb)
{
    struct eng_hook_auth a;
    int                  rc;

    memset(eb, 0, sizeof(*eb));
    if ((rc = eng_hook_parse(auth, ts, sig, now, &a, eb)) != 0)
        return rc;
    return eng_hook_verify(&a, tokhash, secret, body, strlen(body), 1, eb);
}

static void
verify_should_compare_the_bearer_token_by_its_digest(void **state)
{
    const char   *tok = "s3cr3t-token", *body = "{}";
    char          th[65];
    struct errbuf eb;

    (void)state;
    digest(tok, th);
    assert_int_equal(check(th, NULL, "Bearer s3cr3t-token", NULL, NULL, body,
                         NOW, &eb),
        0);
    assert_int_equal(check(th, NULL, "bearer   s3cr3t-token", NULL, NULL, body,
                         NOW, &eb),
        0);
    assert_int_equal(check(th, NULL, "Bearer wrong", NULL, NULL, body, NOW,
                         &eb),
        ERR_AUTH);
    assert_string_equal(eb.code, "denied");
    assert_non_null(strstr(eb.msg, "wrong webhook token"));
    /* the digest itself is not a token */
    {
        char auth[80];

        snprintf(auth, sizeof(auth), "Bearer %s", th);
        assert_int_equal(check(th, NULL, auth, NULL, NULL, body, NOW, &eb),
            ERR_AUTH);
    }
    assert_int_equal(check(th, NULL, "Basic abc", NULL, NULL, body, NOW, &eb),
        ERR_AUTH);
    assert_string_equal(eb.code, "unauthorized");
    assert_non_null(strstr(eb.msg, "Bearer"));
    assert_int_equal(check(th, NULL, NULL, NULL, NULL, body, NOW, &eb),
        ERR_AUTH);
    assert_non_null(strstr(eb.msg, "missing credentials"));
    /* no token stored: nothing gets in */
    assert_int_equal(check(NULL, "sk", "Bearer ", NULL, NULL, body, NOW, &eb),
        ERR_AUTH);
    assert_string_equal(eb.code, "denied");
    assert_null(strstr(eb.msg, tok));
}

static void
verify_should_take_a_timestamped_signature_within_300_s(void **state)
{
    const char   *sk = "signing-secret", *body = "{\"status\":\"firing\"}";
    char          sig[80], ts[24];
    struct errbuf eb;

    (void)state;
    snprintf(ts, sizeof(ts), "%lld", NOW);
    sign(sk, ts, body, sig, sizeof(sig));
    assert_int_equal(check(NULL, sk, NULL, ts, sig, body, NOW, &eb), 0);
    /* upper-case hex is the same signature */
    for (size_t i = 7; sig[i]; i++)
        if (sig[i] >= 'a' && sig[i] <= 'f')
            sig[i] = (char)(sig[i] - 32);
    assert_int_equal(check(NULL, sk, NULL, ts, sig, body, NOW, &eb), 0);
    /* the edges of the window, and one second past them */
    assert_int_equal(check(NULL, sk, NULL, ts, sig, body, NOW + 300, &eb), 0);
    assert_int_equal(check(NULL, sk, NULL, ts, sig, body, NOW - 300, &eb), 0);
    assert_int_equal(check(NULL, sk, NULL, ts, sig, body, NOW + 301, &eb),
        ERR_AUTH);
    assert_string_equal(eb.code, "unauthorized");
    assert_non_null(strstr(eb.msg, "301 s behind"));
    assert_int_equal(check(NULL, sk, NULL, ts, sig, body, NOW - 301, &eb),
        ERR_AUTH);
    assert_non_null(strstr(eb.msg, "301 s ahead"));
    /* another body, another timestamp, another key */
    assert_int_equal(check(NULL, sk, NULL, ts, sig, "{}", NOW, &eb), ERR_AUTH);
    assert_string_equal(eb.code, "denied");
    assert_non_null(strstr(eb.msg, "does not match"));
    assert_int_equal(check(NULL, sk, NULL, "1700000001", sig, body, NOW, &eb),
        ERR_AUTH);
    assert_int_equal(check(NULL, "other", NULL, ts, sig, body, NOW, &eb),
        ERR_AUTH);
    /* no signing secret stored (a migrated token) */
    assert_int_equal(check("00", NULL, NULL, ts, sig, body, NOW, &eb),
        ERR_AUTH);
    assert_non_null(strstr(eb.msg, "no signing secret"));
    /* malformed headers */
    assert_int_equal(check(NULL, sk, NULL, ts, "sha256=abc", body, NOW, &eb),
        ERR_AUTH);
    assert_non_null(strstr(eb.msg, "64 hex digits"));
    assert_int_equal(check(NULL, sk, NULL, ts, "md5=abc", body, NOW, &eb),
        ERR_AUTH);
    assert_int_equal(check(NULL, sk, NULL, "-5", sig, body, NOW, &eb),
        ERR_AUTH);
    assert_non_null(strstr(eb.msg, "unix seconds"));
    /* without the body, only the window and the secret are checked */
    {
        struct eng_hook_auth a;

        assert_int_equal(eng_hook_parse(NULL, ts, sig, NOW, &a, &eb), 0);
        assert_int_equal(eng_hook_verify(&a, NULL, sk, NULL, 0, 0, &eb), 0);
        assert_int_equal(eng_hook_verify(&a, NULL, NULL, NULL, 0, 0, &eb),
            ERR_AUTH);
    }
    assert_null(strstr(eb.msg, sk));
}

static void
verify_should_refuse_the_old_body_only_signature(void **state)
{
    const char   *sk = "signing-secret", *body = "{}";
    unsigned char mac[32];
    char          sig[80], h[65];
    struct errbuf eb;

    (void)state;
    assert_int_equal(pki_hmac_sha256(sk, strlen(sk), body, strlen(body), mac),
        0);
    hex(mac, 32, h);
    snprintf(sig, sizeof(sig), "sha256=%s", h);
    assert_int_equal(check(NULL, sk, NULL, NULL, sig, body, NOW, &eb),
        ERR_AUTH);
    assert_string_equal(eb.code, "unauthorized");
    assert_non_null(strstr(eb.msg, "no longer accepted"));
    assert_non_null(strstr(eb.msg, "X-Herald-Timestamp"));
}

static void
seen_should_refuse_a_replay_until_the_window_ends(void **state)
{
    struct eng_hook_seen *c;
    unsigned char         s1[32], s2[32];

    (void)state;
    memset(s1, 1, sizeof(s1));
    memset(s2, 2, sizeof(s2));
    assert_int_equal(eng_hook_seen_new(&c), 0);
    assert_int_equal(eng_hook_seen_add(c, "A", s1, NOW, NOW), 0);
    assert_int_equal(eng_hook_seen_add(c, "A", s1, NOW, NOW + 10), 1);
    /* per applet */
    assert_int_equal(eng_hook_seen_add(c, "B", s1, NOW, NOW + 10), 0);
    assert_int_equal(eng_hook_seen_add(c, "A", s2, NOW, NOW + 10), 0);
    assert_int_equal(eng_hook_seen_add(c, "A", s1, NOW, NOW + 300), 1);
    /* past the window it is pruned (the timestamp check refuses it) */
    assert_int_equal(eng_hook_seen_add(c, "A", s1, NOW, NOW + 301), 0);
    eng_hook_seen_free(c);
}

static void
seen_should_refuse_rather_than_forget_when_full(void **state)
{
    struct eng_hook_seen *c;
    unsigned char         s[32];
    unsigned              i;

    (void)state;
    assert_int_equal(eng_hook_seen_new(&c), 0);
    memset(s, 0, sizeof(s));
    for (i = 0; i < ENG_HOOK_SEEN_MAX; i++) {
        memcpy(s, &i, sizeof(i));
        assert_int_equal(eng_hook_seen_add(c, "A", s, NOW, NOW), 0);
    }
    i = ENG_HOOK_SEEN_MAX;
    memcpy(s, &i, sizeof(i));
    assert_int_equal(eng_hook_seen_add(c, "A", s, NOW, NOW), ERR_BUSY);
    /* the first one is still known */
    i = 0;
    memcpy(s, &i, sizeof(i));
    assert_int_equal(eng_hook_seen_add(c, "A", s, NOW, NOW), 1);
    /* once the window has passed, the room comes back */
    assert_int_equal(eng_hook_seen_add(c, "A", s, NOW + 400, NOW + 400), 0);
    eng_hook_seen_free(c);
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
                         &vs, &eb),
        0);
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
        "\"commonLabels\":{\"alertname\":\"HighCPU\",\"severity\":\"critical\"}"
        ","
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
                         "application/json; charset=utf-8", &vs, &eb),
        0);
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
    assert_string_equal(eng_vars_get(&vs, "_webhook_message"), "Gi0/1 is down");
    assert_string_equal(eng_vars_get(&vs, "_webhook_evalMatches"), "[]");
    assert_string_equal(eng_vars_get(&vs, "_webhook_alertname"), "Link down");
    assert_string_equal(eng_vars_get(&vs, "_webhook_summary"), "Gi0/1 is down");
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
                         "text/plain; charset=utf-8", &vs, &eb),
        0);
    assert_string_equal(eng_vars_get(&vs, "_webhook_body"), "link down on r1");
    assert_int_equal(vs.n, 1);
    eng_vars_free(&vs);

    assert_int_equal(eng_webhook_vars("link down on r1", 15, "application/json",
                         &vs, &eb),
        ERR_INVAL);
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
        cmocka_unit_test(sha256_should_match_fips_vector),
        cmocka_unit_test(verify_should_compare_the_bearer_token_by_its_digest),
        cmocka_unit_test(
            verify_should_take_a_timestamped_signature_within_300_s),
        cmocka_unit_test(verify_should_refuse_the_old_body_only_signature),
        cmocka_unit_test(seen_should_refuse_a_replay_until_the_window_ends),
        cmocka_unit_test(seen_should_refuse_rather_than_forget_when_full),
        cmocka_unit_test(vars_should_flatten_top_level_fields),
        cmocka_unit_test(vars_should_derive_alert_fields_from_alertmanager),
        cmocka_unit_test(vars_should_read_grafana_payloads),
        cmocka_unit_test(vars_should_take_text_plain_and_refuse_invalid_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
