/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/lang/test_applet_credential.c: the mail action's credential
 * (herald extension, issue 13): it reads back from the canonical text and
 * the JSON form unchanged, prints last, and a literal credential that does
 * not exist gives an unknown_credential warning at save time.
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

#include "engine/lang/applet.h"

#define APPLET                                                                 \
    "event manager applet Oauth\n"                                             \
    " event none\n"                                                            \
    " action 0010 mail server alerts@smtp.example.net to ops@example.net "     \
    "from alerts@example.net subject hi port 587 secure tls credential "       \
    "M365\n"

static struct eng_applet *
parse_ok(const char *text)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb = { 0 };

    if (eng_applet_parse(text, strlen(text), 1, &a, &eb) != 0)
        fail_msg("parse: %s", eb.msg);
    return a;
}

static void
credential_should_round_trip_through_text(void **state)
{
    struct eng_applet *a = parse_ok(APPLET), *b;
    char              *t1, *t2;

    (void)state;
    assert_string_equal(eng_action_arg(a, 0, "credential"), "M365");
    t1 = eng_applet_to_text(a);
    assert_non_null(strstr(t1, "secure tls credential M365\n"));
    b = parse_ok(t1);
    t2 = eng_applet_to_text(b);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    eng_applet_free(a);
    eng_applet_free(b);
}

static void
credential_should_round_trip_through_json(void **state)
{
    struct eng_applet *a = parse_ok(APPLET), *b = NULL;
    struct errbuf      eb = { 0 };
    cJSON             *j = eng_applet_to_json(a), *act;
    char              *t1, *t2;

    (void)state;
    act = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "actions"), 0);
    assert_string_equal(cJSON_GetObjectItem(act, "credential")->valuestring,
        "M365");
    assert_int_equal(eng_applet_from_json(j, NULL, &b, &eb), 0);
    t1 = eng_applet_to_text(a);
    t2 = eng_applet_to_text(b);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    cJSON_Delete(j);
    eng_applet_free(a);
    eng_applet_free(b);
}

static int
only_m365(void *ctx, const char *name)
{
    (void)ctx;
    return strcmp(name, "M365") == 0;
}

static void
unknown_credential_should_warn_naming_it(void **state)
{
    struct eng_applet *a = parse_ok(
        "event manager applet W\n event none\n"
        " action 1 mail server u@h to t@x from f@x subject s credential "
        "Gone\n"
        " action 2 mail server u@h to t@x from f@x subject s credential "
        "M365\n"
        " action 3 mail server u@h to t@x from f@x subject s credential "
        "$dyn\n");
    cJSON *arr = cJSON_CreateArray(), *w;

    (void)state;
    assert_int_equal(eng_applet_credential_warnings(a, only_m365, NULL, arr),
        0);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    w = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItem(w, "code")->valuestring,
        "unknown_credential");
    assert_string_equal(cJSON_GetObjectItem(w, "credential")->valuestring,
        "Gone");
    assert_string_equal(cJSON_GetObjectItem(w, "label")->valuestring, "1");
    assert_non_null(
        strstr(cJSON_GetObjectItem(w, "message")->valuestring, "Gone"));
    cJSON_Delete(arr);
    eng_applet_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(credential_should_round_trip_through_text),
        cmocka_unit_test(credential_should_round_trip_through_json),
        cmocka_unit_test(unknown_credential_should_warn_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
