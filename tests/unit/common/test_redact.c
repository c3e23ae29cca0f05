/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_redact.c: every secret shape herald masks
 * (common/redact.h): the password of a user:password@host server string
 * (CSCwe75439: '@' in user and password), the same built from parts, values
 * under secret-sounding JSON keys in any case and at any depth, variable
 * names, and credential-bearing protocol lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/redact.h"

static void
server_string_should_hide_only_the_password(void **state)
{
    static const struct {
        const char *in, *out;
        int         has;
    } cases[] = {
        { "alerts@example.com:app-password@smtp.gmail.com",
            "alerts@example.com:*****@smtp.gmail.com", 1 },
        { "relay@corp.example:p@ss@smtp-relay.example:587",
            "relay@corp.example:*****@smtp-relay.example:587", 1 },
        { "u:p%3Ass@[2001:db8::1]:587", "u:*****@[2001:db8::1]:587", 1 },
        { "u:p:ss@h", "u:*****@h", 1 },
        { "user@mx.example", "user@mx.example", 0 },
        { "mx.example:25", "mx.example:25", 0 },
        { "[2001:db8::1]:25", "[2001:db8::1]:25", 0 },
        { "u:@h", "u:@h", 0 }, /* an empty password hides nothing */
        { "", "", 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *m = redact_server(cases[i].in);

        assert_non_null(m);
        assert_string_equal(m, cases[i].out);
        assert_null(strstr(m, "p@ss"));
        assert_null(strstr(m, "app-password"));
        assert_int_equal(redact_server_has_password(cases[i].in), cases[i].has);
        free(m);
    }
    assert_null(redact_server(NULL));
    assert_int_equal(redact_server_has_password(NULL), 0);
}

static void
server_parts_should_show_that_a_password_is_set(void **state)
{
    char *m;

    (void)state;
    m = redact_server_parts("relay@corp.example", 1, "smtp.example", 587);
    assert_string_equal(m, "relay@corp.example:*****@smtp.example:587");
    free(m);
    m = redact_server_parts("u", 0, "smtp.example", 25);
    assert_string_equal(m, "u@smtp.example:25");
    free(m);
    m = redact_server_parts(NULL, 0, "2001:db8::1", 465);
    assert_string_equal(m, "[2001:db8::1]:465");
    free(m);
}

static void
key_names_should_be_secret_in_any_case(void **state)
{
    static const char *const secret[] = { "password", "Password",
        "_email_password", "smtp_passwd", "SECRET", "client_secret", "token",
        "_webhook_token", "private_key", "Authorization", "ppassword",
        "xTOKENx", "PrIvAtE_KeY_pem", "secretsecret", NULL };
    static const char *const public[] = { "user", "server", "host", "to",
        "passage", "pass", "key", "secre", "tok", "private_ke", "passwor",
        "authorizatio", "", NULL };

    (void)state;
    for (size_t i = 0; secret[i]; i++)
        if (!redact_key_is_secret(secret[i]))
            fail_msg("\"%s\" should be secret", secret[i]);
    for (size_t i = 0; public[i]; i++)
        if (redact_key_is_secret(public[i]))
            fail_msg("\"%s\" should not be secret", public[i]);
    assert_int_equal(redact_key_is_secret(NULL), 0);
}

static void
json_should_mask_secret_values_at_any_depth(void **state)
{
    const char *in =
        "{\"user\":\"u\",\"Password\":\"hunter22\","
        "\"auth\":{\"token\":12345,\"list\":[{\"SECRET\":\"s1\"}]},"
        "\"private_key\":{\"pem\":\"k1\"},\"api_TOKENS\":[\"t1\",\"t2\"],"
        "\"password_set\":true,\"secret_hint\":null,"
        "\"headers\":{\"authorization\":\"Bearer b1\"}}";
    char  *out = redact_json_text(in);
    cJSON *j;

    (void)state;
    assert_non_null(out);
    for (size_t i = 0; i < 6; i++) {
        static const char *const leaked[] = { "hunter22", "12345", "s1", "k1",
            "t1", "b1" };

        if (strstr(out, leaked[i]) != NULL)
            fail_msg("%s leaked in %s", leaked[i], out);
    }
    j = cJSON_Parse(out);
    assert_string_equal(cJSON_GetObjectItem(j, "user")->valuestring, "u");
    assert_string_equal(cJSON_GetObjectItem(j, "Password")->valuestring,
        REDACT_MASK);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "password_set")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "secret_hint")));
    cJSON_Delete(j);
    free(out);

    assert_null(redact_json_text("not json"));
    assert_null(redact_json_text(NULL));
    redact_json(NULL);
}

static void
protocol_lines_should_keep_only_the_verb(void **state)
{
    char out[64];

    (void)state;
    redact_line("AUTH PLAIN AHVzZXIAcGFzcw==", REDACT_LINE_VERB, out,
        sizeof(out));
    assert_string_equal(out, "AUTH PLAIN <redacted>");
    redact_line("AUTH LOGIN", REDACT_LINE_VERB, out, sizeof(out));
    assert_string_equal(out, "AUTH LOGIN <redacted>");
    redact_line("cGFzc3dvcmQ=", REDACT_LINE_SECRET, out, sizeof(out));
    assert_string_equal(out, "<redacted>");
    redact_line("MAIL FROM:<a@b>", REDACT_LINE_PUBLIC, out, sizeof(out));
    assert_string_equal(out, "MAIL FROM:<a@b>");
    redact_line("AUTH PLAIN AHVzZXIAcGFzcw==", REDACT_LINE_VERB, out, 8);
    assert_null(strstr(out, "AHVz"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_string_should_hide_only_the_password),
        cmocka_unit_test(server_parts_should_show_that_a_password_is_set),
        cmocka_unit_test(key_names_should_be_secret_in_any_case),
        cmocka_unit_test(json_should_mask_secret_values_at_any_depth),
        cmocka_unit_test(protocol_lines_should_keep_only_the_verb),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
