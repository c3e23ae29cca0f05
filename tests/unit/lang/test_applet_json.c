/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/lang/test_applet_json.c: the JSON form of an applet: text
 * and JSON give the same model, JSON survives a round trip, and bad JSON
 * names the field at fault.
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

static const char *const design_json =
    "{\"name\":\"SendSecureEmailEEM\",\"events\":[{\"type\":\"none\"}],"
    "\"actions\":[{\"label\":\"0010\",\"action\":\"mail\","
    "\"server\":\"$_email_server\",\"to\":\"$_email_to\","
    "\"from\":\"$_email_from\",\"cc\":\"$_email_cc\","
    "\"subject\":\"This is my email subject\","
    "\"body\":\"This is my email body.\",\"port\":587,\"secure\":\"tls\"}]}";

static const char *const design_text =
    "event manager applet SendSecureEmailEEM\n"
    " event none\n"
    " action 0010 mail server \"$_email_server\" to \"$_email_to\" from "
    "\"$_email_from\" cc \"$_email_cc\" subject \"This is my email "
    "subject\" body \"This is my email body.\" port 587 secure tls\n";

static struct eng_applet *
from_json_ok(const char *json, const char *name)
{
    cJSON             *j = cJSON_Parse(json);
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    int                rc;

    assert_non_null(j);
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_from_json(j, name, &a, &eb);
    cJSON_Delete(j);
    if (rc != 0)
        fail_msg("from_json failed (%d) field=%s: %s", rc, eb.field, eb.msg);
    return a;
}

static void
design_applet_as_json_prints_the_design_text(void **state)
{
    struct eng_applet *a = from_json_ok(design_json, NULL);
    char              *t = eng_applet_to_text(a);

    (void)state;
    assert_string_equal(t, design_text);
    free(t);
    eng_applet_free(a);
}

static void
json_round_trip_keeps_every_field(void **state)
{
    static const char *const text =
        "event manager applet J\n"
        " description \"with \\\"quotes\\\"\"\n"
        " event tag s syslog pattern \"down$\" occurs 3 period 1.5 priority "
        "errors ratelimit 60\n"
        " event tag c timer cron cron-entry \"*/5 * * * *\" name five\n"
        " event tag w webhook maxrun 300\n"
        " trigger\n"
        "  correlate event s or event w or event c\n"
        " action 01 string compare nocase \"$_webhook_body\" up\n"
        " action 02 regexp ^(a)(b) \"$x\" m s1\n"
        " action 03 comment \"just words\"\n"
        " action 04 wait 0.25\n"
        " action 05 exit \"$code\"\n";
    struct errbuf      eb;
    struct eng_applet *a = NULL, *b = NULL;
    cJSON             *j, *j2, *act;
    char              *t1, *t2, *s1, *s2;

    (void)state;
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_parse(text, strlen(text), 1, &a, &eb), 0);
    j = eng_applet_to_json(a);
    assert_non_null(j);
    /* what a user of the API would read */
    act = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "actions"), 0);
    assert_string_equal(cJSON_GetObjectItem(act, "action")->valuestring,
        "string compare");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(act, "nocase")));
    act = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "actions"), 3);
    assert_true(cJSON_GetObjectItem(act, "seconds")->valuedouble == 0.25);
    act = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "actions"), 4);
    assert_string_equal(cJSON_GetObjectItem(act, "status")->valuestring,
        "$code");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "events"),
                                1),
            "timer")
            ->valuestring,
        "cron");
    assert_string_equal(cJSON_GetObjectItem(j, "correlate")->valuestring,
        "event s or event w or event c");

    assert_int_equal(eng_applet_from_json(j, NULL, &b, &eb), 0);
    t1 = eng_applet_to_text(a);
    t2 = eng_applet_to_text(b);
    assert_string_equal(t1, text);
    assert_string_equal(t1, t2);
    j2 = eng_applet_to_json(b);
    s1 = cJSON_PrintUnformatted(j);
    s2 = cJSON_PrintUnformatted(j2);
    assert_string_equal(s1, s2);
    free(t1);
    free(t2);
    free(s1);
    free(s2);
    cJSON_Delete(j);
    cJSON_Delete(j2);
    eng_applet_free(a);
    eng_applet_free(b);
}

static void
name_argument_wins_over_json_name(void **state)
{
    struct eng_applet *a = from_json_ok("{\"name\":\"inbody\"}", "path");

    (void)state;
    assert_string_equal(eng_applet_name(a), "path");
    assert_int_equal(eng_applet_event_count(a), 0);
    eng_applet_free(a);
}

static void
json_actions_are_sorted_and_replaced_by_label(void **state)
{
    struct eng_applet *a =
        from_json_ok("{\"name\":\"S\",\"actions\":["
                     "{\"label\":\"2\",\"action\":\"puts\",\"text\":\"b\"},"
                     "{\"label\":\"10\",\"action\":\"puts\",\"text\":\"a\"},"
                     "{\"label\":\"2\",\"action\":\"puts\",\"text\":\"c\"}]}",
            NULL);

    (void)state;
    assert_int_equal(eng_applet_action_count(a), 2);
    assert_string_equal(eng_applet_action(a, 0)->label, "10");
    assert_string_equal(eng_action_arg(a, 1, "text"), "c");
    eng_applet_free(a);
}

static void
class_and_authorization_are_kept_in_json_and_text(void **state)
{
    struct eng_applet *a = from_json_ok("{\"name\":\"C\",\"class\":\"A\","
                                        "\"authorization\":\"bypass\","
                                        "\"events\":[{\"type\":\"none\"}]}",
        NULL);
    char              *t = eng_applet_to_text(a);
    cJSON             *j = eng_applet_to_json(a);

    (void)state;
    assert_string_equal(t,
        "event manager applet C class A authorization "
        "bypass\n event none\n");
    assert_string_equal(cJSON_GetObjectItem(j, "class")->valuestring, "A");
    assert_string_equal(cJSON_GetObjectItem(j, "authorization")->valuestring,
        "bypass");
    assert_string_equal(eng_applet_class(a), "A");
    assert_int_equal(eng_applet_authorization_bypass(a), 1);
    free(t);
    cJSON_Delete(j);
    eng_applet_free(a);

    a = from_json_ok("{\"name\":\"D\",\"class\":null,"
                     "\"authorization\":null}",
        NULL);
    j = eng_applet_to_json(a);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "class")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "authorization")));
    assert_null(eng_applet_class(a));
    cJSON_Delete(j);
    eng_applet_free(a);
}

static void
what_get_returns_can_be_sent_back(void **state)
{
    struct eng_applet *a = from_json_ok(design_json, NULL), *b = NULL;
    cJSON             *j = eng_applet_to_json(a);
    struct errbuf      eb;
    char              *t;

    (void)state;
    cJSON_AddStringToObject(j, "text", design_text);
    cJSON_AddArrayToObject(j, "warnings");
    cJSON_AddStringToObject(j, "created", "2026-11-27T17:00:00Z");
    cJSON_AddStringToObject(j, "updated", "2026-11-27T17:00:00Z");
    cJSON_AddBoolToObject(j, "webhook_token_set", 0);
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_from_json(j, NULL, &b, &eb), 0);
    t = eng_applet_to_text(b);
    assert_string_equal(t, design_text);
    free(t);
    cJSON_Delete(j);
    eng_applet_free(a);
    eng_applet_free(b);
}

struct badj {
    const char *json;
    int         rc;
    const char *field;
    const char *msg;
};

static const struct badj badj[] = {
    { "[]", ERR_INVAL, "", "an applet must be a JSON object" },
    { "{\"name\":\"A\",\"class\":\"a\"}", ERR_INVAL, "class",
        "class: "
        "expected \"A\" to \"Z\", \"default\" or null" },
    { "{\"name\":\"A\",\"authorization\":\"yes\"}", ERR_INVAL, "authorization",
        "authorization: expected \"bypass\" or null" },
    /* blocks: the field is the action's index in the request */
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"2\",\"action\":\"puts\","
      "\"text\":\"x\"},{\"label\":\"1\",\"action\":\"break\"}]}",
        ERR_INVAL, "actions[1]",
        "actions[1]: action 1: \"break\" outside "
        "a \"while\" or \"foreach\" loop (actions run in label byte "
        "order)" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"if\","
      "\"left\":\"1\",\"op\":\"eq\",\"right\":\"1\"}]}",
        ERR_INVAL, "actions[0]",
        "actions[0]: action 1: \"if\" is never closed: add an "
        "\"end\" action after its block (actions run in label byte order)" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"end\"}"
      "]}",
        ERR_INVAL, "actions[0]",
        "actions[0]: action 1: \"end\" "
        "without an opening \"if\", \"while\" or \"foreach\" (actions run "
        "in label byte order)" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"info\","
      "\"type\":\"snmp\"}]}",
        ERR_UNSUPPORTED, "actions[0].type",
        "actions[0].type: \"info type snmp\" is router-only: herald runs off "
        "the router and has no snmp data to read; only \"info type "
        "routername\" is supported" },
    { "{}", ERR_INVAL, "name", "name: expected the applet name as a string" },
    { "{\"name\":\"a b\"}", ERR_INVAL, "name",
        "name: invalid applet name "
        "\"a b\": use letters, digits, '_', '.' and '-'" },
    { "{\"name\":\"A\",\"colour\":1}", ERR_INVAL, "colour",
        "colour: unknown "
        "field; expected name, description, class, authorization, events, "
        "correlate or actions" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"puts\","
      "\"text\":\"x\"},{\"label\":\"2\",\"action\":\"puts\",\"text\":\"y\"},"
      "{\"label\":\"3\",\"action\":\"mail\",\"server\":\"h\",\"to\":\"t\","
      "\"from\":\"f\",\"subject\":\"s\",\"secure\":\"ssl\"}]}",
        ERR_INVAL, "actions[2].secure",
        "actions[2].secure: expected \"secure\" value "
        "tls, none or implicit, got \"ssl\"" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"mail\","
      "\"server\":\"h\",\"to\":\"t\",\"from\":\"f\"}]}",
        ERR_INVAL, "actions[0].subject",
        "actions[0].subject: action mail needs "
        "\"subject\"" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"cli\","
      "\"command\":\"enable\"}]}",
        ERR_UNSUPPORTED, "actions[0].action",
        "actions[0].action: action 'cli' is router-only and not supported by "
        "herald" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"puts\","
      "\"txt\":\"x\"}]}",
        ERR_INVAL, "actions[0].txt",
        "actions[0].txt: "
        "unknown parameter \"txt\" for action puts; expected label, action, "
        "nonewline, text" },
    { "{\"name\":\"A\",\"actions\":[{\"action\":\"puts\",\"text\":\"x\"}]}",
        ERR_INVAL, "actions[0].label",
        "actions[0].label: expected a label "
        "string such as \"0010\"" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"puts\","
      "\"text\":[1]}]}",
        ERR_INVAL, "actions[0].text",
        "actions[0].text: "
        "expected a string" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"regexp\","
      "\"pattern\":\"x\",\"input\":\"y\",\"sub1\":\"s\"}]}",
        ERR_INVAL, "actions[0].sub1",
        "actions[0].sub1: \"sub1\" needs \"match\" as "
        "well" },
    { "{\"name\":\"A\",\"actions\":[{\"label\":\"1\",\"action\":\"mail\","
      "\"server\":\"h\",\"to\":\"a\\r\\nRCPT TO:<x>\",\"from\":\"f\","
      "\"subject\":\"s\"}]}",
        ERR_INVAL, "actions[0].to",
        "actions[0].to: "
        "value of \"to\" must not contain a line break" },
    { "{\"name\":\"A\",\"events\":[{\"type\":\"timer\",\"timer\":\"weekly\"}]}",
        ERR_INVAL, "events[0].timer",
        "events[0].timer: expected \"timer\" "
        "watchdog, countdown, absolute or cron" },
    { "{\"name\":\"A\",\"events\":[{\"type\":\"syslog\"}]}", ERR_INVAL,
        "events[0].pattern",
        "events[0].pattern: event syslog needs "
        "\"pattern\"" },
    { "{\"name\":\"A\",\"events\":[{\"type\":\"none\",\"pattern\":\"x\"}]}",
        ERR_INVAL, "events[0].pattern",
        "events[0].pattern: unknown field "
        "for event none; expected type, tag, maxrun, ratelimit" },
    { "{\"name\":\"A\",\"events\":[{\"type\":\"none\",\"tag\":\"a\"},"
      "{\"type\":\"webhook\",\"tag\":\"a\"}]}",
        ERR_INVAL, "events[1].tag",
        "events[1].tag: event tag \"a\" is used twice" },
    { "{\"name\":\"A\",\"events\":[{\"type\":\"none\",\"tag\":\"a\"}],"
      "\"correlate\":\"event a and event a\"}",
        ERR_UNSUPPORTED, "correlate",
        "correlate: correlate operator \"and\" is not supported by herald; "
        "use \"or\"" },
};

static void
bad_json_names_the_field(void **state)
{
    struct eng_applet *a;
    struct errbuf      eb;
    cJSON             *j;
    size_t             i;
    int                rc;

    (void)state;
    for (i = 0; i < sizeof(badj) / sizeof(badj[0]); i++) {
        j = cJSON_Parse(badj[i].json);
        assert_non_null(j);
        a = NULL;
        memset(&eb, 0, sizeof(eb));
        rc = eng_applet_from_json(j, NULL, &a, &eb);
        cJSON_Delete(j);
        if (rc != badj[i].rc || strcmp(eb.field, badj[i].field) != 0
            || strcmp(eb.msg, badj[i].msg) != 0)
            fail_msg("case %zu: %s\ngot rc=%d field=%s\n  %s\nwant rc=%d "
                     "field=%s\n  %s",
                i, badj[i].json, rc, eb.field, eb.msg, badj[i].rc,
                badj[i].field, badj[i].msg);
        assert_null(a);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(design_applet_as_json_prints_the_design_text),
        cmocka_unit_test(json_round_trip_keeps_every_field),
        cmocka_unit_test(name_argument_wins_over_json_name),
        cmocka_unit_test(json_actions_are_sorted_and_replaced_by_label),
        cmocka_unit_test(class_and_authorization_are_kept_in_json_and_text),
        cmocka_unit_test(what_get_returns_can_be_sent_back),
        cmocka_unit_test(bad_json_names_the_field),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
