/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/lang/test_applet_errors.c: every parse error of the applet
 * language says where (line and column, absolute from first_line) and what
 * was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/lang/applet.h"

struct bad {
    const char *text;
    int         rc, line, col;
    const char *msg;
};

#define H "event manager applet A\n"

static const struct bad bad[] = {
    { H " action 0010 mail server h to t from f subject s secure ssl\n",
        ERR_INVAL, 2, 57,
        "line 2, column 57: expected \"secure\" value tls, "
        "none or implicit, got \"ssl\"" },
    { H " event none\n action 0010 mail server h to t from f subject s "
        "port 25x\n",
        ERR_INVAL, 3, 55,
        "line 3, column 55: expected "
        "\"port\" to be an integer, got \"25x\"" },
    { H " action 1 mail server h to t from f subject s port 70000\n", ERR_INVAL,
        2, 52,
        "line 2, column 52: expected \"port\" between 1 "
        "and 65535, got \"70000\"" },
    { H " action 1 mail server h to t from f\n", ERR_INVAL, 2, 11,
        "line 2, column 11: action mail needs \"subject\" (usage: mail "
        "server <server> to <to> from <from> [cc <cc>] subject <subject> "
        "[body <body>] [source-interface <source-interface>] "
        "[source-address <source-address>] [port <port>] [secure "
        "tls|none|implicit] [tls-name <tls-name>] [credential "
        "<credential>])" },
    { H " action 1 mail sever h to t\n", ERR_INVAL, 2, 16,
        "line 2, column 16: unknown keyword \"sever\" for action mail; "
        "expected server, to, from, cc, subject, body, source-interface, "
        "source-address, port, secure, tls-name or credential" },
    { H " action 1 mail server h to t to u\n", ERR_INVAL, 2, 30,
        "line 2, column 30: \"to\" is given twice" },
    { H " action 1 mail server\n", ERR_INVAL, 2, 22,
        "line 2, column 22: expected a value after \"server\"" },
    { H " action 1 puts \"unterminated\n", ERR_INVAL, 2, 16,
        "line 2, column 16: unterminated quoted string (no closing '\"')" },
    { H " action 1 puts \"a\"b\n", ERR_INVAL, 2, 19,
        "line 2, column 19: expected a space after the closing quote, got "
        "'b'" },
    { H " action 1 set x a\"b\n", ERR_INVAL, 2, 18,
        "line 2, column 18: unexpected '\"' inside a word; quote the whole "
        "value" },
    { H " action 1 wait soon\n", ERR_INVAL, 2, 16,
        "line 2, column 16: expected \"seconds\" to be a number of seconds "
        "(e.g. 5 or 0.5), got \"soon\"" },
    { H " action 1 set my-var 1\n", ERR_INVAL, 2, 15,
        "line 2, column 15: expected a variable name for \"var\" (letters, "
        "digits and _), got \"my-var\"" },
    { H " action 1 if $a is 1\n", ERR_INVAL, 2, 17,
        "line 2, column 17: expected \"op\" value eq, ne, lt, le, gt or ge, "
        "got \"is\"" },
    { H " action 1 set x\n", ERR_INVAL, 2, 11,
        "line 2, column 11: action set needs \"value\" (usage: set <var> "
        "<value>)" },
    { H " action 1 set x 1 2\n", ERR_INVAL, 2, 19,
        "line 2, column 19: unexpected \"2\": usage: set <var> <value>" },
    { H " action 1 else now\n", ERR_INVAL, 2, 16,
        "line 2, column 16: unexpected \"now\": usage: else" },
    { H " action 1 frobnicate\n", ERR_INVAL, 2, 11,
        "line 2, column 11: unknown action \"frobnicate\"; expected one of "
        "mail, syslog, set, append, increment, decrement, add, subtract, "
        "multiply, divide, if, elseif, while, else, end, break, continue, "
        "foreach, regexp, string, wait, puts, exit, comment, handle-error, "
        "context, policy, publish-event or info" },
    { H " action 1 string reverse x\n", ERR_INVAL, 2, 18,
        "line 2, column 18: expected \"string\" operation compare, equal, "
        "first, last, index, length, match, range, replace, tolower, "
        "toupper, trim, trimleft or trimright, got \"reverse\"" },
    { H " action 1\n", ERR_INVAL, 2, 10,
        "line 2, column 10: expected an action after label \"1\": mail, "
        "syslog, set, append, increment, decrement, add, subtract, "
        "multiply, divide, if, elseif, while, else, end, break, continue, "
        "foreach, regexp, string, wait, puts, exit, comment, handle-error, "
        "context, policy, publish-event or info" },
    { H " action\n", ERR_INVAL, 2, 8,
        "line 2, column 8: expected an action label after \"action\"" },
    { H " action 0123456789012345678901234567890123 end\n", ERR_INVAL, 2, 9,
        "line 2, column 9: action label \"0123456789012345678901234567890123\""
        " is 34 bytes; the limit is 31" },
    { H " action 1 handle-error type panic\n", ERR_INVAL, 2, 29,
        "line 2, column 29: expected \"type\" value exit, ignore or retry, "
        "got \"panic\"" },
    { H " action 1 syslog priority loud msg x\n", ERR_INVAL, 2, 27,
        "line 2, column 27: expected \"priority\" value emergencies, alerts, "
        "critical, errors, warnings, notifications, informational or "
        "debugging, got \"loud\"" },
    { H " event syslog occurs 2\n", ERR_INVAL, 2, 23,
        "line 2, column 23: event syslog needs \"pattern\"" },
    { H " event syslog pattern x occurs 0\n", ERR_INVAL, 2, 32,
        "line 2, column 32: expected \"occurs\" to be an integer from 1 to "
        "1000000, got \"0\"" },
    { H " event timer hourly\n", ERR_INVAL, 2, 14,
        "line 2, column 14: expected \"timer\" type watchdog, countdown, "
        "absolute or cron, got \"hourly\"" },
    { H " event timer watchdog time 0\n", ERR_INVAL, 2, 28,
        "line 2, column 28: expected \"time\" above 0, got \"0\"" },
    { H " event timer cron cron-entry \"0 8 * *\"\n", ERR_INVAL, 2, 30,
        "line 2, column 30: cron entry \"0 8 * *\" has 4 fields; expected 5 "
        "(minute hour day-of-month month day-of-week)" },
    { H " event timer cron cron-entry \"61 8 * * *\"\n", ERR_INVAL, 2, 30,
        "line 2, column 30: cron minute field \"61\": value out of range "
        "0-59" },
    { H " event none sync yes\n", ERR_INVAL, 2, 13,
        "line 2, column 13: unknown keyword \"sync\" for event none; "
        "expected maxrun or ratelimit" },
    { H " event cli pattern \"show\"\n", ERR_UNSUPPORTED, 2, 8,
        "line 2, column 8: event 'cli' is router-only and not supported by "
        "herald; use none, syslog, timer, webhook or application" },
    { H " event application sub-system 0 type 1\n", ERR_INVAL, 2, 31,
        "line 2, column 31: expected \"sub-system\" to be an integer from 1 "
        "to 999, got \"0\"" },
    { H " event application sub-system 798\n", ERR_INVAL, 2, 34,
        "line 2, column 34: event application needs \"type\"" },
    { H " event sometimes\n", ERR_INVAL, 2, 8,
        "line 2, column 8: expected an event type none, syslog, timer, "
        "webhook or application, got \"sometimes\"" },
    { H " event tag a none\n event tag a webhook\n", ERR_INVAL, 1, 1,
        "applet A: event tag \"a\" is used twice" },
    { H " event tag a none\n event webhook\n", ERR_INVAL, 1, 1,
        "applet A: an applet with 2 events needs \"event tag TAG ...\" on "
        "each of them" },
    { H " event tag a none\n event tag b none\n trigger\n  correlate event a "
        "and event b\n",
        ERR_UNSUPPORTED, 5, 13,
        "line 5, column 13: correlate operator \"and\" is not supported by "
        "herald; use \"or\"" },
    { H " event tag a none\n trigger\n  correlate event z\n", ERR_INVAL, 1, 1,
        "applet A: correlate names event \"z\", but no event has that tag" },
    { H " frob\n", ERR_INVAL, 2, 2,
        "line 2, column 2: expected \"description\", \"event\", \"trigger\", "
        "\"correlate\" or \"action\", got \"frob\"" },
    { H "event manager applet B\n", ERR_INVAL, 2, 1,
        "line 2, column 1: a second \"event manager\" line inside applet A; "
        "send one applet at a time" },
    { "event manager applet\n", ERR_INVAL, 1, 21,
        "line 1, column 21: expected an applet name after \"event manager "
        "applet\"" },
    { "event manager applet bad/name\n", ERR_INVAL, 1, 22,
        "line 1, column 22: invalid applet name \"bad/name\": use letters, "
        "digits, '_', '.' and '-'" },
    { "event manager applet "
      "A2345678901234567890123456789012345678901234567890123456789012345\n",
        ERR_INVAL, 1, 22,
        "line 1, column 22: applet name is 65 bytes; the "
        "limit is 64" },
    { "event manager applet A klass B\n", ERR_INVAL, 1, 24,
        "line 1, column 24: unknown keyword \"klass\" after the applet name; "
        "expected class, authorization or description" },
    { "event manager applet A class AB\n", ERR_INVAL, 1, 30,
        "line 1, column 30: expected \"class\" A to Z or default, got "
        "\"AB\"" },
    { "event manager applet A class\n", ERR_INVAL, 1, 29,
        "line 1, column 29: expected A to Z or default after \"class\"" },
    { "event manager applet A class B class C\n", ERR_INVAL, 1, 32,
        "line 1, column 32: \"class\" is given twice" },
    { "event manager applet A authorization none\n", ERR_INVAL, 1, 38,
        "line 1, column 38: expected \"authorization bypass\", got "
        "\"authorization none\"" },
    { "event manager applet A trap\n", ERR_UNSUPPORTED, 1, 24,
        "line 1, column 24: applet option \"trap\" (an SNMP trap when the "
        "applet ends) is router-only and not supported by herald" },
    /* info: only routername has a meaning off the router */
    { H " action 1 info type snmp oid 1.3.6.1 get-type exact\n",
        ERR_UNSUPPORTED, 2, 21,
        "line 2, column 21: \"info type snmp\" is "
        "router-only: herald runs off the router and has no snmp data to "
        "read; only \"info type routername\" is supported" },
    { H " action 1 info type cli history\n", ERR_UNSUPPORTED, 2, 21,
        "line 2, column 21: \"info type cli\" is router-only: herald runs "
        "off the router and has no cli data to read; only \"info type "
        "routername\" is supported" },
    /* blocks, in the run order of the labels */
    { H " action 1 puts a\n action 2 break\n", ERR_INVAL, 3, 1,
        "line 3: action 2: \"break\" outside a \"while\" or \"foreach\" "
        "loop (actions run in label byte order)" },
    { H " action 1 if 1 eq 1\n action 2 continue\n action 3 end\n", ERR_INVAL,
        3, 1,
        "line 3: action 2: \"continue\" outside a "
        "\"while\" or \"foreach\" loop (actions run in label byte order)" },
    { H " action 1 else\n", ERR_INVAL, 2, 1,
        "line 2: action 1: \"else\" without an opening \"if\" (actions run "
        "in label byte order)" },
    { H " action 1 while 1 eq 1\n action 2 elseif 1 eq 2\n action 3 end\n",
        ERR_INVAL, 3, 1,
        "line 3: action 2: \"elseif\" without an opening "
        "\"if\" (actions run in label byte order)" },
    { H " action 1 if 1 eq 1\n action 2 else\n action 3 else\n"
        " action 4 end\n",
        ERR_INVAL, 4, 1,
        "line 4: action 3: \"else\" "
        "after the \"else\" of action 2 (actions run in label byte order)" },
    { H " action 0040 end\n action 0010 puts x\n", ERR_INVAL, 2, 1,
        "line 2: action 0040: \"end\" without an opening \"if\", \"while\" "
        "or \"foreach\" (actions run in label byte order)" },
    { H " action 1 if 1 eq 1\n action 10 puts x\n action 2 end\n"
        " action 3 end\n",
        ERR_INVAL, 5, 1,
        "line 5: action 3: \"end\" "
        "without an opening \"if\", \"while\" or \"foreach\" (actions run "
        "in label byte order)" },
    { H " action 1 foreach x \"a b\"\n action 2 if $x eq a\n"
        " action 3 end\n",
        ERR_INVAL, 2, 1,
        "line 2: action 1: \"foreach\" "
        "is never closed: add an \"end\" action after its block (actions "
        "run in label byte order)" },
    { "event manager environment x 1\n", ERR_INVAL, 1, 15,
        "line 1, column 15: expected \"event manager applet NAME\", got "
        "\"environment\"" },
    { "", ERR_INVAL, 1, 1,
        "line 1, column 1: expected \"event manager "
        "applet NAME\", got no text" },
    { H " action 1 puts a\tb\x01\n", ERR_INVAL, 2, 19,
        "line 2, column 19: control character 0x01 is not allowed" },
    { H " action 1 mail server h to \"a\\nb\" from f subject s\n", ERR_INVAL, 2,
        28,
        "line 2, column 28: value of \"to\" must not contain a line "
        "break" },
};

static void
every_bad_input_gets_position_and_expected_text(void **state)
{
    struct eng_applet *a;
    struct errbuf      eb;
    size_t             i;
    int                rc;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = NULL;
        memset(&eb, 0, sizeof(eb));
        rc = eng_applet_parse(bad[i].text, strlen(bad[i].text), 1, &a, &eb);
        if (rc != bad[i].rc || eb.line != bad[i].line || eb.col != bad[i].col
            || strcmp(eb.msg, bad[i].msg) != 0)
            fail_msg("case %zu:\n%s\ngot rc=%d line=%d col=%d\n  %s\n"
                     "want rc=%d line=%d col=%d\n  %s",
                i, bad[i].text, rc, eb.line, eb.col, eb.msg, bad[i].rc,
                bad[i].line, bad[i].col, bad[i].msg);
        assert_null(a);
        assert_string_equal(eb.code,
            rc == ERR_UNSUPPORTED ? "unsupported" : "parse_error");
    }
}

static void
positions_count_from_first_line(void **state)
{
    const char        *text = H " action 1 wait soon\n";
    struct eng_applet *a = NULL;
    struct errbuf      eb;

    (void)state;
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_parse(text, strlen(text), 40, &a, &eb),
        ERR_INVAL);
    assert_int_equal(eb.line, 41);
    assert_int_equal(eb.col, 16);
    assert_non_null(strstr(eb.msg, "line 41, column 16: "));
}

static void
nul_byte_in_text_is_refused(void **state)
{
    const char         text[] = "event manager applet A\n action 1 puts a\0b\n";
    struct eng_applet *a = NULL;
    struct errbuf      eb;

    (void)state;
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_parse(text, sizeof(text) - 1, 1, &a, &eb),
        ERR_INVAL);
    assert_string_equal(eb.msg,
        "applet text contains a NUL byte at offset "
        "39");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_bad_input_gets_position_and_expected_text),
        cmocka_unit_test(positions_count_from_first_line),
        cmocka_unit_test(nul_byte_in_text_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
