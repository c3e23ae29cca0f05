/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_interp.c: the applet interpreter (engine/run/interp.c)
 * against applets parsed from CLI text, with fake hooks (no network, no
 * store): every action, control flow in byte-wise label order, undefined
 * variables with IOS's messages, handle-error, maxrun, cancel, exit, the
 * mail action and the source document's applet with and without $_email_cc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/lang/applet.h"
#include "engine/lang/applet_int.h" /* to build what the parser refuses */
#include "engine/run/interp.h"
#include "engine/mail/mail.h"

/* ---- fakes ------------------------------------------------------------ */

struct fake {
    const char *env[16][2]; /* environment name/value */
    int         mail_calls;
    int         mail_fail; /* fail this many calls first */
    char        req_server[256], req_to[256], req_from[256], req_cc[256];
    char        req_subject[256], req_body[256], req_secure[16];
    int         req_has_cc;
    unsigned    req_port;
    char        syslog[8][512];
    int         nsyslog;
    int         syslog_prio;
    cJSON      *contexts; /* key -> saved object */
    char        policy[128];
    atomic_int  cancel;
    int         cancel_on_syslog;
};

/* A variable whose name starts with "secret_" is marked secret. */
static char *
fake_env_get(void *ud, const char *name, int *secret)
{
    struct fake *f = ud;
    size_t       i;

    *secret = strncmp(name, "secret_", 7) == 0;
    for (i = 0; i < 16 && f->env[i][0] != NULL; i++)
        if (strcmp(f->env[i][0], name) == 0)
            return strdup(f->env[i][1]);
    return NULL;
}

static void
cpy(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s != NULL ? s : "");
}

static int
fake_mail(void *ud, const struct eng_mail_req *req, cJSON *trace,
    struct smtp_result *res)
{
    struct fake *f = ud;

    f->mail_calls++;
    cpy(f->req_server, sizeof(f->req_server), req->server);
    cpy(f->req_to, sizeof(f->req_to), req->to);
    cpy(f->req_from, sizeof(f->req_from), req->from);
    cpy(f->req_cc, sizeof(f->req_cc), req->cc);
    f->req_has_cc = req->cc != NULL;
    cpy(f->req_subject, sizeof(f->req_subject), req->subject);
    cpy(f->req_body, sizeof(f->req_body), req->body);
    cpy(f->req_secure, sizeof(f->req_secure), req->secure);
    f->req_port = req->port;
    cJSON_AddStringToObject(trace, "fake", "dialogue");
    if (f->mail_calls <= f->mail_fail) {
        res->rc = ERR_TLS;
        cpy(res->klass, sizeof(res->klass), "certificate_untrusted");
        cpy(res->message, sizeof(res->message),
            "The server's certificate chain is not trusted: issuer "
            "GTS Root R1 was not found.");
        cpy(res->advice, sizeof(res->advice),
            "Add a trustpoint holding GTS Root R1.");
        return ERR_TLS;
    }
    return 0;
}

static void
fake_syslog(void *ud, int prio, const char *line)
{
    struct fake *f = ud;

    f->syslog_prio = prio;
    if (f->nsyslog < 8)
        cpy(f->syslog[f->nsyslog++], sizeof(f->syslog[0]), line);
    if (f->cancel_on_syslog)
        atomic_store(&f->cancel, 1);
}

static int
fake_ctx_save(void *ud, const char *key, const cJSON *vars)
{
    struct fake *f = ud;

    if (f->contexts == NULL)
        f->contexts = cJSON_CreateObject();
    cJSON_DeleteItemFromObject(f->contexts, key);
    cJSON_AddItemToObject(f->contexts, key, cJSON_Duplicate(vars, 1));
    return 0;
}

static cJSON *
fake_ctx_retrieve(void *ud, const char *key)
{
    struct fake *f = ud;
    cJSON       *o;

    if (f->contexts == NULL
        || (o = cJSON_GetObjectItem(f->contexts, key)) == NULL)
        return NULL;
    return cJSON_Duplicate(o, 1);
}

static int
fake_policy(void *ud, const char *name, const char *args)
{
    struct fake *f = ud;

    snprintf(f->policy, sizeof(f->policy), "%s|%s", name,
        args != NULL ? args : "");
    return 0;
}

static struct eng_run_env
env_of(struct fake *f)
{
    struct eng_run_env e;

    memset(&e, 0, sizeof(e));
    e.env_get = fake_env_get;
    e.mail = fake_mail;
    e.syslog = fake_syslog;
    e.context_save = fake_ctx_save;
    e.context_retrieve = fake_ctx_retrieve;
    e.policy = fake_policy;
    e.ud = f;
    e.cancel = &f->cancel;
    return e;
}

static struct eng_applet *
parse(const char *body)
{
    char               text[16384];
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    int                rc;

    memset(&eb, 0, sizeof(eb));
    snprintf(text, sizeof(text), "event manager applet T\n%s", body);
    rc = eng_applet_parse(text, strlen(text), 1, &a, &eb);
    if (rc != 0)
        fail_msg("parse failed: %s (line %d)", eb.msg, eb.line);
    return a;
}

/* Runs body with fake f; returns the result (clear it). */
static void
run_with(struct fake *f, double maxrun, const char *body,
    struct eng_run_result *r)
{
    struct eng_applet *a = parse(body);
    struct eng_run_env e = env_of(f);
    struct eng_kv      kv[] = { { "_event_type_string", "none" },
             { "_none_argc", "1" }, { "_none_arg1", "first" } };

    e.maxrun = maxrun;
    assert_int_equal(eng_interp_run(a, kv, 3, &e, r), 0);
    eng_applet_free(a);
}

static void
run(const char *body, struct eng_run_result *r)
{
    struct fake f;

    memset(&f, 0, sizeof(f));
    run_with(&f, 0, body, r);
}

static const char *
out_str(const struct eng_run_result *r)
{
    return buf_str(&r->output);
}

/* The trace entry for label (the last one if it ran several times). */
static const cJSON *
trace_entry(const struct eng_run_result *r, const char *label)
{
    const cJSON *e, *found = NULL;

    cJSON_ArrayForEach(e, r->trace)
    {
        const cJSON *l = cJSON_GetObjectItem(e, "label");

        if (cJSON_IsString(l) && strcmp(l->valuestring, label) == 0)
            found = e;
    }
    return found;
}

static const char *
entry_str(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(e, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- expansion -------------------------------------------------------- */

static char *
lk(void *ud, const char *name, char **shown)
{
    (void)ud;
    if (strcmp(name, "srv") == 0) {
        *shown = strdup("u:*****@mx");
        return strdup("u:pw@mx");
    }
    if (strcmp(name, "host") == 0)
        return strdup("mx1");
    if (strcmp(name, "h") == 0)
        return strdup("H");
    return NULL;
}

static void
expand_should_replace_names_and_keep_a_lone_dollar(void **state)
{
    struct errbuf eb;
    char         *s;

    (void)state;
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_expand("to $host, ${h}ost, ^up$ 5$ \\$host $", lk,
                         NULL, 0, &s, &eb),
        0);
    assert_string_equal(s, "to mx1, Host, ^up$ 5$ $host $");
    free(s);
    /* longest match: $hostname is not $host + "name" */
    assert_int_equal(eng_expand("$hostname", lk, NULL, 0, &s, &eb), ERR_INVAL);
    assert_null(s);
    assert_string_equal(eb.code, "undefined_variable");
    assert_string_equal(eb.msg,
        "%HA_EM-3-FMPD_UNKNOWN_ENV: could not find "
        "environment variable: hostname");
    /* "${" without a name and "}" stays literal */
    assert_int_equal(eng_expand("${ x} ${h", lk, NULL, 0, &s, &eb), 0);
    assert_string_equal(s, "${ x} ${h");
    free(s);
}

static void
expand_should_show_a_secret_masked_unless_revealed(void **state)
{
    struct errbuf eb;
    char         *s;

    (void)state;
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_expand("via ${srv} to $host", lk, NULL, 0, &s, &eb),
        0);
    assert_string_equal(s, "via u:*****@mx to mx1");
    free(s);
    assert_int_equal(eng_expand("via ${srv} to $host", lk, NULL, 1, &s, &eb),
        0);
    assert_string_equal(s, "via u:pw@mx to mx1");
    free(s);
}

static void
secret_shown_should_mask_server_passwords_and_marked_values(void **state)
{
    int   oom = 0;
    char *s;

    (void)state;
    s = eng_secret_shown("relay@corp:pa55@smtp.example.com:587", 0, &oom);
    assert_string_equal(s, "relay@corp:*****@smtp.example.com:587");
    free(s);
    s = eng_secret_shown("hunter2", 1, &oom);
    assert_string_equal(s, "*****");
    free(s);
    s = eng_secret_shown("relay:pa55@smtp.example.com", 1, &oom);
    assert_string_equal(s, "relay:*****@smtp.example.com");
    free(s);
    assert_null(eng_secret_shown("smtp.example.com", 0, &oom));
    assert_null(eng_secret_shown("relay@smtp.example.com", 0, &oom));
    assert_int_equal(oom, 0);
}

/* Issue 11: $_email_server expanded to user:password@host in puts, syslog,
 * set, string and mail subject/body. Only mail server may see it whole. */
static void
secrets_should_reach_only_the_mail_server(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    const char           *out;
    char                  ctx[2048];
    int                   i;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.env[0][0] = "_email_server";
    f.env[0][1] = "relay:pa55word@smtp.example.com";
    f.env[1][0] = "secret_token";
    f.env[1][1] = "t0ps3cret";
    f.contexts = cJSON_CreateObject();
    run_with(&f, 0,
        " action 010 puts \"server $_email_server token $secret_token\"\n"
        " action 020 syslog msg \"via $_email_server\"\n"
        " action 030 set copy \"$_email_server\"\n"
        " action 040 puts \"copy $copy\"\n"
        " action 050 string toupper \"$copy\"\n"
        " action 060 puts \"upper $_string_result\"\n"
        " action 070 append copy \"!\"\n"
        " action 080 puts \"appended $copy\"\n"
        " action 090 set copy \"$_email_server\"\n"
        " action 100 context save key k variable copy\n"
        " action 110 mail server \"$copy\" to a@example.com from "
        "b@example.com subject \"s $_email_server\" body \"b $secret_token\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    out = buf_str(&r.output);
    assert_non_null(strstr(out,
        "server relay:*****@smtp.example.com token "
        "*****"));
    assert_non_null(strstr(out, "copy relay:*****@smtp.example.com"));
    assert_non_null(strstr(out, "upper RELAY:*****@SMTP.EXAMPLE.COM"));
    assert_non_null(strstr(out, "appended relay:*****@smtp.example.com!"));
    assert_null(strstr(out, "pa55word"));
    assert_null(strstr(out, "PA55WORD"));
    assert_null(strstr(out, "t0ps3cret"));
    for (i = 0; i < f.nsyslog; i++)
        assert_null(strstr(f.syslog[i], "pa55word"));
    assert_true(f.nsyslog >= 1);
    assert_non_null(strstr(f.syslog[0], "relay:*****@smtp.example.com"));
    cJSON_PrintPreallocated(f.contexts, ctx, sizeof(ctx), 0);
    assert_null(strstr(ctx, "pa55word"));
    /* the copy made by set still works as a mail server */
    assert_string_equal(f.req_server, "relay:pa55word@smtp.example.com");
    assert_string_equal(f.req_subject, "s relay:*****@smtp.example.com");
    assert_string_equal(f.req_body, "b *****");
    cJSON_Delete(f.contexts);
    eng_run_result_clear(&r);
}

/* ---- variables, output, order ------------------------------------------ */

static void
set_append_increment_should_build_locals(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 010 set $x \"a\"\n"
        " action 020 append x \"b$_none_arg1\"\n"
        " action 030 set n \"5\"\n"
        " action 040 increment n\n"
        " action 050 increment n 10\n"
        " action 060 decrement n 3\n"
        " action 070 decrement n\n"
        " action 080 puts \"$x $n\"\n"
        " action 090 puts nonewline \"no\"\n"
        " action 100 puts \"-end\"\n"
        " action 110 puts \"${x}y \\$x cost 5$\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r),
        "abfirst 12\nno-end\nabfirsty $x cost 5$\n");
    assert_string_equal(eng_run_status_name(r.status), "success");
    eng_run_result_clear(&r);
}

static void
locals_should_shadow_environment_and_builtins_stay_read_only(void **state)
{
    struct fake           f;
    struct eng_run_result r;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.env[0][0] = "site";
    f.env[0][1] = "paris";
    run_with(&f, 0,
        " event none\n"
        " action 1 puts \"$site\"\n"
        " action 2 set site \"lyon\"\n"
        " action 3 puts \"$site $_event_pub_sec\"\n"
        " action 4 set _none_arg1 \"changed\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "4");
    assert_string_equal(r.error_class, "read_only_variable");
    assert_non_null(strstr(r.error, "_none_arg1"));
    /* $_event_pub_sec is provided although the caller did not pass it */
    assert_int_equal(strncmp(out_str(&r), "paris\nlyon ", 11), 0);
    assert_true(atol(out_str(&r) + 11) > 1600000000L);
    eng_run_result_clear(&r);
}

static void
actions_should_run_in_bytewise_label_order(void **state)
{
    struct eng_run_result r;

    (void)state;
    /* "1" < "10" < "2": 10 runs before 2 */
    run(" event none\n"
        " action 1 puts \"one\"\n"
        " action 2 puts \"two\"\n"
        " action 10 puts \"ten\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "one\nten\ntwo\n");
    eng_run_result_clear(&r);

    /* the "end" at label 2 closes the "if" at label 10, so label 15 is
     * inside the block (numerically, 2 would be an end without if) */
    run(" event none\n"
        " action 1 set x \"a\"\n"
        " action 2 end\n"
        " action 10 if $x eq \"b\"\n"
        " action 15 puts \"inside\"\n"
        " action 3 puts \"after\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "after\n");
    eng_run_result_clear(&r);
}

/* An applet whose blocks do not balance, as text an older herald stored
 * (the parser refuses it now): verbs[i] at label "0010", "0020", ... */
static struct eng_applet *
unbalanced(const char *const *verbs, const char *const *labels, size_t n)
{
    struct eng_applet   *a = applet_new();
    struct applet_action act;
    size_t               i;

    assert_non_null(a);
    assert_non_null(a->name = strdup("T"));
    for (i = 0; i < n; i++) {
        memset(&act, 0, sizeof(act));
        act.def = gram_verb(verbs[i]);
        assert_non_null(act.def);
        act.label = strdup(labels[i]);
        if (strcmp(verbs[i], "if") == 0 || strcmp(verbs[i], "elseif") == 0) {
            act.val[0] = strdup("1");
            act.val[1] = strdup("eq");
            act.val[2] = strdup("1");
        } else if (strcmp(verbs[i], "puts") == 0) {
            act.val[1] = strdup("x");
        }
        assert_int_equal(applet_put_action(a, &act), 0);
    }
    return a;
}

static void
run_applet(struct eng_applet *a, struct eng_run_result *r)
{
    struct fake        f;
    struct eng_run_env e;

    memset(&f, 0, sizeof(f));
    e = env_of(&f);
    assert_int_equal(eng_interp_run(a, NULL, 0, &e, r), 0);
    eng_applet_free(a);
}

static void
unbalanced_blocks_should_fail_before_running(void **state)
{
    static const char *const v1[] = { "puts", "end" };
    static const char *const l1[] = { "0010", "0040" };
    static const char *const v2[] = { "if", "puts" };
    static const char *const l2[] = { "0010", "0020" };
    static const char *const v3[] = { "break" };
    static const char *const l3[] = { "0010" };
    static const char *const v4[] = { "if", "else", "elseif", "end" };
    static const char *const l4[] = { "1", "2", "3", "4" };
    struct eng_run_result    r;

    (void)state;
    run_applet(unbalanced(v1, l1, 2), &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "0040");
    assert_string_equal(r.error_class, "unbalanced_block");
    assert_non_null(
        strstr(r.error, "label 0040: end without if/while/foreach"));
    assert_string_equal(out_str(&r), "");
    assert_non_null(strstr(r.error,
        "statement 0040\nClose every if, while "
        "and foreach with an end in label byte order and save the applet "
        "again."));
    eng_run_result_clear(&r);

    run_applet(unbalanced(v2, l2, 2), &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "0010");
    assert_non_null(strstr(r.error, "label 0010: if without end"));
    eng_run_result_clear(&r);

    run_applet(unbalanced(v3, l3, 1), &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_non_null(strstr(r.error, "break outside while/foreach"));
    eng_run_result_clear(&r);

    run_applet(unbalanced(v4, l4, 4), &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "3");
    assert_non_null(strstr(r.error, "elseif after else"));
    eng_run_result_clear(&r);
}

/* ---- errors ------------------------------------------------------------ */

static void
undefined_variable_should_abort_with_ios_messages(void **state)
{
    struct eng_run_result r;
    const cJSON          *e;

    (void)state;
    run(" event none\n"
        " action 0010 puts \"before\"\n"
        " action 0020 puts \"$nosuch\"\n"
        " action 0030 puts \"after\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(eng_run_status_name(r.status), "abort");
    assert_string_equal(r.failed_label, "0020");
    assert_string_equal(r.error_class, "undefined_variable");
    assert_non_null(strstr(r.error,
        "%HA_EM-3-FMPD_UNKNOWN_ENV: could not "
        "find environment variable: nosuch"));
    assert_non_null(strstr(r.error,
        "%HA_EM-3-FMPD_ERROR: Error executing "
        "applet T statement 0020"));
    assert_string_equal(out_str(&r), "before\n");
    e = trace_entry(&r, "0020");
    assert_non_null(e);
    assert_string_equal(entry_str(e, "outcome"), "error");
    assert_string_equal(entry_str(e, "error_class"), "undefined_variable");
    assert_string_equal(entry_str(e, "action"), "puts");
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(e, "ms")));
    assert_null(trace_entry(&r, "0030"));
    assert_string_equal(entry_str(trace_entry(&r, "0010"), "outcome"), "ok");
    eng_run_result_clear(&r);
}

static void
handle_error_ignore_should_set_error_and_go_on(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 0010 handle-error type ignore\n"
        " action 0020 puts \"$nosuch\"\n"
        " action 0030 puts \"went on: $_error\"\n"
        " action 0040 divide 1 0\n"
        " action 0050 puts \"$_error\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_non_null(strstr(out_str(&r),
        "went on: %HA_EM-3-FMPD_UNKNOWN_ENV: "
        "could not find environment variable: nosuch\n"));
    assert_non_null(strstr(out_str(&r), "division by zero"));
    assert_string_equal(entry_str(trace_entry(&r, "0020"), "outcome"), "error");
    eng_run_result_clear(&r);
}

static void
handle_error_retry_should_repeat_then_fail(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    double                t0;
    const char           *body =
        " event none\n"
        " action 0010 handle-error type retry count 2 delay 0.05\n"
        " action 0020 mail server \"mx\" to \"a@b.example\" from "
        "\"c@d.example\" subject \"s\" body \"b\"\n"
        " action 0030 puts \"sent\"\n";

    (void)state;
    memset(&f, 0, sizeof(f));
    f.mail_fail = 2; /* two failures, the third try works */
    t0 = mono();
    run_with(&f, 0, body, &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_int_equal(f.mail_calls, 3);
    assert_true(mono() - t0 >= 0.09); /* two delays of 0.05 s */
    assert_string_equal(out_str(&r), "sent\n");
    eng_run_result_clear(&r);

    memset(&f, 0, sizeof(f));
    f.mail_fail = 100;
    run_with(&f, 0, body, &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_int_equal(f.mail_calls, 3); /* 1 + count 2 */
    assert_string_equal(r.failed_label, "0020");
    assert_string_equal(r.error_class, "certificate_untrusted");
    eng_run_result_clear(&r);
}

/* ---- arithmetic, comparisons ------------------------------------------ */

static void
arithmetic_should_set_result_and_remainder(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 1 add 40 2\n action 2 puts \"$_result\"\n"
        " action 3 subtract 2 -5\n action 4 puts \"$_result\"\n"
        " action 5 multiply 6 7\n action 6 puts \"$_result\"\n"
        " action 7 divide 17 5\n action 8 puts \"$_result r $_remainder\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "42\n7\n42\n3 r 2\n");
    eng_run_result_clear(&r);
}

static void
arithmetic_errors_should_name_the_value(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n action 1 set v \"12abc\"\n action 2 add $v 1\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "2");
    assert_non_null(strstr(r.error, "not an integer: \"12abc\""));
    eng_run_result_clear(&r);

    run(" event none\n action 1 set z \"0\"\n action 2 divide 10 $z\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_non_null(strstr(r.error, "division by zero"));
    eng_run_result_clear(&r);

    run(" event none\n action 1 set n \"x\"\n action 2 increment n\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_non_null(strstr(r.error, "not an integer: \"x\""));
    eng_run_result_clear(&r);

    run(" event none\n action 1 multiply 9223372036854775807 2\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_non_null(strstr(r.error, "overflow"));
    eng_run_result_clear(&r);
}

static void
if_elseif_else_should_pick_one_branch(void **state)
{
    struct eng_run_result r;
    const char           *tmpl = " event none\n"
                                 " action 10 set v \"%s\"\n"
                                 " action 20 if $v eq \"abc\"\n"
                                 " action 21  puts \"abc\"\n"
                                 " action 30 elseif $v gt 9\n"
                                 " action 31  puts \"big\"\n"
                                 " action 40 else\n"
                                 " action 41  puts \"other\"\n"
                                 " action 50 end\n"
                                 " action 60 puts \"done\"\n";
    char                  body[1024];

    (void)state;
    /* 10 gt 9 as integers (as strings "10" < "9") */
    snprintf(body, sizeof(body), tmpl, "10");
    run(body, &r);
    assert_string_equal(out_str(&r), "big\ndone\n");
    /* the else after the taken branch is passed over, not entered */
    assert_string_equal(entry_str(trace_entry(&r, "30"), "outcome"), "ok");
    assert_string_equal(entry_str(trace_entry(&r, "40"), "outcome"), "skipped");
    assert_null(trace_entry(&r, "41"));
    eng_run_result_clear(&r);
    snprintf(body, sizeof(body), tmpl, "abc");
    run(body, &r);
    assert_string_equal(out_str(&r), "abc\ndone\n");
    eng_run_result_clear(&r);
    snprintf(body, sizeof(body), tmpl, "3");
    run(body, &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "other\ndone\n");
    eng_run_result_clear(&r);
}

static void
comparisons_should_use_integers_only_when_both_are(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 01 if 10 gt 9\n action 02 puts \"int\"\n action 03 end\n"
        " action 04 if \"10a\" lt \"9\"\n action 05 puts \"str\"\n"
        " action 06 end\n"
        " action 07 if \"b\" ge \"a\"\n action 08 puts \"ge\"\n"
        " action 09 end\n"
        " action 10 if -3 le -3\n action 11 puts \"le\"\n action 12 end\n"
        " action 13 if \"x\" ne \"x\"\n action 14 puts \"ne\"\n"
        " action 15 end\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "int\nstr\nge\nle\n");
    eng_run_result_clear(&r);
}

/* ---- loops ------------------------------------------------------------- */

static void
foreach_should_split_on_whitespace_or_delimiter(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 10 foreach h \"  mx1 mx2\tmx3 \"\n"
        " action 11  puts nonewline \"[$h]\"\n"
        " action 12 end\n"
        " action 20 foreach $p \"a,b;c,,d\" \",;\"\n"
        " action 21  puts nonewline \"<$p>\"\n"
        " action 22 end\n"
        " action 30 puts \"\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "[mx1][mx2][mx3]<a><b><c><><d>\n");
    eng_run_result_clear(&r);
}

static void
while_should_honour_break_and_continue(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 10 set i \"0\"\n"
        " action 20 while $i lt 100\n"
        " action 21  increment i\n"
        " action 22  if $i eq 2\n"
        " action 23   continue\n"
        " action 24  end\n"
        " action 25  if $i gt 4\n"
        " action 26   break\n"
        " action 27  end\n"
        " action 28  puts nonewline \"$i \"\n"
        " action 29 end\n"
        " action 30 puts \"i=$i\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "1 3 4 i=5\n");
    eng_run_result_clear(&r);
}

static void
nested_loops_should_restart_inner_foreach(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 10 foreach a \"1 2\"\n"
        " action 11  foreach b \"x y\"\n"
        " action 12   if $b eq \"y\"\n"
        " action 13    break\n"
        " action 14   end\n"
        " action 15   puts nonewline \"$a$b \"\n"
        " action 16  end\n"
        " action 17 end\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "1x 2x ");
    eng_run_result_clear(&r);
}

static void
trace_should_be_capped(void **state)
{
    struct eng_run_result r;
    const cJSON          *last;

    (void)state;
    run(" event none\n"
        " action 1 set i 0\n"
        " action 2 while $i lt 6000\n"
        " action 3  increment i\n"
        " action 4 end\n"
        " action 5 puts \"$i\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), "6000\n");
    assert_int_equal(cJSON_GetArraySize(r.trace), 10001);
    last = cJSON_GetArrayItem(r.trace, 10000);
    assert_string_equal(entry_str(last, "action"), "truncated");
    eng_run_result_clear(&r);
}

static void
output_should_be_capped_at_64k(void **state)
{
    struct eng_run_result r;

    (void)state;
    /* 200 lines of 1 KiB: 200 KiB asked, 64 KiB kept, and the run goes on */
    run(" event none\n"
        " action 1 set line \"\"\n"
        " action 2 foreach w \"a b c d e f g h i j k l m n o p\"\n"
        " action 3  append line \"0123456789abcdef0123456789abcdef0123456789"
        "abcdef0123456789abcdef\"\n"
        " action 4 end\n"
        " action 5 set i 0\n"
        " action 6 while $i lt 200\n"
        " action 7  puts nonewline \"$line\"\n"
        " action 8  increment i\n"
        " action 9 end\n"
        " action 91 puts \"i=$i\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_true(r.output.len >= 65536 && r.output.len < 65536 + 100);
    assert_non_null(strstr(out_str(&r), "[output truncated at 65536 bytes]"));
    assert_null(strstr(out_str(&r), "i=200"));
    eng_run_result_clear(&r);
}

/* ---- regexp and strings ----------------------------------------------- */

static void
regexp_should_capture_submatches(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n"
        " action 1 regexp \"^Interface ([A-Za-z]+)([0-9/]+), changed "
        "state to (up|down)$\" \"Interface Gi1/0/2, changed state to down\" "
        "all name num st\n"
        " action 2 puts \"$_regexp_result|$all|$name|$num|$st\"\n"
        " action 3 regexp \"x+\" \"abc\" m\n"
        " action 4 puts \"$_regexp_result\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r),
        "1|Interface Gi1/0/2, changed state to "
        "down|Gi|1/0/2|down\n0\n");
    eng_run_result_clear(&r);

    run(" event none\n action 1 regexp \"a(b\" \"ab\"\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.error_class, "invalid_regexp");
    assert_non_null(strstr(r.error, "bad pattern \"a(b\""));
    eng_run_result_clear(&r);
}

/* Runs one string action and returns $_string_result in buf. */
static void
string_op(const char *action, char *buf, size_t n)
{
    char                  body[1024];
    struct eng_run_result r;

    snprintf(body, sizeof(body),
        " event none\n action 1 string %s\n"
        " action 2 puts nonewline \"$_string_result\"\n",
        action);
    run(body, &r);
    if (r.status != ENG_RUN_SUCCESS)
        fail_msg("string %s failed: %s", action, r.error);
    snprintf(buf, n, "%s", out_str(&r));
    eng_run_result_clear(&r);
}

#define assert_string_op(action, expect)                                       \
    do {                                                                       \
        char got_[512];                                                        \
        string_op(action, got_, sizeof(got_));                                 \
        assert_string_equal(got_, expect);                                     \
    } while (0)

static void
string_ops_should_follow_tcl(void **state)
{
    (void)state;
    assert_string_op("compare \"abc\" \"abd\"", "-1");
    assert_string_op("compare \"b\" \"a\"", "1");
    assert_string_op("compare nocase \"ABC\" \"abc\"", "0");
    assert_string_op("equal \"a\" \"a\"", "1");
    assert_string_op("equal \"a\" \"A\"", "0");
    assert_string_op("equal nocase \"a\" \"A\"", "1");
    assert_string_op("first \"o\" \"foo boo\"", "1");
    assert_string_op("first \"o\" \"foo boo\" 3", "5");
    assert_string_op("first \"z\" \"foo\"", "-1");
    assert_string_op("last \"o\" \"foo boo\"", "6");
    assert_string_op("last \"o\" \"foo boo\" 4", "2");
    assert_string_op("index \"abc\" 1", "b");
    assert_string_op("index \"abc\" end", "c");
    assert_string_op("index \"abc\" 7", "");
    assert_string_op("length \"hello\"", "5");
    assert_string_op("length \"\"", "0");
    assert_string_op("match \"Gi*/0/?\" \"Gi1/0/2\"", "1");
    assert_string_op("match \"gi*\" \"Gi1\"", "0");
    assert_string_op("match nocase \"gi*\" \"Gi1\"", "1");
    assert_string_op("range \"abcdef\" 1 3", "bcd");
    assert_string_op("range \"abcdef\" 4 end", "ef");
    assert_string_op("range \"abcdef\" -5 1", "ab");
    assert_string_op("range \"abcdef\" 3 1", "");
    assert_string_op("replace \"abcdef\" 1 2 \"XY Z\"", "aXY Zdef");
    assert_string_op("replace \"abcdef\" 1 end", "a");
    assert_string_op("replace \"abc\" 5 7 \"x\"", "abc");
    assert_string_op("tolower \"HeLLo\"", "hello");
    assert_string_op("toupper \"hello\" 1 end-1", "hELLo");
    assert_string_op("toupper \"hello\" 0", "Hello");
    assert_string_op("trim \"  pad \"", "pad");
    assert_string_op("trimleft \"xxpadxx\" \"x\"", "padxx");
    assert_string_op("trimright \"xxpadxy\" \"yx\"", "xxpad");
}

static void
string_op_with_bad_index_should_say_so(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n action 1 string range \"abc\" \"one\" 2\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_non_null(strstr(r.error, "bad index \"one\""));
    eng_run_result_clear(&r);
}

/* ---- time ------------------------------------------------------------- */

static void
maxrun_should_stop_a_long_wait(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    double                t0;

    (void)state;
    memset(&f, 0, sizeof(f));
    t0 = mono();
    run_with(&f, 0.2,
        " event none\n action 1 puts \"a\"\n"
        " action 2 wait 30\n action 3 puts \"b\"\n",
        &r);
    assert_true(mono() - t0 < 2.0);
    assert_int_equal(r.status, ENG_RUN_TIMEOUT);
    assert_string_equal(eng_run_status_name(r.status), "timeout");
    assert_string_equal(r.failed_label, "2");
    assert_string_equal(out_str(&r), "a\n");
    eng_run_result_clear(&r);
}

static void
maxrun_should_stop_an_endless_while(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    double                t0;

    (void)state;
    memset(&f, 0, sizeof(f));
    t0 = mono();
    run_with(&f, 0.2,
        " event none\n action 1 while 1 eq 1\n"
        " action 2  comment spin\n action 3 end\n",
        &r);
    assert_true(mono() - t0 < 2.0);
    assert_int_equal(r.status, ENG_RUN_TIMEOUT);
    assert_true(r.failed_label[0] != '\0');
    eng_run_result_clear(&r);
}

static void
event_maxrun_should_win_over_the_default(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    double                t0;

    (void)state;
    memset(&f, 0, sizeof(f));
    t0 = mono();
    run_with(&f, 60, " event none maxrun 0.3\n action 1 wait 20\n", &r);
    assert_true(mono() - t0 < 2.0);
    assert_int_equal(r.status, ENG_RUN_TIMEOUT);
    eng_run_result_clear(&r);

    /* a short wait within maxrun completes */
    memset(&f, 0, sizeof(f));
    t0 = mono();
    run_with(&f, 5,
        " event none\n action 1 wait 0.1\n action 2 puts "
        "\"ok\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_true(mono() - t0 >= 0.09);
    assert_string_equal(out_str(&r), "ok\n");
    eng_run_result_clear(&r);
}

static void *
cancel_later(void *arg)
{
    struct fake    *f = arg;
    struct timespec ts = { 0, 100 * 1000 * 1000 };

    nanosleep(&ts, NULL);
    atomic_store(&f->cancel, 1);
    return NULL;
}

static void
cancel_should_stop_the_run(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    pthread_t             th;
    double                t0;

    (void)state;
    memset(&f, 0, sizeof(f));
    t0 = mono();
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &f), 0);
    run_with(&f, 0,
        " event none\n action 1 puts \"a\"\n"
        " action 2 wait 30\n action 3 puts \"never\"\n",
        &r);
    pthread_join(th, NULL);
    assert_true(mono() - t0 < 2.0);
    assert_int_equal(r.status, ENG_RUN_CANCELLED);
    assert_string_equal(eng_run_status_name(r.status), "cancelled");
    assert_string_equal(out_str(&r), "a\n");
    eng_run_result_clear(&r);

    /* a hook that cancels: the next action does not start */
    memset(&f, 0, sizeof(f));
    f.cancel_on_syslog = 1;
    run_with(&f, 0,
        " event none\n action 1 syslog msg \"x\"\n"
        " action 2 puts \"never\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_CANCELLED);
    assert_string_equal(r.failed_label, "2");
    assert_string_equal(out_str(&r), "");
    eng_run_result_clear(&r);
}

/* ---- exit, syslog, context, policy ------------------------------------ */

static void
exit_should_end_successfully_with_status(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n action 1 puts \"a\"\n action 2 exit 3\n"
        " action 3 puts \"b\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_int_equal(r.exit_status, 3);
    assert_string_equal(out_str(&r), "a\n");
    eng_run_result_clear(&r);

    run(" event none\n action 1 set _exit_status 7\n", &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_int_equal(r.exit_status, 7);
    eng_run_result_clear(&r);
}

static void
syslog_should_format_the_ios_line(void **state)
{
    struct fake           f;
    struct eng_run_result r;

    (void)state;
    memset(&f, 0, sizeof(f));
    run_with(&f, 0,
        " event none\n action 1 syslog msg \"arg=$_none_arg1\"\n"
        " action 2 syslog priority critical msg \"bad\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_int_equal(f.nsyslog, 2);
    assert_string_equal(f.syslog[0], "%HA_EM-6-LOG: T: arg=first");
    assert_string_equal(f.syslog[1], "%HA_EM-2-LOG: T: bad");
    assert_int_equal(f.syslog_prio, 2);
    eng_run_result_clear(&r);
}

static void
context_should_save_and_retrieve_matching_locals(void **state)
{
    struct fake           f;
    struct eng_run_result r;

    (void)state;
    memset(&f, 0, sizeof(f));
    run_with(&f, 0,
        " event none\n action 1 set cnt_a \"1\"\n"
        " action 2 set cnt_b \"2\"\n action 3 set other \"3\"\n"
        " action 4 context save key k1 variable \"cnt_*\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    eng_run_result_clear(&r);
    run_with(&f, 0,
        " event none\n action 1 context retrieve key k1\n"
        " action 2 puts \"$cnt_a $cnt_b\"\n action 3 puts \"$other\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(out_str(&r), "1 2\n");
    assert_string_equal(r.failed_label, "3"); /* other was not saved */
    eng_run_result_clear(&r);
    run_with(&f, 0, " event none\n action 1 context retrieve key nokey\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.error_class, "context_not_found");
    eng_run_result_clear(&r);
    cJSON_Delete(f.contexts);
}

static void
policy_and_publish_should_reach_hook_and_trace(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    const cJSON          *e;

    (void)state;
    memset(&f, 0, sizeof(f));
    run_with(&f, 0,
        " event none\n action 1 policy Other a $_none_arg1\n"
        " action 2 publish-event sub-system 798 type 1 arg1 \"x$_none_argc\"\n"
        " action 3 comment nothing $at all\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(f.policy, "Other|a first");
    e = cJSON_GetObjectItem(trace_entry(&r, "2"), "event");
    assert_non_null(e);
    assert_string_equal(entry_str(e, "arg1"), "x1");
    eng_run_result_clear(&r);
}

/* ---- mail ------------------------------------------------------------- */

static const char *design_applet =
    " event none\n"
    " action 0010 mail server \"$_email_server\" to \"$_email_to\" from "
    "\"$_email_from\" cc \"$_email_cc\" subject \"This is my email subject\" "
    "body \"This is my email body.\" port 587 secure tls\n";

static void
design_env(struct fake *f)
{
    f->env[0][0] = "_email_from";
    f->env[0][1] = "alerts@example.com";
    f->env[1][0] = "_email_to";
    f->env[1][1] = "noc@example.com";
    f->env[2][0] = "_email_server";
    f->env[2][1] = "alerts@example.com:app-password@smtp.gmail.com";
}

static void
design_applet_should_fail_on_unset_email_cc(void **state)
{
    struct fake           f;
    struct eng_run_result r;

    (void)state;
    memset(&f, 0, sizeof(f));
    design_env(&f);
    run_with(&f, 0, design_applet, &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "0010");
    assert_string_equal(r.error_class, "undefined_variable");
    assert_non_null(strstr(r.error,
        "could not find environment variable: "
        "_email_cc"));
    assert_non_null(strstr(r.error,
        "Error executing applet T statement "
        "0010"));
    /* the IOS lines, then the fix in one sentence */
    assert_string_equal(r.error,
        "%HA_EM-3-FMPD_UNKNOWN_ENV: could not find "
        "environment variable: _email_cc\n"
        "%HA_EM-3-FMPD_ERROR: Error executing applet T statement 0010\n"
        "Set the environment variable _email_cc (PUT "
        "/api/v1/environment/_email_cc), or remove it from action 0010.");
    assert_int_equal(f.mail_calls, 0);
    eng_run_result_clear(&r);
}

static void
info_routername_should_set_the_host_name(void **state)
{
    struct eng_run_result r;
    char                  host[256], want[300];

    (void)state;
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    host[sizeof(host) - 1] = '\0';
    snprintf(want, sizeof(want), "%s\n", host);
    run(" event none\n action 0010 info type routername\n"
        " action 0020 puts \"$_info_routername\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_string_equal(out_str(&r), want);
    eng_run_result_clear(&r);
}

static void
an_undefined_counter_should_name_its_fix(void **state)
{
    struct eng_run_result r;

    (void)state;
    run(" event none\n action 0010 increment n\n", &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_non_null(strstr(r.error,
        "\nSet the environment variable n (PUT "
        "/api/v1/environment/n), or remove it from action 0010."));
    eng_run_result_clear(&r);
}

static void
design_applet_should_send_once_email_cc_is_defined(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    const cJSON          *e;

    (void)state;
    memset(&f, 0, sizeof(f));
    design_env(&f);
    f.env[3][0] = "_email_cc";
    f.env[3][1] = "oncall@example.com";
    run_with(&f, 0, design_applet, &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_int_equal(f.mail_calls, 1);
    assert_string_equal(f.req_server,
        "alerts@example.com:app-password@smtp.gmail.com");
    assert_string_equal(f.req_to, "noc@example.com");
    assert_string_equal(f.req_from, "alerts@example.com");
    assert_string_equal(f.req_cc, "oncall@example.com");
    assert_string_equal(f.req_subject, "This is my email subject");
    assert_string_equal(f.req_body, "This is my email body.");
    assert_int_equal(f.req_port, 587);
    assert_string_equal(f.req_secure, "tls");
    e = trace_entry(&r, "0010");
    assert_string_equal(entry_str(e, "outcome"), "ok");
    assert_non_null(cJSON_GetObjectItem(e, "smtp"));
    eng_run_result_clear(&r);
}

static void
mail_without_cc_should_pass_no_cc(void **state)
{
    struct fake           f;
    struct eng_run_result r;

    (void)state;
    memset(&f, 0, sizeof(f));
    run_with(&f, 0,
        " event none\n action 1 set who \"ops\"\n"
        " action 2 mail server \"mx.example\" to \"$who@example.com\" from "
        "\"me@example.com\" subject \"arg $_none_arg1\" body \"b\"\n",
        &r);
    assert_int_equal(r.status, ENG_RUN_SUCCESS);
    assert_int_equal(f.req_has_cc, 0);
    assert_int_equal(f.req_port, 0);
    assert_string_equal(f.req_to, "ops@example.com");
    assert_string_equal(f.req_subject, "arg first");
    eng_run_result_clear(&r);
}

static void
mail_failure_should_abort_with_its_class(void **state)
{
    struct fake           f;
    struct eng_run_result r;
    const cJSON          *e, *smtp;

    (void)state;
    memset(&f, 0, sizeof(f));
    design_env(&f);
    f.env[3][0] = "_email_cc";
    f.env[3][1] = "";
    f.mail_fail = 1;
    run_with(&f, 0, design_applet, &r);
    assert_int_equal(r.status, ENG_RUN_ABORT);
    assert_string_equal(r.failed_label, "0010");
    assert_string_equal(r.error_class, "certificate_untrusted");
    assert_non_null(strstr(r.error, "issuer GTS Root R1 was not found"));
    assert_non_null(strstr(r.error, "Add a trustpoint holding GTS Root R1."));
    e = trace_entry(&r, "0010");
    assert_string_equal(entry_str(e, "outcome"), "error");
    assert_string_equal(entry_str(e, "error_class"), "certificate_untrusted");
    smtp = cJSON_GetObjectItem(e, "smtp");
    assert_non_null(smtp);
    assert_string_equal(entry_str(smtp, "fake"), "dialogue");
    eng_run_result_clear(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expand_should_replace_names_and_keep_a_lone_dollar),
        cmocka_unit_test(expand_should_show_a_secret_masked_unless_revealed),
        cmocka_unit_test(
            secret_shown_should_mask_server_passwords_and_marked_values),
        cmocka_unit_test(secrets_should_reach_only_the_mail_server),
        cmocka_unit_test(set_append_increment_should_build_locals),
        cmocka_unit_test(
            locals_should_shadow_environment_and_builtins_stay_read_only),
        cmocka_unit_test(actions_should_run_in_bytewise_label_order),
        cmocka_unit_test(unbalanced_blocks_should_fail_before_running),
        cmocka_unit_test(undefined_variable_should_abort_with_ios_messages),
        cmocka_unit_test(handle_error_ignore_should_set_error_and_go_on),
        cmocka_unit_test(handle_error_retry_should_repeat_then_fail),
        cmocka_unit_test(arithmetic_should_set_result_and_remainder),
        cmocka_unit_test(arithmetic_errors_should_name_the_value),
        cmocka_unit_test(if_elseif_else_should_pick_one_branch),
        cmocka_unit_test(comparisons_should_use_integers_only_when_both_are),
        cmocka_unit_test(foreach_should_split_on_whitespace_or_delimiter),
        cmocka_unit_test(while_should_honour_break_and_continue),
        cmocka_unit_test(nested_loops_should_restart_inner_foreach),
        cmocka_unit_test(trace_should_be_capped),
        cmocka_unit_test(output_should_be_capped_at_64k),
        cmocka_unit_test(regexp_should_capture_submatches),
        cmocka_unit_test(string_ops_should_follow_tcl),
        cmocka_unit_test(string_op_with_bad_index_should_say_so),
        cmocka_unit_test(maxrun_should_stop_a_long_wait),
        cmocka_unit_test(maxrun_should_stop_an_endless_while),
        cmocka_unit_test(event_maxrun_should_win_over_the_default),
        cmocka_unit_test(cancel_should_stop_the_run),
        cmocka_unit_test(exit_should_end_successfully_with_status),
        cmocka_unit_test(syslog_should_format_the_ios_line),
        cmocka_unit_test(context_should_save_and_retrieve_matching_locals),
        cmocka_unit_test(policy_and_publish_should_reach_hook_and_trace),
        cmocka_unit_test(design_applet_should_fail_on_unset_email_cc),
        cmocka_unit_test(info_routername_should_set_the_host_name),
        cmocka_unit_test(an_undefined_counter_should_name_its_fix),
        cmocka_unit_test(design_applet_should_send_once_email_cc_is_defined),
        cmocka_unit_test(mail_without_cc_should_pass_no_cc),
        cmocka_unit_test(mail_failure_should_abort_with_its_class),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
