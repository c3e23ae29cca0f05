/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/lang/test_applet_parse.c: the EEM applet parser and the
 * canonical printer (engine/lang/applet.h): a corpus with every verb survives
 * text -> model -> text unchanged, labels run in byte order, quoting and
 * escapes, and router-only actions are refused by name.
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

static struct eng_applet *
parse_ok(const char *text)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    int                rc;

    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_parse(text, strlen(text), 1, &a, &eb);
    if (rc != 0)
        fail_msg("parse failed (%d): %s\n--- text:\n%s", rc, eb.msg, text);
    assert_non_null(a);
    return a;
}

/* text -> model -> text -> model -> text: the two printed texts agree. */
static char *
canonical(const char *text)
{
    struct eng_applet *a = parse_ok(text), *b;
    char              *t1 = eng_applet_to_text(a), *t2;

    assert_non_null(t1);
    b = parse_ok(t1);
    t2 = eng_applet_to_text(b);
    assert_non_null(t2);
    assert_string_equal(t1, t2);
    free(t2);
    eng_applet_free(a);
    eng_applet_free(b);
    return t1;
}

static const char *const design_applet =
    "event manager applet SendSecureEmailEEM\n"
    " event none\n"
    " action 0010 mail server \"$_email_server\" to \"$_email_to\" from "
    "\"$_email_from\" cc \"$_email_cc\" subject \"This is my email "
    "subject\" body \"This is my email body.\" port 587 secure tls\n";

static void
source_document_applet_prints_as_in_the_design(void **state)
{
    char *t = canonical(design_applet);

    (void)state;
    assert_string_equal(t, design_applet);
    free(t);
}

static void
source_document_applet_model_has_the_mail_parameters(void **state)
{
    struct eng_applet *a = parse_ok(design_applet);

    (void)state;
    assert_string_equal(eng_applet_name(a), "SendSecureEmailEEM");
    assert_null(eng_applet_description(a));
    assert_int_equal(eng_applet_event_count(a), 1);
    assert_int_equal(eng_applet_event(a, 0)->type, ENG_EV_NONE);
    assert_int_equal(eng_applet_action_count(a), 1);
    assert_string_equal(eng_applet_action(a, 0)->label, "0010");
    assert_string_equal(eng_applet_action(a, 0)->verb, "mail");
    assert_string_equal(eng_action_arg(a, 0, "server"), "$_email_server");
    assert_string_equal(eng_action_arg(a, 0, "cc"), "$_email_cc");
    assert_string_equal(eng_action_arg(a, 0, "subject"),
        "This is my email subject");
    assert_string_equal(eng_action_arg(a, 0, "port"), "587");
    assert_string_equal(eng_action_arg(a, 0, "secure"), "tls");
    assert_null(eng_action_arg(a, 0, "source-address"));
    assert_null(eng_action_arg(a, 0, "no-such-param"));
    eng_applet_free(a);
}

/* Every verb of the grammar, written the way people write them. */
static const char *const corpus[] = {
    design_applet,
    "event manager applet Every_verb.1 description \"all of them\"\n"
    " event syslog pattern \"%LINK-3-UPDOWN: Interface ([^,]+), changed "
    "state to down\" occurs 2 period 60 priority errors maxrun 90\n"
    " action 0001 comment check the link\n"
    " action 0002 syslog priority critical msg \"link $_syslog_msg\" "
    "facility LOCAL7\n"
    " action 0003 syslog msg plain\n"
    " action 0010 set count 0\n"
    " action 0011 append list \"a b\"\n"
    " action 0012 increment count\n"
    " action 0013 increment count 5\n"
    " action 0014 decrement $count 2\n"
    " action 0015 add 1 2\n"
    " action 0016 subtract $_result 1\n"
    " action 0017 multiply 3 4\n"
    " action 0018 divide 10 3\n"
    " action 0020 if $count ge 3\n"
    " action 0021  puts \"many\"\n"
    " action 0022 elseif $count eq 2\n"
    " action 0023  puts nonewline two\n"
    " action 0024 else\n"
    " action 0025  exit 1\n"
    " action 0026 end\n"
    " action 0030 while $count gt 0\n"
    " action 0031  decrement count\n"
    " action 0032  if $count eq 1\n"
    " action 0033   break\n"
    " action 0034  end\n"
    " action 0035  continue\n"
    " action 0036 end\n"
    " action 0040 foreach item \"a,b,c\" \",\"\n"
    " action 0041  puts $item\n"
    " action 0042 end\n"
    " action 0043 foreach word \"x y\"\n"
    " action 0044 end\n"
    " action 0050 regexp \"([0-9]+)\\.([0-9]+)\" \"$_syslog_msg\" m s1 s2 "
    "s3\n"
    " action 0051 regexp \"^up$\" $_syslog_msg\n"
    " action 0060 string compare nocase \"A\" \"a\"\n"
    " action 0061 string equal a b\n"
    " action 0062 string first a abc 1\n"
    " action 0063 string last a abca\n"
    " action 0064 string index abc 1\n"
    " action 0065 string length \"hello world\"\n"
    " action 0066 string match nocase \"*down*\" $_syslog_msg\n"
    " action 0067 string range abcdef 1 3\n"
    " action 0068 string replace abcdef 1 3 XY\n"
    " action 0069 string tolower ABC 0 1\n"
    " action 0070 string toupper abc\n"
    " action 0071 string trim \"  x  \"\n"
    " action 0072 string trimleft xxa x\n"
    " action 0073 string trimright axx x\n"
    " action 0080 wait 1.5\n"
    " action 0081 handle-error type ignore\n"
    " action 0082 handle-error type retry count 3 delay 2\n"
    " action 0083 context save key state variable \"count*\"\n"
    " action 0084 context retrieve key state\n"
    " action 0085 context retrieve key state variable count\n"
    " action 0086 policy Other_applet\n"
    " action 0087 policy Other_applet arg1 arg2\n"
    " action 0088 publish-event sub-system 798 type 1 arg1 up arg2 \"x y\"\n"
    " action 0089 mail server smtp.example.com to a@example.com from "
    "b@example.com subject s body b source-interface eth0\n"
    " action 0090 mail server h to a@example.com from b@example.com "
    "subject s source-address 192.0.2.1 port 465 secure implicit tls-name "
    "mail.example.com\n"
    " action 0091 mail server h to a@example.com from b@example.com "
    "subject s body \"\" secure none\n"
    " action 0099 exit\n",
    "event manager applet Timers\n"
    " event tag t1 timer watchdog time 60 name every_minute\n"
    " event tag t2 none ratelimit 10\n"
    " trigger\n"
    "  correlate event t1 or event t2\n"
    " action 1 puts tick\n",
    "event manager applet Cron\n"
    " event timer cron cron-entry \"0 8 * * 1-5\" name mornings\n"
    " action 1 puts morning\n",
    "event manager applet Countdown\n"
    " event timer countdown time 30\n"
    " action 1 puts once\n",
    "event manager applet Absolute\n"
    " event timer absolute time 1800000000\n"
    " action 1 puts at\n",
    "event manager applet Hook\n"
    " event webhook maxrun 300\n"
    " action 1 puts \"$_webhook_body\"\n",
    "event manager applet App\n"
    " event application sub-system 798 type 12 ratelimit 5\n"
    " action 1 puts \"$_application_data1\"\n"
    " action 2 publish-event sub-system 798 type 13 arg1 "
    "\"$_application_type\"\n",
    "event manager applet Empty\n",
};

static void
every_verb_survives_text_model_text(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
        free(canonical(corpus[i]));
}

static void
canonical_text_of_the_corpus_is_what_was_written(void **state)
{
    /* the corpus is written canonically except for indentation inside
     * blocks, "$count" in decrement, and the "comment" text */
    struct eng_applet *a = parse_ok(corpus[2]);
    char              *t = eng_applet_to_text(a);

    (void)state;
    assert_string_equal(t, corpus[2]);
    free(t);
    eng_applet_free(a);
    a = parse_ok(corpus[3]);
    t = eng_applet_to_text(a);
    assert_string_equal(t, corpus[3]);
    free(t);
    eng_applet_free(a);
}

static void
every_verb_of_the_corpus_is_parsed_with_its_params(void **state)
{
    struct eng_applet *a = parse_ok(corpus[1]);
    size_t             i, n = eng_applet_action_count(a);
    int                found_regexp = 0;

    (void)state;
    assert_int_equal(n, 60);
    for (i = 0; i < n; i++) {
        const struct eng_action *x = eng_applet_action(a, i);
        if (strcmp(x->label, "0050") == 0) {
            found_regexp = 1;
            assert_string_equal(x->verb, "regexp");
            assert_string_equal(eng_action_arg(a, i, "pattern"),
                "([0-9]+)\\.([0-9]+)");
            assert_string_equal(eng_action_arg(a, i, "sub3"), "s3");
        }
        if (strcmp(x->label, "0014") == 0)
            assert_string_equal(eng_action_arg(a, i, "var"), "count");
        if (strcmp(x->label, "0060") == 0) {
            assert_string_equal(x->verb, "string compare");
            assert_string_equal(eng_action_arg(a, i, "nocase"), "1");
            assert_string_equal(eng_action_arg(a, i, "left"), "A");
        }
        if (strcmp(x->label, "0001") == 0)
            assert_string_equal(eng_action_arg(a, i, "text"), "check the link");
        if (strcmp(x->label, "0087") == 0)
            assert_string_equal(eng_action_arg(a, i, "args"), "arg1 arg2");
        if (strcmp(x->label, "0088") == 0)
            assert_string_equal(eng_action_arg(a, i, "sub-system"), "798");
        if (strcmp(x->label, "0023") == 0) {
            assert_string_equal(eng_action_arg(a, i, "nonewline"), "1");
            assert_string_equal(eng_action_arg(a, i, "text"), "two");
        }
    }
    assert_true(found_regexp);
    assert_string_equal(eng_applet_description(a), "all of them");
    assert_int_equal(eng_applet_event(a, 0)->type, ENG_EV_SYSLOG);
    assert_int_equal(eng_applet_event(a, 0)->occurs, 2);
    assert_true(eng_applet_event(a, 0)->period == 60.0);
    assert_true(eng_applet_event(a, 0)->maxrun == 90.0);
    assert_string_equal(eng_applet_event(a, 0)->priority, "errors");
    eng_applet_free(a);
}

static void
tagged_events_keep_tags_and_correlate(void **state)
{
    struct eng_applet *a = parse_ok(corpus[2]);

    (void)state;
    assert_int_equal(eng_applet_event_count(a), 2);
    assert_string_equal(eng_applet_event(a, 0)->tag, "t1");
    assert_int_equal(eng_applet_event(a, 0)->type, ENG_EV_TIMER_WATCHDOG);
    assert_true(eng_applet_event(a, 0)->time == 60.0);
    assert_string_equal(eng_applet_event(a, 0)->timer_name, "every_minute");
    assert_true(eng_applet_event(a, 1)->ratelimit == 10.0);
    assert_string_equal(eng_applet_correlate(a), "event t1 or event t2");
    eng_applet_free(a);
}

static void
several_events_without_correlate_get_or_of_all(void **state)
{
    struct eng_applet *a =
        parse_ok("event manager applet X\n"
                 " event tag a none\n event tag b webhook\n");

    (void)state;
    assert_string_equal(eng_applet_correlate(a), "event a or event b");
    eng_applet_free(a);
}

static void
labels_run_in_byte_order_not_numeric_order(void **state)
{
    struct eng_applet *a = parse_ok("event manager applet L\n"
                                    " event none\n"
                                    " action 2.0 puts two\n"
                                    " action 10.0 puts ten\n"
                                    " action 1.0 puts one\n");

    (void)state;
    assert_int_equal(eng_applet_action_count(a), 3);
    assert_string_equal(eng_applet_action(a, 0)->label, "1.0");
    assert_string_equal(eng_applet_action(a, 1)->label, "10.0");
    assert_string_equal(eng_applet_action(a, 2)->label, "2.0");
    assert_null(eng_applet_action(a, 3));
    eng_applet_free(a);
}

static void
reentering_a_label_replaces_the_action(void **state)
{
    struct eng_applet *a = parse_ok("event manager applet R\n"
                                    " action 0010 puts first\n"
                                    " action 0020 puts second\n"
                                    " action 0010 syslog msg replaced\n");
    char              *t = eng_applet_to_text(a);

    (void)state;
    assert_int_equal(eng_applet_action_count(a), 2);
    assert_string_equal(eng_applet_action(a, 0)->verb, "syslog");
    assert_string_equal(eng_action_arg(a, 0, "msg"), "replaced");
    assert_null(eng_action_arg(a, 0, "text"));
    assert_string_equal(t,
        "event manager applet R\n"
        " action 0010 syslog msg replaced\n"
        " action 0020 puts second\n");
    free(t);
    eng_applet_free(a);
}

static void
escapes_in_quotes_are_undone_and_reprinted(void **state)
{
    struct eng_applet *a =
        parse_ok("event manager applet Q\n"
                 " action 1 set x \"say \\\"hi\\\" \\\\ costs \\$5\\nbye\"\n"
                 " action 2 regexp \"^a\\.b$\" \"$x\"\n"
                 " action 3 set y \"\"\n"
                 " action 4 puts \"nonewline\"\n");
    char *t;

    (void)state;
    /* \" -> ", \\ -> \, \n -> LF; \$ stays for the expander */
    assert_string_equal(eng_action_arg(a, 0, "value"),
        "say \"hi\" \\ costs \\$5\nbye");
    assert_string_equal(eng_action_arg(a, 1, "pattern"), "^a\\.b$");
    assert_string_equal(eng_action_arg(a, 2, "value"), "");
    /* a quoted word is a value, not the flag */
    assert_null(eng_action_arg(a, 3, "nonewline"));
    assert_string_equal(eng_action_arg(a, 3, "text"), "nonewline");
    t = eng_applet_to_text(a);
    /* a backslash that escapes nothing prints as itself */
    assert_string_equal(t,
        "event manager applet Q\n"
        " action 1 set x \"say \\\"hi\\\" \\ costs \\$5\\nbye\"\n"
        " action 2 regexp \"^a\\.b$\" \"$x\"\n"
        " action 3 set y \"\"\n"
        " action 4 puts \"nonewline\"\n");
    free(t);
    eng_applet_free(a);
    free(canonical("event manager applet Q2\n"
                   " action 1 set x \"a\\\\\"\n"
                   " action 2 set x \"\\\\n and \\\\$\"\n"
                   " action 3 comment say \"hi\" now\n"
                   " action 4 comment \"\\\"quoted\\\"\"\n"));
}

static void
comments_blank_lines_and_crlf_are_tolerated(void **state)
{
    const char        *text = "! a comment before\r\n"
                              "event manager applet C\r\n"
                              "\r\n"
                              " ! inside\r\n"
                              " event none\r\n"
                              "   \r\n"
                              " action 1 puts hi\r\n";
    struct eng_applet *a = parse_ok(text);
    char              *t = eng_applet_to_text(a);

    (void)state;
    assert_string_equal(t,
        "event manager applet C\n event none\n"
        " action 1 puts hi\n");
    free(t);
    eng_applet_free(a);
}

static void
unindented_lines_belong_to_the_applet(void **state)
{
    struct eng_applet *a = parse_ok("event manager applet U\n"
                                    "event none\naction 1 puts x\n");

    (void)state;
    assert_int_equal(eng_applet_action_count(a), 1);
    eng_applet_free(a);
}

static void
description_line_and_header_description_agree(void **state)
{
    char *t1 = canonical("event manager applet D description \"x y\"\n");
    char *t2 = canonical("event manager applet D\n description x y\n");

    (void)state;
    assert_string_equal(t1, "event manager applet D\n description \"x y\"\n");
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
}

static void
router_only_actions_are_refused_by_name(void **state)
{
    static const char *const verbs[] = { "cli command \"show ver\"", "reload",
        "snmp-trap strdata x", "cns-event msg x", "gets x",
        "file open fh f.txt r", "track read 1", "counter name c op inc value 1",
        "force-switchover", "snmp-object-value int 1" };
    char                     text[256], want[160], first[32];
    struct eng_applet       *a = NULL;
    struct errbuf            eb;
    size_t                   i;

    (void)state;
    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        snprintf(text, sizeof(text),
            "event manager applet R\n event none\n"
            " action 0010 %s\n",
            verbs[i]);
        sscanf(verbs[i], "%31s", first);
        snprintf(want, sizeof(want),
            "line 3, column 14: action '%s' is "
            "router-only and not supported by herald",
            first);
        memset(&eb, 0, sizeof(eb));
        assert_int_equal(eng_applet_parse(text, strlen(text), 1, &a, &eb),
            ERR_UNSUPPORTED);
        assert_null(a);
        assert_string_equal(eb.code, "unsupported");
        assert_string_equal(eb.msg, want);
        assert_int_equal(eb.line, 3);
        assert_int_equal(eb.col, 14);
    }
}

static void
info_type_routername_is_an_action(void **state)
{
    struct eng_applet *a =
        parse_ok("event manager applet I\n event none\n"
                 " action 0010 info type routername\n"
                 " action 0020 puts \"$_info_routername\"\n");
    char *t = eng_applet_to_text(a);

    (void)state;
    assert_string_equal(eng_applet_action(a, 0)->verb, "info");
    assert_string_equal(eng_action_arg(a, 0, "type"), "routername");
    assert_string_equal(t,
        "event manager applet I\n event none\n"
        " action 0010 info type routername\n"
        " action 0020 puts \"$_info_routername\"\n");
    free(t);
    eng_applet_free(a);
}

/* What a terminal session shows: prompts before every line. */
static const char *const pasted =
    "R1(config)#event manager applet X class B authorization bypass\n"
    "R1(config-applet)# event none\n"
    "R1(config-applet)#action 0010 puts \"R1(config)# stays # as written\"\n"
    "R1(config-applet)#  action 0020 syslog msg \"#1 done\"\n"
    "R1(config-applet)#exit\n"
    "R1(config)#\n";

static void
pasted_prompts_are_removed_and_counted(void **state)
{
    struct eng_applet *a = parse_ok(pasted);
    char              *t = eng_applet_to_text(a);

    (void)state;
    assert_int_equal(eng_applet_prompts_removed(a), 6);
    assert_string_equal(eng_applet_class(a), "B");
    assert_int_equal(eng_applet_authorization_bypass(a), 1);
    /* a '#' inside a value is not a prompt */
    assert_string_equal(eng_action_arg(a, 0, "text"),
        "R1(config)# stays # as written");
    assert_string_equal(t,
        "event manager applet X class B authorization "
        "bypass\n event none\n"
        " action 0010 puts \"R1(config)# stays # as written\"\n"
        " action 0020 syslog msg \"#1 done\"\n");
    free(t);
    eng_applet_free(a);
    a = parse_ok("event manager applet Y\n event none\n");
    assert_int_equal(eng_applet_prompts_removed(a), 0);
    eng_applet_free(a);
}

static void
only_a_prompt_at_the_start_of_a_line_matches(void **state)
{
    (void)state;
    assert_int_equal(eng_prompt_len("R1#show"), 3);
    assert_int_equal(eng_prompt_len("R1# show"), 4);
    assert_int_equal(eng_prompt_len("core-sw1.lab_2(config)#x"), 23);
    assert_int_equal(eng_prompt_len("R1(config-applet)#  action"), 20);
    assert_int_equal(eng_prompt_len("R1(ca-trustpoint)#quit"), 18);
    assert_int_equal(eng_prompt_len("R1(cfg-if)#"), 11);
    assert_int_equal(eng_prompt_len(" R1#x"), 0);       /* indented */
    assert_int_equal(eng_prompt_len("1R#x"), 0);        /* not a host name */
    assert_int_equal(eng_prompt_len("R1()#x"), 0);      /* empty mode */
    assert_int_equal(eng_prompt_len("R1(config#x"), 0); /* unclosed */
    assert_int_equal(eng_prompt_len("action 1 puts \"a#b\""), 0);
    assert_int_equal(eng_prompt_len("R1 #x"), 0);
    assert_int_equal(eng_prompt_len("R1>"), 0); /* user exec */
    assert_int_equal(eng_prompt_len(""), 0);
}

static void
header_options_print_in_canonical_order(void **state)
{
    char *t = canonical("event manager applet H authorization bypass "
                        "class default description \"d\"\n event none\n");

    (void)state;
    assert_string_equal(t,
        "event manager applet H class default "
        "authorization bypass\n description \"d\"\n event none\n");
    free(t);
}

static void
var_names_are_letters_digits_and_underscore(void **state)
{
    (void)state;
    assert_true(eng_var_name_valid("_email_cc"));
    assert_true(eng_var_name_valid("x1"));
    assert_false(eng_var_name_valid(""));
    assert_false(eng_var_name_valid("a-b"));
    assert_false(eng_var_name_valid("a b"));
    assert_false(eng_var_name_valid("$a"));
    assert_false(eng_var_name_valid(NULL));
}

static void
limits_on_actions_and_text_are_enforced(void **state)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    size_t             cap = 40 * 10002 + 64, len, i;
    char              *text = malloc(cap);

    (void)state;
    assert_non_null(text);
    len = (size_t)snprintf(text, cap, "event manager applet Big\n");
    for (i = 0; i < 10000; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "action %05zu exit\n", i);
    assert_true(len < 256 * 1024);
    a = parse_ok(text);
    assert_int_equal(eng_applet_action_count(a), 10000);
    eng_applet_free(a);
    a = NULL;
    len += (size_t)snprintf(text + len, cap - len, "action x exit\n");
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_parse(text, len, 1, &a, &eb), ERR_TOOBIG);
    assert_non_null(strstr(eb.msg, "more than 10000 actions"));
    assert_int_equal(eb.line, 10002);
    free(text);

    text = malloc(300 * 1024);
    assert_non_null(text);
    memset(text, ' ', 300 * 1024);
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_applet_parse(text, 300 * 1024, 1, &a, &eb),
        ERR_TOOBIG);
    assert_string_equal(eb.msg,
        "applet text is 307200 bytes; the limit is "
        "262144");
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(source_document_applet_prints_as_in_the_design),
        cmocka_unit_test(source_document_applet_model_has_the_mail_parameters),
        cmocka_unit_test(every_verb_survives_text_model_text),
        cmocka_unit_test(canonical_text_of_the_corpus_is_what_was_written),
        cmocka_unit_test(every_verb_of_the_corpus_is_parsed_with_its_params),
        cmocka_unit_test(tagged_events_keep_tags_and_correlate),
        cmocka_unit_test(several_events_without_correlate_get_or_of_all),
        cmocka_unit_test(labels_run_in_byte_order_not_numeric_order),
        cmocka_unit_test(reentering_a_label_replaces_the_action),
        cmocka_unit_test(escapes_in_quotes_are_undone_and_reprinted),
        cmocka_unit_test(comments_blank_lines_and_crlf_are_tolerated),
        cmocka_unit_test(unindented_lines_belong_to_the_applet),
        cmocka_unit_test(description_line_and_header_description_agree),
        cmocka_unit_test(router_only_actions_are_refused_by_name),
        cmocka_unit_test(info_type_routername_is_an_action),
        cmocka_unit_test(pasted_prompts_are_removed_and_counted),
        cmocka_unit_test(only_a_prompt_at_the_start_of_a_line_matches),
        cmocka_unit_test(header_options_print_in_canonical_order),
        cmocka_unit_test(var_names_are_letters_digits_and_underscore),
        cmocka_unit_test(limits_on_actions_and_text_are_enforced),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
