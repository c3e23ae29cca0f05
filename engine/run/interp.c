/* SPDX-License-Identifier: MIT */
/*
 * engine/run/interp.c: the applet interpreter (see engine/run/interp.h and
 * ../shared/EEM.md).
 *
 * Actions run in the applet's stored order (ascending byte-wise by label).
 * Before anything runs, one pass over that order builds a jump table for
 * if/elseif/else/end, while/end, foreach/end, break and continue, so that an
 * unbalanced block is reported up front with its label. Each executed
 * action gets one trace entry {label, action, ms, outcome, error?,
 * error_class?, smtp?}. A failing action aborts the run with IOS's
 *   %HA_EM-3-FMPD_ERROR: Error executing applet NAME statement LABEL
 * and one plain sentence saying how to fix it (abort_fix()), unless
 * "handle-error type ignore" (sets $_error, goes on) or "retry".
 * maxrun is checked before every action and inside wait; the cancel flag
 * likewise. The interpreter performs no I/O besides sleeping: mail, syslog,
 * context and policy go through the caller's hooks.
 */
#include "engine/run/interp.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"
#include "engine/lang/applet.h"
#include "engine/run/interp_int.h"
#include "engine/mail/mail.h"

enum { HE_EXIT = 0, HE_IGNORE, HE_RETRY };

/* ---- small helpers ---------------------------------------------------- */

static double
now_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies src into dst (size n), truncating; always NUL-terminates. */
static void
copy_str(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);

    if (n == 0)
        return;
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static int
name_valid(const char *s)
{
    const char *p;

    if (s == NULL || *s == '\0')
        return 0;
    for (p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

const char *
eng_run_status_name(int status)
{
    switch (status) {
    case ENG_RUN_SUCCESS:
        return "success";
    case ENG_RUN_ABORT:
        return "abort";
    case ENG_RUN_TIMEOUT:
        return "timeout";
    case ENG_RUN_CANCELLED:
        return "cancelled";
    default:
        return "unknown";
    }
}

void
eng_run_result_clear(struct eng_run_result *r)
{
    if (r == NULL)
        return;
    buf_free(&r->output);
    cJSON_Delete(r->trace);
    memset(r, 0, sizeof(*r));
}

/* ---- variables -------------------------------------------------------- */

static struct interp_var *
var_find(struct interp_var *v, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return &v[i];
    return NULL;
}

char *
interp_lookup(void *ud, const char *name, char **shown)
{
    struct interp_ctx *c = ud;
    struct interp_var *v;
    char              *val;
    int                secret = 0, oom = 0;

    *shown = NULL;
    if ((v = var_find(c->locals, c->nlocals, name)) != NULL
        || (v = var_find(c->builtins, c->nbuiltins, name)) != NULL) {
        if (v->shown != NULL && (*shown = strdup(v->shown)) == NULL)
            return NULL;
        return strdup(v->value);
    }
    if (c->env == NULL || c->env->env_get == NULL
        || (val = c->env->env_get(c->env->ud, name, &secret)) == NULL)
        return NULL;
    *shown = eng_secret_shown(val, secret, &oom);
    if (oom) {
        sec_free_str(val);
        return NULL;
    }
    return val;
}

/* The value of a variable as any output may show it (a secret masked),
 * or NULL if undefined. New string (free()). */
static char *
lookup_shown(struct interp_ctx *c, const char *name)
{
    char *val, *shown = NULL;

    if ((val = interp_lookup(c, name, &shown)) == NULL || shown == NULL)
        return val;
    sec_free_str(val);
    return shown;
}

/* Sets a local without the read-only check (the interpreter's own
 * results: $_result, $_string_result, $_error, ...). */
static int
setvar_raw(struct interp_ctx *c, const char *name, const char *value,
    const char *shown)
{
    struct interp_var *v;
    char              *dup, *sdup = NULL;

    if ((dup = strdup(value)) == NULL
        || (shown != NULL && (sdup = strdup(shown)) == NULL))
        goto nomem;
    if ((v = var_find(c->locals, c->nlocals, name)) != NULL) {
        sec_free_str(v->value);
        sec_free_str(v->shown);
        v->value = dup;
        v->shown = sdup;
        return 0;
    }
    if (c->nlocals == c->caplocals) {
        size_t             cap = c->caplocals ? c->caplocals * 2 : 16;
        struct interp_var *nv = realloc(c->locals, cap * sizeof(*nv));

        if (nv == NULL)
            goto nomem;
        c->locals = nv;
        c->caplocals = cap;
    }
    if ((c->locals[c->nlocals].name = strdup(name)) == NULL)
        goto nomem;
    c->locals[c->nlocals].shown = sdup;
    c->locals[c->nlocals++].value = dup;
    return 0;
nomem:
    sec_free_str(dup);
    sec_free_str(sdup);
    c->nomem = 1;
    return err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
}

int
interp_setvar(struct interp_ctx *c, const char *name, const char *value)
{
    return interp_setvar_secret(c, name, value, NULL);
}

int
interp_setvar_secret(struct interp_ctx *c, const char *name, const char *value,
    const char *shown)
{
    if (name != NULL && name[0] == '$')
        name++;
    if (!name_valid(name))
        return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "invalid variable name \"%s\": use letters, digits and _",
            name != NULL ? name : "");
    if (strcmp(name, "_exit_status") != 0
        && var_find(c->builtins, c->nbuiltins, name) != NULL)
        return err_set(&c->aeb, ERR_INVAL, "read_only_variable",
            "variable %s is a read-only built-in of the event", name);
    return setvar_raw(c, name, value, shown);
}

static int
setvar_int(struct interp_ctx *c, const char *name, long long v)
{
    char num[32];

    snprintf(num, sizeof(num), "%lld", v);
    return setvar_raw(c, name, num, NULL);
}

static int
arg_expand(struct interp_ctx *c, const char *param, int reveal, char **out)
{
    const char *raw = eng_action_arg(c->a, c->pc, param);
    int         rc;

    *out = NULL;
    if (raw == NULL)
        return 0;
    if ((rc = eng_expand(raw, interp_lookup, c, reveal, out, &c->aeb))
        == ERR_NOMEM)
        c->nomem = 1;
    return rc;
}

int
interp_arg(struct interp_ctx *c, const char *param, char **out)
{
    return arg_expand(c, param, 0, out);
}

int
interp_arg_reveal(struct interp_ctx *c, const char *param, char **out)
{
    return arg_expand(c, param, 1, out);
}

int
interp_arg_req(struct interp_ctx *c, const char *param, char **out)
{
    int rc;

    if ((rc = interp_arg(c, param, out)) != 0)
        return rc;
    if (*out == NULL)
        return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "action %s: missing parameter %s",
            eng_applet_action(c->a, c->pc)->verb, param);
    return 0;
}

/* The variable-name parameter of the current action, without expansion and
 * without a leading '$'. */
static const char *
arg_varname(struct interp_ctx *c, const char *param)
{
    const char *v = eng_action_arg(c->a, c->pc, param);

    if (v != NULL && v[0] == '$')
        v++;
    return v;
}

int
interp_int(struct interp_ctx *c, const char *what, const char *s, long long *v)
{
    const char *p = s;
    char       *end;

    while (*p == ' ' || *p == '\t')
        p++;
    if ((*p >= '0' && *p <= '9')
        || ((*p == '-' || *p == '+') && p[1] >= '0' && p[1] <= '9')) {
        errno = 0;
        *v = strtoll(p, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end == '\0' && errno == 0)
            return 0;
        if (errno == ERANGE)
            return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
                "%s: integer out of range: \"%s\"", what, s);
    }
    return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
        "%s: not an integer: \"%s\"", what, s);
}

/* ---- the trace -------------------------------------------------------- */

static cJSON *
trace_add(struct interp_ctx *c, const char *label, const char *verb)
{
    cJSON *e;

    if (c->out->trace == NULL)
        return NULL;
    if (c->ntrace > INTERP_TRACE_MAX)
        return NULL;
    if ((e = cJSON_CreateObject()) == NULL) {
        c->nomem = 1;
        return NULL;
    }
    if (c->ntrace++ == INTERP_TRACE_MAX) {
        cJSON_AddStringToObject(e, "label", label);
        cJSON_AddStringToObject(e, "action", "truncated");
        cJSON_AddNumberToObject(e, "ms", 0);
        cJSON_AddStringToObject(e, "outcome", "skipped");
        cJSON_AddStringToObject(e, "error",
            "trace truncated: more than "
            "10000 actions ran; later actions are not recorded");
        cJSON_AddItemToArray(c->out->trace, e);
        return NULL;
    }
    cJSON_AddStringToObject(e, "label", label);
    cJSON_AddStringToObject(e, "action", verb);
    cJSON_AddItemToArray(c->out->trace, e);
    return e;
}

/* ---- waiting ---------------------------------------------------------- */

/* Sleeps secs in small slices, honouring the cancel flag and the deadline.
 * Returns 0, or ERR_TIMEOUT with c->out->status set (timeout/cancelled). */
static int
interp_sleep(struct interp_ctx *c, double secs)
{
    double          until = now_mono() + secs, left;
    struct timespec ts;

    for (;;) {
        if (c->env->cancel != NULL
            && atomic_load_explicit(c->env->cancel, memory_order_relaxed)) {
            c->out->status = ENG_RUN_CANCELLED;
            return ERR_TIMEOUT;
        }
        left = until - now_mono();
        if (now_mono() >= c->deadline) {
            c->out->status = ENG_RUN_TIMEOUT;
            return ERR_TIMEOUT;
        }
        if (left <= 0)
            return 0;
        if (left > c->deadline - now_mono())
            left = c->deadline - now_mono();
        if (left > 0.02)
            left = 0.02;
        if (left < 0)
            left = 0;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
}

/* ---- conditions ------------------------------------------------------- */

static int
is_integer(const char *s, long long *v)
{
    const char *p = s;
    char       *end;

    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *end == '\0' && errno == 0;
}

/* Evaluates "left op right" of the current if/elseif/while into *truth. */
static int
cond_eval(struct interp_ctx *c, int *truth)
{
    char     *l = NULL, *op = NULL, *r = NULL;
    long long a, b;
    int       cmp, rc;

    *truth = 0;
    if ((rc = interp_arg_req(c, "left", &l)) != 0
        || (rc = interp_arg_req(c, "op", &op)) != 0
        || (rc = interp_arg_req(c, "right", &r)) != 0)
        goto out;
    if (is_integer(l, &a) && is_integer(r, &b))
        cmp = a < b ? -1 : a > b;
    else
        cmp = strcmp(l, r);
    if (strcmp(op, "eq") == 0)
        *truth = cmp == 0;
    else if (strcmp(op, "ne") == 0)
        *truth = cmp != 0;
    else if (strcmp(op, "lt") == 0)
        *truth = cmp < 0;
    else if (strcmp(op, "le") == 0)
        *truth = cmp <= 0;
    else if (strcmp(op, "gt") == 0)
        *truth = cmp > 0;
    else if (strcmp(op, "ge") == 0)
        *truth = cmp >= 0;
    else
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "unknown operator \"%s\": use eq, ne, lt, le, gt or ge", op);
out:
    free(l);
    free(op);
    free(r);
    return rc;
}

/* ---- the jump table --------------------------------------------------- */

static const char *
label_of(const struct interp_ctx *c, size_t i)
{
    return eng_applet_action(c->a, i)->label;
}

/* Builds c->jt. On an unbalanced block, returns ERR_INVAL with c->aeb set
 * and c->pc at the offending action. */
static int
jt_build(struct interp_ctx *c)
{
    struct frame {
        size_t head, last;
    } * st;
    size_t n = c->nactions, sp = 0, i, j, k;
    int    rc = 0, kind;

    if ((st = calloc(n + 1, sizeof(*st))) == NULL)
        return ERR_NOMEM;
    for (i = 0; i < n && rc == 0; i++) {
        c->jt[i].act = interp_action_find(eng_applet_action(c->a, i)->verb);
        kind = c->jt[i].act != NULL ? c->jt[i].act->kind : K_PLAIN;
        c->jt[i].kind = kind;
        c->pc = i;
        switch (kind) {
        case K_IF:
        case K_WHILE:
        case K_FOREACH:
            st[sp].head = st[sp].last = i;
            sp++;
            break;
        case K_ELSEIF:
        case K_ELSE:
            if (sp == 0 || c->jt[st[sp - 1].head].kind != K_IF) {
                rc = err_set(&c->aeb, ERR_INVAL, "unbalanced_block",
                    "label %s: %s without if", label_of(c, i),
                    kind == K_ELSE ? "else" : "elseif");
                break;
            }
            if (c->jt[st[sp - 1].last].kind == K_ELSE) {
                rc = err_set(&c->aeb, ERR_INVAL, "unbalanced_block",
                    "label %s: %s after else (label %s)", label_of(c, i),
                    kind == K_ELSE ? "else" : "elseif",
                    label_of(c, st[sp - 1].last));
                break;
            }
            c->jt[st[sp - 1].last].next = i;
            st[sp - 1].last = i;
            break;
        case K_END:
            if (sp == 0) {
                rc = err_set(&c->aeb, ERR_INVAL, "unbalanced_block",
                    "label %s: end without if/while/foreach", label_of(c, i));
                break;
            }
            sp--;
            j = st[sp].head;
            if (c->jt[j].kind == K_IF) {
                c->jt[st[sp].last].next = i;
                for (k = j; k != i; k = c->jt[k].next)
                    c->jt[k].end = i;
            } else {
                c->jt[j].end = i;
                c->jt[i].head = j;
                c->jt[i].loop_end = 1;
            }
            break;
        case K_BREAK:
        case K_CONTINUE:
            for (j = sp; j > 0; j--)
                if (c->jt[st[j - 1].head].kind != K_IF)
                    break;
            if (j == 0) {
                rc = err_set(&c->aeb, ERR_INVAL, "unbalanced_block",
                    "label %s: %s outside while/foreach", label_of(c, i),
                    kind == K_BREAK ? "break" : "continue");
                break;
            }
            c->jt[i].head = st[j - 1].head;
            break;
        default:
            break;
        }
    }
    if (rc == 0 && sp > 0) {
        j = st[sp - 1].head;
        c->pc = j;
        rc = err_set(&c->aeb, ERR_INVAL, "unbalanced_block",
            "label %s: %s without end", label_of(c, j),
            eng_applet_action(c->a, j)->verb);
    }
    free(st);
    return rc;
}

/* ---- actions ---------------------------------------------------------- */

static int
act_set(struct interp_ctx *c, int arg)
{
    const char *var = arg_varname(c, "var");
    char       *val = NULL, *full = NULL;
    int         rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "value", &val)) != 0)
        goto out;
    if ((rc = interp_arg_reveal(c, "value", &full)) != 0)
        goto out;
    /* a secret flows through set whole: the copy is as secret (and as
     * usable as a mail server) as the original */
    rc =
        interp_setvar_secret(c, var, full, strcmp(full, val) != 0 ? val : NULL);
out:
    free(val);
    sec_free_str(full);
    return rc;
}

static int
act_append(struct interp_ctx *c, int arg)
{
    const char *var = arg_varname(c, "var");
    char       *val = NULL, *cur = NULL, *cat = NULL;
    int         rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "value", &val)) != 0)
        goto out;
    if (name_valid(var) && (cur = lookup_shown(c, var)) != NULL) {
        size_t a = strlen(cur), b = strlen(val);

        if ((cat = malloc(a + b + 1)) == NULL) {
            c->nomem = 1;
            rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
            goto out;
        }
        memcpy(cat, cur, a);
        memcpy(cat + a, val, b + 1);
    }
    rc = interp_setvar(c, var, cat != NULL ? cat : val);
out:
    free(val);
    free(cur);
    free(cat);
    return rc;
}

static int
act_incdec(struct interp_ctx *c, int sign)
{
    const char *var = arg_varname(c, "var");
    char       *by = NULL, *cur = NULL;
    long long   a, b = 1, r;
    int         rc;

    if ((rc = interp_arg(c, "value", &by)) != 0)
        goto out;
    if (by != NULL && (rc = interp_int(c, "value", by, &b)) != 0)
        goto out;
    if (!name_valid(var)) {
        rc = interp_setvar(c, var, ""); /* reports the bad name */
        goto out;
    }
    if ((cur = lookup_shown(c, var)) == NULL) {
        rc = err_field(&c->aeb, ERR_INVAL, var, "undefined_variable",
            "%%HA_EM-3-FMPD_UNKNOWN_ENV: could not find environment "
            "variable: %s",
            var);
        goto out;
    }
    if ((rc = interp_int(c, var, cur, &a)) != 0)
        goto out;
    if (sign > 0 ? __builtin_add_overflow(a, b, &r)
                 : __builtin_sub_overflow(a, b, &r)) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "%s: integer overflow", var);
        goto out;
    }
    {
        char num[32];

        snprintf(num, sizeof(num), "%lld", r);
        rc = interp_setvar(c, var, num);
    }
out:
    free(by);
    free(cur);
    return rc;
}

static int
act_math(struct interp_ctx *c, int op)
{
    char     *l = NULL, *r = NULL;
    long long a, b, res = 0;
    int       rc, ovf = 0;

    if ((rc = interp_arg_req(c, "left", &l)) != 0
        || (rc = interp_arg_req(c, "right", &r)) != 0
        || (rc = interp_int(c, "left operand", l, &a)) != 0
        || (rc = interp_int(c, "right operand", r, &b)) != 0)
        goto out;
    switch (op) {
    case '+':
        ovf = __builtin_add_overflow(a, b, &res);
        break;
    case '-':
        ovf = __builtin_sub_overflow(a, b, &res);
        break;
    case '*':
        ovf = __builtin_mul_overflow(a, b, &res);
        break;
    default:
        if (b == 0) {
            rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
                "divide: division by zero (%s / %s)", l, r);
            goto out;
        }
        if (a == LLONG_MIN && b == -1) {
            ovf = 1;
            break;
        }
        res = a / b;
        if ((rc = setvar_int(c, "_remainder", a % b)) != 0)
            goto out;
        break;
    }
    if (ovf) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "integer overflow computing %s %c %s", l, op, r);
        goto out;
    }
    rc = setvar_int(c, "_result", res);
out:
    free(l);
    free(r);
    return rc;
}

static int
syslog_priority(const char *s)
{
    static const char *names[] = { "emergencies", "alerts", "critical",
        "errors", "warnings", "notifications", "informational", "debugging" };
    size_t             i;

    if (s == NULL)
        return 6;
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    for (i = 0; i < 8; i++)
        if (strcasecmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

static int
act_syslog(struct interp_ctx *c, int arg)
{
    char      *msg = NULL, *pri = NULL;
    struct buf line = BUF_INIT;
    int        rc, level;

    (void)arg;
    if ((rc = interp_arg_req(c, "msg", &msg)) != 0
        || (rc = interp_arg(c, "priority", &pri)) != 0)
        goto out;
    if ((level = syslog_priority(pri)) < 0) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "syslog priority \"%s\" unknown: use emergencies, alerts, "
            "critical, errors, warnings, notifications, informational, "
            "debugging or 0..7",
            pri);
        goto out;
    }
    if (buf_printf(&line, "%%HA_EM-%d-LOG: %s: %s", level,
            eng_applet_name(c->a), msg)
        != 0) {
        c->nomem = 1;
        rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    if (c->env->syslog != NULL)
        c->env->syslog(c->env->ud, level, buf_str(&line));
out:
    buf_free(&line);
    free(msg);
    free(pri);
    return rc;
}

static int
act_regexp(struct interp_ctx *c, int arg)
{
    static const char *vars[] = { "match", "sub1", "sub2", "sub3" };
    char              *pat = NULL, *in = NULL, ebuf[256];
    regex_t            re;
    regmatch_t         m[4];
    int                rc, erc, compiled = 0;
    size_t             i;

    (void)arg;
    if ((rc = interp_arg_req(c, "pattern", &pat)) != 0
        || (rc = interp_arg_req(c, "input", &in)) != 0)
        goto out;
    if ((erc = regcomp(&re, pat, REG_EXTENDED)) != 0) {
        regerror(erc, &re, ebuf, sizeof(ebuf));
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_regexp",
            "regexp: bad pattern \"%s\": %s", pat, ebuf);
        goto out;
    }
    compiled = 1;
    if (regexec(&re, in, 4, m, 0) != 0) {
        rc = setvar_raw(c, "_regexp_result", "0", NULL);
        goto out;
    }
    for (i = 0; i < 4; i++) {
        const char *var = arg_varname(c, vars[i]);
        char       *sub;

        if (var == NULL)
            continue;
        if (m[i].rm_so < 0)
            sub = strdup("");
        else
            sub = strndup(in + m[i].rm_so, (size_t)(m[i].rm_eo - m[i].rm_so));
        if (sub == NULL) {
            c->nomem = 1;
            rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
            goto out;
        }
        rc = interp_setvar(c, var, sub);
        free(sub);
        if (rc != 0)
            goto out;
    }
    rc = setvar_raw(c, "_regexp_result", "1", NULL);
out:
    if (compiled)
        regfree(&re);
    free(pat);
    free(in);
    return rc;
}

static int
act_wait(struct interp_ctx *c, int arg)
{
    char  *s = NULL, *end;
    double secs;
    int    rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "seconds", &s)) != 0)
        goto out;
    secs = strtod(s, &end);
    if (end == s || *end != '\0' || !(secs >= 0) || secs > 1e7) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "wait: not a number of seconds: \"%s\"", s);
        goto out;
    }
    rc = interp_sleep(c, secs);
out:
    free(s);
    return rc;
}

static int
act_puts(struct interp_ctx *c, int arg)
{
    const char *nl = eng_action_arg(c->a, c->pc, "nonewline");
    struct buf *o = &c->out->output;
    char       *text = NULL;
    size_t      len, room;
    int         rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "text", &text)) != 0)
        goto out;
    if (c->output_truncated)
        goto out;
    len = strlen(text);
    room = INTERP_OUTPUT_MAX - o->len;
    rc = buf_append(o, text, len < room ? len : room);
    if (rc == 0 && len < room && (nl == NULL || strcmp(nl, "0") == 0))
        rc = buf_putc(o, '\n');
    if (rc == 0 && o->len >= INTERP_OUTPUT_MAX) {
        c->output_truncated = 1;
        rc = buf_puts(o, "\n[output truncated at 65536 bytes]\n");
    }
    if (rc != 0) {
        c->nomem = 1;
        rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
    }
out:
    free(text);
    return rc;
}

static int
act_exit(struct interp_ctx *c, int arg)
{
    char     *s = NULL;
    long long v = 0;
    int       rc;

    (void)arg;
    if ((rc = interp_arg(c, "status", &s)) != 0)
        goto out;
    if (s != NULL && (rc = interp_int(c, "exit status", s, &v)) != 0)
        goto out;
    if ((rc = setvar_int(c, "_exit_status", v)) == 0)
        c->stop = 1;
out:
    free(s);
    return rc;
}

static int
act_handle_error(struct interp_ctx *c, int arg)
{
    char     *type = NULL, *count = NULL, *delay = NULL, *end;
    long long n = 1;
    double    d = 0;
    int       rc, t;

    (void)arg;
    if ((rc = interp_arg_req(c, "type", &type)) != 0
        || (rc = interp_arg(c, "count", &count)) != 0
        || (rc = interp_arg(c, "delay", &delay)) != 0)
        goto out;
    if (strcmp(type, "exit") == 0)
        t = HE_EXIT;
    else if (strcmp(type, "ignore") == 0)
        t = HE_IGNORE;
    else if (strcmp(type, "retry") == 0)
        t = HE_RETRY;
    else {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "handle-error type \"%s\" unknown: use exit, ignore or retry",
            type);
        goto out;
    }
    if (count != NULL
        && ((rc = interp_int(c, "handle-error count", count, &n)) != 0))
        goto out;
    if (n < 0 || n > 1000) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "handle-error count %lld out of range 0..1000", n);
        goto out;
    }
    if (delay != NULL) {
        d = strtod(delay, &end);
        if (end == delay || *end != '\0' || !(d >= 0) || d > 86400) {
            rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
                "handle-error delay: not a number of seconds: \"%s\"", delay);
            goto out;
        }
    }
    c->he_type = t;
    c->he_count = (long)n;
    c->he_delay = d;
out:
    free(type);
    free(count);
    free(delay);
    return rc;
}

static int
act_context_save(struct interp_ctx *c, int arg)
{
    char  *key = NULL, *pat = NULL;
    cJSON *vars = NULL;
    size_t i;
    int    rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "key", &key)) != 0
        || (rc = interp_arg_req(c, "variable", &pat)) != 0)
        goto out;
    if (c->env->context_save == NULL) {
        rc = err_set(&c->aeb, ERR_UNSUPPORTED, "context_unavailable",
            "context save: no context store in this run");
        goto out;
    }
    if ((vars = cJSON_CreateObject()) == NULL)
        goto nomem;
    for (i = 0; i < c->nlocals; i++)
        if (fnmatch(pat, c->locals[i].name, 0) == 0
            && cJSON_AddStringToObject(vars, c->locals[i].name,
                   c->locals[i].shown != NULL ? c->locals[i].shown
                                              : c->locals[i].value)
                == NULL)
            goto nomem;
    if ((rc = c->env->context_save(c->env->ud, key, vars)) != 0)
        rc = err_set(&c->aeb, rc, "context_failed",
            "context save key %s failed (%s)", key, err_name(rc));
    goto out;
nomem:
    c->nomem = 1;
    rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
out:
    cJSON_Delete(vars);
    free(key);
    free(pat);
    return rc;
}

static int
act_context_retrieve(struct interp_ctx *c, int arg)
{
    char        *key = NULL, *pat = NULL;
    cJSON       *vars = NULL;
    const cJSON *it;
    int          rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "key", &key)) != 0
        || (rc = interp_arg(c, "variable", &pat)) != 0)
        goto out;
    if (c->env->context_retrieve == NULL) {
        rc = err_set(&c->aeb, ERR_UNSUPPORTED, "context_unavailable",
            "context retrieve: no context store in this run");
        goto out;
    }
    if ((vars = c->env->context_retrieve(c->env->ud, key)) == NULL) {
        rc = err_set(&c->aeb, ERR_NOTFOUND, "context_not_found",
            "context retrieve: nothing was saved under key %s", key);
        goto out;
    }
    cJSON_ArrayForEach(it, vars)
    {
        if (!cJSON_IsString(it) || it->string == NULL)
            continue;
        if (pat != NULL && fnmatch(pat, it->string, 0) != 0)
            continue;
        if ((rc = interp_setvar(c, it->string, it->valuestring)) != 0)
            goto out;
    }
out:
    cJSON_Delete(vars);
    free(key);
    free(pat);
    return rc;
}

static int
act_policy(struct interp_ctx *c, int arg)
{
    char *name = NULL, *args = NULL;
    int   rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "name", &name)) != 0
        || (rc = interp_arg(c, "args", &args)) != 0)
        goto out;
    if (c->env->policy == NULL) {
        rc = err_set(&c->aeb, ERR_UNSUPPORTED, "policy_unavailable",
            "policy %s: applets cannot start other applets in this run", name);
        goto out;
    }
    if ((rc = c->env->policy(c->env->ud, name, args)) != 0)
        rc = err_set(&c->aeb, rc < 0 ? rc : ERR_INVAL, "policy_failed",
            "policy %s could not be started (%s)", name, err_name(rc));
out:
    free(name);
    free(args);
    return rc;
}

/* A publish-event number (sub-system, type) after expansion: 1..999. */
static int
publish_num(struct interp_ctx *c, const char *param, const char *v,
    unsigned *out)
{
    char *end;
    long  l;

    l = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || v[0] < '0' || v[0] > '9' || *end != '\0' || l < 1
        || l > 999)
        return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "publish-event: %s \"%s\" is not a number from 1 to 999", param,
            v != NULL ? v : "");
    *out = (unsigned)l;
    return 0;
}

static int
act_publish(struct interp_ctx *c, int arg)
{
    static const char *params[] = { "sub-system", "type", "arg1", "arg2",
        "arg3", "arg4" };
    cJSON             *ev;
    char              *v[6] = { NULL }, msg[512];
    const char        *data[4];
    unsigned           sub = 0, type = 0;
    size_t             i, nd = 0;
    int                rc = 0;

    (void)arg;
    if ((ev = cJSON_CreateObject()) == NULL)
        goto nomem;
    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        if ((rc = interp_arg(c, params[i], &v[i])) != 0)
            goto out;
        if (v[i] != NULL
            && cJSON_AddStringToObject(ev, params[i], v[i]) == NULL)
            goto nomem;
    }
    if (c->entry != NULL) {
        cJSON_AddItemToObject(c->entry, "event", ev);
        ev = NULL;
    }
    if (c->env->publish == NULL) /* recorded only */
        goto out;
    if ((rc = publish_num(c, "sub-system", v[0], &sub)) != 0
        || (rc = publish_num(c, "type", v[1], &type)) != 0)
        goto out;
    /* arg1..arg4 in order; a missing argN leaves "" before a later one */
    for (i = 2; i < 6; i++)
        if (v[i] != NULL)
            nd = i - 1;
    for (i = 0; i < nd; i++)
        data[i] = v[i + 2] != NULL ? v[i + 2] : "";
    msg[0] = '\0';
    if ((rc = c->env->publish(c->env->ud, sub, type, data, nd, c->entry, msg,
             sizeof(msg)))
        != 0) {
        if (rc == ERR_NOMEM)
            goto nomem;
        rc = err_set(&c->aeb, rc, "publish_failed",
            "publish-event sub-system %u type %u: %s", sub, type,
            msg[0] ? msg : err_name(rc));
    }
    goto out;
nomem:
    c->nomem = 1;
    rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
out:
    cJSON_Delete(ev);
    for (i = 0; i < 6; i++)
        free(v[i]);
    return rc;
}

static int
act_mail(struct interp_ctx *c, int arg)
{
    enum {
        P_SERVER,
        P_TO,
        P_FROM,
        P_CC,
        P_SUBJECT,
        P_BODY,
        P_SRCIF,
        P_SRCADDR,
        P_PORT,
        P_SECURE,
        P_TLSNAME,
        P_CRED,
        P_N
    };
    static const char  *params[P_N] = { "server", "to", "from", "cc", "subject",
         "body", "source-interface", "source-address", "port", "secure",
         "tls-name", "credential" };
    struct eng_mail_req req;
    struct smtp_result  res;
    struct buf          msg = BUF_INIT;
    char               *v[P_N] = { 0 };
    cJSON              *st = NULL;
    long long           port = 0;
    size_t              i;
    int                 rc = 0;

    (void)arg;
    /* only the server consumes a credential; everything else (subject,
     * body, addresses) shows a secret masked */
    for (i = 0; i < P_N && rc == 0; i++)
        rc = i == P_SERVER ? interp_arg_reveal(c, params[i], &v[i])
                           : interp_arg(c, params[i], &v[i]);
    if (rc != 0)
        goto out;
    if (v[P_SERVER] == NULL || v[P_TO] == NULL || v[P_FROM] == NULL) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "mail: %s is required",
            v[P_SERVER] == NULL   ? "server"
                : v[P_TO] == NULL ? "to"
                                  : "from");
        goto out;
    }
    if (v[P_PORT] != NULL) {
        if ((rc = interp_int(c, "mail port", v[P_PORT], &port)) != 0)
            goto out;
        if (port < 1 || port > 65535) {
            rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
                "mail port %lld out of range 1..65535", port);
            goto out;
        }
    }
    if (v[P_SECURE] != NULL && strcmp(v[P_SECURE], "tls") != 0
        && strcmp(v[P_SECURE], "none") != 0
        && strcmp(v[P_SECURE], "implicit") != 0) {
        rc = err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "mail secure \"%s\" unknown: use tls, implicit or none",
            v[P_SECURE]);
        goto out;
    }
    if (c->env->mail == NULL) {
        rc = err_set(&c->aeb, ERR_UNSUPPORTED, "mail_unavailable",
            "mail: no mail delivery in this run");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.server = v[P_SERVER];
    req.server_source = eng_action_arg(c->a, c->pc, "server");
    req.to = v[P_TO];
    req.from = v[P_FROM];
    req.cc = v[P_CC];
    req.subject = v[P_SUBJECT] != NULL ? v[P_SUBJECT] : "";
    req.body = v[P_BODY] != NULL ? v[P_BODY] : "";
    req.source_interface = v[P_SRCIF];
    req.source_address = v[P_SRCADDR];
    req.port = (unsigned)port;
    req.secure = v[P_SECURE];
    req.tls_name = v[P_TLSNAME];
    req.credential = v[P_CRED];
    memset(&res, 0, sizeof(res));
    if ((st = cJSON_CreateObject()) == NULL) {
        c->nomem = 1;
        rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    rc = c->env->mail(c->env->ud, &req, st, &res);
    if (c->entry != NULL) {
        cJSON_DeleteItemFromObject(c->entry, "smtp"); /* a retry's */
        cJSON_AddItemToObject(c->entry, "smtp", st);
        st = NULL;
    }
    if (rc != 0) {
        if (buf_puts(&msg,
                res.message[0] != '\0' ? res.message : "mail delivery failed")
                != 0
            || (res.advice[0] != '\0'
                && buf_printf(&msg, " %s", res.advice) != 0)) {
            c->nomem = 1;
            rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
            goto out;
        }
        rc = err_set(&c->aeb, rc < 0 ? rc : ERR_IO,
            res.klass[0] != '\0' ? res.klass : "mail", "%s", buf_str(&msg));
    }
out:
    cJSON_Delete(st);
    buf_free(&msg);
    for (i = 0; i < P_N; i++)
        sec_free_str(v[i]);
    return rc;
}

/* ---- control flow ------------------------------------------------------ */

/* Splits list for foreach: on any character of delim (empty elements
 * kept, Tcl split), or on runs of whitespace when delim is NULL. */
static int
split_list(const char *list, const char *delim, struct interp_iter *it)
{
    const char *p = list, *q;
    size_t      cap = 0;
    char      **nv;

    it->n = it->pos = 0;
    for (;;) {
        if (delim == NULL) {
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
            if (*p == '\0')
                break;
            q = p;
            while (*q != '\0' && *q != ' ' && *q != '\t' && *q != '\n'
                && *q != '\r')
                q++;
        } else {
            q = p;
            while (*q != '\0' && strchr(delim, *q) == NULL)
                q++;
        }
        if (it->n == cap) {
            cap = cap ? cap * 2 : 8;
            if ((nv = realloc(it->items, cap * sizeof(*nv))) == NULL)
                return ERR_NOMEM;
            it->items = nv;
        }
        if ((it->items[it->n] = strndup(p, (size_t)(q - p))) == NULL)
            return ERR_NOMEM;
        it->n++;
        if (*q == '\0')
            break;
        p = q + 1;
    }
    return 0;
}

static void
iter_clear(struct interp_iter *it)
{
    size_t i;

    for (i = 0; i < it->n; i++)
        free(it->items[i]);
    free(it->items);
    memset(it, 0, sizeof(*it));
}

static int
act_foreach(struct interp_ctx *c, int again, size_t *next)
{
    struct interp_iter *it = &c->iters[c->pc];
    char               *list = NULL, *delim = NULL;
    int                 rc = 0;

    if (!again) {
        iter_clear(it);
        if ((rc = interp_arg_req(c, "list", &list)) != 0
            || (rc = interp_arg(c, "delim", &delim)) != 0)
            goto done;
        if (split_list(list, delim != NULL && delim[0] != '\0' ? delim : NULL,
                it)
            != 0) {
            c->nomem = 1;
            rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
            goto done;
        }
    }
    if (it->pos < it->n) {
        rc = interp_setvar(c, arg_varname(c, "var"), it->items[it->pos++]);
        if (rc == 0) {
            free(list);
            free(delim);
            return 0; /* into the body: *next is pc + 1 */
        }
    }
done:
    *next = c->jt[c->pc].end + 1; /* list exhausted or an error */
    iter_clear(it);
    free(list);
    free(delim);
    return rc;
}

/* Runs the action at c->pc once. *next is preset to pc + 1; control flow
 * changes it. *skipped is set for an else/elseif reached after a branch
 * already ran. */
static int
run_once(struct interp_ctx *c, int branch, int again, size_t *next,
    int *skipped)
{
    const struct interp_jump *j = &c->jt[c->pc];
    const char               *verb = eng_applet_action(c->a, c->pc)->verb;
    int                       truth, rc;

    switch (j->kind) {
    case K_IF:
        rc = cond_eval(c, &truth);
        if (!truth) {
            *next = j->next;
            c->branch = 1;
        }
        return rc;
    case K_ELSEIF:
        if (!branch) {
            *skipped = 1;
            *next = j->end + 1;
            return 0;
        }
        rc = cond_eval(c, &truth);
        if (!truth) {
            *next = j->next;
            c->branch = 1;
        }
        return rc;
    case K_ELSE:
        if (!branch) {
            *skipped = 1;
            *next = j->end + 1;
        }
        return 0;
    case K_END:
        if (j->loop_end) {
            *next = j->head;
            c->again = 1;
        }
        return 0;
    case K_WHILE:
        rc = cond_eval(c, &truth);
        if (!truth)
            *next = j->end + 1;
        return rc;
    case K_FOREACH:
        return act_foreach(c, again, next);
    case K_BREAK:
        *next = c->jt[j->head].end + 1;
        if (c->jt[j->head].kind == K_FOREACH)
            iter_clear(&c->iters[j->head]);
        return 0;
    case K_CONTINUE:
        *next = j->head;
        c->again = 1;
        return 0;
    default:
        break;
    }
    if (j->act != NULL && j->act->run != NULL)
        return j->act->run(c, j->act->arg);
    if (strncmp(verb, "string ", 7) == 0)
        return err_set(&c->aeb, ERR_UNSUPPORTED, "unsupported_action",
            "action %s is not supported: use string compare, equal, first, "
            "index, last, length, match, range, replace, tolower, toupper, "
            "trim, trimleft or trimright",
            verb);
    return err_set(&c->aeb, ERR_UNSUPPORTED, "unsupported_action",
        "action %s is not supported by herald", verb);
}

/* ---- dispatch ---------------------------------------------------------- */

static int
act_comment(struct interp_ctx *c, int arg)
{
    (void)c;
    (void)arg;
    return 0;
}

/* "info type routername": $_info_routername is the host name herald runs
 * on (herald has no name setting of its own). The parser refuses every
 * other info type. */
static int
act_info(struct interp_ctx *c, int arg)
{
    const char *type = eng_action_arg(c->a, c->pc, "type");
    char        host[256];

    (void)arg;
    if (type == NULL || strcmp(type, "routername") != 0)
        return err_set(&c->aeb, ERR_UNSUPPORTED, "unsupported_action",
            "info type %s is router-only: herald runs off the router",
            type != NULL ? type : "");
    if (gethostname(host, sizeof(host)) != 0)
        return err_set(&c->aeb, ERR_IO, "info_failed",
            "info type routername: cannot read the host name (%s)",
            strerror(errno));
    host[sizeof(host) - 1] = '\0';
    return setvar_raw(c, "_info_routername", host, NULL);
}

/* Every verb of the grammar table (engine/lang/applet_grammar.c) but the
 * "string ..." ones, which interp_string.c lists. */
static const struct interp_action actions[] = {
    { "if", K_IF, NULL, 0 },
    { "elseif", K_ELSEIF, NULL, 0 },
    { "else", K_ELSE, NULL, 0 },
    { "end", K_END, NULL, 0 },
    { "while", K_WHILE, NULL, 0 },
    { "foreach", K_FOREACH, NULL, 0 },
    { "break", K_BREAK, NULL, 0 },
    { "continue", K_CONTINUE, NULL, 0 },
    { "set", K_PLAIN, act_set, 0 },
    { "append", K_PLAIN, act_append, 0 },
    { "increment", K_PLAIN, act_incdec, 1 },
    { "decrement", K_PLAIN, act_incdec, -1 },
    { "add", K_PLAIN, act_math, '+' },
    { "subtract", K_PLAIN, act_math, '-' },
    { "multiply", K_PLAIN, act_math, '*' },
    { "divide", K_PLAIN, act_math, '/' },
    { "syslog", K_PLAIN, act_syslog, 0 },
    { "regexp", K_PLAIN, act_regexp, 0 },
    { "wait", K_PLAIN, act_wait, 0 },
    { "puts", K_PLAIN, act_puts, 0 },
    { "exit", K_PLAIN, act_exit, 0 },
    { "comment", K_PLAIN, act_comment, 0 },
    { "handle-error", K_PLAIN, act_handle_error, 0 },
    { "context save", K_PLAIN, act_context_save, 0 },
    { "context retrieve", K_PLAIN, act_context_retrieve, 0 },
    { "policy", K_PLAIN, act_policy, 0 },
    { "publish-event", K_PLAIN, act_publish, 0 },
    { "mail", K_PLAIN, act_mail, 0 },
    { "info", K_PLAIN, act_info, 0 },
};

const struct interp_action *
interp_action_find(const char *verb)
{
    size_t i;

    for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(actions[i].verb, verb) == 0)
            return &actions[i];
    for (i = 0; i < n_interp_string_actions; i++)
        if (strcmp(interp_string_actions[i].verb, verb) == 0)
            return &interp_string_actions[i];
    return NULL;
}

/* ---- the run ---------------------------------------------------------- */

/* One plain sentence that says how to fix an aborted run, after the IOS
 * lines; "" when there is nothing better to say than the message. */
static void
abort_fix(const struct interp_ctx *c, const char *label, const char *klass,
    char *out, size_t n)
{
    const char *var = c->aeb.field;

    out[0] = '\0';
    if (strcmp(klass, "undefined_variable") == 0 && var[0] != '\0')
        snprintf(out, n,
            "Set the environment variable %s (PUT "
            "/api/v1/environment/%s), or remove it from action %s.",
            var, var, label);
    else if (strcmp(klass, "unbalanced_block") == 0)
        snprintf(out, n,
            "Close every if, while and foreach with an end in "
            "label byte order and save the applet again.");
    else if (strcmp(klass, "read_only_variable") == 0)
        snprintf(out, n,
            "Use another variable name in action %s: the "
            "event's built-ins are read-only.",
            label);
    else if (strcmp(klass, "invalid_regexp") == 0)
        snprintf(out, n,
            "Correct the regular expression of action %s "
            "(POSIX extended syntax).",
            label);
    else if (strcmp(klass, "invalid_argument") == 0)
        snprintf(out, n,
            "Correct the arguments of action %s, or the "
            "variables it uses, so that they hold what the action expects.",
            label);
    else if (strcmp(klass, "context_not_found") == 0)
        snprintf(out, n,
            "Run the applet that saves this context first, or "
            "put \"handle-error type ignore\" before action %s.",
            label);
    else if (strcmp(klass, "unsupported_action") == 0)
        snprintf(out, n, "Remove action %s: herald cannot run it.", label);
}

static void
run_fail(struct interp_ctx *c, int status, const char *label, const char *klass,
    const char *msg)
{
    struct buf b = BUF_INIT;
    char       fix[384];

    c->out->status = status;
    copy_str(c->out->failed_label, sizeof(c->out->failed_label), label);
    copy_str(c->out->error_class, sizeof(c->out->error_class), klass);
    if (status == ENG_RUN_ABORT) {
        if (msg[0] == '%')
            log_ios(LOG_ERR, "%s", msg);
        else
            log_info("interp",
                "event=action-failed applet=%s label=%s "
                "class=%s",
                eng_applet_name(c->a), label, klass);
        log_ios(LOG_ERR,
            "%%HA_EM-3-FMPD_ERROR: Error executing applet %s "
            "statement %s",
            eng_applet_name(c->a), label);
        abort_fix(c, label, klass, fix, sizeof(fix));
        if (buf_printf(&b,
                "%s\n%%HA_EM-3-FMPD_ERROR: Error executing "
                "applet %s statement %s%s%s",
                msg, eng_applet_name(c->a), label, fix[0] != '\0' ? "\n" : "",
                fix)
            == 0)
            msg = buf_str(&b);
    }
    copy_str(c->out->error, sizeof(c->out->error), msg);
    buf_free(&b);
}

static void
entry_finish(struct interp_ctx *c, double t0, int rc, int skipped)
{
    if (c->entry == NULL)
        return;
    cJSON_AddNumberToObject(c->entry, "ms",
        (double)(long long)((now_mono() - t0) * 1e6) / 1e3);
    cJSON_AddStringToObject(c->entry, "outcome",
        rc != 0       ? "error"
            : skipped ? "skipped"
                      : "ok");
    if (rc != 0) {
        cJSON_AddStringToObject(c->entry, "error", c->aeb.msg);
        cJSON_AddStringToObject(c->entry, "error_class", c->aeb.code);
    }
}

static int
builtins_init(struct interp_ctx *c, const struct eng_kv *kv, size_t n)
{
    static const char *pub[] = { "_event_pub_sec", "_event_pub_msec",
        "_event_pub_time" };
    struct timespec    ts;
    struct tm          tm;
    char               val[3][64];
    size_t             i;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(val[0], sizeof(val[0]), "%lld", (long long)ts.tv_sec);
    snprintf(val[1], sizeof(val[1]), "%ld", ts.tv_nsec / 1000000);
    strftime(val[2], sizeof(val[2]), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if ((c->builtins = calloc(n + 3, sizeof(*c->builtins))) == NULL)
        return ERR_NOMEM;
    for (i = 0; i < n; i++) {
        if (kv[i].name == NULL)
            continue;
        c->builtins[c->nbuiltins].name = strdup(kv[i].name);
        c->builtins[c->nbuiltins].value =
            strdup(kv[i].value != NULL ? kv[i].value : "");
        if (c->builtins[c->nbuiltins].name == NULL
            || c->builtins[c->nbuiltins++].value == NULL)
            return ERR_NOMEM;
    }
    for (i = 0; i < 3; i++) {
        if (var_find(c->builtins, c->nbuiltins, pub[i]) != NULL)
            continue;
        c->builtins[c->nbuiltins].name = strdup(pub[i]);
        c->builtins[c->nbuiltins].value = strdup(val[i]);
        if (c->builtins[c->nbuiltins].name == NULL
            || c->builtins[c->nbuiltins++].value == NULL)
            return ERR_NOMEM;
    }
    return 0;
}

static void
ctx_free(struct interp_ctx *c)
{
    size_t i;

    for (i = 0; i < c->nlocals; i++) {
        free(c->locals[i].name);
        sec_free_str(c->locals[i].value);
        sec_free_str(c->locals[i].shown);
    }
    free(c->locals);
    for (i = 0; i < c->nbuiltins; i++) {
        free(c->builtins[i].name);
        free(c->builtins[i].value);
    }
    free(c->builtins);
    if (c->iters != NULL)
        for (i = 0; i < c->nactions; i++)
            iter_clear(&c->iters[i]);
    free(c->iters);
    free(c->jt);
}

/* Runs the action at c->pc with the handle-error policy; returns 0, or the
 * error of the last attempt (ERR_TIMEOUT with out->status set when maxrun
 * or cancel interrupted it). */
static int
run_action(struct interp_ctx *c, int branch, int again, size_t *next,
    int *skipped)
{
    long attempt, tries = c->he_type == HE_RETRY ? c->he_count : 0;
    int  rc;

    for (attempt = 0;; attempt++) {
        *next = c->pc + 1;
        *skipped = 0;
        c->branch = 0;
        c->again = 0;
        err_clear(&c->aeb);
        rc = run_once(c, branch, again, next, skipped);
        if (rc == 0 || c->out->status != ENG_RUN_SUCCESS || c->nomem
            || attempt >= tries)
            return rc;
        log_info("interp", "event=retry applet=%s label=%s attempt=%ld",
            eng_applet_name(c->a), label_of(c, c->pc), attempt + 1);
        if (c->he_delay > 0 && interp_sleep(c, c->he_delay) != 0)
            return ERR_TIMEOUT;
    }
}

int
eng_interp_run(const struct eng_applet *a, const struct eng_kv *builtins,
    size_t nbuiltins, const struct eng_run_env *env, struct eng_run_result *out)
{
    static const struct eng_run_env noenv;
    struct interp_ctx               c;
    const struct eng_event         *ev;
    size_t                          next;
    double                          t0;
    int                             rc = 0, skipped, branch = 0, again = 0;
    long long                       es;
    const struct interp_var        *xs;

    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.env = env != NULL ? env : &noenv;
    c.out = out;
    out->status = ENG_RUN_SUCCESS;
    if ((out->trace = cJSON_CreateArray()) == NULL)
        goto nomem;
    c.nactions = eng_applet_action_count(a);
    c.maxrun = c.env->maxrun > 0 ? c.env->maxrun : ENG_MAXRUN_DEFAULT;
    if (eng_applet_event_count(a) > 0 && (ev = eng_applet_event(a, 0)) != NULL
        && ev->maxrun > 0)
        c.maxrun = ev->maxrun;
    c.deadline = now_mono() + c.maxrun;
    if (builtins_init(&c, builtins, nbuiltins) != 0
        || setvar_raw(&c, "_exit_status", "0", NULL) != 0)
        goto nomem;
    if ((c.jt = calloc(c.nactions + 1, sizeof(*c.jt))) == NULL
        || (c.iters = calloc(c.nactions + 1, sizeof(*c.iters))) == NULL)
        goto nomem;
    if ((rc = jt_build(&c)) != 0) {
        if (rc == ERR_NOMEM)
            goto nomem;
        run_fail(&c, ENG_RUN_ABORT, label_of(&c, c.pc), c.aeb.code, c.aeb.msg);
        rc = 0;
        goto out;
    }
    log_debug("interp", "event=start applet=%s actions=%zu maxrun=%.3f",
        eng_applet_name(a), c.nactions, c.maxrun);
    for (c.pc = 0; c.pc < c.nactions;) {
        const char *label = label_of(&c, c.pc);

        if (c.env->cancel != NULL
            && atomic_load_explicit(c.env->cancel, memory_order_relaxed)) {
            run_fail(&c, ENG_RUN_CANCELLED, label, "cancelled",
                "the run was cancelled");
            break;
        }
        if (now_mono() >= c.deadline) {
            char m[160];

            snprintf(m, sizeof(m),
                "maxrun of %.3g s exceeded before "
                "statement %s",
                c.maxrun, label);
            run_fail(&c, ENG_RUN_TIMEOUT, label, "maxrun", m);
            break;
        }
        t0 = now_mono();
        c.entry = trace_add(&c, label, eng_applet_action(a, c.pc)->verb);
        rc = run_action(&c, branch, again, &next, &skipped);
        branch = c.branch;
        again = c.again;
        entry_finish(&c, t0, rc, skipped);
        if (c.nomem)
            goto nomem;
        if (out->status == ENG_RUN_TIMEOUT) {
            char m[160];

            snprintf(m, sizeof(m),
                "maxrun of %.3g s exceeded in "
                "statement %s",
                c.maxrun, label);
            run_fail(&c, ENG_RUN_TIMEOUT, label, "maxrun", m);
            rc = 0;
            break;
        }
        if (out->status == ENG_RUN_CANCELLED) {
            run_fail(&c, ENG_RUN_CANCELLED, label, "cancelled",
                "the run was cancelled");
            rc = 0;
            break;
        }
        if (rc != 0) {
            if (c.he_type != HE_IGNORE) {
                run_fail(&c, ENG_RUN_ABORT, label, c.aeb.code, c.aeb.msg);
                rc = 0;
                break;
            }
            log_info("interp",
                "event=error-ignored applet=%s label=%s "
                "class=%s",
                eng_applet_name(a), label, c.aeb.code);
            if (setvar_raw(&c, "_error", c.aeb.msg, NULL) != 0)
                goto nomem;
            rc = 0;
        }
        if (c.stop)
            break;
        c.pc = next;
    }
    goto out;
nomem:
    out->status = ENG_RUN_ABORT;
    copy_str(out->error_class, sizeof(out->error_class), "nomem");
    copy_str(out->error, sizeof(out->error), "out of memory");
    rc = ERR_NOMEM;
out:
    if ((xs = var_find(c.locals, c.nlocals, "_exit_status")) != NULL
        && is_integer(xs->value, &es) && es >= INT_MIN && es <= INT_MAX)
        out->exit_status = (int)es;
    ctx_free(&c);
    return rc;
}
