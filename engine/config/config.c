/* SPDX-License-Identifier: MIT */
/*
 * engine/config/config.c: the whole configuration as router-style text
 * (engine/config/config.h).
 *
 * Export writes a running-config: trustpoints with their certificate as the
 * hex dump IOS shows ("crypto pki certificate chain"), environment variables
 * with secrets masked, OAuth 2.0 credentials ("herald credential NAME", a
 * herald extension) with their secrets masked, and applets in canonical
 * text.
 *
 * Import reads such text, and the source document's form ("crypto pki
 * authenticate NAME" and a pasted PEM or bare base64 certificate ended by
 * "quit" or a blank line). It is all or nothing: every line is parsed and
 * checked into a plan first; only then is the plan applied inside one store
 * transaction, rolled back on any failure. A value equal to the masked form
 * of the stored one keeps the stored value, so that export -> import gives
 * back the same configuration.
 */
#include "engine/config/config.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/sec.h"
#include "engine/lang/applet.h"
#include "engine/config/credential.h"
#include "engine/config/env.h"
#include "engine/store/store.h"
#include "engine/config/trustpoint.h"
#include "pki/pki.h"

#define CFG_MASK     REDACT_MASK
#define CFG_MAX_TEXT (4 * 1024 * 1024)

/* ---- masking --------------------------------------------------------- */

/* The masked form of a user:password@host value (split at the last '@',
 * the first ':' before it), or NULL when there is no password part. New
 * string. */
static char *
mask_userpass(const char *v)
{
    return redact_server_has_password(v) ? redact_server(v) : NULL;
}

/* 1 if value is what export would print for the stored variable. */
static int
is_masked_form(const struct eng_env_var *stored, const char *value)
{
    char *m;
    int   eq;

    if (stored->secret)
        return strcmp(value, CFG_MASK) == 0;
    if ((m = mask_userpass(stored->value)) == NULL)
        return 0;
    eq = strcmp(m, value) == 0;
    free(m);
    return eq;
}

/* The applet text with the password of every literal user:password@host
 * mail server masked (new string), or NULL on ENOMEM. Text that does not
 * parse is returned as is. */
static char *
mask_applet_text(const char *text)
{
    struct eng_applet *a = NULL, *b = NULL;
    struct errbuf      eb;
    cJSON             *j = NULL, *acts, *act, *server, *verb;
    char              *m, *out = NULL;
    int                changed = 0;

    memset(&eb, 0, sizeof(eb));
    if (eng_applet_parse(text, strlen(text), 1, &a, &eb) != 0)
        return strdup(text);
    if ((j = eng_applet_to_json(a)) == NULL)
        goto out;
    acts = cJSON_GetObjectItemCaseSensitive(j, "actions");
    cJSON_ArrayForEach(act, acts)
    {
        verb = cJSON_GetObjectItemCaseSensitive(act, "action");
        server = cJSON_GetObjectItemCaseSensitive(act, "server");
        if (!cJSON_IsString(verb) || strcmp(verb->valuestring, "mail") != 0
            || !cJSON_IsString(server)
            || (m = mask_userpass(server->valuestring)) == NULL)
            continue;
        cJSON_ReplaceItemInObjectCaseSensitive(act, "server",
            cJSON_CreateString(m));
        free(m);
        changed = 1;
    }
    if (!changed) {
        out = strdup(text);
        goto out;
    }
    if (eng_applet_from_json(j, NULL, &b, &eb) == 0)
        out = eng_applet_to_text(b);
out:
    cJSON_Delete(j);
    eng_applet_free(a);
    eng_applet_free(b);
    return out;
}

/* ---- export ---------------------------------------------------------- */

static int
export_trustpoint(struct buf *out, const struct eng_tp_rec *tp,
    struct errbuf *eb)
{
    struct pki_cert *c = NULL;
    cJSON           *d = NULL, *serial;
    char            *hex = NULL;
    int              rc;

    rc = buf_printf(out,
        "crypto pki trustpoint %s\n enrollment %s\n"
        " revocation-check %s\n chain-validation %s\n!\n",
        tp->name, tp->enrollment ? tp->enrollment : "terminal",
        tp->revocation_check ? tp->revocation_check : "none",
        tp->chain_validation ? tp->chain_validation : "continue");
    if (rc != 0 || tp->cert_der == NULL)
        goto out;
    if ((rc = pki_cert_from_der(tp->cert_der, tp->cert_len, &c, eb)) != 0) {
        /* a stored certificate that no longer parses: say so, keep going */
        rc = buf_printf(out,
            "! trustpoint %s: stored certificate cannot be "
            "read: %s\n!\n",
            tp->name, eb ? eb->msg : "");
        goto out;
    }
    d = pki_cert_details(c);
    serial = d ? cJSON_GetObjectItemCaseSensitive(d, "serial") : NULL;
    if ((hex = pki_cert_hex(c, 2)) == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    rc = buf_printf(out,
        "crypto pki certificate chain %s\n certificate ca "
        "%s\n%s  quit\n!\n",
        tp->name, cJSON_IsString(serial) ? serial->valuestring : "01", hex);
out:
    free(hex);
    cJSON_Delete(d);
    pki_cert_free(c);
    return rc;
}

/* A credential as herald's extension block; the secrets masked. */
static int
export_credential(struct buf *out, const struct eng_cred_rec *c)
{
    int rc;

    rc = buf_printf(out,
        "herald credential %s\n type %s\n grant %s\n token-url %s\n"
        " client-id %s\n",
        c->name, c->type, c->grant, c->token_url, c->client_id);
    if (rc == 0 && c->client_secret != NULL)
        rc = buf_printf(out, " client-secret %s\n", CFG_MASK);
    if (rc == 0 && c->refresh_token != NULL)
        rc = buf_printf(out, " refresh-token %s\n", CFG_MASK);
    if (rc == 0 && c->scope != NULL)
        rc = buf_printf(out, " scope %s\n", c->scope);
    if (rc == 0)
        rc = buf_printf(out, " mechanism %s\n!\n", c->mechanism);
    return rc;
}

int
eng_config_export(struct eng_store *st, struct buf *out, struct errbuf *eb)
{
    struct eng_env_var    *env = NULL;
    struct eng_applet_rec *ap = NULL;
    struct eng_tp_rec     *tp = NULL;
    struct eng_cred_rec   *cr = NULL;
    size_t                 nenv = 0, nap = 0, ntp = 0, ncr = 0, i;
    char                  *m;
    int                    rc;

    if ((rc = eng_store_env_list(st, &env, &nenv, eb)) != 0
        || (rc = eng_store_applet_list(st, &ap, &nap, eb)) != 0
        || (rc = eng_store_tp_list(st, &tp, &ntp, eb)) != 0
        || (rc = eng_store_cred_list(st, &cr, &ncr, eb)) != 0)
        goto out;
    rc = buf_puts(out, "! herald running-config\n!\n");
    for (i = 0; i < ntp && rc == 0; i++)
        rc = export_trustpoint(out, &tp[i], eb);
    for (i = 0; i < nenv && rc == 0; i++) {
        if (env[i].secret) {
            rc = buf_printf(out,
                "! %s is secret\nevent manager environment "
                "%s %s\n",
                env[i].name, env[i].name, CFG_MASK);
        } else if ((m = mask_userpass(env[i].value)) != NULL) {
            rc = buf_printf(out, "event manager environment %s %s\n",
                env[i].name, m);
            free(m);
        } else {
            rc = buf_printf(out, "event manager environment %s %s\n",
                env[i].name, env[i].value);
        }
    }
    if (rc == 0 && nenv > 0)
        rc = buf_puts(out, "!\n");
    for (i = 0; i < ncr && rc == 0; i++)
        rc = export_credential(out, &cr[i]);
    for (i = 0; i < nap && rc == 0; i++) {
        if ((m = mask_applet_text(ap[i].text)) == NULL) {
            rc = ERR_NOMEM;
            break;
        }
        rc = buf_printf(out, "%s!\n", m);
        free(m);
    }
    if (rc == 0)
        rc = buf_puts(out, "end\n");
    if (rc == ERR_NOMEM)
        err_set(eb, rc, "nomem", "out of memory");
out:
    eng_env_vars_free(env, nenv);
    eng_applet_recs_free(ap, nap);
    eng_tp_recs_free(tp, ntp);
    eng_cred_recs_free(cr, ncr);
    return rc;
}

/* ---- import: the plan ------------------------------------------------ */

enum op_kind {
    OP_ENV_PUT = 0,
    OP_ENV_DEL,
    OP_APPLET_PUT,
    OP_APPLET_DEL,
    OP_TP_PUT,
    OP_TP_DEL,
    OP_TP_CERT,
    OP_RUN,
    OP_CRED_PUT,
    OP_CRED_DEL,
};

struct op {
    int                  kind;
    int                  line;
    char                *name;
    char                *value;  /* env value, applet text, run args */
    int                  secret; /* env: -1 keep stored flag */
    int                  keep;   /* env: masked, keep the stored value */
    const char          *rev, *cv, *enr; /* trustpoint fields set, or NULL */
    unsigned char       *der;
    size_t               derlen;
    struct eng_applet   *applet;
    struct eng_cred_rec *cred; /* OP_CRED_PUT: checked, secrets merged */
};

struct plan {
    struct op *ops;
    size_t     n, cap;
    char     **secret_names; /* from "! NAME is secret" comments */
    size_t     nsecret;
};

struct line {
    const char *s;  /* NUL-terminated, CR removed */
    int         no; /* 1-based */
};

struct ictx {
    struct eng_store *st;
    struct errbuf    *eb;
    struct plan       plan;
    struct line      *lines;
    size_t            nlines;
    unsigned          prompts; /* router prompts removed */
};

static int ierr(struct ictx *ic, int rc, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
ierr(struct ictx *ic, int rc, int line, const char *fmt, ...)
{
    char    m[700];
    va_list ap;

    if (rc == ERR_NOMEM)
        return err_set(ic->eb, rc, "nomem", "out of memory");
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    return err_at(ic->eb, rc, line, 0,
        rc == ERR_UNSUPPORTED ? "unsupported" : "parse_error", "line %d: %s",
        line, m);
}

static struct op *
plan_add(struct ictx *ic, int kind, int line, const char *name)
{
    struct op *o;

    if (ic->plan.n == ic->plan.cap) {
        size_t     ncap = ic->plan.cap ? ic->plan.cap * 2 : 32;
        struct op *nv = realloc(ic->plan.ops, ncap * sizeof(*nv));
        if (nv == NULL)
            return NULL;
        ic->plan.ops = nv;
        ic->plan.cap = ncap;
    }
    o = &ic->plan.ops[ic->plan.n];
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->line = line;
    if (name != NULL && (o->name = strdup(name)) == NULL)
        return NULL;
    ic->plan.n++;
    return o;
}

static void
plan_free(struct plan *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->ops[i].name);
        free(p->ops[i].value);
        free(p->ops[i].der);
        eng_applet_free(p->ops[i].applet);
        if (p->ops[i].cred != NULL) {
            eng_cred_rec_clear(p->ops[i].cred);
            free(p->ops[i].cred);
        }
    }
    free(p->ops);
    for (i = 0; i < p->nsecret; i++)
        free(p->secret_names[i]);
    free(p->secret_names);
    memset(p, 0, sizeof(*p));
}

/* Words of a line: up to max, each a new string; returns the count. The
 * offset of the byte after word k is in ends[k]. */
static size_t
words(const char *s, char w[][80], size_t max, size_t *ends)
{
    size_t n = 0, p = 0, b;

    while (n < max) {
        while (s[p] == ' ' || s[p] == '\t')
            p++;
        if (s[p] == '\0')
            break;
        b = p;
        while (s[p] != '\0' && s[p] != ' ' && s[p] != '\t')
            p++;
        snprintf(w[n], 80, "%.*s", (int)(p - b), s + b);
        if (ends != NULL)
            ends[n] = p;
        n++;
    }
    return n;
}

static const char *
skip_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int
blank(const char *s)
{
    return *skip_blank(s) == '\0';
}

static int
indented(const char *s)
{
    return s[0] == ' ' || s[0] == '\t';
}

static int
env_name_ok(const char *s)
{
    return eng_env_name_check(s, NULL) == 0;
}

/* The last plan op about name of the given kinds at or before index end. */
static struct op *
plan_find(struct plan *p, int kput, int kdel, const char *name)
{
    size_t i;

    for (i = p->n; i > 0; i--) {
        struct op *o = &p->ops[i - 1];
        if ((o->kind == kput || o->kind == kdel) && o->name != NULL
            && strcmp(o->name, name) == 0)
            return o;
    }
    return NULL;
}

static int
secret_marked(struct plan *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->nsecret; i++)
        if (strcmp(p->secret_names[i], name) == 0)
            return 1;
    return 0;
}

static int
plan_env(struct ictx *ic, const struct line *ln, const char *rest, int del)
{
    char               w[2][80];
    size_t             ends[2], n;
    const char        *value;
    struct eng_env_var cur;
    struct errbuf      geb;
    struct op         *o;
    int                rc, have;

    n = words(rest, w, 1, ends);
    if (n == 0)
        return ierr(ic, ERR_INVAL, ln->no,
            "expected a variable name after "
            "\"event manager environment\"");
    if (!env_name_ok(w[0]))
        return ierr(ic, ERR_INVAL, ln->no,
            "invalid environment variable "
            "name \"%s\": letters, digits and _, not starting with a digit, "
            "at most %d bytes",
            w[0], ENG_ENV_NAME_MAX);
    value = skip_blank(rest + ends[0]);
    if (del) {
        if ((o = plan_add(ic, OP_ENV_DEL, ln->no, w[0])) == NULL)
            return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
        return 0;
    }
    if (*value == '\0')
        return ierr(ic, ERR_INVAL, ln->no,
            "expected a value after \"event "
            "manager environment %s\"",
            w[0]);
    if (strlen(value) > ENG_ENV_VALUE_MAX)
        return ierr(ic, ERR_TOOBIG, ln->no,
            "value of %s is %zu bytes; the "
            "limit is %d",
            w[0], strlen(value), ENG_ENV_VALUE_MAX);
    if ((o = plan_add(ic, OP_ENV_PUT, ln->no, w[0])) == NULL
        || (o->value = strdup(value)) == NULL)
        return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
    /* trailing blanks of a pasted line are not part of the value */
    n = strlen(o->value);
    while (n > 0 && (o->value[n - 1] == ' ' || o->value[n - 1] == '\t'))
        o->value[--n] = '\0';
    value = o->value;
    o->secret = secret_marked(&ic->plan, w[0]) ? 1 : -1;
    /* a masked value keeps the stored one */
    memset(&cur, 0, sizeof(cur));
    memset(&geb, 0, sizeof(geb));
    rc = eng_store_env_get(ic->st, w[0], &cur, &geb);
    have = rc == 0;
    if (rc == ERR_NOTFOUND) {
        rc = 0;
    } else if (rc != 0) {
        err_at(ic->eb, rc, ln->no, 0, geb.code, "line %d: %s", ln->no, geb.msg);
        return rc;
    }
    if (have && is_masked_form(&cur, value))
        o->keep = 1;
    else if (strcmp(value, CFG_MASK) == 0
        || strstr(value, ":" CFG_MASK "@") != NULL)
        rc = ierr(ic, ERR_INVAL, ln->no,
            "the value of %s is masked (%s) "
            "and does not match a stored value; write the real value",
            w[0], value);
    eng_env_var_clear(&cur);
    return rc;
}

static int
applet_line(const char *s)
{
    char   w[2][80];
    size_t n;

    if (indented(s) || blank(s) || *skip_blank(s) == '!')
        return 1;
    n = words(s, w, 2, NULL);
    if (n == 0)
        return 1;
    if (strcmp(w[0], "action") == 0 || strcmp(w[0], "description") == 0
        || strcmp(w[0], "trigger") == 0 || strcmp(w[0], "correlate") == 0)
        return 1;
    return strcmp(w[0], "event") == 0
        && (n < 2 || strcmp(w[1], "manager") != 0);
}

/* An applet whose mail server password is masked ("user:*****@host", as
 * export writes it) keeps the stored text when masking that gives the same
 * text. */
static int
keep_masked_applet(struct ictx *ic, struct op *o)
{
    struct eng_applet_rec r;
    struct errbuf         geb;
    char                 *m = NULL;
    int                   rc, same = 0;

    memset(&r, 0, sizeof(r));
    memset(&geb, 0, sizeof(geb));
    rc = eng_store_applet_get(ic->st, o->name, &r, &geb);
    if (rc == 0 && (m = mask_applet_text(r.text)) != NULL
        && strcmp(m, o->value) == 0) {
        same = 1;
        free(o->value);
        o->value = r.text;
        r.text = NULL;
    }
    free(m);
    eng_applet_rec_clear(&r);
    if (same)
        return 0;
    return ierr(ic, ERR_INVAL, o->line,
        "applet %s: a mail server password "
        "is masked (%s) and does not match the stored applet; write the real "
        "password or use an environment variable",
        o->name, CFG_MASK);
}

static int
plan_applet(struct ictx *ic, size_t *i)
{
    size_t             first = *i, last = *i + 1, k;
    struct buf         b = BUF_INIT;
    struct eng_applet *a = NULL;
    struct op         *o;
    char              *text;
    int                rc;

    while (last < ic->nlines && applet_line(ic->lines[last].s))
        last++;
    /* trailing blank and comment lines are not the applet's */
    while (last > first + 1
        && (blank(ic->lines[last - 1].s)
            || *skip_blank(ic->lines[last - 1].s) == '!'))
        last--;
    for (k = first; k < last; k++)
        if (buf_puts(&b, ic->lines[k].s) != 0 || buf_putc(&b, '\n') != 0) {
            buf_free(&b);
            return ierr(ic, ERR_NOMEM, ic->lines[k].no, "out of memory");
        }
    rc = eng_applet_parse(buf_str(&b), b.len, ic->lines[first].no, &a, ic->eb);
    buf_free(&b);
    if (rc == 0 && (rc = eng_applet_storable(a, ic->eb)) != 0) {
        eng_applet_free(a);
        a = NULL;
        if (ic->eb != NULL)
            ic->eb->line = ic->lines[first].no;
    }
    if (rc != 0) {
        if (ic->eb != NULL && ic->eb->line == 0)
            ic->eb->line = ic->lines[first].no;
        if (ic->eb != NULL)
            log_debug("config", "event=import-applet-error line=%d",
                ic->eb->line);
        return rc;
    }
    if ((text = eng_applet_to_text(a)) == NULL
        || (o = plan_add(ic, OP_APPLET_PUT, ic->lines[first].no,
                eng_applet_name(a)))
            == NULL) {
        free(text);
        eng_applet_free(a);
        return ierr(ic, ERR_NOMEM, ic->lines[first].no, "out of memory");
    }
    o->value = text;
    o->applet = a;
    *i = last - 1;
    if (strstr(text, ":" CFG_MASK "@") != NULL)
        return keep_masked_applet(ic, o);
    return 0;
}

static int
tp_known(struct ictx *ic, const char *name)
{
    struct op        *o = plan_find(&ic->plan, OP_TP_PUT, OP_TP_DEL, name);
    struct eng_tp_rec r;
    struct errbuf     geb;
    int               rc;

    if (o != NULL)
        return o->kind == OP_TP_PUT;
    memset(&r, 0, sizeof(r));
    rc = eng_store_tp_get(ic->st, name, &r, &geb);
    eng_tp_rec_clear(&r);
    return rc == 0;
}

static int
plan_trustpoint(struct ictx *ic, size_t *i, const char *name)
{
    struct op    *o;
    struct errbuf teb = { 0 };
    char          w[3][80];
    size_t        n;
    int           no = ic->lines[*i].no, rc;

    if ((rc = eng_tp_name_check(name, &teb)) != 0)
        return ierr(ic, rc, no, "%s", teb.msg);
    if ((o = plan_add(ic, OP_TP_PUT, no, name)) == NULL)
        return ierr(ic, ERR_NOMEM, no, "out of memory");
    while (*i + 1 < ic->nlines) {
        const struct line *ln = &ic->lines[*i + 1];
        n = words(ln->s, w, 3, NULL);
        if (n == 0 || w[0][0] == '!') {
            if (!indented(ln->s))
                break;
            (*i)++;
            continue;
        }
        if (strcmp(w[0], "enrollment") == 0) {
            if (n != 2)
                return ierr(ic, ERR_INVAL, ln->no,
                    "expected \"enrollment terminal\"");
            if ((rc = eng_tp_policy_check(NULL, NULL, w[1], &teb)) != 0)
                return ierr(ic, rc, ln->no, "%s", teb.msg);
            o->enr = "terminal";
        } else if (strcmp(w[0], "revocation-check") == 0) {
            if (n != 2)
                return ierr(ic, ERR_INVAL, ln->no,
                    "expected "
                    "\"revocation-check\" none, crl or ocsp");
            if ((rc = eng_tp_policy_check(w[1], NULL, NULL, &teb)) != 0)
                return ierr(ic, rc, ln->no, "%s", teb.msg);
            o->rev = "none";
        } else if (strcmp(w[0], "chain-validation") == 0) {
            if (n != 2)
                return ierr(ic, ERR_INVAL, ln->no,
                    "expected "
                    "\"chain-validation\" stop or continue");
            if ((rc = eng_tp_policy_check(NULL, w[1], NULL, &teb)) != 0)
                return ierr(ic, rc, ln->no, "%s", teb.msg);
            o->cv = strcmp(w[1], "stop") == 0 ? "stop" : "continue";
        } else if (strcmp(w[0], "exit") == 0 && indented(ln->s)) {
            /* leaves the sub-mode */
        } else if (indented(ln->s)) {
            return ierr(ic, ERR_UNSUPPORTED, ln->no,
                "trustpoint setting "
                "\"%s\" is not supported by herald; expected enrollment "
                "terminal, revocation-check or chain-validation",
                w[0]);
        } else {
            break;
        }
        (*i)++;
    }
    return 0;
}

static int
set_cert(struct ictx *ic, int no, const char *name, const char *data,
    size_t len)
{
    struct pki_cert     *c = NULL;
    const unsigned char *der;
    struct op           *o;
    size_t               dl;
    int                  rc;

    if ((rc = pki_cert_parse(data, len, &c, ic->eb)) != 0) {
        char m[608];
        snprintf(m, sizeof(m), "%.600s", ic->eb ? ic->eb->msg : "");
        return err_at(ic->eb, rc, no, 0,
            rc == ERR_NOMEM ? "nomem" : "invalid_certificate",
            "line %d: certificate for trustpoint %s: "
            "%s",
            no, name, m);
    }
    der = pki_cert_der(c, &dl);
    if ((o = plan_add(ic, OP_TP_CERT, no, name)) == NULL
        || (o->der = malloc(dl)) == NULL) {
        pki_cert_free(c);
        return ierr(ic, ERR_NOMEM, no, "out of memory");
    }
    memcpy(o->der, der, dl);
    o->derlen = dl;
    pki_cert_free(c);
    return 0;
}

/* 1 if s is what a router prints, not a command: a "%" message, or a line
 * of the dialogue around "configure terminal" and "crypto pki
 * authenticate" in a pasted terminal session. */
static int
ios_output(const char *s)
{
    static const char *const out[] = {
        "Enter configuration commands,",
        "Enter the base 64 encoded CA certificate.",
        "End with a blank line or the word \"quit\" on a line by itself",
        "Certificate has the following attributes:",
        "Fingerprint MD5:",
        "Fingerprint SHA1:",
        "Trustpoint CA certificate accepted.",
        "Building configuration...",
        "Current configuration :",
        NULL,
    };
    size_t i;

    s = skip_blank(s);
    if (*s == '%')
        return 1;
    for (i = 0; out[i] != NULL; i++)
        if (strncmp(s, out[i], strlen(out[i])) == 0)
            return 1;
    return 0;
}

/* "crypto pki authenticate NAME", then the certificate up to "quit" or a
 * blank line. The router's dialogue pasted with it (its instructions, the
 * fingerprints, "% Do you accept this certificate? [yes/no]: yes") is
 * skipped. */
static int
plan_authenticate(struct ictx *ic, size_t *i, const char *name)
{
    int        no = ic->lines[*i].no, rc;
    struct buf b = BUF_INIT;
    size_t     k = *i + 1;

    if (!tp_known(ic, name))
        return ierr(ic, ERR_INVAL, no,
            "trustpoint %s is not defined; add "
            "\"crypto pki trustpoint %s\" before authenticating it",
            name, name);
    while (
        k < ic->nlines && (blank(ic->lines[k].s) || ios_output(ic->lines[k].s)))
        k++;
    for (; k < ic->nlines; k++) {
        const char *s = skip_blank(ic->lines[k].s);
        if (*s == '\0' || strcmp(s, "quit") == 0)
            break;
        if (buf_puts(&b, s) != 0 || buf_putc(&b, '\n') != 0) {
            buf_free(&b);
            return ierr(ic, ERR_NOMEM, no, "out of memory");
        }
    }
    if (b.len == 0) {
        buf_free(&b);
        return ierr(ic, ERR_INVAL, no,
            "expected a certificate (PEM or "
            "base64) after \"crypto pki authenticate %s\", ended by "
            "\"quit\" or a blank line",
            name);
    }
    rc = set_cert(ic, no, name, buf_str(&b), b.len);
    buf_free(&b);
    /* the "yes" IOS asks for after showing the fingerprint */
    if (k + 1 < ic->nlines
        && strcmp(skip_blank(ic->lines[k + 1].s), "yes") == 0)
        k++;
    *i = k < ic->nlines ? k : ic->nlines - 1;
    return rc;
}

/* "crypto pki certificate chain NAME" / " certificate ca SERIAL" / hex /
 * " quit". */
static int
plan_chain(struct ictx *ic, size_t *i, const char *name)
{
    int        no = ic->lines[*i].no, rc = 0, ca = 0, start = 0, ncert = 0;
    struct buf b = BUF_INIT;
    char       w[3][80];
    size_t     n;

    if (!tp_known(ic, name))
        return ierr(ic, ERR_INVAL, no,
            "trustpoint %s is not defined; add "
            "\"crypto pki trustpoint %s\" before its certificate chain",
            name, name);
    while (*i + 1 < ic->nlines && rc == 0) {
        const struct line *ln = &ic->lines[*i + 1];
        if (!indented(ln->s) && !blank(ln->s))
            break;
        (*i)++;
        n = words(ln->s, w, 3, NULL);
        if (n == 0)
            continue;
        if (strcmp(w[0], "certificate") == 0) {
            if (start != 0) {
                rc = ierr(ic, ERR_INVAL, ln->no,
                    "expected \"quit\" to end "
                    "the certificate started on line %d",
                    start);
                break;
            }
            ca = n >= 2 && strcmp(w[1], "ca") == 0;
            start = ln->no;
            buf_reset(&b);
            if (ca && ncert++ > 0)
                rc = ierr(ic, ERR_UNSUPPORTED, ln->no,
                    "trustpoint %s has "
                    "more than one CA certificate; herald keeps one per "
                    "trustpoint",
                    name);
            continue;
        }
        if (strcmp(w[0], "quit") == 0) {
            if (start == 0) {
                rc = ierr(ic, ERR_INVAL, ln->no,
                    "\"quit\" without a "
                    "\"certificate\" line");
                break;
            }
            if (ca)
                rc = set_cert(ic, start, name, buf_str(&b), b.len);
            else
                log_info("config",
                    "event=import-skip-cert trustpoint=%s "
                    "line=%d reason=not-ca",
                    name, start);
            start = 0;
            continue;
        }
        if (start == 0) {
            rc = ierr(ic, ERR_INVAL, ln->no,
                "expected \"certificate ca "
                "SERIAL\" in the certificate chain of %s, got \"%s\"",
                name, w[0]);
            break;
        }
        if (buf_puts(&b, ln->s) != 0 || buf_putc(&b, '\n') != 0)
            rc = ierr(ic, ERR_NOMEM, ln->no, "out of memory");
    }
    if (rc == 0 && start != 0)
        rc = ierr(ic, ERR_INVAL, start,
            "the certificate of %s is not ended "
            "by \"quit\"",
            name);
    buf_free(&b);
    return rc;
}

#define RUN_MAX_ARGS 15

/* Splits the arguments of "event manager run NAME ..." in place: words,
 * or "quoted strings" (without the quotes). Returns the count, or -1 for
 * more than RUN_MAX_ARGS or an unterminated quote. */
static int
run_args(char *s, const char **args)
{
    int n = 0;

    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            return n;
        if (n == RUN_MAX_ARGS)
            return -1;
        if (*s == '"') {
            args[n++] = ++s;
            if ((s = strchr(s, '"')) == NULL)
                return -1;
        } else {
            args[n++] = s;
            while (*s != '\0' && *s != ' ' && *s != '\t')
                s++;
            if (*s == '\0')
                return n;
        }
        *s++ = '\0';
    }
}

static int
applet_known(struct ictx *ic, const char *name)
{
    struct op *o = plan_find(&ic->plan, OP_APPLET_PUT, OP_APPLET_DEL, name);
    struct eng_applet_rec r;
    struct errbuf         geb;
    int                   rc;

    if (o != NULL)
        return o->kind == OP_APPLET_PUT;
    memset(&r, 0, sizeof(r));
    rc = eng_store_applet_get(ic->st, name, &r, &geb);
    eng_applet_rec_clear(&r);
    return rc == 0;
}

/* "herald credential NAME" and its indented settings, one per line:
 * "type", "grant", "token-url", "client-id", "client-secret",
 * "refresh-token", "scope", "mechanism", each with the rest of the line as
 * its value. A masked secret keeps the stored one (engine/config/
 * credential.h); the result is checked now and stored when applied. */
static int
plan_credential(struct ictx *ic, size_t *i, const char *name)
{
    static const char *const keys[] = { "type", "grant", "token-url",
        "client-id", "client-secret", "refresh-token", "scope", "mechanism",
        NULL };
    char                    *vals[8] = { 0 };
    struct eng_cred_in       in;
    struct errbuf            ceb = { 0 };
    struct op               *o;
    char                     w[1][80];
    size_t                   ends[1] = { 0 }, k, n;
    int                      no = ic->lines[*i].no, rc = 0;

    if ((rc = eng_cred_name_check(name, &ceb)) != 0)
        return ierr(ic, rc, no, "%s", ceb.msg);
    while (*i + 1 < ic->nlines && rc == 0) {
        const struct line *ln = &ic->lines[*i + 1];
        const char        *v;

        if (!indented(ln->s) && !blank(ln->s))
            break;
        if (blank(ln->s) || *skip_blank(ln->s) == '!') {
            (*i)++;
            continue;
        }
        words(ln->s, w, 1, ends);
        (*i)++;
        if (strcmp(w[0], "exit") == 0)
            continue;
        for (k = 0; keys[k] != NULL && strcmp(keys[k], w[0]) != 0; k++)
            ;
        if (keys[k] == NULL) {
            rc = ierr(ic, ERR_UNSUPPORTED, ln->no,
                "credential setting \"%s\" is not known; expected type, "
                "grant, token-url, client-id, client-secret, refresh-token, "
                "scope or mechanism",
                w[0]);
            break;
        }
        v = skip_blank(ln->s + ends[0]);
        free(vals[k]);
        if ((vals[k] = strdup(v)) == NULL) {
            rc = ierr(ic, ERR_NOMEM, ln->no, "out of memory");
            break;
        }
        n = strlen(vals[k]);
        while (n > 0 && (vals[k][n - 1] == ' ' || vals[k][n - 1] == '\t'))
            vals[k][--n] = '\0';
    }
    if (rc == 0) {
        memset(&in, 0, sizeof(in));
        in.type = vals[0];
        in.grant = vals[1];
        in.token_url = vals[2];
        in.client_id = vals[3];
        /* not given in the text: none (the text is the whole credential),
         * unlike the API's PUT where a missing secret keeps the stored one */
        in.client_secret = vals[4] ? vals[4] : "";
        in.refresh_token = vals[5] ? vals[5] : "";
        in.scope = vals[6];
        in.mechanism = vals[7];
        if ((o = plan_add(ic, OP_CRED_PUT, no, name)) == NULL
            || (o->cred = calloc(1, sizeof(*o->cred))) == NULL)
            rc = ierr(ic, ERR_NOMEM, no, "out of memory");
        else if ((rc = eng_cred_prepare(ic->st, name, &in, o->cred, &ceb)) != 0)
            rc = ierr(ic, rc, no, "credential %s: %s", name, ceb.msg);
    }
    for (k = 0; k < 8; k++)
        if (vals[k] != NULL) {
            sec_wipe(vals[k], strlen(vals[k]));
            free(vals[k]);
        }
    return rc;
}

static int
plan_line(struct ictx *ic, size_t *i)
{
    const struct line *ln = &ic->lines[*i];
    const char        *s = skip_blank(ln->s);
    char               w[6][80], nm[80], **nv;
    size_t             ends[6], n;
    struct op         *o;

    if (*s == '\0' || ios_output(s))
        return 0;
    if (*s == '!') {
        /* "! NAME is secret" (what export writes) marks the next value */
        char want[128];
        if (sscanf(s, "! %79s", nm) == 1 && env_name_ok(nm)
            && snprintf(want, sizeof(want), "! %s is secret", nm) > 0
            && strcmp(s, want) == 0) {
            nv = realloc(ic->plan.secret_names,
                (ic->plan.nsecret + 1) * sizeof(*nv));
            if (nv == NULL)
                return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
            ic->plan.secret_names = nv;
            if ((nv[ic->plan.nsecret] = strdup(nm)) == NULL)
                return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
            ic->plan.nsecret++;
        }
        return 0;
    }
    n = words(s, w, 6, ends);
    if ((n == 1 && (strcmp(w[0], "end") == 0 || strcmp(w[0], "exit") == 0))
        || (n == 2
            && (strcmp(w[0], "configure") == 0 || strcmp(w[0], "conf") == 0)
            && (strcmp(w[1], "terminal") == 0 || strcmp(w[1], "t") == 0)))
        return 0;
    if (n >= 3 && strcmp(w[0], "event") == 0 && strcmp(w[1], "manager") == 0) {
        if (strcmp(w[2], "environment") == 0)
            return plan_env(ic, ln, s + ends[2], 0);
        if (strcmp(w[2], "applet") == 0)
            return plan_applet(ic, i);
        if (strcmp(w[2], "run") == 0) {
            if (n < 4)
                return ierr(ic, ERR_INVAL, ln->no,
                    "expected an applet name "
                    "after \"event manager run\"");
            if (!applet_known(ic, w[3]))
                return ierr(ic, ERR_INVAL, ln->no,
                    "event manager run: no applet named %s", w[3]);
            if ((o = plan_add(ic, OP_RUN, ln->no, w[3])) == NULL
                || (o->value = strdup(skip_blank(s + ends[3]))) == NULL)
                return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
            {
                const char *args[RUN_MAX_ARGS];
                char       *tmp = strdup(o->value);
                int         na;

                if (tmp == NULL)
                    return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
                na = run_args(tmp, args);
                free(tmp);
                if (na < 0)
                    return ierr(ic, ERR_INVAL, ln->no,
                        "event manager run "
                        "%s: expected at most %d arguments (words or "
                        "\"quoted strings\")",
                        w[3], RUN_MAX_ARGS);
            }
            return 0;
        }
        return ierr(ic, ERR_UNSUPPORTED, ln->no,
            "\"event manager %s\" is "
            "not supported by herald; expected event manager environment, "
            "applet or run",
            w[2]);
    }
    if (n >= 4 && strcmp(w[0], "no") == 0 && strcmp(w[1], "event") == 0
        && strcmp(w[2], "manager") == 0) {
        if (strcmp(w[3], "environment") == 0)
            return plan_env(ic, ln, s + ends[3], 1);
        if (strcmp(w[3], "applet") == 0 && n >= 5) {
            if ((o = plan_add(ic, OP_APPLET_DEL, ln->no, w[4])) == NULL)
                return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
            return 0;
        }
    }
    if (n >= 4 && strcmp(w[0], "crypto") == 0 && strcmp(w[1], "pki") == 0) {
        if (strcmp(w[2], "trustpoint") == 0)
            return plan_trustpoint(ic, i, w[3]);
        if (strcmp(w[2], "authenticate") == 0)
            return plan_authenticate(ic, i, w[3]);
        if (n >= 5 && strcmp(w[2], "certificate") == 0
            && strcmp(w[3], "chain") == 0)
            return plan_chain(ic, i, w[4]);
    }
    if (n >= 2 && strcmp(w[0], "herald") == 0
        && strcmp(w[1], "credential") == 0) {
        if (n < 3)
            return ierr(ic, ERR_INVAL, ln->no,
                "expected a credential name after \"herald credential\"");
        return plan_credential(ic, i, w[2]);
    }
    if (n >= 4 && strcmp(w[0], "no") == 0 && strcmp(w[1], "herald") == 0
        && strcmp(w[2], "credential") == 0) {
        if ((o = plan_add(ic, OP_CRED_DEL, ln->no, w[3])) == NULL)
            return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
        return 0;
    }
    if (n >= 5 && strcmp(w[0], "no") == 0 && strcmp(w[1], "crypto") == 0
        && strcmp(w[2], "pki") == 0 && strcmp(w[3], "trustpoint") == 0) {
        if ((o = plan_add(ic, OP_TP_DEL, ln->no, w[4])) == NULL)
            return ierr(ic, ERR_NOMEM, ln->no, "out of memory");
        return 0;
    }
    return ierr(ic, ERR_INVAL, ln->no,
        "unknown command \"%s\"; expected "
        "event manager environment|applet|run, crypto pki "
        "trustpoint|authenticate|certificate chain, herald credential, or "
        "their \"no\" forms",
        s);
}

/* ---- import: apply --------------------------------------------------- */

/* "no herald credential NAME": gone if stored, refused while an applet
 * (as the plan has left them so far) uses it. */
static int
apply_cred_del(struct ictx *ic, struct op *o)
{
    struct eng_cred_rec c;
    struct errbuf       geb;
    char               *user = NULL;
    int                 rc, have;

    memset(&c, 0, sizeof(c));
    have = eng_store_cred_get(ic->st, o->name, &c, &geb) == 0;
    eng_cred_rec_clear(&c);
    if (!have)
        return 0;
    if ((rc = eng_cred_used_by(ic->st, o->name, &user, ic->eb)) != 0)
        return rc;
    if (user != NULL) {
        rc = err_at(ic->eb, ERR_EXISTS, o->line, 0, "conflict",
            "line %d: credential %s is used by applet %s", o->line, o->name,
            user);
        free(user);
        return rc;
    }
    return eng_store_cred_del(ic->st, o->name, ic->eb);
}

static int
apply_op(struct ictx *ic, struct op *o, cJSON *sum, int *counts)
{
    struct eng_env_var    cur;
    struct eng_tp_rec     tp, old;
    struct eng_applet_rec ar;
    struct errbuf         geb;
    int                   rc = 0, secret, have;

    switch (o->kind) {
    case OP_ENV_PUT:
        counts[0]++;
        if (o->keep)
            return 0;
        memset(&cur, 0, sizeof(cur));
        have = eng_store_env_get(ic->st, o->name, &cur, &geb) == 0;
        secret = o->secret >= 0 ? o->secret : (have ? cur.secret : 0);
        eng_env_var_clear(&cur);
        return eng_store_env_put(ic->st, o->name, o->value, secret, NULL,
            ic->eb);
    case OP_ENV_DEL:
        /* a failed call inside the transaction dooms it: look first */
        memset(&cur, 0, sizeof(cur));
        have = eng_store_env_get(ic->st, o->name, &cur, &geb) == 0;
        eng_env_var_clear(&cur);
        return have ? eng_store_env_del(ic->st, o->name, ic->eb) : 0;
    case OP_APPLET_PUT:
        counts[1]++;
        return eng_store_applet_put(ic->st, o->name, o->value, NULL, ic->eb);
    case OP_APPLET_DEL:
        memset(&ar, 0, sizeof(ar));
        have = eng_store_applet_get(ic->st, o->name, &ar, &geb) == 0;
        eng_applet_rec_clear(&ar);
        return have ? eng_store_applet_del(ic->st, o->name, ic->eb) : 0;
    case OP_TP_PUT:
        counts[2]++;
        memset(&old, 0, sizeof(old));
        have = eng_store_tp_get(ic->st, o->name, &old, &geb) == 0;
        memset(&tp, 0, sizeof(tp));
        tp.name = o->name;
        tp.enrollment = (char *)(o->enr  ? o->enr
                : have && old.enrollment ? old.enrollment
                                         : "terminal");
        tp.revocation_check = (char *)(o->rev  ? o->rev
                : have && old.revocation_check ? old.revocation_check
                                               : "none");
        tp.chain_validation = (char *)(o->cv   ? o->cv
                : have && old.chain_validation ? old.chain_validation
                                               : "continue");
        rc = eng_store_tp_put(ic->st, &tp, NULL, ic->eb);
        eng_tp_rec_clear(&old);
        return rc;
    case OP_TP_DEL:
        memset(&old, 0, sizeof(old));
        have = eng_store_tp_get(ic->st, o->name, &old, &geb) == 0;
        eng_tp_rec_clear(&old);
        return have ? eng_store_tp_del(ic->st, o->name, ic->eb) : 0;
    case OP_TP_CERT:
        counts[3]++;
        return eng_store_tp_set_cert(ic->st, o->name, o->der, o->derlen,
            ic->eb);
    case OP_CRED_PUT:
        counts[4]++;
        return eng_store_cred_put(ic->st, o->cred, NULL, ic->eb);
    case OP_CRED_DEL:
        return apply_cred_del(ic, o);
    case OP_RUN:
        return cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(sum,
                                        "runs_requested"),
                   cJSON_CreateString(o->name))
            ? 0
            : ERR_NOMEM;
    default:
        return 0;
    }
}

/* is_defined for warnings: the plan's last word, else the store. */
/* The warnings of a certificate being authenticated (not a CA, expired,
 * expiring soon), as GET /api/v1/trustpoints shows them, each with its
 * trustpoint's name, appended to warns. */
static int
cert_warnings(const struct op *o, struct cJSON *warns, struct errbuf *eb)
{
    struct pki_cert *c = NULL;
    struct errbuf    ceb = { 0 };
    struct cJSON    *w, *it;

    if (o->der == NULL || pki_cert_from_der(o->der, o->derlen, &c, &ceb) != 0)
        return 0; /* refused when planned; nothing to add */
    w = pki_cert_warnings(c, time(NULL));
    pki_cert_free(c);
    if (w == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    cJSON_ArrayForEach(it, w)
        cJSON_AddStringToObject(it, "trustpoint", o->name);
    while ((it = cJSON_DetachItemFromArray(w, 0)) != NULL)
        cJSON_AddItemToArray(warns, it);
    cJSON_Delete(w);
    return 0;
}

static int
import_defined(void *ctx, const char *name)
{
    struct ictx       *ic = ctx;
    struct op         *o = plan_find(&ic->plan, OP_ENV_PUT, OP_ENV_DEL, name);
    struct eng_env_var v;
    struct errbuf      geb;
    int                rc;

    if (o != NULL && o->kind != OP_ENV_PUT)
        return 0;
    memset(&v, 0, sizeof(v));
    rc = eng_store_env_get(ic->st, name, &v, &geb);
    if (o != NULL) /* being imported: its value, or the stored one kept */
        rc = eng_env_kind(o->keep && rc == 0 ? v.value : o->value,
            o->secret > 0 || (o->secret < 0 && rc == 0 && v.secret));
    else
        rc = rc == 0 ? eng_env_kind(v.value, v.secret) : 0;
    eng_env_var_clear(&v);
    return rc;
}

/* exists for unknown_credential warnings: the plan's last word, else the
 * store. */
static int
import_cred_exists(void *ctx, const char *name)
{
    struct ictx *ic = ctx;
    struct op   *o = plan_find(&ic->plan, OP_CRED_PUT, OP_CRED_DEL, name);

    if (o != NULL)
        return o->kind == OP_CRED_PUT;
    return eng_cred_exists(ic->st, name);
}

static int
split_lines(struct ictx *ic, char *buf)
{
    char  *p = buf, *nl;
    size_t cap = 0, l;
    int    no = 1;

    while (p != NULL) {
        if ((nl = strchr(p, '\n')) != NULL)
            *nl++ = '\0';
        l = strlen(p);
        if (l > 0 && p[l - 1] == '\r')
            p[--l] = '\0';
        if (nl == NULL && l == 0)
            break;
        if ((l = eng_prompt_len(p)) > 0) {
            p += l;
            ic->prompts++;
        }
        if (ic->nlines == cap) {
            size_t       ncap = cap ? cap * 2 : 64;
            struct line *nv = realloc(ic->lines, ncap * sizeof(*nv));
            if (nv == NULL)
                return ERR_NOMEM;
            ic->lines = nv;
            cap = ncap;
        }
        ic->lines[ic->nlines].s = p;
        ic->lines[ic->nlines].no = no++;
        ic->nlines++;
        p = nl;
    }
    return 0;
}

/* Runs the plan's "event manager run" lines through runner, after the
 * commit; each gets an item {applet, line, ...} in the summary's "runs". */
static int
run_requested(struct ictx *ic, const struct eng_config_runner *runner,
    cJSON *sum)
{
    const char *args[RUN_MAX_ARGS];
    cJSON      *runs, *item;
    char       *tmp;
    size_t      i;
    int         na;

    if ((runs = cJSON_AddArrayToObject(sum, "runs")) == NULL)
        return ERR_NOMEM;
    for (i = 0; i < ic->plan.n; i++) {
        struct op *o = &ic->plan.ops[i];

        if (o->kind != OP_RUN)
            continue;
        if ((item = cJSON_CreateObject()) == NULL)
            return ERR_NOMEM;
        cJSON_AddItemToArray(runs, item);
        if (cJSON_AddStringToObject(item, "applet", o->name) == NULL
            || cJSON_AddNumberToObject(item, "line", o->line) == NULL
            || (tmp = strdup(o->value != NULL ? o->value : "")) == NULL)
            return ERR_NOMEM;
        na = run_args(tmp, args);
        runner->run(runner->ud, o->name, args, na > 0 ? (size_t)na : 0, item);
        free(tmp);
    }
    return 0;
}

int
eng_config_import(struct eng_store *st, const char *text, size_t len,
    struct cJSON **summary, struct errbuf *eb)
{
    return eng_config_import_run(st, text, len, NULL, summary, eb);
}

int
eng_config_import_run(struct eng_store *st, const char *text, size_t len,
    const struct eng_config_runner *runner, struct cJSON **summary,
    struct errbuf *eb)
{
    struct ictx ic;
    char       *buf = NULL;
    cJSON      *sum = NULL, *warns, *w, *it;
    size_t      i;
    int         rc = 0, counts[5] = { 0, 0, 0, 0, 0 }, began = 0;

    if (summary != NULL)
        *summary = NULL;
    memset(&ic, 0, sizeof(ic));
    ic.st = st;
    ic.eb = eb;
    if (len > CFG_MAX_TEXT)
        return err_set(eb, ERR_TOOBIG, "too_large",
            "configuration text is "
            "%zu bytes; the limit is %d",
            len, CFG_MAX_TEXT);
    if (memchr(text, '\0', len) != NULL)
        return err_set(eb, ERR_INVAL, "parse_error",
            "configuration text "
            "contains a NUL byte");
    if ((buf = strndup(text, len)) == NULL
        || (sum = cJSON_CreateObject()) == NULL
        || cJSON_AddArrayToObject(sum, "runs_requested") == NULL
        || (warns = cJSON_AddArrayToObject(sum, "warnings")) == NULL
        || split_lines(&ic, buf) != 0) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    /* 1. parse and check everything */
    for (i = 0; i < ic.nlines; i++)
        if ((rc = plan_line(&ic, &i)) != 0)
            goto out;
    /* 2. warnings, with the environment as it will be */
    for (i = 0; i < ic.plan.n; i++) {
        struct op *o = &ic.plan.ops[i];
        if (o->kind == OP_TP_CERT) {
            if ((rc = cert_warnings(o, warns, eb)) != 0)
                goto out;
            continue;
        }
        if (o->kind != OP_APPLET_PUT)
            continue;
        if ((w = eng_applet_warnings(o->applet, import_defined, &ic)) == NULL) {
            rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            goto out;
        }
        if (eng_applet_credential_warnings(o->applet, import_cred_exists, &ic,
                w)
            != 0) {
            cJSON_Delete(w);
            rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            goto out;
        }
        cJSON_ArrayForEach(it, w)
            cJSON_AddStringToObject(it, "applet", o->name);
        while ((it = cJSON_DetachItemFromArray(w, 0)) != NULL)
            cJSON_AddItemToArray(warns, it);
        cJSON_Delete(w);
    }
    /* 3. apply in one transaction */
    if ((rc = eng_store_begin(st, eb)) != 0)
        goto out;
    began = 1;
    for (i = 0; i < ic.plan.n; i++) {
        if ((rc = apply_op(&ic, &ic.plan.ops[i], sum, counts)) != 0) {
            if (rc == ERR_NOMEM)
                err_set(eb, rc, "nomem", "out of memory");
            if (eb != NULL)
                eb->line = ic.plan.ops[i].line;
            goto out;
        }
    }
    began = 0;
    if ((rc = eng_store_commit(st, eb)) != 0)
        goto out;
    cJSON_AddNumberToObject(sum, "environment", counts[0]);
    cJSON_AddNumberToObject(sum, "applets", counts[1]);
    cJSON_AddNumberToObject(sum, "trustpoints", counts[2]);
    cJSON_AddNumberToObject(sum, "certificates", counts[3]);
    cJSON_AddNumberToObject(sum, "credentials", counts[4]);
    cJSON_AddNumberToObject(sum, "prompts_removed", ic.prompts);
    log_info("config",
        "event=import environment=%d applets=%d "
        "trustpoints=%d certificates=%d credentials=%d prompts_removed=%u",
        counts[0], counts[1], counts[2], counts[3], counts[4], ic.prompts);
    if (runner != NULL && runner->run != NULL
        && run_requested(&ic, runner, sum) != 0) {
        /* imported; only the report of the runs is short */
        log_warn("config", "event=import-runs-report reason=nomem");
    }
    if (summary != NULL) {
        *summary = sum;
        sum = NULL;
    }
out:
    if (began)
        eng_store_rollback(st);
    cJSON_Delete(sum);
    plan_free(&ic.plan);
    free(ic.lines);
    free(buf);
    return rc;
}
