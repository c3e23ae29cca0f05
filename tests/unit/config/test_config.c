/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/config/test_config.c: configuration text import and export
 * (engine/config/config.h) against a real store in a temporary directory and a
 * CA certificate made with openssl at test time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/log.h"
#include "engine/config/config.h"
#include "engine/store/store.h"
#include "pki/pki.h"

static char           tmpdir[] = "/tmp/herald-test-config-XXXXXX";
static char          *pem; /* the CA certificate, PEM */
static unsigned char *der;
static size_t         derlen;

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long  n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return p;
}

static int
group_setup(void **state)
{
    char cmd[1024], path[256];

    (void)state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd),
        "cd %s && openssl req -x509 -newkey rsa:2048 "
        "-nodes -keyout ca.key -out ca.pem -days 3650 -subj '/CN=Herald Test "
        "Root R1' -addext basicConstraints=critical,CA:TRUE "
        ">/dev/null 2>&1 && openssl x509 -in ca.pem -outform DER -out ca.der",
        tmpdir);
    if (system(cmd) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
    pem = slurp(path, NULL);
    snprintf(path, sizeof(path), "%s/ca.der", tmpdir);
    der = (unsigned char *)slurp(path, &derlen);
    log_set_level(LOG_WARN);
    return pki_init();
}

static int
group_teardown(void **state)
{
    char cmd[512];

    (void)state;
    free(pem);
    free(der);
    pki_cleanup();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh store per test. */
static int
store_setup(void **state)
{
    static int        n;
    char              dir[300];
    struct eng_store *st = NULL;
    struct errbuf     eb;

    snprintf(dir, sizeof(dir), "%s/db%d", tmpdir, n++);
    memset(&eb, 0, sizeof(eb));
    if (eng_store_open(dir, &st, &eb) != 0) {
        fprintf(stderr, "store: %s\n", eb.msg);
        return -1;
    }
    *state = st;
    return 0;
}

static int
store_teardown(void **state)
{
    eng_store_close(*state);
    return 0;
}

/* The PEM without BEGIN/END lines: what people paste from some tools. */
static char *
bare_base64(void)
{
    struct buf  b = BUF_INIT;
    const char *p = pem, *nl;

    for (; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        if (strncmp(p, "-----", 5) != 0)
            buf_append(&b, p, (size_t)(nl - p + 1));
        if (nl == NULL)
            break;
    }
    return buf_take(&b);
}

static char *
design_config(int bare)
{
    struct buf b = BUF_INIT;
    char      *cert = bare ? bare_base64() : strdup(pem);

    buf_printf(&b,
        "event manager environment _email_from alerts@example.com\n"
        "event manager environment _email_to noc@example.com\n"
        "event manager environment _email_server "
        "alerts@example.com:app-password@smtp.gmail.com\n"
        "event manager applet SendSecureEmailEEM\n"
        " event none\n"
        " action 0010 mail server \"$_email_server\" to \"$_email_to\" from "
        "\"$_email_from\" cc \"$_email_cc\" subject \"This is my email "
        "subject\" body \"This is my email body.\" port 587 secure tls\n"
        "crypto pki trustpoint CA-GTS-Root-R1\n"
        " enrollment terminal\n"
        " revocation-check none\n"
        " chain-validation stop\n"
        "crypto pki authenticate CA-GTS-Root-R1\n"
        "%s%s"
        "event manager run SendSecureEmailEEM\n",
        cert, bare ? "quit\n" : "\n");
    free(cert);
    return buf_take(&b);
}

static cJSON *
import_ok(struct eng_store *st, const char *text)
{
    struct errbuf eb;
    cJSON        *sum = NULL;
    int           rc;

    memset(&eb, 0, sizeof(eb));
    rc = eng_config_import(st, text, strlen(text), &sum, &eb);
    if (rc != 0)
        fail_msg("import failed (%d) line %d: %s", rc, eb.line, eb.msg);
    assert_non_null(sum);
    return sum;
}

static int
num(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);

    assert_true(cJSON_IsNumber(x));
    return x->valueint;
}

static char *
env_value(struct eng_store *st, const char *name, int *secret)
{
    struct eng_env_var v;
    struct errbuf      eb;
    char              *s;

    memset(&v, 0, sizeof(v));
    if (eng_store_env_get(st, name, &v, &eb) != 0)
        return NULL;
    s = strdup(v.value);
    if (secret != NULL)
        *secret = v.secret;
    eng_env_var_clear(&v);
    return s;
}

static void
design_scenario_is_imported_as_pasted(void **state)
{
    struct eng_store     *st = *state;
    char                 *text = design_config(0), *v;
    cJSON                *sum = import_ok(st, text), *runs, *warns, *w;
    struct eng_applet_rec ar;
    struct eng_tp_rec     tp;
    struct errbuf         eb;

    assert_int_equal(num(sum, "environment"), 3);
    assert_int_equal(num(sum, "applets"), 1);
    assert_int_equal(num(sum, "trustpoints"), 1);
    assert_int_equal(num(sum, "certificates"), 1);
    runs = cJSON_GetObjectItemCaseSensitive(sum, "runs_requested");
    assert_int_equal(cJSON_GetArraySize(runs), 1);
    assert_string_equal(cJSON_GetArrayItem(runs, 0)->valuestring,
        "SendSecureEmailEEM");
    /* the unset $_email_cc of the source document is pointed out (the
     * test CA is valid for 10 years: no certificate warning) */
    warns = cJSON_GetObjectItemCaseSensitive(sum, "warnings");
    assert_int_equal(cJSON_GetArraySize(warns), 1);
    w = cJSON_GetArrayItem(warns, 0);
    assert_string_equal(cJSON_GetObjectItem(w, "code")->valuestring,
        "undefined_variable");
    assert_string_equal(cJSON_GetObjectItem(w, "variable")->valuestring,
        "_email_cc");
    assert_string_equal(cJSON_GetObjectItem(w, "applet")->valuestring,
        "SendSecureEmailEEM");

    v = env_value(st, "_email_server", NULL);
    assert_string_equal(v, "alerts@example.com:app-password@smtp.gmail.com");
    free(v);
    memset(&eb, 0, sizeof(eb));
    memset(&ar, 0, sizeof(ar));
    assert_int_equal(eng_store_applet_get(st, "SendSecureEmailEEM", &ar, &eb),
        0);
    assert_non_null(strstr(ar.text,
        " action 0010 mail server "
        "\"$_email_server\" to \"$_email_to\""));
    eng_applet_rec_clear(&ar);
    memset(&tp, 0, sizeof(tp));
    assert_int_equal(eng_store_tp_get(st, "CA-GTS-Root-R1", &tp, &eb), 0);
    assert_string_equal(tp.chain_validation, "stop");
    assert_string_equal(tp.revocation_check, "none");
    assert_string_equal(tp.enrollment, "terminal");
    assert_int_equal(tp.cert_len, derlen);
    assert_memory_equal(tp.cert_der, der, derlen);
    eng_tp_rec_clear(&tp);
    cJSON_Delete(sum);
    free(text);
}

static void
bare_base64_ended_by_quit_is_accepted(void **state)
{
    struct eng_store *st = *state;
    char             *text = design_config(1);
    cJSON            *sum = import_ok(st, text);
    struct eng_tp_rec tp;
    struct errbuf     eb;

    assert_int_equal(num(sum, "certificates"), 1);
    memset(&tp, 0, sizeof(tp));
    assert_int_equal(eng_store_tp_get(st, "CA-GTS-Root-R1", &tp, &eb), 0);
    assert_int_equal(tp.cert_len, derlen);
    assert_memory_equal(tp.cert_der, der, derlen);
    eng_tp_rec_clear(&tp);
    cJSON_Delete(sum);
    free(text);
}

static void
a_bad_line_changes_nothing_and_is_named(void **state)
{
    struct eng_store *st = *state;
    const char       *text =
        "configure terminal\n"                                  /* 1 */
        "event manager environment _email_to ops@example.com\n" /* 2 */
        "event manager environment fresh 1\n"                   /* 3 */
        "crypto pki trustpoint T1\n"                            /* 4 */
        " chain-validation continue\n"                          /* 5 */
        "! a comment\n"                                         /* 6 */
        "event manager environment 9bad x\n"                    /* 7 */
        "end\n";
    struct errbuf       eb;
    struct eng_env_var *vars = NULL;
    struct eng_tp_rec  *tps = NULL;
    size_t              n = 0, ntp = 0;
    cJSON              *sum = NULL;
    char               *v;

    cJSON_Delete(import_ok(st,
        "event manager environment _email_to "
        "noc@example.com\n"));
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_config_import(st, text, strlen(text), &sum, &eb),
        ERR_INVAL);
    assert_null(sum);
    assert_int_equal(eb.line, 7);
    assert_string_equal(eb.msg,
        "line 7: invalid environment variable name "
        "\"9bad\": letters, digits and _, not starting with a digit, at "
        "most 64 bytes");
    /* nothing changed */
    v = env_value(st, "_email_to", NULL);
    assert_string_equal(v, "noc@example.com");
    free(v);
    assert_int_equal(eng_store_env_list(st, &vars, &n, &eb), 0);
    assert_int_equal(n, 1);
    eng_env_vars_free(vars, n);
    assert_int_equal(eng_store_tp_list(st, &tps, &ntp, &eb), 0);
    assert_int_equal(ntp, 0);
    eng_tp_recs_free(tps, ntp);
}

static void
applet_errors_carry_the_line_in_the_whole_text(void **state)
{
    struct eng_store *st = *state;
    const char       *text =
        "event manager environment a 1\n"
        "event manager applet X\n"
        " event none\n"
        " action 0010 mail server h to t from f subject s secure ssl\n";
    struct errbuf eb;

    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_config_import(st, text, strlen(text), NULL, &eb),
        ERR_INVAL);
    assert_int_equal(eb.line, 4);
    assert_int_equal(eb.col, 57);
    assert_string_equal(eb.msg,
        "line 4, column 57: expected \"secure\" "
        "value tls, none or implicit, got \"ssl\"");
    assert_null(env_value(st, "a", NULL));
}

struct badcfg {
    const char *text;
    int         rc, line;
    const char *msg;
};

static void
bad_configuration_lines_say_what_is_wrong(void **state)
{
    static const struct badcfg bad[] = {
        { "crypto pki authenticate Nope\nMIIB\nquit\n", ERR_INVAL, 1,
            "line 1: trustpoint Nope is not defined; add \"crypto pki "
            "trustpoint Nope\" before authenticating it" },
        { "crypto pki trustpoint T\n revocation-check crl\n", ERR_UNSUPPORTED,
            2,
            "line 2: revocation-check crl is not "
            "supported by herald (no CRL or OCSP fetching); use "
            "revocation-check none" },
        { "crypto pki trustpoint T\n chain-validation maybe\n", ERR_INVAL, 2,
            "line 2: expected \"chain-validation\" stop or continue, got "
            "\"maybe\"" },
        { "crypto pki trustpoint T\n rsakeypair k\n", ERR_UNSUPPORTED, 2,
            "line 2: trustpoint setting \"rsakeypair\" is not supported by "
            "herald; expected enrollment terminal, revocation-check or "
            "chain-validation" },
        { "crypto pki trustpoint T\ncrypto pki authenticate T\n\n\n", ERR_INVAL,
            2,
            "line 2: expected a certificate (PEM or base64) "
            "after \"crypto pki authenticate T\", ended by \"quit\" or a "
            "blank line" },
        { "event manager run Ghost\n", ERR_INVAL, 1,
            "line 1: event manager "
            "run: no applet named Ghost" },
        { "event manager environment x\n", ERR_INVAL, 1,
            "line 1: expected a "
            "value after \"event manager environment x\"" },
        { "event manager environment pw *****\n", ERR_INVAL, 1,
            "line 1: the "
            "value of pw is masked (*****) and does not match a stored "
            "value; write the real value" },
        { "interface Gi0/0\n", ERR_INVAL, 1,
            "line 1: unknown command "
            "\"interface Gi0/0\"; expected event manager "
            "environment|applet|run, crypto pki trustpoint|authenticate|"
            "certificate chain, herald credential, or their \"no\" forms" },
        { "R1(config)#event manager applet U\n"
          "R1(config-applet)# event none\n"
          "R1(config-applet)# action 0010 break\n",
            ERR_INVAL, 3,
            "line 3: action 0010: \"break\" outside a \"while\" or "
            "\"foreach\" loop (actions run in label byte order)" },
        { "event manager applet U\n action 0010 info type cli history\n",
            ERR_UNSUPPORTED, 2,
            "line 2, column 24: \"info type cli\" is "
            "router-only: herald runs off the router and has no cli data to "
            "read; only \"info type routername\" is supported" },
        { "event manager applet U\n event none\n"
          "event manager run U a b c d e f g h i j k l m n o p\n",
            ERR_INVAL, 3,
            "line 3: event manager run U: expected at most 15 arguments "
            "(words or \"quoted strings\")" },
        { "event manager session cli username x\n", ERR_UNSUPPORTED, 1,
            "line 1: \"event manager session\" is not supported by herald; "
            "expected event manager environment, applet or run" },
    };
    struct eng_store *st = *state;
    struct errbuf     eb;
    size_t            i;
    int               rc;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&eb, 0, sizeof(eb));
        rc = eng_config_import(st, bad[i].text, strlen(bad[i].text), NULL, &eb);
        if (rc != bad[i].rc || eb.line != bad[i].line
            || strcmp(eb.msg, bad[i].msg) != 0)
            fail_msg("case %zu:\n%s\ngot rc=%d line=%d %s\nwant rc=%d "
                     "line=%d %s",
                i, bad[i].text, rc, eb.line, eb.msg, bad[i].rc, bad[i].line,
                bad[i].msg);
    }
}

/* What a network engineer copies from a terminal: prompts on every line,
 * the router's own output in between, an exec-mode "event manager run". */
static char *
terminal_session(void)
{
    struct buf b = BUF_INIT;

    buf_printf(&b,
        "R1#configure terminal\n"
        "Enter configuration commands, one per line.  End with CNTL/Z.\n"
        "R1(config)#event manager environment _email_to noc@example.com\n"
        "R1(config)#event manager applet Paste class A authorization bypass\n"
        "R1(config-applet)# event none\n"
        "R1(config-applet)# action 0010 info type routername\n"
        "R1(config-applet)# action 0020 puts \"# $_info_routername #\"\n"
        "R1(config-applet)#exit\n"
        "R1(config)#crypto pki trustpoint CA-Test\n"
        "R1(ca-trustpoint)# enrollment terminal\n"
        "R1(ca-trustpoint)# revocation-check none\n"
        "R1(ca-trustpoint)# chain-validation stop\n"
        "R1(ca-trustpoint)#exit\n"
        "R1(config)#crypto pki authenticate CA-Test\n"
        "\n"
        "Enter the base 64 encoded CA certificate.\n"
        "End with a blank line or the word \"quit\" on a line by itself\n"
        "\n"
        "%s"
        "quit\n"
        "Certificate has the following attributes:\n"
        "       Fingerprint MD5: 12345678 9ABCDEF0 12345678 9ABCDEF0\n"
        "      Fingerprint SHA1: 12345678 9ABCDEF0 12345678 9ABCDEF0 "
        "12345678\n"
        "\n"
        "%% Do you accept this certificate? [yes/no]: yes\n"
        "Trustpoint CA certificate accepted.\n"
        "%% Certificate successfully imported\n"
        "\n"
        "R1(config)#end\n"
        "R1#event manager run Paste one \"two words\"\n"
        "R1#\n",
        pem);
    return buf_take(&b);
}

static void
record_run(void *ud, const char *name, const char *const *args, size_t nargs,
    cJSON *item)
{
    struct buf *b = ud;
    size_t      i;

    buf_printf(b, "%s", name);
    for (i = 0; i < nargs; i++)
        buf_printf(b, "|%s", args[i]);
    cJSON_AddStringToObject(item, "status", "queued");
}

static void
a_pasted_terminal_session_imports_and_runs(void **state)
{
    struct eng_store        *st = *state;
    char                    *text = terminal_session();
    struct buf               ran = BUF_INIT;
    struct eng_config_runner runner = { record_run, &ran };
    struct eng_applet_rec    ar;
    struct errbuf            eb;
    cJSON                   *sum = NULL, *runs, *it;

    memset(&eb, 0, sizeof(eb));
    if (eng_config_import_run(st, text, strlen(text), &runner, &sum, &eb) != 0)
        fail_msg("import failed line %d: %s", eb.line, eb.msg);
    assert_int_equal(num(sum, "prompts_removed"), 16);
    assert_int_equal(num(sum, "environment"), 1);
    assert_int_equal(num(sum, "applets"), 1);
    assert_int_equal(num(sum, "trustpoints"), 1);
    assert_int_equal(num(sum, "certificates"), 1);
    runs = cJSON_GetObjectItemCaseSensitive(sum, "runs");
    assert_int_equal(cJSON_GetArraySize(runs), 1);
    it = cJSON_GetArrayItem(runs, 0);
    assert_string_equal(cJSON_GetObjectItem(it, "applet")->valuestring,
        "Paste");
    {
        const char *p, *at = strstr(text, "R1#event manager run");
        int         line = 1;

        for (p = text; p < at; p++)
            line += *p == '\n';
        assert_int_equal(num(it, "line"), line);
    }
    assert_string_equal(cJSON_GetObjectItem(it, "status")->valuestring,
        "queued");
    assert_string_equal(buf_str(&ran), "Paste|one|two words");
    memset(&ar, 0, sizeof(ar));
    assert_int_equal(eng_store_applet_get(st, "Paste", &ar, &eb), 0);
    assert_string_equal(ar.text,
        "event manager applet Paste class A "
        "authorization bypass\n event none\n"
        " action 0010 info type routername\n"
        " action 0020 puts \"# $_info_routername #\"\n");
    eng_applet_rec_clear(&ar);
    cJSON_Delete(sum);
    buf_free(&ran);

    /* without a runner nothing runs and "runs" is absent */
    sum = import_ok(st, text);
    assert_null(cJSON_GetObjectItemCaseSensitive(sum, "runs"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sum,
                         "runs_requested")),
        1);
    cJSON_Delete(sum);
    free(text);
}

static void
export_masks_secrets_and_passwords(void **state)
{
    struct eng_store *st = *state;
    struct buf        out = BUF_INIT;
    struct errbuf     eb;
    char             *text = design_config(0);
    const char       *s;

    cJSON_Delete(import_ok(st, text));
    free(text);
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_store_env_put(st, "_pw", "hunter2", 1, NULL, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "relay",
                         "relay@corp.example:pass@smtp-relay.gmail.com", 0,
                         NULL, &eb),
        0);
    assert_int_equal(eng_config_export(st, &out, &eb), 0);
    s = buf_str(&out);
    assert_null(strstr(s, "hunter2"));
    assert_null(strstr(s, "app-password"));
    assert_null(strstr(s, ":pass@"));
    assert_non_null(strstr(s,
        "! _pw is secret\n"
        "event manager environment _pw *****\n"));
    assert_non_null(strstr(s,
        "event manager environment _email_server "
        "alerts@example.com:*****@smtp.gmail.com\n"));
    /* split at the last @: the relay account keeps its own @ */
    assert_non_null(strstr(s,
        "event manager environment relay "
        "relay@corp.example:*****@smtp-relay.gmail.com\n"));
    assert_non_null(strstr(s,
        "event manager environment _email_to "
        "noc@example.com\n"));
    assert_non_null(strstr(s,
        "crypto pki trustpoint CA-GTS-Root-R1\n"
        " enrollment terminal\n revocation-check none\n"
        " chain-validation stop\n"));
    assert_non_null(strstr(s,
        "crypto pki certificate chain CA-GTS-Root-R1\n"
        " certificate ca "));
    assert_non_null(strstr(s, "  quit\n"));
    assert_non_null(strstr(s,
        "event manager applet SendSecureEmailEEM\n"
        " event none\n"));
    buf_free(&out);
}

static void
export_then_import_gives_back_the_same_configuration(void **state)
{
    struct eng_store *st = *state;
    struct buf        out1 = BUF_INIT, out2 = BUF_INIT;
    struct errbuf     eb;
    char             *text = design_config(0), *v;
    cJSON            *sum;
    int               secret = 0;

    cJSON_Delete(import_ok(st, text));
    free(text);
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_store_env_put(st, "_pw", "hunter2", 1, NULL, &eb), 0);
    assert_int_equal(eng_config_export(st, &out1, &eb), 0);
    sum = import_ok(st, buf_str(&out1));
    assert_int_equal(num(sum, "environment"), 4);
    assert_int_equal(num(sum, "applets"), 1);
    assert_int_equal(num(sum, "trustpoints"), 1);
    assert_int_equal(num(sum, "certificates"), 1);
    cJSON_Delete(sum);
    /* the stored secrets survived their masked forms */
    v = env_value(st, "_pw", &secret);
    assert_string_equal(v, "hunter2");
    assert_int_equal(secret, 1);
    free(v);
    v = env_value(st, "_email_server", NULL);
    assert_string_equal(v, "alerts@example.com:app-password@smtp.gmail.com");
    free(v);
    assert_int_equal(eng_config_export(st, &out2, &eb), 0);
    assert_string_equal(buf_str(&out1), buf_str(&out2));
    buf_free(&out1);
    buf_free(&out2);
}

static void
literal_mail_password_in_an_applet_is_masked_and_kept(void **state)
{
    struct eng_store     *st = *state;
    struct buf            out = BUF_INIT;
    struct errbuf         eb;
    struct eng_applet_rec ar;
    const char           *lit =
        "event manager applet Lit\n"
        " event none\n"
        " action 1 mail server relay@corp.example:s3cret@smtp.example.com "
        "to a@example.com from relay@corp.example subject s\n";
    const char *s;

    cJSON_Delete(import_ok(st, lit));
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_config_export(st, &out, &eb), 0);
    s = buf_str(&out);
    assert_null(strstr(s, "s3cret"));
    assert_non_null(strstr(s,
        " action 1 mail server "
        "relay@corp.example:*****@smtp.example.com to"));
    cJSON_Delete(import_ok(st, s));
    memset(&ar, 0, sizeof(ar));
    assert_int_equal(eng_store_applet_get(st, "Lit", &ar, &eb), 0);
    assert_string_equal(ar.text, lit);
    eng_applet_rec_clear(&ar);
    buf_free(&out);
    /* a masked password that matches nothing stored is refused */
    memset(&eb, 0, sizeof(eb));
    s = "event manager applet Other\n"
        " event none\n"
        " action 1 mail server u:*****@h to a from b subject s\n";
    assert_int_equal(eng_config_import(st, s, strlen(s), NULL, &eb), ERR_INVAL);
    assert_int_equal(eb.line, 1);
    assert_string_equal(eb.msg,
        "line 1: applet Other: a mail server "
        "password is masked (*****) and does not match the stored applet; "
        "write the real password or use an environment variable");
}

static void
no_forms_remove_what_they_name(void **state)
{
    struct eng_store     *st = *state;
    char                 *text = design_config(0);
    struct errbuf         eb;
    struct eng_applet_rec ar;
    struct eng_tp_rec     tp;

    cJSON_Delete(import_ok(st, text));
    free(text);
    cJSON_Delete(import_ok(st,
        "no event manager environment _email_to\n"
        "no event manager applet SendSecureEmailEEM\n"
        "no crypto pki trustpoint CA-GTS-Root-R1\n"
        "no event manager environment never_existed\n"));
    assert_null(env_value(st, "_email_to", NULL));
    memset(&eb, 0, sizeof(eb));
    memset(&ar, 0, sizeof(ar));
    memset(&tp, 0, sizeof(tp));
    assert_int_equal(eng_store_applet_get(st, "SendSecureEmailEEM", &ar, &eb),
        ERR_NOTFOUND);
    assert_int_equal(eng_store_tp_get(st, "CA-GTS-Root-R1", &tp, &eb),
        ERR_NOTFOUND);
}

static void
secret_comment_marks_a_new_value_secret(void **state)
{
    struct eng_store *st = *state;
    int               secret = 0;
    char             *v;

    cJSON_Delete(import_ok(st,
        "! token is secret\n"
        "event manager environment token s3cr3t value  \r\n"));
    v = env_value(st, "token", &secret);
    assert_string_equal(v, "s3cr3t value");
    assert_int_equal(secret, 1);
    free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(design_scenario_is_imported_as_pasted,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(bare_base64_ended_by_quit_is_accepted,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(a_bad_line_changes_nothing_and_is_named,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            applet_errors_carry_the_line_in_the_whole_text, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(
            bad_configuration_lines_say_what_is_wrong, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(
            a_pasted_terminal_session_imports_and_runs, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(export_masks_secrets_and_passwords,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(
            export_then_import_gives_back_the_same_configuration, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(
            literal_mail_password_in_an_applet_is_masked_and_kept, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(no_forms_remove_what_they_name,
            store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(secret_comment_marks_a_new_value_secret,
            store_setup, store_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
