/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/mail/test_mail_oauth.c: a mail request with an OAuth 2.0
 * credential (issue 13) over a real store, without a network: an unknown
 * credential and a server string with a password are refused naming
 * their field, and a token endpoint that cannot be reached is classified
 * like a mail server (connect), with the endpoint in the trace and no
 * secret in it. Delivery through real servers is tests/integration's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "engine/mail/mail.h"
#include "engine/oauth/oauth.h"
#include "engine/store/store.h"
#include "pki/pki.h"

struct fx {
    char                   dir[64];
    struct eng_store      *st;
    struct eng_trustcache *tc;
};

static int
setup(void **state)
{
    struct fx          *f = calloc(1, sizeof(*f));
    struct errbuf       eb = { 0 };
    struct eng_cred_rec r = { 0 };

    snprintf(f->dir, sizeof(f->dir), "/tmp/herald-mail-oauth-XXXXXX");
    if (mkdtemp(f->dir) == NULL || pki_init() != 0
        || eng_store_open(f->dir, &f->st, &eb) != 0
        || eng_trustcache_new(f->st, &f->tc, &eb) != 0)
        return -1;
    log_set_level(LOG_ERR);
    r.name = "Closed";
    r.type = "oauth2";
    r.grant = "client_credentials";
    r.token_url = "https://127.0.0.1:1/token"; /* nothing listens */
    r.client_id = "app";
    r.client_secret = "Cl1ent-S3cret";
    r.mechanism = "xoauth2";
    if (eng_store_cred_put(f->st, &r, NULL, &eb) != 0)
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char       cmd[128];

    eng_trustcache_free(f->tc);
    eng_store_close(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    free(f);
    return system(cmd) == 0 ? 0 : -1;
}

static struct eng_mail_req
req_with(const char *server, const char *cred)
{
    struct eng_mail_req r = { 0 };

    r.server = server;
    r.credential = cred;
    r.port = 9;
    r.secure = "none";
    r.to = "ops@example.net";
    r.from = "alerts@example.net";
    r.subject = "s";
    r.body = "b";
    return r;
}

static void
unknown_credential_should_name_the_field(void **state)
{
    struct fx            *f = *state;
    struct eng_mail_req   req = req_with("alerts@127.0.0.1", "Nope");
    struct eng_mail_sess *s = NULL;
    struct smtp_result    res;
    struct errbuf         eb = { 0 };

    assert_int_equal(eng_mail_open(f->tc, &req, &s, NULL, &res, &eb),
        ERR_INVAL);
    assert_null(s);
    assert_string_equal(eb.field, "credential");
    assert_string_equal(res.klass, "invalid_request");
    assert_non_null(strstr(res.message, "Nope"));
}

static void
password_with_a_credential_should_be_refused(void **state)
{
    struct fx            *f = *state;
    struct eng_mail_req   req = req_with("alerts:pw@127.0.0.1", "Closed");
    struct eng_mail_sess *s = NULL;
    struct smtp_result    res;
    struct errbuf         eb = { 0 };

    assert_int_equal(eng_mail_open(f->tc, &req, &s, NULL, &res, &eb),
        ERR_INVAL);
    assert_string_equal(eb.field, "server");
    req = req_with("127.0.0.1", "Closed"); /* no user to log in as */
    assert_int_equal(eng_mail_open(f->tc, &req, &s, NULL, &res, &eb),
        ERR_INVAL);
    assert_string_equal(eb.field, "server");
}

static void
unreachable_token_endpoint_should_be_a_connect_failure(void **state)
{
    struct fx             *f = *state;
    struct eng_mail_req    req = req_with("alerts@127.0.0.1", "Closed");
    struct smtp_result     res;
    struct errbuf          eb = { 0 };
    struct eng_oauth_stats os = { 0 };
    cJSON                 *trace = cJSON_CreateObject();
    char                  *txt;

    assert_int_not_equal(eng_mail_send(f->tc, &req, trace, &res, &eb), 0);
    assert_string_equal(res.klass, "connect");
    assert_non_null(cJSON_GetObjectItem(trace, "oauth_endpoint"));
    assert_null(cJSON_GetObjectItem(trace, "dialogue")); /* never sent */
    txt = cJSON_PrintUnformatted(trace);
    assert_null(strstr(txt, "Cl1ent-S3cret"));
    free(txt);
    cJSON_Delete(trace);
    eng_oauth_stats(eng_trustcache_oauth(f->tc), &os);
    assert_int_equal(os.failed, 1);
    assert_int_equal(os.fetched, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            unknown_credential_should_name_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(
            password_with_a_credential_should_be_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            unreachable_token_endpoint_should_be_a_connect_failure, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
