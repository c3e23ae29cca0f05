/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/oauth/test_cache.c: eng_oauth_token() with the HTTPS exchange
 * replaced by a fake (oauth_cache_set_exchange) that answers raw HTTP and
 * counts requests, and a fake clock: caching and expiry, single flight
 * with many threads (one request, one shared result, a failure included),
 * a token the mail server refused (stale), forget and a changed
 * credential, refresh token rotation, the classification of the
 * endpoint's answers with their advice, and no secret in any message or
 * trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"
#include "engine/oauth/oauth_int.h"

#define SECRET  "cl1ent-Secret-77"
#define REFRESH "1//refresh-Token-88"

/* ---- fakes ---------------------------------------------------------------- */

struct fake {
    pthread_mutex_t mu;
    int             calls;
    char            answer[4096]; /* raw HTTP; "{n}" in it: calls so far */
    int             delay_ms;
    int             fail_rc; /* transport failure instead of an answer */
    const char     *ok_if;   /* a request holding this gets a token */
    char            last_request[4096];
};

static struct fake fk;

static void
fake_reset(const char *answer)
{
    pthread_mutex_destroy(&fk.mu);
    memset(&fk, 0, sizeof(fk));
    pthread_mutex_init(&fk.mu, NULL);
    snprintf(fk.answer, sizeof(fk.answer), "%s", answer);
}

/* An HTTP answer with a JSON body. */
static const char *
http(int status, const char *json)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf),
        "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        status, strlen(json), json);
    return buf;
}

static int
fake_exchange(void *ctx, const struct oauth_req *req, char *buf, size_t cap,
    size_t *len, struct cJSON *trace, struct smtp_result *res)
{
    char  *a, *n;
    int    calls;
    size_t k;

    (void)ctx;
    (void)trace;
    pthread_mutex_lock(&fk.mu);
    calls = ++fk.calls;
    snprintf(fk.last_request, sizeof(fk.last_request), "%.*s", (int)req->len,
        req->data);
    pthread_mutex_unlock(&fk.mu);
    if (fk.delay_ms > 0) {
        struct timespec ts = { fk.delay_ms / 1000,
            (fk.delay_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
    }
    if (fk.fail_rc != 0) {
        oauth_result(res, fk.fail_rc, "connect", 0, "retry",
            "token endpoint %s:%u: cannot connect", req->url->host,
            req->url->port);
        return fk.fail_rc;
    }
    a = strdup(fk.ok_if && strstr(req->data, fk.ok_if)
            ? http(200, "{\"access_token\":\"AT-{n}\"}")
            : fk.answer);
    while ((n = strstr(a, "{n}")) != NULL) {
        char num[8];

        snprintf(num, sizeof(num), "%03d", calls % 1000);
        memcpy(n, num, 3);
    }
    k = strlen(a) < cap ? strlen(a) : cap;
    memcpy(buf, a, k);
    *len = k;
    free(a);
    return 0;
}

static long long fake_ms;

static long long
fake_now(void)
{
    return fake_ms;
}

static struct {
    int  calls;
    char name[64];
    char token[128];
} rot;

static void
rotate_cb(void *ctx, const char *name, const struct sec *rt)
{
    (void)ctx;
    rot.calls++;
    snprintf(rot.name, sizeof(rot.name), "%s", name);
    snprintf(rot.token, sizeof(rot.token), "%s", sec_data(rt));
}

static struct eng_oauth_cache *
cache_new(void)
{
    struct eng_oauth_cache *c = NULL;

    assert_int_equal(eng_oauth_cache_new(rotate_cb, NULL, &c), 0);
    oauth_cache_set_exchange(c, fake_exchange, NULL);
    oauth_cache_set_clock(c, fake_now);
    fake_ms = 1000000;
    memset(&rot, 0, sizeof(rot));
    return c;
}

static struct sec *secret, *refresh;

static int
setup(void **state)
{
    (void)state;
    pthread_mutex_init(&fk.mu, NULL);
    log_set_level(LOG_WARN);
    secret = sec_new(SECRET, strlen(SECRET));
    refresh = sec_new(REFRESH, strlen(REFRESH));
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sec_free(secret);
    sec_free(refresh);
    pthread_mutex_destroy(&fk.mu);
    return 0;
}

static struct eng_oauth_cred
cc_cred(void)
{
    struct eng_oauth_cred c = { .name = "m365",
        .generation = 1,
        .grant = ENG_OAUTH_CLIENT_CREDENTIALS,
        .token_url = "https://login.example.com/tenant/oauth2/v2.0/token",
        .client_id = "app-id",
        .client_secret = secret,
        .scope = "https://outlook.office365.com/.default" };

    return c;
}

static struct eng_oauth_cred
rt_cred(void)
{
    struct eng_oauth_cred c = { .name = "google",
        .generation = 7,
        .grant = ENG_OAUTH_REFRESH_TOKEN,
        .token_url = "https://oauth2.example.com/token",
        .client_id = "id.apps",
        .client_secret = secret,
        .refresh_token = refresh };

    return c;
}

/* Checks that no secret of the test appears in s. */
static void
no_secret(const char *where, const char *s)
{
    const char *bad[] = { SECRET, REFRESH, "AT-", "cl1ent", "refresh-Token" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strstr(s, bad[i]) != NULL)
            fail_msg("a secret (%s) in the %s: %s", bad[i], where, s);
}

static void
no_secret_in(const struct smtp_result *res, cJSON *trace)
{
    no_secret("message", res->message);
    no_secret("advice", res->advice);
    if (trace != NULL) {
        char *js = cJSON_PrintUnformatted(trace);

        no_secret("trace", js);
        free(js);
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void
token_should_be_fetched_once_then_cached_until_due(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct eng_oauth_cred   cred = cc_cred();
    struct eng_oauth_stats  st;
    struct smtp_result      res;
    struct sec             *t = NULL;
    cJSON                  *trace = cJSON_CreateObject();

    (void)state;
    fake_reset(http(200,
        "{\"access_token\":\"AT-{n}\",\"token_type\":"
        "\"bearer\",\"expires_in\":3599}"));
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, trace, &res), 0);
    assert_string_equal(sec_data(t), "AT-001");
    assert_non_null(strstr(fk.last_request,
        "grant_type=client_credentials&client_id=app-id&client_secret=" SECRET
        "&scope=https%3A%2F%2Foutlook.office365.com%2F.default"));
    assert_non_null(strstr(fk.last_request, "POST /tenant/oauth2/v2.0/token "));
    no_secret_in(&res, trace);
    {
        cJSON *te = cJSON_GetObjectItem(trace, "oauth_endpoint");

        assert_non_null(te);
        assert_string_equal(cJSON_GetObjectItem(te, "url")->valuestring,
            "https://login.example.com:443/tenant/oauth2/v2.0/token");
        assert_int_equal(cJSON_GetObjectItem(te, "status")->valueint, 200);
        assert_true(cJSON_IsFalse(cJSON_GetObjectItem(te, "cached")));
    }
    sec_free(t);
    /* 3599 s: due 60 s before; still cached 3538 s later */
    fake_ms += 3538 * 1000LL;
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, trace, &res), 0);
    assert_string_equal(sec_data(t), "AT-001");
    assert_true(cJSON_IsTrue(
        cJSON_GetObjectItem(cJSON_GetObjectItem(trace, "oauth_endpoint"),
            "cached")));
    sec_free(t);
    fake_ms += 2000;
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    assert_string_equal(sec_data(t), "AT-002");
    sec_free(t);
    eng_oauth_stats(c, &st);
    assert_int_equal(st.fetched, 2);
    assert_int_equal(st.cached, 1);
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(fk.calls, 2);
    cJSON_Delete(trace);
    eng_oauth_cache_free(c);
}

static void
expires_in_should_default_and_be_clamped(void **state)
{
    static const struct {
        const char *json;
        long long   fresh_s; /* still cached after this */
        long long   due_s;   /* fetched again after this */
    } cases[] = {
        { "{\"access_token\":\"AT-{n}\"}", 3539, 3541 },
        { "{\"access_token\":\"AT-{n}\",\"expires_in\":-5}", 3539, 3541 },
        { "{\"access_token\":\"AT-{n}\",\"expires_in\":\"nonsense\"}", 3539,
            3541 },
        { "{\"access_token\":\"AT-{n}\",\"expires_in\":\"600\"}", 539, 541 },
        /* shorter than twice the early margin: due at half its life */
        { "{\"access_token\":\"AT-{n}\",\"expires_in\":30}", 14, 16 },
        { "{\"access_token\":\"AT-{n}\",\"expires_in\":1e300}", 30 * 86400 - 61,
            30 * 86400 - 59 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct eng_oauth_cache *c = cache_new();
        struct eng_oauth_cred   cred = cc_cred();
        struct smtp_result      res;
        struct sec             *t = NULL;
        long long               t0 = fake_ms;

        fake_reset(http(200, cases[i].json));
        assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
            0);
        sec_free(t);
        fake_ms = t0 + cases[i].fresh_s * 1000;
        assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
            0);
        sec_free(t);
        if (fk.calls != 1)
            fail_msg("case %zu: fetched again after %lld s", i,
                cases[i].fresh_s);
        fake_ms = t0 + cases[i].due_s * 1000;
        assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
            0);
        sec_free(t);
        if (fk.calls != 2)
            fail_msg("case %zu: not fetched again after %lld s", i,
                cases[i].due_s);
        eng_oauth_cache_free(c);
    }
}

#define NTHREADS 8

struct worker {
    struct eng_oauth_cache *c;
    struct eng_oauth_cred   cred;
    const struct sec       *stale;
    int                     rc;
    struct smtp_result      res;
    char                    token[64];
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct sec    *t = NULL;

    w->rc = eng_oauth_token(w->c, &w->cred, NULL, w->stale, &t, NULL, &w->res);
    if (t != NULL)
        snprintf(w->token, sizeof(w->token), "%s", sec_data(t));
    sec_free(t);
    return NULL;
}

static void
run_workers(struct eng_oauth_cache *c, struct eng_oauth_cred cred,
    const struct sec *stale, struct worker *w)
{
    pthread_t th[NTHREADS];

    for (int i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].c = c;
        w[i].cred = cred;
        w[i].stale = stale;
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
}

static void
concurrent_callers_should_share_one_fetch(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct worker           w[NTHREADS];
    struct eng_oauth_stats  st;

    (void)state;
    fake_reset(http(200, "{\"access_token\":\"AT-{n}\",\"expires_in\":3600}"));
    fk.delay_ms = 300;
    run_workers(c, cc_cred(), NULL, w);
    assert_int_equal(fk.calls, 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].rc, 0);
        assert_string_equal(w[i].token, "AT-001");
    }
    eng_oauth_stats(c, &st);
    assert_int_equal(st.fetched, 1);
    assert_int_equal(st.cached, NTHREADS - 1);
    eng_oauth_cache_free(c);
}

static void
concurrent_callers_should_share_one_failure(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct worker           w[NTHREADS];
    struct eng_oauth_stats  st;

    (void)state;
    fake_reset(http(401,
        "{\"error\":\"invalid_client\",\"error_description\":"
        "\"AADSTS7000215: Invalid client secret provided."
        "\\r\\nTrace ID: 42\"}"));
    fk.delay_ms = 300;
    run_workers(c, cc_cred(), NULL, w);
    assert_int_equal(fk.calls, 1);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(w[i].rc, ERR_AUTH);
        assert_string_equal(w[i].res.klass, "auth_failed");
        assert_true(w[i].res.permanent);
        assert_non_null(strstr(w[i].res.message, "invalid_client"));
        assert_non_null(strstr(w[i].res.message,
            "AADSTS7000215: Invalid client secret provided. Trace ID: 42"));
        assert_null(strchr(w[i].res.message, '\r'));
        assert_null(strchr(w[i].res.message, '\n'));
        assert_non_null(strstr(w[i].res.message,
            "token endpoint "
            "login.example.com:443"));
        assert_non_null(strstr(w[i].res.advice, "client_secret"));
        no_secret_in(&w[i].res, NULL);
    }
    eng_oauth_stats(c, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.fetched, 0);
    /* a later caller tries again */
    fake_reset(http(200, "{\"access_token\":\"AT-{n}\"}"));
    run_workers(c, cc_cred(), NULL, w);
    assert_int_equal(fk.calls, 1);
    eng_oauth_cache_free(c);
}

static void
stale_token_should_be_replaced_once_for_all_holders(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct eng_oauth_cred   cred = cc_cred();
    struct smtp_result      res;
    struct sec             *t1 = NULL, *t1b, *t = NULL;
    struct worker           w[NTHREADS];

    (void)state;
    fake_reset(http(200, "{\"access_token\":\"AT-{n}\"}"));
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t1, NULL, &res), 0);
    /* a token that is not the cached one changes nothing */
    t1b = sec_new("AT-old", 6);
    assert_int_equal(eng_oauth_token(c, &cred, NULL, t1b, &t, NULL, &res), 0);
    assert_string_equal(sec_data(t), "AT-001");
    assert_int_equal(fk.calls, 1);
    sec_free(t);
    sec_free(t1b);
    fk.delay_ms = 200;
    /* every sender holding AT-001 reports it refused: one new token */
    run_workers(c, cred, t1, w);
    assert_int_equal(fk.calls, 2);
    for (int i = 0; i < NTHREADS; i++)
        assert_string_equal(w[i].token, "AT-002");
    /* the old one reported again, late: the new one stays */
    assert_int_equal(eng_oauth_token(c, &cred, NULL, t1, &t, NULL, &res), 0);
    assert_string_equal(sec_data(t), "AT-002");
    assert_int_equal(fk.calls, 2);
    sec_free(t);
    sec_free(t1);
    eng_oauth_cache_free(c);
}

static void
forget_and_a_new_generation_should_drop_the_token(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct eng_oauth_cred   cred = cc_cred();
    struct smtp_result      res;
    struct sec             *t = NULL;

    (void)state;
    fake_reset(http(200, "{\"access_token\":\"AT-{n}\"}"));
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    sec_free(t);
    eng_oauth_cache_forget(c, "m365");
    eng_oauth_cache_forget(c, "no-such");
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    assert_string_equal(sec_data(t), "AT-002");
    sec_free(t);
    cred.generation = 2;
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    assert_string_equal(sec_data(t), "AT-003");
    sec_free(t);
    /* credentials are cached apart */
    cred.name = "other";
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    assert_string_equal(sec_data(t), "AT-004");
    sec_free(t);
    assert_int_equal(fk.calls, 4);
    eng_oauth_cache_free(c);
}

static void *
late_caller(void *arg)
{
    struct worker  *w = arg;
    struct timespec ts = { 0, 100 * 1000000L };

    nanosleep(&ts, NULL); /* the first caller's fetch is in flight */
    return worker_run(w);
}

static void
a_changed_credential_should_not_inherit_a_fetch_in_flight(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct sec             *good = sec_new("fixed-Secret", 12);
    struct worker           w[2];
    pthread_t               th[2];

    (void)state;
    /* the old secret is refused; while that fetch is in flight the
     * credential is fixed (generation 2): its caller fetches anew */
    fake_reset(http(401, "{\"error\":\"invalid_client\"}"));
    fk.ok_if = "client_secret=fixed-Secret";
    fk.delay_ms = 300;
    memset(w, 0, sizeof(w));
    w[0].c = w[1].c = c;
    w[0].cred = cc_cred();
    w[1].cred = cc_cred();
    w[1].cred.generation = 2;
    w[1].cred.client_secret = good;
    assert_int_equal(pthread_create(&th[0], NULL, worker_run, &w[0]), 0);
    assert_int_equal(pthread_create(&th[1], NULL, late_caller, &w[1]), 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    assert_int_equal(w[0].rc, ERR_AUTH);
    assert_int_equal(w[1].rc, 0);
    assert_string_equal(w[1].token, "AT-002");
    assert_int_equal(fk.calls, 2);
    eng_oauth_cache_free(c);

    /* a refresh in flight when the credential is deleted: its rotated
     * token is not handed to the store */
    c = cache_new();
    fake_reset(http(200,
        "{\"access_token\":\"AT-{n}\","
        "\"refresh_token\":\"RT-rotated\"}"));
    fk.delay_ms = 300;
    memset(w, 0, sizeof(w));
    w[0].c = c;
    w[0].cred = rt_cred();
    assert_int_equal(pthread_create(&th[0], NULL, worker_run, &w[0]), 0);
    usleep(100000);
    eng_oauth_cache_forget(c, "google");
    pthread_join(th[0], NULL);
    assert_int_equal(w[0].rc, 0);
    assert_int_equal(rot.calls, 0);
    sec_free(good);
    eng_oauth_cache_free(c);
}

static void
rotated_refresh_token_should_reach_the_callback_and_be_used(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct eng_oauth_cred   cred = rt_cred();
    struct smtp_result      res;
    struct sec             *t = NULL;

    (void)state;
    fake_reset(http(200,
        "{\"access_token\":\"AT-{n}\",\"expires_in\":60,"
        "\"refresh_token\":\"RT-new-{n}\","
        "\"token_type\":\"Bearer\"}"));
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    sec_free(t);
    assert_non_null(strstr(fk.last_request,
        "grant_type=refresh_token&refresh_token=1%2F%2Frefresh-Token-88&"
        "client_id=id.apps&client_secret=" SECRET));
    assert_int_equal(rot.calls, 1);
    assert_string_equal(rot.name, "google");
    assert_string_equal(rot.token, "RT-new-001");
    /* the next refresh sends the rotated token, even before the store
     * hands it back */
    fake_ms += 61 * 1000;
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    sec_free(t);
    assert_non_null(strstr(fk.last_request, "refresh_token=RT-new-001&"));
    assert_int_equal(rot.calls, 2);
    /* the same refresh token back is no rotation */
    fake_reset(http(200,
        "{\"access_token\":\"AT-{n}\","
        "\"refresh_token\":\"" REFRESH "\"}"));
    cred.generation = 8; /* the store's copy: the cache's is dropped */
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res), 0);
    sec_free(t);
    assert_non_null(strstr(fk.last_request, "refresh_token=1%2F%2F"));
    assert_int_equal(rot.calls, 2);
    eng_oauth_cache_free(c);
}

static void
endpoint_errors_should_be_classified_with_advice(void **state)
{
    static const struct {
        const char *answer;
        int         rc;
        const char *klass;
        int         permanent;
        const char *message;
        const char *advice;
    } cases[] = {
        { "400|{\"error\":\"invalid_grant\",\"error_description\":"
          "\"Token has been expired or revoked.\"}",
            ERR_AUTH, "auth_failed", 1,
            "invalid_grant: Token has been expired or revoked.",
            "consent again and PUT the new refresh_token" },
        { "400|{\"error\":\"invalid_scope\"}", ERR_AUTH, "auth_failed", 1,
            "(HTTP 400): invalid_scope", "scope" },
        { "400|{\"error\":\"unauthorized_client\"}", ERR_AUTH, "auth_failed", 1,
            "unauthorized_client", "permitted" },
        { "401|", ERR_AUTH, "auth_failed", 1, "no error code", "" },
        { "500|{\"error\":\"server_error\"}", ERR_PROTO, "protocol", 0,
            "answered HTTP 500", "retries later" },
        { "302|", ERR_PROTO, "protocol", 1, "redirect", "no redirects" },
        { "200|<html>login</html>", ERR_PROTO, "protocol", 1,
            "without a JSON object", "token endpoint" },
        { "200|{\"token_type\":\"bearer\"}", ERR_PROTO, "protocol", 1,
            "without an access_token", "" },
        { "200|{\"access_token\":\"AT-x\",\"token_type\":\"mac\"}", ERR_PROTO,
            "protocol", 1, "\"mac\", not Bearer", "" },
        { "200|[1,2]", ERR_PROTO, "protocol", 1, "without a JSON object", "" },
        { "200|{\"error\":\"invalid_client\"}", ERR_AUTH, "auth_failed", 1,
            "(HTTP 200): invalid_client", "client_secret" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct eng_oauth_cache *c = cache_new();
        struct eng_oauth_cred   cred = rt_cred();
        struct smtp_result      res;
        struct sec             *t = NULL;
        cJSON                  *trace = cJSON_CreateObject();
        int                     rc;

        fake_reset(
            http(atoi(cases[i].answer), strchr(cases[i].answer, '|') + 1));
        rc = eng_oauth_token(c, &cred, NULL, NULL, &t, trace, &res);
        if (rc != cases[i].rc || strcmp(res.klass, cases[i].klass) != 0
            || res.permanent != cases[i].permanent
            || strstr(res.message, cases[i].message) == NULL
            || strstr(res.advice, cases[i].advice) == NULL)
            fail_msg("case %zu: rc %d klass %s permanent %d message \"%s\" "
                     "advice \"%s\"",
                i, rc, res.klass, res.permanent, res.message, res.advice);
        assert_null(t);
        no_secret_in(&res, trace);
        cJSON_Delete(trace);
        eng_oauth_cache_free(c);
    }
}

static void
bad_answers_and_bad_credentials_should_fail_clearly(void **state)
{
    struct eng_oauth_cache *c = cache_new();
    struct eng_oauth_cred   cred = cc_cred();
    struct smtp_result      res;
    struct sec             *t = NULL;
    struct eng_oauth_stats  st;

    (void)state;
    fake_reset("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"access");
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
        ERR_PROTO);
    assert_string_equal(res.klass, "protocol");
    assert_non_null(
        strstr(res.message, "token endpoint login.example.com:443"));
    assert_non_null(strstr(res.message, "of the 50 octets"));
    fake_reset("SSH-2.0-OpenSSH_9.2\r\n");
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
        ERR_PROTO);
    assert_non_null(strstr(res.message, "not an HTTP answer"));
    /* transport failures pass through with their class */
    fake_reset("");
    fk.fail_rc = ERR_CONNECT;
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
        ERR_CONNECT);
    assert_string_equal(res.klass, "connect");
    eng_oauth_stats(c, &st);
    assert_int_equal(st.failed, 3);
    /* a bad credential never reaches the endpoint */
    fake_reset(http(200, "{\"access_token\":\"AT-x\"}"));
    cred.token_url = "http://login.example.com/token";
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
        ERR_INVAL);
    assert_string_equal(res.klass, "invalid_request");
    assert_non_null(strstr(res.message, "https://"));
    cred = rt_cred();
    cred.refresh_token = NULL;
    assert_int_equal(eng_oauth_token(c, &cred, NULL, NULL, &t, NULL, &res),
        ERR_INVAL);
    assert_non_null(strstr(res.message, "refresh_token"));
    assert_int_equal(fk.calls, 0);
    assert_null(t);
    eng_oauth_cache_free(c);
}

static void
grant_names_should_round_trip(void **state)
{
    (void)state;
    assert_int_equal(eng_oauth_grant_parse("client_credentials"),
        ENG_OAUTH_CLIENT_CREDENTIALS);
    assert_int_equal(eng_oauth_grant_parse("refresh_token"),
        ENG_OAUTH_REFRESH_TOKEN);
    assert_int_equal(eng_oauth_grant_parse("password"), -1);
    assert_int_equal(eng_oauth_grant_parse(NULL), -1);
    assert_string_equal(eng_oauth_grant_name(ENG_OAUTH_REFRESH_TOKEN),
        "refresh_token");
    assert_string_equal(eng_oauth_grant_name(ENG_OAUTH_CLIENT_CREDENTIALS),
        "client_credentials");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_should_be_fetched_once_then_cached_until_due),
        cmocka_unit_test(expires_in_should_default_and_be_clamped),
        cmocka_unit_test(concurrent_callers_should_share_one_fetch),
        cmocka_unit_test(concurrent_callers_should_share_one_failure),
        cmocka_unit_test(stale_token_should_be_replaced_once_for_all_holders),
        cmocka_unit_test(forget_and_a_new_generation_should_drop_the_token),
        cmocka_unit_test(
            a_changed_credential_should_not_inherit_a_fetch_in_flight),
        cmocka_unit_test(
            rotated_refresh_token_should_reach_the_callback_and_be_used),
        cmocka_unit_test(endpoint_errors_should_be_classified_with_advice),
        cmocka_unit_test(bad_answers_and_bad_credentials_should_fail_clearly),
        cmocka_unit_test(grant_names_should_round_trip),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
