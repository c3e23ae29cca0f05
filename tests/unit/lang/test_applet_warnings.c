/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/lang/test_applet_warnings.c: save-time warnings: undefined
 * variables (the source document's unset $_email_cc), numeric labels that
 * run in byte order, and unbalanced if/while/foreach blocks.
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

/* The environment of the source document, without _email_cc;
 * _email_server holds a password (2: a secret). */
static int
design_env(void *ctx, const char *name)
{
    static const char *const defined[] = { "_email_from", "_email_to",
        "_email_server", NULL };
    size_t                   i;

    (void)ctx;
    if (strcmp(name, "_email_server") == 0)
        return 2;
    for (i = 0; defined[i] != NULL; i++)
        if (strcmp(defined[i], name) == 0)
            return 1;
    return 0;
}

static cJSON *
warnings_of(const char *text)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    cJSON             *w;

    memset(&eb, 0, sizeof(eb));
    if (eng_applet_parse(text, strlen(text), 1, &a, &eb) != 0)
        fail_msg("parse: %s", eb.msg);
    w = eng_applet_warnings(a, design_env, NULL);
    assert_non_null(w);
    assert_true(cJSON_IsArray(w));
    eng_applet_free(a);
    return w;
}

static const char *
field(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static void
unset_email_cc_of_the_source_document_is_warned(void **state)
{
    cJSON *w = warnings_of(
        "event manager applet SendSecureEmailEEM\n"
        " event none\n"
        " action 0010 mail server \"$_email_server\" to \"$_email_to\" from "
        "\"$_email_from\" cc \"$_email_cc\" subject \"This is my email "
        "subject\" body \"This is my email body.\" port 587 secure tls\n");
    cJSON *x;

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w), 1);
    x = cJSON_GetArrayItem(w, 0);
    assert_string_equal(field(x, "code"), "undefined_variable");
    assert_string_equal(field(x, "variable"), "_email_cc");
    assert_string_equal(field(x, "label"), "0010");
    assert_string_equal(field(x, "message"),
        "$_email_cc (action 0010 mail, "
        "cc) is undefined: the mail action would fail at run time. Define "
        "it with \"event manager environment _email_cc ...\" or remove "
        "\"cc\"");
    cJSON_Delete(w);
}

static void
a_secret_printed_or_mailed_is_warned_but_not_as_server_or_set(void **state)
{
    cJSON *w = warnings_of(
        "event manager applet S\n"
        " event none\n"
        " action 010 puts \"using $_email_server\"\n"
        " action 020 set copy \"$_email_server\"\n"
        " action 030 mail server \"$_email_server\" to \"$_email_to\" from "
        "\"$_email_from\" subject \"via ${_email_server}\" body \"b\"\n");
    cJSON *x;

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w), 2);
    x = cJSON_GetArrayItem(w, 0);
    assert_string_equal(field(x, "code"), "secret_variable");
    assert_string_equal(field(x, "label"), "010");
    assert_string_equal(field(x, "variable"), "_email_server");
    assert_string_equal(field(x, "message"),
        "$_email_server (action 010 "
        "puts, text) holds a secret: it is shown masked here "
        "(user:*****@host or *****); only a mail action's server receives "
        "its value");
    x = cJSON_GetArrayItem(w, 1);
    assert_string_equal(field(x, "code"), "secret_variable");
    assert_string_equal(field(x, "label"), "030");
    cJSON_Delete(w);
}

static void
implicit_tls_port_with_starttls_is_warned(void **state)
{
    cJSON *w = warnings_of(
        "event manager applet P\n"
        " event none\n"
        " action 1 mail server \"$_email_server\" to \"$_email_to\" from "
        "\"$_email_from\" subject s body b port 465 secure tls\n"
        " action 2 mail server \"$_email_server\" to \"$_email_to\" from "
        "\"$_email_from\" subject s body b port 587 secure implicit\n"
        " action 3 mail server \"$_email_server\" to \"$_email_to\" from "
        "\"$_email_from\" subject s body b port 465 secure implicit\n");
    cJSON *x;

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w), 2);
    x = cJSON_GetArrayItem(w, 0);
    assert_string_equal(field(x, "code"), "port_secure_mismatch");
    assert_string_equal(field(x, "label"), "1");
    assert_string_equal(field(x, "message"),
        "action 1: port 465 with "
        "secure tls: port 465 speaks TLS from the first byte (implicit "
        "TLS, RFC 8314), so this mail would wait for a greeting until it "
        "times out. Use \"secure implicit\"");
    x = cJSON_GetArrayItem(w, 1);
    assert_string_equal(field(x, "label"), "2");
    assert_non_null(strstr(field(x, "message"), "Use \"secure tls\""));
    cJSON_Delete(w);
}

static void
builtins_and_variables_the_applet_sets_are_not_warned(void **state)
{
    cJSON *w = warnings_of(
        "event manager applet B\n"
        " event syslog pattern \"down\"\n"
        " action 01 puts \"$_event_type $_syslog_msg $_none_arg1 $_none_argc "
        "$_timer_time $_webhook_body $_event_pub_sec\"\n"
        " action 02 puts \"$_regexp_result $_string_result $_result "
        "$_remainder $_error $_exit_status $_cli_result $_info_x\"\n"
        " action 03 set mine 1\n"
        " action 04 puts \"$mine ${mine} \\$notavar $ alone ^up$\"\n"
        " action 05 regexp \"(x)\" \"$_syslog_msg\" whole part\n"
        " action 06 puts \"$whole $part\"\n"
        " action 07 foreach it \"a b\"\n"
        " action 08  append acc \"$it\"\n"
        " action 09 end\n"
        " action 10 increment counter\n"
        " action 11 puts \"$acc $counter\"\n");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w), 0);
    cJSON_Delete(w);
}

static void
each_undefined_variable_is_warned_once_per_action(void **state)
{
    cJSON *w = warnings_of("event manager applet U\n"
                           " action 1 puts \"$nope $nope ${other}\"\n"
                           " action 2 puts \"$nope\"\n");
    cJSON *x;
    int    i, n;

    (void)state;
    n = cJSON_GetArraySize(w);
    assert_int_equal(n, 3);
    for (i = 0; i < n; i++) {
        x = cJSON_GetArrayItem(w, i);
        assert_string_equal(field(x, "code"), "undefined_variable");
    }
    assert_string_equal(field(cJSON_GetArrayItem(w, 0), "variable"), "nope");
    assert_string_equal(field(cJSON_GetArrayItem(w, 1), "variable"), "other");
    assert_string_equal(field(cJSON_GetArrayItem(w, 2), "label"), "2");
    cJSON_Delete(w);
}

static void
context_retrieve_of_unknown_variables_silences_undefined(void **state)
{
    cJSON *w = warnings_of("event manager applet C\n"
                           " action 1 context retrieve key k\n"
                           " action 2 puts \"$saved\"\n");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w), 0);
    cJSON_Delete(w);
}

static void
numeric_labels_out_of_numeric_order_are_warned(void **state)
{
    cJSON *w =
        warnings_of("event manager applet N\n"
                    " action 1 puts a\n action 2 puts b\n action 10 puts c\n");
    cJSON *x;

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w), 1);
    x = cJSON_GetArrayItem(w, 0);
    assert_string_equal(field(x, "code"), "label_order");
    assert_string_equal(field(x, "label"), "2");
    assert_string_equal(field(x, "message"),
        "numeric labels run in byte "
        "order, not numeric order: 1, 10, 2. Give the labels equal width "
        "(e.g. 0010, 0020, 0100) to run them in numeric order");
    cJSON_Delete(w);
}

static void
padded_or_non_numeric_labels_are_not_warned(void **state)
{
    cJSON *w = warnings_of(
        "event manager applet P\n"
        " action 0001 puts a\n action 0002 puts b\n action 0010 puts c\n"
        " action 0010.5 puts d\n");
    cJSON *w2 =
        warnings_of("event manager applet Q\n"
                    " action a puts a\n action 10 puts b\n action 2 puts c\n");

    (void)state;
    /* 0001 0002 0010 0010.5 is also numeric order */
    assert_int_equal(cJSON_GetArraySize(w), 0);
    assert_int_equal(cJSON_GetArraySize(w2), 0);
    cJSON_Delete(w);
    cJSON_Delete(w2);
}

static void
blocks_nest_by_byte_order_of_labels(void **state)
{
    /* written as if/puts/end with labels 1, 2, 10: the run order is
     * 1 (if), 10 (end), 2 (puts): the block is closed, but puts is out of
     * it; the label_order warning says why */
    cJSON *w =
        warnings_of("event manager applet O\n"
                    " action 1 if 1 eq 1\n action 2 puts x\n action 10 end\n");

    (void)state;
    /* run order 1 (if), 10 (puts), 2 (end), 3 (end) has one end too many:
     * the parser refuses it (test_applet_errors.c) */
    assert_int_equal(cJSON_GetArraySize(w), 1);
    assert_string_equal(field(cJSON_GetArrayItem(w, 0), "code"), "label_order");
    cJSON_Delete(w);
}

/* Unbalanced blocks are parse errors (test_applet_errors.c), not
 * warnings; balanced ones give none. */
static void
balanced_blocks_give_no_warning(void **state)
{
    cJSON *w2 = warnings_of(
        "event manager applet OK\n"
        " action 01 if 1 eq 1\n action 02 elseif 1 eq 2\n action 03 else\n"
        " action 04 end\n action 05 while 1 eq 1\n action 06 if 1 eq 1\n"
        " action 07 break\n action 08 end\n action 09 end\n");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(w2), 0);
    cJSON_Delete(w2);
}

static void
syslog_and_application_builtins_are_not_warned(void **state)
{
    cJSON *w = warnings_of(
        "event manager applet R\n"
        " event tag s syslog pattern \"UPDOWN\"\n"
        " event tag a application sub-system 798 type 1\n"
        " action 1 puts \"$_syslog_msg $_syslog_host $_syslog_source_ip "
        "$_syslog_facility $_syslog_subfacility $_syslog_mnemonic "
        "$_syslog_severity $_syslog_seq $_syslog_timestamp $_syslog_app "
        "$_syslog_pri\"\n"
        " action 2 puts \"$_application_sub_system $_application_type "
        "$_application_data1 $_application_data2 $_application_data3 "
        "$_application_data4\"\n"
        " action 3 puts \"$_syslog_mnemonik $_application_data5\"\n");

    (void)state;
    /* only the two misspelt names */
    assert_int_equal(cJSON_GetArraySize(w), 2);
    assert_string_equal(field(cJSON_GetArrayItem(w, 0), "variable"),
        "_syslog_mnemonik");
    assert_string_equal(field(cJSON_GetArrayItem(w, 1), "variable"),
        "_application_data5");
    cJSON_Delete(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unset_email_cc_of_the_source_document_is_warned),
        cmocka_unit_test(
            a_secret_printed_or_mailed_is_warned_but_not_as_server_or_set),
        cmocka_unit_test(implicit_tls_port_with_starttls_is_warned),
        cmocka_unit_test(builtins_and_variables_the_applet_sets_are_not_warned),
        cmocka_unit_test(each_undefined_variable_is_warned_once_per_action),
        cmocka_unit_test(
            context_retrieve_of_unknown_variables_silences_undefined),
        cmocka_unit_test(numeric_labels_out_of_numeric_order_are_warned),
        cmocka_unit_test(padded_or_non_numeric_labels_are_not_warned),
        cmocka_unit_test(blocks_nest_by_byte_order_of_labels),
        cmocka_unit_test(balanced_blocks_give_no_warning),
        cmocka_unit_test(syslog_and_application_builtins_are_not_warned),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
