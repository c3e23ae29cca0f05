/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/lang/test_applet_print.c: the canonical printer: parameters
 * in grammar order whatever order they were written in, quoting only where
 * needed (spaces, quotes, '$', backslashes, empty, or a value that reads as
 * a keyword), numbers in their shortest form.
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

static char *
print_of(const char *text)
{
    struct eng_applet *a = NULL, *b = NULL;
    struct errbuf      eb;
    char              *t, *t2;

    memset(&eb, 0, sizeof(eb));
    if (eng_applet_parse(text, strlen(text), 1, &a, &eb) != 0)
        fail_msg("parse: %s", eb.msg);
    t = eng_applet_to_text(a);
    assert_non_null(t);
    /* whatever we print reads back to the same text */
    if (eng_applet_parse(t, strlen(t), 1, &b, &eb) != 0)
        fail_msg("reparse: %s\n%s", eb.msg, t);
    t2 = eng_applet_to_text(b);
    assert_string_equal(t, t2);
    free(t2);
    eng_applet_free(a);
    eng_applet_free(b);
    return t;
}

static void
keywords_print_in_grammar_order(void **state)
{
    char *t = print_of(
        "event manager applet O\n"
        " action 1 mail secure tls port 587 body b subject s cc c from f "
        "to t server h\n"
        " action 2 syslog msg m priority errors\n"
        " action 3 handle-error delay 1 count 2 type retry\n"
        " action 4 context save variable \"*\" key k\n");

    (void)state;
    assert_string_equal(t,
        "event manager applet O\n"
        " action 1 mail server h to t from f cc c subject s body b port 587 "
        "secure tls\n"
        " action 2 syslog priority errors msg m\n"
        " action 3 handle-error type retry count 2 delay 1\n"
        " action 4 context save key k variable *\n");
    free(t);
}

static void
values_are_quoted_only_when_needed(void **state)
{
    char *t = print_of("event manager applet Q\n"
                       " action 1 set plain \"word\"\n"
                       " action 2 set spaced \"two words\"\n"
                       " action 3 set dollar \"$x\"\n"
                       " action 4 set empty \"\"\n"
                       " action 5 set slash \"a\\\\b\"\n"
                       " action 6 set bang \"!x\"\n"
                       " action 7 puts \"nonewline\"\n"
                       " action 8 string compare \"nocase\" x\n"
                       " action 9 set tab \"a\tb\"\n");

    (void)state;
    assert_string_equal(t,
        "event manager applet Q\n"
        " action 1 set plain word\n"
        " action 2 set spaced \"two words\"\n"
        " action 3 set dollar \"$x\"\n"
        " action 4 set empty \"\"\n"
        " action 5 set slash \"a\\b\"\n"
        " action 6 set bang \"!x\"\n"
        " action 7 puts \"nonewline\"\n"
        " action 8 string compare \"nocase\" x\n"
        " action 9 set tab \"a\tb\"\n");
    free(t);
}

static void
numbers_print_in_shortest_form(void **state)
{
    char *t = print_of(
        "event manager applet N\n"
        " event syslog pattern x period 1.50 maxrun 120.0 ratelimit 0.25\n"
        " action 1 wait 0.5\n");

    (void)state;
    /* event numbers are numbers; action values are kept as written */
    assert_string_equal(t,
        "event manager applet N\n"
        " event syslog pattern \"x\" period 1.5 maxrun 120 ratelimit 0.25\n"
        " action 1 wait 0.5\n");
    free(t);
}

static void
dollar_var_prefix_is_dropped_from_variable_names(void **state)
{
    char *t = print_of(
        "event manager applet V\n"
        " action 1 set $x 1\n action 2 foreach $i \"a b\"\n action 3 end\n"
        " action 4 regexp \"(a)\" \"a\" $m $s\n");

    (void)state;
    assert_string_equal(t,
        "event manager applet V\n"
        " action 1 set x 1\n action 2 foreach i \"a b\"\n action 3 end\n"
        " action 4 regexp (a) a m s\n");
    free(t);
}

static void
json_values_with_quotes_and_newlines_print_escaped(void **state)
{
    cJSON *j = cJSON_Parse(
        "{\"name\":\"E\",\"actions\":[{"
        "\"label\":\"1\",\"action\":\"puts\",\"text\":\"a \\\"q\\\"\\nb\\\\\"}"
        "]}");
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    char              *t, *t2;

    (void)state;
    assert_non_null(j);
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_from_json(j, NULL, &a, &eb), 0);
    t = eng_applet_to_text(a);
    assert_string_equal(t,
        "event manager applet E\n"
        " action 1 puts \"a \\\"q\\\"\\nb\\\\\"\n");
    t2 = print_of(t);
    assert_string_equal(t, t2);
    free(t);
    free(t2);
    cJSON_Delete(j);
    eng_applet_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keywords_print_in_grammar_order),
        cmocka_unit_test(values_are_quoted_only_when_needed),
        cmocka_unit_test(numbers_print_in_shortest_form),
        cmocka_unit_test(dollar_var_prefix_is_dropped_from_variable_names),
        cmocka_unit_test(json_values_with_quotes_and_newlines_print_escaped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
