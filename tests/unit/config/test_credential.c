/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/config/test_credential.c: OAuth 2.0 credential rules
 * (engine/config/credential.h) and their config text, against a real
 * store in a temporary directory: each bad input names its field, a
 * replaced credential keeps a secret left out or masked, a credential in
 * use is not deleted (the applet is named), export masks the secrets and
 * an import that brings the mask back keeps them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "engine/config/config.h"
#include "engine/config/credential.h"
#include "engine/store/store.h"

struct fx {
    char              dir[64];
    struct eng_store *st;
};

static int
setup(void **state)
{
    struct fx    *f = calloc(1, sizeof(*f));
    struct errbuf eb = { 0 };

    snprintf(f->dir, sizeof(f->dir), "/tmp/herald-cred-cfg-XXXXXX");
    if (mkdtemp(f->dir) == NULL || eng_store_open(f->dir, &f->st, &eb) != 0)
        return -1;
    log_set_level(LOG_WARN);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char       cmd[128];

    eng_store_close(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct eng_cred_in
cc_in(void)
{
    struct eng_cred_in in = { 0 };

    in.type = "oauth2";
    in.grant = "client_credentials";
    in.token_url = "https://login.example.net/t/oauth2/v2.0/token";
    in.client_id = "app";
    in.client_secret = "cs-1";
    in.scope = "https://outlook.office365.com/.default";
    return in;
}

static void
bad_input_should_name_the_field(void **state)
{
    struct fx *f = *state;
    struct {
        const char *field;
        const char *value;
        const char *want_field;
    } cases[] = {
        { "type", "basic", "type" },
        { "grant", "password", "grant" },
        { "grant", "", "grant" },
        { "token_url", "http://login.example.net/token", "token_url" },
        { "token_url", "https:///token", "token_url" },
        { "token_url", "https://h:99999/token", "token_url" },
        { "token_url", "", "token_url" },
        { "client_id", "", "client_id" },
        { "client_id", "a\r\nb", "client_id" },
        { "client_secret", "", "client_secret" },
        { "client_secret", "x\ny", "client_secret" },
        { "scope", "a\tb", "scope" },
        { "mechanism", "plain", "mechanism" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct eng_cred_in in = cc_in();
        struct errbuf      eb = { 0 };

        if (strcmp(cases[i].field, "type") == 0)
            in.type = cases[i].value;
        else if (strcmp(cases[i].field, "grant") == 0)
            in.grant = cases[i].value;
        else if (strcmp(cases[i].field, "token_url") == 0)
            in.token_url = cases[i].value;
        else if (strcmp(cases[i].field, "client_id") == 0)
            in.client_id = cases[i].value;
        else if (strcmp(cases[i].field, "client_secret") == 0)
            in.client_secret = cases[i].value;
        else if (strcmp(cases[i].field, "scope") == 0)
            in.scope = cases[i].value;
        else
            in.mechanism = cases[i].value;
        if (eng_cred_set(f->st, "C", &in, NULL, &eb) != ERR_INVAL)
            fail_msg("case %zu (%s) accepted", i, cases[i].field);
        assert_string_equal(eb.field, cases[i].want_field);
    }
    {
        struct eng_cred_in in = cc_in();
        struct errbuf      eb = { 0 };

        in.grant = "refresh_token";
        assert_int_equal(eng_cred_set(f->st, "C", &in, NULL, &eb), ERR_INVAL);
        assert_string_equal(eb.field, "refresh_token");
        in = cc_in();
        assert_int_equal(eng_cred_set(f->st, "1bad", &in, NULL, &eb),
            ERR_INVAL);
        assert_string_equal(eb.field, "name");
    }
}

static void
replace_should_keep_a_secret_left_out_or_masked(void **state)
{
    struct fx          *f = *state;
    struct eng_cred_in  in = cc_in();
    struct eng_cred_rec r;
    struct errbuf       eb = { 0 };
    int                 created = -1;

    /* masked with nothing stored: refused */
    in.client_secret = "*****";
    assert_int_equal(eng_cred_set(f->st, "K", &in, NULL, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "client_secret");
    in = cc_in();
    assert_int_equal(eng_cred_set(f->st, "K", &in, &created, &eb), 0);
    assert_int_equal(created, 1);
    in.client_secret = NULL;
    in.mechanism = "oauthbearer";
    assert_int_equal(eng_cred_set(f->st, "K", &in, &created, &eb), 0);
    assert_int_equal(created, 0);
    in.client_secret = "*****";
    assert_int_equal(eng_cred_set(f->st, "K", &in, NULL, &eb), 0);
    assert_int_equal(eng_store_cred_get(f->st, "K", &r, &eb), 0);
    assert_string_equal(r.client_secret, "cs-1");
    assert_string_equal(r.mechanism, "oauthbearer");
    eng_cred_rec_clear(&r);
    /* "" removes: client_credentials then lacks its secret */
    in.client_secret = "";
    assert_int_equal(eng_cred_set(f->st, "K", &in, NULL, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "client_secret");
}

static void
delete_should_refuse_a_credential_in_use(void **state)
{
    struct fx         *f = *state;
    struct eng_cred_in in = cc_in();
    struct errbuf      eb = { 0 };
    char              *user = NULL;

    assert_int_equal(eng_cred_set(f->st, "Used", &in, NULL, &eb), 0);
    assert_int_equal(eng_store_applet_put(f->st, "Sender",
                         "event manager applet Sender\n event none\n"
                         " action 1 mail server a@h to t@x from f@x subject "
                         "s credential Used\n",
                         NULL, &eb),
        0);
    assert_int_equal(eng_cred_used_by(f->st, "Used", &user, &eb), 0);
    assert_string_equal(user, "Sender");
    free(user);
    assert_int_equal(eng_cred_delete(f->st, "Used", &eb), ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "Sender"));
    assert_int_equal(eng_store_applet_del(f->st, "Sender", &eb), 0);
    assert_int_equal(eng_cred_delete(f->st, "Used", &eb), 0);
    assert_int_equal(eng_cred_delete(f->st, "Used", &eb), ERR_NOTFOUND);
}

static void
config_text_should_mask_and_keep_the_secrets(void **state)
{
    struct fx          *f = *state;
    struct eng_cred_in  in = cc_in();
    struct eng_cred_rec r;
    struct errbuf       eb = { 0 };
    struct buf          b = BUF_INIT;
    cJSON              *sum = NULL;

    in.grant = "refresh_token";
    in.refresh_token = "rt-secret-1";
    assert_int_equal(eng_cred_set(f->st, "Goog", &in, NULL, &eb), 0);
    assert_int_equal(eng_config_export(f->st, &b, &eb), 0);
    assert_null(strstr(buf_str(&b), "cs-1"));
    assert_null(strstr(buf_str(&b), "rt-secret-1"));
    assert_non_null(strstr(buf_str(&b),
        "herald credential Goog\n type oauth2\n grant refresh_token\n"));
    assert_non_null(strstr(buf_str(&b), " client-secret *****\n"));
    assert_non_null(strstr(buf_str(&b), " refresh-token *****\n"));
    /* the stored refresh token rotates meanwhile: the mask keeps it */
    assert_int_equal(eng_store_cred_rotate(f->st, "Goog", "rt-2", &eb), 0);
    if (eng_config_import(f->st, buf_str(&b), b.len, &sum, &eb) != 0)
        fail_msg("import: %s", eb.msg);
    assert_int_equal(cJSON_GetObjectItem(sum, "credentials")->valueint, 1);
    cJSON_Delete(sum);
    assert_int_equal(eng_store_cred_get(f->st, "Goog", &r, &eb), 0);
    assert_string_equal(r.client_secret, "cs-1");
    assert_string_equal(r.refresh_token, "rt-2");
    eng_cred_rec_clear(&r);
    buf_free(&b);

    /* a masked secret for a credential not stored is refused, by line */
    {
        const char *t = "herald credential New\n type oauth2\n grant "
                        "client_credentials\n token-url https://h/t\n"
                        " client-id a\n client-secret *****\n!\n";
        assert_int_equal(eng_config_import(f->st, t, strlen(t), NULL, &eb),
            ERR_INVAL);
        assert_int_equal(eb.line, 1);
        assert_non_null(strstr(eb.msg, "client_secret"));
    }
}

static void
import_should_warn_about_an_unknown_credential(void **state)
{
    struct fx    *f = *state;
    const char   *t = "event manager applet A\n event none\n"
                      " action 1 mail server a@h to t@x from f@x subject s "
                      "credential Nope\n"
                      "event manager applet B\n event none\n"
                      " action 1 mail server a@h to t@x from f@x subject s "
                      "credential Fresh\n"
                      "herald credential Fresh\n type oauth2\n grant "
                      "client_credentials\n token-url https://h:8443/t\n"
                      " client-id a\n client-secret s\n";
    struct errbuf eb = { 0 };
    cJSON        *sum = NULL, *w;
    int           n = 0;

    if (eng_config_import(f->st, t, strlen(t), &sum, &eb) != 0)
        fail_msg("import: %s", eb.msg);
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(sum, "warnings"))
    {
        if (strcmp(cJSON_GetObjectItem(w, "code")->valuestring,
                "unknown_credential")
            != 0)
            continue;
        n++;
        assert_string_equal(cJSON_GetObjectItem(w, "applet")->valuestring, "A");
        assert_string_equal(cJSON_GetObjectItem(w, "credential")->valuestring,
            "Nope");
    }
    assert_int_equal(n, 1);
    cJSON_Delete(sum);
    /* in use by B: "no herald credential" is refused */
    t = "no herald credential Fresh\n";
    assert_int_equal(eng_config_import(f->st, t, strlen(t), NULL, &eb),
        ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "B"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bad_input_should_name_the_field, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            replace_should_keep_a_secret_left_out_or_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(
            delete_should_refuse_a_credential_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(
            config_text_should_mask_and_keep_the_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(
            import_should_warn_about_an_unknown_credential, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
