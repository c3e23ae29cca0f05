/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/applet.c: the EEM applet model, its CLI-text parser and canonical
 * printer, and save-time warnings (../shared/EEM.md).
 *
 * The parser reads one "event manager applet NAME" block line by line with
 * a small on-demand lexer (quoted strings with \" \\ \$ \n escapes,
 * unquoted words ending at white space), and fills the model through the
 * builder shared with applet_json.c. Every error carries the absolute line
 * and column and says what was expected. Actions are kept sorted by label
 * in strcmp order, which is the run order; re-entering a label replaces the
 * action. The printer writes the canonical text: parsing it again gives an
 * equal applet and the same text.
 */
#include "engine/lang/applet.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "engine/lang/applet_int.h"
#include "engine/lang/cron.h"

/* ---- names and small helpers ----------------------------------------- */

int
eng_var_name_valid(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0')
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return i <= APPLET_MAX_NAME;
}

static int
name_chars_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int
host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

size_t
eng_prompt_len(const char *s)
{
    size_t p = 0, m;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while (host_char(s[p]) && p <= APPLET_MAX_NAME)
        p++;
    if (s[p] == '(') {
        for (m = p + 1; host_char(s[m]) && m - p <= APPLET_MAX_NAME; m++)
            ;
        if (m == p + 1 || s[m] != ')')
            return 0;
        p = m + 1;
    }
    if (s[p] != '#')
        return 0;
    p++;
    while (s[p] == ' ' || s[p] == '\t')
        p++;
    return p;
}

int
applet_check_name(const char *name, char *msg, size_t msglen)
{
    if (name == NULL || name[0] == '\0') {
        snprintf(msg, msglen, "applet name is empty");
        return ERR_INVAL;
    }
    if (strlen(name) > APPLET_MAX_NAME) {
        snprintf(msg, msglen, "applet name is %zu bytes; the limit is %d",
            strlen(name), APPLET_MAX_NAME);
        return ERR_INVAL;
    }
    if (!name_chars_ok(name)) {
        snprintf(msg, msglen,
            "invalid applet name \"%s\": use letters, "
            "digits, '_', '.' and '-'",
            name);
        return ERR_INVAL;
    }
    return 0;
}

static int
check_label(const char *label, char *msg, size_t msglen)
{
    const char *p;

    if (label[0] == '\0') {
        snprintf(msg, msglen, "action label is empty");
        return ERR_INVAL;
    }
    if (strlen(label) > APPLET_MAX_LABEL) {
        snprintf(msg, msglen,
            "action label \"%s\" is %zu bytes; the limit "
            "is %d",
            label, strlen(label), APPLET_MAX_LABEL);
        return ERR_INVAL;
    }
    for (p = label; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == 0x7f) {
            snprintf(msg, msglen,
                "invalid action label \"%s\": no spaces, "
                "quotes or backslashes",
                label);
            return ERR_INVAL;
        }
    }
    return 0;
}

static int
check_tag(const char *tag, char *msg, size_t msglen)
{
    if (tag[0] == '\0' || strlen(tag) > APPLET_MAX_LABEL
        || !name_chars_ok(tag)) {
        snprintf(msg, msglen,
            "invalid event tag \"%s\": use up to %d "
            "letters, digits, '_', '.' or '-'",
            tag, APPLET_MAX_LABEL);
        return ERR_INVAL;
    }
    return 0;
}

void
applet_fmt_num(double d, char *out, size_t outlen)
{
    int prec;

    /* range first: converting an out-of-range double is undefined */
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
        snprintf(out, outlen, "%lld", (long long)d);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

const char *
eng_event_type_name(int type)
{
    switch (type) {
    case ENG_EV_NONE:
        return "none";
    case ENG_EV_SYSLOG:
        return "syslog";
    case ENG_EV_TIMER_WATCHDOG:
        return "timer watchdog";
    case ENG_EV_TIMER_COUNTDOWN:
        return "timer countdown";
    case ENG_EV_TIMER_ABSOLUTE:
        return "timer absolute";
    case ENG_EV_TIMER_CRON:
        return "timer cron";
    case ENG_EV_WEBHOOK:
        return "webhook";
    case ENG_EV_APPLICATION:
        return "application";
    default:
        return "?";
    }
}

/* ---- the model ------------------------------------------------------- */

struct eng_applet *
applet_new(void)
{
    struct eng_applet *a = calloc(1, sizeof(struct eng_applet));

    if (a != NULL)
        atomic_init(&a->refs, 1);
    return a;
}

struct eng_applet *
eng_applet_ref(struct eng_applet *a)
{
    if (a != NULL)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void
applet_action_clear(struct applet_action *act)
{
    size_t i;

    free(act->label);
    for (i = 0; i < APPLET_MAX_PARAMS; i++)
        free(act->val[i]);
    memset(act, 0, sizeof(*act));
}

void
applet_event_clear(struct applet_event *ev)
{
    free(ev->tag);
    free(ev->pattern);
    free(ev->priority);
    free(ev->cron_entry);
    free(ev->timer_name);
    memset(ev, 0, sizeof(*ev));
}

void
eng_applet_free(struct eng_applet *a)
{
    size_t i;

    if (a == NULL)
        return;
    /* the last reference frees: its release orders every holder's reads
     * before the frees below */
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(a->name);
    free(a->description);
    free(a->klass);
    for (i = 0; i < a->nevents; i++)
        applet_event_clear(&a->events[i]);
    free(a->events);
    free(a->correlate);
    for (i = 0; i < a->nactions; i++)
        applet_action_clear(&a->actions[i]);
    free(a->actions);
    free(a);
}

int
applet_put_action(struct eng_applet *a, struct applet_action *act)
{
    size_t lo = 0, hi = a->nactions, mid;
    int    c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(a->actions[mid].label, act->label);
        if (c == 0) {
            applet_action_clear(&a->actions[mid]);
            a->actions[mid] = *act;
            a->actions[mid].pub.label = a->actions[mid].label;
            a->actions[mid].pub.verb = a->actions[mid].def->verb;
            memset(act, 0, sizeof(*act));
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (a->nactions >= APPLET_MAX_ACTIONS) {
        applet_action_clear(act);
        return ERR_TOOBIG;
    }
    if (a->nactions == a->capactions) {
        size_t                ncap = a->capactions ? a->capactions * 2 : 16;
        struct applet_action *nv = realloc(a->actions, ncap * sizeof(*nv));
        if (nv == NULL) {
            applet_action_clear(act);
            return ERR_NOMEM;
        }
        a->actions = nv;
        a->capactions = ncap;
    }
    memmove(&a->actions[lo + 1], &a->actions[lo],
        (a->nactions - lo) * sizeof(*a->actions));
    a->actions[lo] = *act;
    a->actions[lo].pub.label = a->actions[lo].label;
    a->actions[lo].pub.verb = a->actions[lo].def->verb;
    a->nactions++;
    memset(act, 0, sizeof(*act));
    return 0;
}

int
applet_add_event(struct eng_applet *a, struct applet_event *ev)
{
    struct applet_event *nv;
    size_t               i;

    nv = realloc(a->events, (a->nevents + 1) * sizeof(*nv));
    if (nv == NULL) {
        applet_event_clear(ev);
        return ERR_NOMEM;
    }
    a->events = nv;
    a->events[a->nevents] = *ev;
    a->nevents++;
    /* the views point into the owned strings; realloc moved nothing they
     * point to, but refresh all for clarity */
    for (i = 0; i < a->nevents; i++) {
        struct applet_event *e = &a->events[i];
        e->pub.tag = e->tag;
        e->pub.pattern = e->pattern;
        e->pub.priority = e->priority;
        e->pub.cron_entry = e->cron_entry;
        e->pub.timer_name = e->timer_name;
    }
    memset(ev, 0, sizeof(*ev));
    return 0;
}

int
applet_parse_correlate(const char *expr, char **out, char *msg, size_t msglen)
{
    struct buf  b = BUF_INIT;
    const char *p = expr, *q;
    char        word[64];
    int         want = 0; /* 0 "event", 1 tag, 2 operator */
    size_t      n;

    *out = NULL;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        q = p;
        while (*q != '\0' && *q != ' ' && *q != '\t')
            q++;
        n = (size_t)(q - p);
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        if (want == 0 && strcmp(word, "event") != 0) {
            snprintf(msg, msglen,
                "expected \"event\" in correlate, got "
                "\"%s\"",
                word);
            goto bad;
        }
        if (want == 2 && strcmp(word, "or") != 0) {
            if (strcmp(word, "and") == 0 || strcmp(word, "andnot") == 0) {
                snprintf(msg, msglen,
                    "correlate operator \"%s\" is not "
                    "supported by herald; use \"or\"",
                    word);
                buf_free(&b);
                return ERR_UNSUPPORTED;
            }
            snprintf(msg, msglen, "expected \"or\" in correlate, got \"%s\"",
                word);
            goto bad;
        }
        if (want == 1 && check_tag(word, msg, msglen) != 0)
            goto bad;
        if ((b.len > 0 && buf_putc(&b, ' ') != 0) || buf_append(&b, p, n) != 0)
            goto nomem;
        want = (want + 1) % 3;
        p = q;
    }
    if (want != 2) {
        snprintf(msg, msglen,
            "correlate is incomplete: expected \"event "
            "TAG [or event TAG ...]\"");
        goto bad;
    }
    if ((*out = buf_take(&b)) == NULL)
        goto nomem;
    return 0;
nomem:
    buf_free(&b);
    snprintf(msg, msglen, "out of memory");
    return ERR_NOMEM;
bad:
    buf_free(&b);
    return ERR_INVAL;
}

int
applet_check_events(struct eng_applet *a, char *msg, size_t msglen, int *which)
{
    size_t      i, j;
    const char *p, *q;
    char        tag[64];
    struct buf  b = BUF_INIT;

    *which = -1;
    for (i = 0; i < a->nevents; i++) {
        if (a->nevents > 1 && a->events[i].tag == NULL) {
            *which = (int)i;
            snprintf(msg, msglen,
                "an applet with %zu events needs \"event "
                "tag TAG ...\" on each of them",
                a->nevents);
            return ERR_INVAL;
        }
        for (j = 0; j < i; j++) {
            if (a->events[i].tag != NULL && a->events[j].tag != NULL
                && strcmp(a->events[i].tag, a->events[j].tag) == 0) {
                *which = (int)i;
                snprintf(msg, msglen, "event tag \"%s\" is used twice",
                    a->events[i].tag);
                return ERR_INVAL;
            }
        }
    }
    if (a->correlate != NULL) {
        /* every "event TAG" must name a tag */
        for (p = a->correlate; (p = strstr(p, "event ")) != NULL;) {
            p += 6;
            q = p;
            while (*q != '\0' && *q != ' ')
                q++;
            snprintf(tag, sizeof(tag), "%.*s", (int)(q - p), p);
            for (j = 0; j < a->nevents; j++)
                if (a->events[j].tag != NULL
                    && strcmp(a->events[j].tag, tag) == 0)
                    break;
            if (j == a->nevents) {
                snprintf(msg, msglen,
                    "correlate names event \"%s\", but "
                    "no event has that tag",
                    tag);
                return ERR_INVAL;
            }
            p = q;
        }
    } else if (a->nevents > 1) {
        for (i = 0; i < a->nevents; i++)
            if (buf_printf(&b, "%sevent %s", i ? " or " : "", a->events[i].tag)
                != 0) {
                buf_free(&b);
                return ERR_NOMEM;
            }
        if ((a->correlate = buf_take(&b)) == NULL)
            return ERR_NOMEM;
    }
    return 0;
}

/* ---- accessors ------------------------------------------------------- */

const char *
eng_applet_name(const struct eng_applet *a)
{
    return a->name;
}

const char *
eng_applet_description(const struct eng_applet *a)
{
    return a->description;
}

const char *
eng_applet_class(const struct eng_applet *a)
{
    return a->klass;
}

int
eng_applet_authorization_bypass(const struct eng_applet *a)
{
    return a->auth_bypass;
}

unsigned
eng_applet_prompts_removed(const struct eng_applet *a)
{
    return a->prompts_removed;
}

size_t
eng_applet_event_count(const struct eng_applet *a)
{
    return a->nevents;
}

const struct eng_event *
eng_applet_event(const struct eng_applet *a, size_t i)
{
    return i < a->nevents ? &a->events[i].pub : NULL;
}

const char *
eng_applet_correlate(const struct eng_applet *a)
{
    return a->correlate;
}

size_t
eng_applet_action_count(const struct eng_applet *a)
{
    return a->nactions;
}

const struct eng_action *
eng_applet_action(const struct eng_applet *a, size_t i)
{
    return i < a->nactions ? &a->actions[i].pub : NULL;
}

const char *
eng_action_arg(const struct eng_applet *a, size_t i, const char *param)
{
    int k;

    if (i >= a->nactions || param == NULL)
        return NULL;
    k = gram_param_index(a->actions[i].def, param);
    return k < 0 ? NULL : a->actions[i].val[k];
}

/* ---- lexer ----------------------------------------------------------- */

struct tok {
    char  *s;   /* unescaped value (new) */
    int    col; /* 1-based column of its first byte */
    int    quoted;
    size_t start; /* byte offset in the line */
};

struct pctx {
    struct eng_applet *a;
    struct errbuf     *eb;
    const char        *line; /* current line, NUL-terminated */
    size_t             pos;
    int                lineno;
};

static int perr(struct pctx *pc, int rc, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
perr(struct pctx *pc, int rc, int col, const char *fmt, ...)
{
    char    m[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    if (rc == ERR_NOMEM)
        return err_set(pc->eb, rc, "nomem", "out of memory");
    return err_at(pc->eb, rc, pc->lineno, col,
        rc == ERR_UNSUPPORTED ? "unsupported" : "parse_error",
        "line %d, column %d: %s", pc->lineno, col, m);
}

/* Unescapes n bytes at s: \" -> ", \\ -> \, \n -> LF; everything else
 * (including \$) is kept as written. */
static char *
unescape(const char *s, size_t n)
{
    char  *out = malloc(n + 1);
    size_t i, o = 0;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if (c == '"' || c == '\\') {
                out[o++] = c;
                i++;
                continue;
            }
            if (c == 'n') {
                out[o++] = '\n';
                i++;
                continue;
            }
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
    return out;
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads the next token: 1 and *t (t->s is new), 0 at the end of the line,
 * or a negative error. */
static int
lex(struct pctx *pc, struct tok *t)
{
    const char *s = pc->line;
    size_t      p = pc->pos, b;

    memset(t, 0, sizeof(*t));
    while (is_blank(s[p]))
        p++;
    if (s[p] == '\0') {
        pc->pos = p;
        return 0;
    }
    t->start = p;
    t->col = (int)p + 1;
    if (s[p] == '"') {
        b = ++p;
        while (s[p] != '\0' && s[p] != '"') {
            if (s[p] == '\\' && s[p + 1] != '\0')
                p++;
            p++;
        }
        if (s[p] != '"')
            return perr(pc, ERR_INVAL, t->col,
                "unterminated quoted string "
                "(no closing '\"')");
        if (s[p + 1] != '\0' && !is_blank(s[p + 1]))
            return perr(pc, ERR_INVAL, (int)p + 2,
                "expected a space after "
                "the closing quote, got '%c'",
                s[p + 1]);
        t->quoted = 1;
        t->s = unescape(s + b, p - b);
        pc->pos = p + 1;
    } else {
        b = p;
        while (s[p] != '\0' && !is_blank(s[p])) {
            if (s[p] == '\\' && s[p + 1] != '\0' && !is_blank(s[p + 1])) {
                p += 2;
                continue;
            }
            if (s[p] == '"')
                return perr(pc, ERR_INVAL, (int)p + 1,
                    "unexpected '\"' "
                    "inside a word; quote the whole value");
            p++;
        }
        t->s = unescape(s + b, p - b);
        pc->pos = p;
    }
    if (t->s == NULL)
        return perr(pc, ERR_NOMEM, 0, "out of memory");
    return 1;
}

/* The rest of the line from the current position: one quoted string that
 * ends the line is unquoted; anything else is taken as written (trailing
 * blanks dropped). *col gets its column; *out a new string. */
static int
lex_rest(struct pctx *pc, char **out, int *col)
{
    const char *s = pc->line;
    size_t      p = pc->pos, e;
    struct tok  t;
    int         rc;

    *out = NULL;
    while (is_blank(s[p]))
        p++;
    *col = (int)p + 1;
    e = strlen(s);
    while (e > p && is_blank(s[e - 1]))
        e--;
    if (s[p] == '"') {
        struct pctx   probe = *pc;
        struct errbuf peb;

        probe.eb = &peb;
        probe.pos = p;
        rc = lex(&probe, &t);
        if (rc == 1 && probe.pos == e) {
            *out = t.s;
            pc->pos = strlen(s);
            return 0;
        }
        if (rc == 1)
            free(t.s);
        else if (rc == ERR_NOMEM)
            return perr(pc, ERR_NOMEM, 0, "out of memory");
    }
    if ((*out = strndup(s + p, e - p)) == NULL)
        return perr(pc, ERR_NOMEM, 0, "out of memory");
    pc->pos = strlen(s);
    return 0;
}

/* ---- grammar helpers -------------------------------------------------- */

static void
usage(const struct gverb *v, char *out, size_t outlen)
{
    size_t i, n = gram_nparams(v), len;
    char   ch[128];

    len = (size_t)snprintf(out, outlen, "%s", v->verb);
    for (i = 0; i < n && len < outlen; i++) {
        const struct gparam *p = &v->p[i];
        const char          *o = (p->flags & GP_OPT) ? "[" : "";
        const char          *c = (p->flags & GP_OPT) ? "]" : "";

        if (p->type == GT_ENUM)
            snprintf(ch, sizeof(ch), "%s", p->choices);
        else
            snprintf(ch, sizeof(ch), "<%s>", p->name);
        switch (p->kind) {
        case GP_KW:
            len += (size_t)snprintf(out + len, outlen - len, " %s%s %s%s", o,
                p->name, ch, c);
            break;
        case GP_FLAG:
            len += (size_t)snprintf(out + len, outlen - len, " [%s]", p->name);
            break;
        case GP_REST:
            len += (size_t)snprintf(out + len, outlen - len, " %s<%s...>%s", o,
                p->name, c);
            break;
        default:
            len +=
                (size_t)snprintf(out + len, outlen - len, " %s%s%s", o, ch, c);
            break;
        }
    }
}

static int
keywords_only(const struct gverb *v)
{
    size_t i, n = gram_nparams(v);

    for (i = 0; i < n; i++)
        if (v->p[i].kind != GP_KW && v->p[i].kind != GP_FLAG)
            return 0;
    return 1;
}

static void
keyword_list(const struct gverb *v, char *out, size_t outlen)
{
    size_t i, n = gram_nparams(v), len = 0, k = 0, total = 0;

    for (i = 0; i < n; i++)
        if (v->p[i].kind == GP_KW || v->p[i].kind == GP_FLAG)
            total++;
    out[0] = '\0';
    for (i = 0; i < n && len < outlen; i++) {
        if (v->p[i].kind != GP_KW && v->p[i].kind != GP_FLAG)
            continue;
        k++;
        len += (size_t)snprintf(out + len, outlen - len, "%s%s",
            k == 1 ? "" : (k == total ? " or " : ", "), v->p[i].name);
    }
}

static void
verb_list(const char *prefix, char *out, size_t outlen)
{
    size_t i, len = 0, pl = prefix ? strlen(prefix) : 0;

    out[0] = '\0';
    for (i = 0; i < gram_verb_count() && len < outlen; i++) {
        const char *v = gram_verb_at(i)->verb;
        if (prefix != NULL) {
            if (strncmp(v, prefix, pl) != 0 || v[pl] != ' ')
                continue;
            v += pl + 1;
        } else if (strchr(v, ' ') != NULL) {
            /* "string x" and "context x": list the first word once */
            const char *sp = strchr(v, ' ');
            size_t      j;
            int         seen = 0;
            for (j = 0; j < i; j++)
                if (strncmp(gram_verb_at(j)->verb, v, (size_t)(sp - v) + 1)
                    == 0)
                    seen = 1;
            if (seen)
                continue;
            len += (size_t)snprintf(out + len, outlen - len, "%s%.*s",
                len ? ", " : "", (int)(sp - v), v);
            continue;
        }
        len += (size_t)snprintf(out + len, outlen - len, "%s%s",
            len ? ", " : "", v);
    }
    /* "a, b, c" -> "a, b or c" */
    if (len < outlen) {
        char  *last = NULL, *p;
        size_t rest;
        for (p = out; (p = strstr(p, ", ")) != NULL; p += 2)
            last = p;
        if (last != NULL && len + 2 < outlen) {
            rest = strlen(last + 2);
            memmove(last + 4, last + 2, rest + 1);
            memcpy(last, " or ", 4);
        }
    }
}

/* ---- the parser ------------------------------------------------------ */

/* Reads an action's label into act->label. Returns 0 or an error (eb
 * set). */
static int
parse_label(struct pctx *pc, struct applet_action *act)
{
    struct tok t;
    char       msg[512];
    int        rc;

    memset(&t, 0, sizeof(t));
    if ((rc = lex(pc, &t)) <= 0)
        return rc < 0 ? rc
                      : perr(pc, ERR_INVAL, (int)strlen(pc->line) + 1,
                          "expected an action label after \"action\"");
    if (check_label(t.s, msg, sizeof(msg)) != 0) {
        rc = perr(pc, ERR_INVAL, t.col, "%s", msg);
        free(t.s);
        return rc;
    }
    act->label = t.s;
    return 0;
}

/* Reads the verb after label (two words for "string ..." and "context
 * ..."): its grammar row into *out and its column into *col. Returns 0 or
 * an error (eb set). */
static int
parse_verb(struct pctx *pc, const char *label, const struct gverb **out,
    int *col)
{
    struct tok t, w2;
    char       verb[96], us[512];
    int        rc;

    memset(&t, 0, sizeof(t));
    memset(&w2, 0, sizeof(w2));
    if ((rc = lex(pc, &t)) <= 0) {
        if (rc == 0) {
            verb_list(NULL, us, sizeof(us));
            rc = perr(pc, ERR_INVAL, (int)strlen(pc->line) + 1,
                "expected an action after label \"%s\": %s", label, us);
        }
        goto out;
    }
    *col = t.col;
    if (gram_router_only(t.s)) {
        rc = perr(pc, ERR_UNSUPPORTED, t.col,
            "action '%s' is router-only "
            "and not supported by herald",
            t.s);
        goto out;
    }
    if (strcmp(t.s, "string") == 0 || strcmp(t.s, "context") == 0) {
        if ((rc = lex(pc, &w2)) < 0)
            goto out;
        verb_list(t.s, us, sizeof(us));
        if (rc == 0) {
            rc = perr(pc, ERR_INVAL, (int)strlen(pc->line) + 1,
                "expected \"%s\" operation %s", t.s, us);
            goto out;
        }
        snprintf(verb, sizeof(verb), "%s %s", t.s, w2.s);
        if ((*out = gram_verb(verb)) == NULL) {
            rc = perr(pc, ERR_INVAL, w2.col,
                "expected \"%s\" operation %s, "
                "got \"%s\"",
                t.s, us, w2.s);
            goto out;
        }
    } else if ((*out = gram_verb(t.s)) == NULL) {
        verb_list(NULL, us, sizeof(us));
        rc = perr(pc, ERR_INVAL, t.col,
            "unknown action \"%s\"; expected "
            "one of %s",
            t.s, us);
        goto out;
    }
    rc = 0;
out:
    free(t.s);
    free(w2.s);
    return rc;
}

/* Reads the rest of the line into the GP_REST parameter at posi. */
static int
parse_rest(struct pctx *pc, const struct gverb *v, size_t posi,
    struct applet_action *act)
{
    char msg[512];
    int  col, rc;

    /* keywords before the rest? none in this grammar */
    if ((rc = lex_rest(pc, &act->val[posi], &col)) != 0)
        return rc;
    if (act->val[posi][0] == '\0') {
        free(act->val[posi]);
        act->val[posi] = NULL;
    } else if (gram_check_value(v, &v->p[posi], act->val[posi], NULL, msg,
                   sizeof(msg))
        != 0) {
        return perr(pc, ERR_INVAL, col, "%s", msg);
    }
    return 0;
}

/* Finds the parameter that the word t starts: a keyword (t then becomes
 * the value after it), a flag (stored at once; *k = -1), or the next
 * positional slot (*posi advances). Returns 0 or an error (eb set). */
static int
param_slot(struct pctx *pc, const struct gverb *v, struct applet_action *act,
    struct tok *t, size_t *posi, int *k)
{
    size_t n = gram_nparams(v), i;
    char   us[512];
    int    rc;

    *k = -1;
    if (!t->quoted) {
        for (i = 0; i < n; i++)
            if ((v->p[i].kind == GP_KW || v->p[i].kind == GP_FLAG)
                && strcmp(v->p[i].name, t->s) == 0)
                *k = (int)i;
    }
    if (*k < 0) {
        if (*posi < n && !keywords_only(v)) {
            *k = (int)(*posi)++;
            return 0;
        }
        if (keywords_only(v) && n > 0) {
            keyword_list(v, us, sizeof(us));
            return perr(pc, ERR_INVAL, t->col,
                "unknown keyword \"%s\" "
                "for action %s; expected %s",
                t->s, v->verb, us);
        }
        usage(v, us, sizeof(us));
        return perr(pc, ERR_INVAL, t->col,
            "unexpected \"%s\": "
            "usage: %s",
            t->s, us);
    }
    if (act->val[*k] != NULL)
        return perr(pc, ERR_INVAL, t->col, "\"%s\" is given twice",
            v->p[*k].name);
    free(t->s);
    t->s = NULL;
    if (v->p[*k].kind == GP_FLAG) {
        if ((act->val[*k] = strdup("1")) == NULL)
            return perr(pc, ERR_NOMEM, 0, "out of memory");
        *k = -1;
        return 0;
    }
    if ((rc = lex(pc, t)) < 0)
        return rc;
    if (rc == 0)
        return perr(pc, ERR_INVAL, (int)strlen(pc->line) + 1,
            "expected a value after \"%s\"", v->p[*k].name);
    return 0;
}

/* Reads the parameters of verb v up to the end of the line. */
static int
parse_params(struct pctx *pc, const struct gverb *v, struct applet_action *act)
{
    struct tok t;
    char       msg[512], *norm;
    size_t     n = gram_nparams(v), posi = 0;
    int        rc, k;

    memset(&t, 0, sizeof(t));
    for (;;) {
        /* the next positional slot */
        while (
            posi < n && v->p[posi].kind != GP_POS && v->p[posi].kind != GP_REST)
            posi++;
        if (posi < n && v->p[posi].kind == GP_REST) {
            if ((rc = parse_rest(pc, v, posi, act)) != 0)
                goto out;
            posi++;
            continue;
        }
        if ((rc = lex(pc, &t)) <= 0)
            goto out;
        if ((rc = param_slot(pc, v, act, &t, &posi, &k)) != 0)
            goto out;
        if (k < 0)
            continue;
        if ((rc = gram_check_value(v, &v->p[k], t.s, &norm, msg, sizeof(msg)))
            != 0) {
            rc = perr(pc, rc, t.col, "%s", msg);
            goto out;
        }
        act->val[k] = norm;
        free(t.s);
        t.s = NULL;
    }
out:
    free(t.s);
    return rc;
}

/* Checks that every required parameter of v is given. */
static int
check_required(struct pctx *pc, const struct gverb *v,
    const struct applet_action *act, int verbcol)
{
    size_t n = gram_nparams(v), i;
    char   us[512];

    for (i = 0; i < n; i++) {
        if (!(v->p[i].flags & GP_OPT) && act->val[i] == NULL) {
            usage(v, us, sizeof(us));
            return perr(pc, ERR_INVAL, verbcol,
                "action %s needs \"%s\" "
                "(usage: %s)",
                v->verb, v->p[i].name, us);
        }
    }
    return 0;
}

static int
parse_action(struct pctx *pc)
{
    struct applet_action act;
    const struct gverb  *v = NULL;
    int                  rc, verbcol = 0;

    memset(&act, 0, sizeof(act));
    if ((rc = parse_label(pc, &act)) != 0)
        return rc;
    if ((rc = parse_verb(pc, act.label, &v, &verbcol)) != 0)
        goto out;
    act.def = v;
    act.src = pc->lineno;
    if ((rc = parse_params(pc, v, &act)) != 0
        || (rc = check_required(pc, v, &act, verbcol)) != 0)
        goto out;
    rc = applet_put_action(pc->a, &act);
    if (rc == ERR_TOOBIG)
        return err_at(pc->eb, rc, pc->lineno, verbcol, "too_large",
            "line %d: more than %d actions", pc->lineno, APPLET_MAX_ACTIONS);
    if (rc == ERR_NOMEM)
        return perr(pc, rc, 0, "out of memory");
    return 0;
out:
    applet_action_clear(&act);
    return rc;
}

static const char *const ev_kw[EK_N] = {
    "pattern",
    "occurs",
    "period",
    "priority",
    "time",
    "cron-entry",
    "name",
    "maxrun",
    "ratelimit",
    "sub-system",
    "type",
};

static const char *const unsupported_events[] = {
    "cli",
    "snmp",
    "snmp-notification",
    "snmp-object",
    "interface",
    "track",
    "oir",
    "counter",
    "config",
    "env",
    "gold",
    "identity",
    "ioswdsysmon",
    "ipsla",
    "mat",
    "neighbor-discovery",
    "nf",
    "process",
    "resource",
    "rf",
    "routing",
    "rpc",
    "test",
    NULL,
};

/* Which keywords each event type takes (bit per EK_*), and which it needs. */
static unsigned
ev_allowed(int type)
{
    unsigned common = (1u << EK_MAXRUN) | (1u << EK_RATELIMIT);

    switch (type) {
    case ENG_EV_SYSLOG:
        return common | (1u << EK_PATTERN) | (1u << EK_OCCURS)
            | (1u << EK_PERIOD) | (1u << EK_PRIORITY);
    case ENG_EV_TIMER_WATCHDOG:
    case ENG_EV_TIMER_COUNTDOWN:
    case ENG_EV_TIMER_ABSOLUTE:
        return common | (1u << EK_TIME) | (1u << EK_NAME);
    case ENG_EV_TIMER_CRON:
        return common | (1u << EK_CRON) | (1u << EK_NAME);
    case ENG_EV_APPLICATION:
        return common | (1u << EK_SUBSYS) | (1u << EK_APPTYPE);
    default:
        return common;
    }
}

static unsigned
ev_required(int type)
{
    switch (type) {
    case ENG_EV_SYSLOG:
        return 1u << EK_PATTERN;
    case ENG_EV_TIMER_WATCHDOG:
    case ENG_EV_TIMER_COUNTDOWN:
    case ENG_EV_TIMER_ABSOLUTE:
        return 1u << EK_TIME;
    case ENG_EV_TIMER_CRON:
        return 1u << EK_CRON;
    case ENG_EV_APPLICATION:
        return (1u << EK_SUBSYS) | (1u << EK_APPTYPE);
    default:
        return 0;
    }
}

static void
ev_kw_list(unsigned mask, char *out, size_t outlen)
{
    size_t i, len = 0, k = 0, total = 0;

    for (i = 0; i < EK_N; i++)
        if (mask & (1u << i))
            total++;
    out[0] = '\0';
    for (i = 0; i < EK_N && len < outlen; i++) {
        if (!(mask & (1u << i)))
            continue;
        k++;
        len += (size_t)snprintf(out + len, outlen - len, "%s%s",
            k == 1 ? "" : (k == total ? " or " : ", "), ev_kw[i]);
    }
}

static int
check_cron(const char *s, char *msg, size_t msglen)
{
    struct eng_cron c;
    struct errbuf   eb = { 0 };

    if (eng_cron_parse(s, &c, &eb) == 0)
        return 0;
    snprintf(msg, msglen, "%s", eb.msg);
    return ERR_INVAL;
}

int
applet_event_set(struct applet_event *ev, int k, const char *value, char *msg,
    size_t msglen)
{
    static const struct gparam num = { "", GP_KW, GT_NUM, 0, NULL, 0, 0 };
    static const struct gparam prio = { "priority", GP_KW, GT_ENUM, 0,
        "all|emergencies|alerts|critical|errors|warnings|notifications|"
        "informational|debugging",
        0, 0 };
    struct gparam              p;
    char                     **dst = NULL, *end;
    double                     d;
    long                       l;

    if (strchr(value, '\r') != NULL || strchr(value, '\n') != NULL) {
        snprintf(msg, msglen,
            "value of \"%s\" must not contain a line "
            "break",
            ev_kw[k]);
        return ERR_INVAL;
    }
    switch (k) {
    case EK_PATTERN:
        if (value[0] == '\0') {
            snprintf(msg, msglen, "syslog pattern is empty");
            return ERR_INVAL;
        }
        dst = &ev->pattern;
        break;
    case EK_PRIORITY:
        if (gram_check_value(NULL, &prio, value, NULL, msg, msglen) != 0)
            return ERR_INVAL;
        dst = &ev->priority;
        break;
    case EK_CRON:
        if (check_cron(value, msg, msglen) != 0)
            return ERR_INVAL;
        dst = &ev->cron_entry;
        break;
    case EK_NAME:
        if (check_tag(value, msg, msglen) != 0) {
            snprintf(msg, msglen,
                "invalid timer name \"%s\": use letters, "
                "digits, '_', '.' or '-'",
                value);
            return ERR_INVAL;
        }
        dst = &ev->timer_name;
        break;
    case EK_SUBSYS:
    case EK_APPTYPE:
        errno = 0;
        l = strtol(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0
            || l < 1 || l > 999) {
            snprintf(msg, msglen,
                "expected \"%s\" to be an integer from 1 "
                "to 999, got \"%s\"",
                ev_kw[k], value);
            return ERR_INVAL;
        }
        if (k == EK_SUBSYS)
            ev->pub.sub_system = (unsigned)l;
        else
            ev->pub.app_type = (unsigned)l;
        return 0;
    case EK_OCCURS:
        errno = 0;
        l = strtol(value, &end, 10);
        if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0
            || l < 1 || l > 1000000) {
            snprintf(msg, msglen,
                "expected \"occurs\" to be an integer from "
                "1 to 1000000, got \"%s\"",
                value);
            return ERR_INVAL;
        }
        ev->pub.occurs = (unsigned)l;
        return 0;
    default:
        p = num;
        p.name = ev_kw[k];
        if (gram_check_value(NULL, &p, value, NULL, msg, msglen) != 0
            || strchr(value, '$') != NULL) {
            snprintf(msg, msglen,
                "expected \"%s\" to be a number of seconds "
                "(e.g. 60 or 0.5), got \"%s\"",
                ev_kw[k], value);
            return ERR_INVAL;
        }
        d = strtod(value, NULL);
        if (k == EK_PERIOD)
            ev->pub.period = d;
        else if (k == EK_TIME)
            ev->pub.time = d;
        else if (k == EK_MAXRUN)
            ev->pub.maxrun = d;
        else
            ev->pub.ratelimit = d;
        if (k == EK_TIME && d <= 0 && ev->pub.type != ENG_EV_TIMER_ABSOLUTE) {
            snprintf(msg, msglen, "expected \"time\" above 0, got \"%s\"",
                value);
            return ERR_INVAL;
        }
        return 0;
    }
    free(*dst);
    if ((*dst = strdup(value)) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return ERR_NOMEM;
    }
    return 0;
}

int
applet_event_type_parse(const char *w1, const char *w2)
{
    if (strcmp(w1, "none") == 0)
        return ENG_EV_NONE;
    if (strcmp(w1, "syslog") == 0)
        return ENG_EV_SYSLOG;
    if (strcmp(w1, "webhook") == 0)
        return ENG_EV_WEBHOOK;
    if (strcmp(w1, "application") == 0)
        return ENG_EV_APPLICATION;
    if (strcmp(w1, "timer") == 0 && w2 != NULL) {
        if (strcmp(w2, "watchdog") == 0)
            return ENG_EV_TIMER_WATCHDOG;
        if (strcmp(w2, "countdown") == 0)
            return ENG_EV_TIMER_COUNTDOWN;
        if (strcmp(w2, "absolute") == 0)
            return ENG_EV_TIMER_ABSOLUTE;
        if (strcmp(w2, "cron") == 0)
            return ENG_EV_TIMER_CRON;
    }
    return -1;
}

int
applet_event_keyword(const char *s)
{
    int i;

    for (i = 0; i < EK_N; i++)
        if (strcmp(ev_kw[i], s) == 0)
            return i;
    return -1;
}

unsigned
applet_event_allowed(int type)
{
    return ev_allowed(type);
}

unsigned
applet_event_required(int type)
{
    return ev_required(type);
}

const char *
applet_event_kw_name(int k)
{
    return k >= 0 && k < EK_N ? ev_kw[k] : "?";
}

static int
parse_event(struct pctx *pc)
{
    struct applet_event ev;
    struct tok          t, t2;
    char                msg[512], list[256];
    unsigned            seen = 0, allowed, missing;
    int                 rc, k, i, endcol;

    memset(&ev, 0, sizeof(ev));
    memset(&t2, 0, sizeof(t2));
    ev.pub.occurs = 1;
    endcol = (int)strlen(pc->line) + 1;
    if ((rc = lex(pc, &t)) <= 0)
        return rc < 0 ? rc
                      : perr(pc, ERR_INVAL, endcol,
                          "expected an event "
                          "type none, syslog, timer, webhook or application");
    if (!t.quoted && strcmp(t.s, "tag") == 0) {
        free(t.s);
        if ((rc = lex(pc, &t)) <= 0)
            return rc < 0 ? rc
                          : perr(pc, ERR_INVAL, endcol,
                              "expected an "
                              "event tag after \"tag\"");
        if (check_tag(t.s, msg, sizeof(msg)) != 0) {
            rc = perr(pc, ERR_INVAL, t.col, "%s", msg);
            goto out;
        }
        ev.tag = t.s;
        t.s = NULL;
        if ((rc = lex(pc, &t)) <= 0) {
            if (rc == 0)
                rc = perr(pc, ERR_INVAL, endcol,
                    "expected an event type "
                    "none, syslog, timer, webhook or application after the "
                    "tag");
            goto out;
        }
    }
    if (strcmp(t.s, "timer") == 0) {
        if ((rc = lex(pc, &t2)) < 0)
            goto out;
        if (rc == 0
            || (ev.pub.type = applet_event_type_parse("timer", t2.s)) < 0) {
            rc = perr(pc, ERR_INVAL, rc == 0 ? endcol : t2.col,
                "expected "
                "\"timer\" type watchdog, countdown, absolute or cron%s%s%s",
                rc == 0 ? "" : ", got \"", rc == 0 ? "" : t2.s,
                rc == 0 ? "" : "\"");
            goto out;
        }
    } else if ((ev.pub.type = applet_event_type_parse(t.s, NULL)) < 0) {
        for (i = 0; unsupported_events[i] != NULL; i++)
            if (strcmp(unsupported_events[i], t.s) == 0)
                break;
        if (unsupported_events[i] != NULL)
            rc = perr(pc, ERR_UNSUPPORTED, t.col,
                "event '%s' is router-only "
                "and not supported by herald; use none, syslog, timer, "
                "webhook or application",
                t.s);
        else
            rc = perr(pc, ERR_INVAL, t.col,
                "expected an event type none, "
                "syslog, timer, webhook or application, got \"%s\"",
                t.s);
        goto out;
    }
    free(t.s);
    t.s = NULL;
    allowed = ev_allowed(ev.pub.type);
    for (;;) {
        if ((rc = lex(pc, &t)) < 0)
            goto out;
        if (rc == 0)
            break;
        k = t.quoted ? -1 : applet_event_keyword(t.s);
        if (k < 0 || !(allowed & (1u << k))) {
            ev_kw_list(allowed, list, sizeof(list));
            rc = perr(pc, ERR_INVAL, t.col,
                "unknown keyword \"%s\" for "
                "event %s; expected %s",
                t.s, eng_event_type_name(ev.pub.type), list);
            goto out;
        }
        if (seen & (1u << k)) {
            rc = perr(pc, ERR_INVAL, t.col, "\"%s\" is given twice", t.s);
            goto out;
        }
        seen |= 1u << k;
        free(t.s);
        t.s = NULL;
        if ((rc = lex(pc, &t)) < 0)
            goto out;
        if (rc == 0) {
            rc = perr(pc, ERR_INVAL, endcol, "expected a value after \"%s\"",
                ev_kw[k]);
            goto out;
        }
        if ((rc = applet_event_set(&ev, k, t.s, msg, sizeof(msg))) != 0) {
            rc = perr(pc, rc, t.col, "%s", msg);
            goto out;
        }
        free(t.s);
        t.s = NULL;
    }
    missing = ev_required(ev.pub.type) & ~seen;
    if (missing) {
        for (k = 0; k < EK_N; k++)
            if (missing & (1u << k))
                break;
        rc = perr(pc, ERR_INVAL, endcol, "event %s needs \"%s\"",
            eng_event_type_name(ev.pub.type), ev_kw[k]);
        goto out;
    }
    if ((rc = applet_add_event(pc->a, &ev)) != 0)
        return perr(pc, rc, 0, "out of memory");
    rc = 0;
out:
    free(t.s);
    free(t2.s);
    applet_event_clear(&ev);
    return rc;
}

int
applet_check_class(const char *v, char *msg, size_t msglen)
{
    if ((v[0] >= 'A' && v[0] <= 'Z' && v[1] == '\0')
        || strcmp(v, "default") == 0)
        return 0;
    snprintf(msg, msglen,
        "expected \"class\" A to Z or default, got "
        "\"%.64s\"",
        v);
    return ERR_INVAL;
}

/* One option of the header line after the name: "class X" or
 * "authorization bypass". Takes t->s. */
static int
parse_header_option(struct pctx *pc, struct tok *t)
{
    struct tok v;
    char       msg[512], *kw = t->s;
    int        rc, col = t->col, cls;

    t->s = NULL;
    memset(&v, 0, sizeof(v));
    cls = strcmp(kw, "class") == 0;
    if (t->quoted || (!cls && strcmp(kw, "authorization") != 0)) {
        if (!t->quoted && strcmp(kw, "trap") == 0)
            rc = perr(pc, ERR_UNSUPPORTED, col,
                "applet option \"trap\" "
                "(an SNMP trap when the applet ends) is router-only and not "
                "supported by herald");
        else
            rc = perr(pc, ERR_INVAL, col,
                "unknown keyword \"%s\" after "
                "the applet name; expected class, authorization or "
                "description",
                kw);
        goto out;
    }
    if ((cls && pc->a->klass != NULL) || (!cls && pc->a->auth_bypass)) {
        rc = perr(pc, ERR_INVAL, col, "\"%s\" is given twice", kw);
        goto out;
    }
    if ((rc = lex(pc, &v)) <= 0) {
        if (rc == 0)
            rc = perr(pc, ERR_INVAL, (int)strlen(pc->line) + 1,
                "expected %s "
                "after \"%s\"",
                cls ? "A to Z or default" : "bypass", kw);
        goto out;
    }
    if (cls) {
        if ((rc = applet_check_class(v.s, msg, sizeof(msg))) != 0) {
            rc = perr(pc, rc, v.col, "%s", msg);
            goto out;
        }
        pc->a->klass = v.s;
        v.s = NULL;
    } else if (strcmp(v.s, "bypass") != 0) {
        rc = perr(pc, ERR_INVAL, v.col,
            "expected \"authorization bypass\", "
            "got \"authorization %s\"",
            v.s);
        goto out;
    } else {
        pc->a->auth_bypass = 1;
    }
    rc = 0;
out:
    free(kw);
    free(v.s);
    return rc;
}

/* Header: "event manager applet NAME [class A..Z|default] [authorization
 * bypass] [description "..."]". */
static int
parse_header(struct pctx *pc)
{
    static const char *const words[] = { "event", "manager", "applet" };
    struct tok               t;
    char                     msg[512];
    int                      rc, i, col;

    for (i = 0; i < 3; i++) {
        if ((rc = lex(pc, &t)) < 0)
            return rc;
        if (rc == 0 || strcmp(t.s, words[i]) != 0) {
            col = rc == 0 ? (int)strlen(pc->line) + 1 : t.col;
            {
                int got = rc;
                rc = perr(pc, ERR_INVAL, col,
                    "expected \"event manager "
                    "applet NAME\"%s%s%s",
                    got == 0 ? "" : ", got \"", got == 0 ? "" : t.s,
                    got == 0 ? "" : "\"");
            }
            free(t.s);
            return rc;
        }
        free(t.s);
    }
    if ((rc = lex(pc, &t)) <= 0)
        return rc < 0
            ? rc
            : perr(pc, ERR_INVAL, (int)strlen(pc->line) + 1,
                "expected an applet name after \"event manager applet\"");
    if (applet_check_name(t.s, msg, sizeof(msg)) != 0) {
        rc = perr(pc, ERR_INVAL, t.col, "%s", msg);
        free(t.s);
        return rc;
    }
    pc->a->name = t.s;
    for (;;) {
        if ((rc = lex(pc, &t)) <= 0)
            return rc;
        if (!t.quoted && strcmp(t.s, "description") == 0)
            break;
        if ((rc = parse_header_option(pc, &t)) != 0)
            return rc;
    }
    free(t.s);
    if ((rc = lex_rest(pc, &pc->a->description, &col)) != 0)
        return rc;
    if (strchr(pc->a->description, '\n') != NULL
        || strlen(pc->a->description) > APPLET_MAX_VALUE)
        return perr(pc, ERR_INVAL, col,
            "description must be one line of "
            "at most %d bytes",
            APPLET_MAX_VALUE);
    return 0;
}

static int
parse_line(struct pctx *pc, int *have_trigger)
{
    struct tok t;
    char       msg[512], *expr = NULL;
    int        rc, col;

    if ((rc = lex(pc, &t)) <= 0)
        return rc;
    if (t.quoted)
        goto unknown;
    if (strcmp(t.s, "action") == 0) {
        free(t.s);
        return parse_action(pc);
    }
    if (strcmp(t.s, "event") == 0) {
        size_t     save = pc->pos;
        struct tok t2;
        if (lex(pc, &t2) == 1) {
            int is_mgr = strcmp(t2.s, "manager") == 0;
            free(t2.s);
            if (is_mgr) {
                rc = perr(pc, ERR_INVAL, t.col,
                    "a second \"event manager\" "
                    "line inside applet %s; send one applet at a time",
                    pc->a->name);
                free(t.s);
                return rc;
            }
        }
        pc->pos = save;
        free(t.s);
        return parse_event(pc);
    }
    if (strcmp(t.s, "description") == 0) {
        free(t.s);
        free(pc->a->description);
        pc->a->description = NULL;
        if ((rc = lex_rest(pc, &pc->a->description, &col)) != 0)
            return rc;
        if (strchr(pc->a->description, '\n') != NULL
            || strlen(pc->a->description) > APPLET_MAX_VALUE)
            return perr(pc, ERR_INVAL, col,
                "description must be one line "
                "of at most %d bytes",
                APPLET_MAX_VALUE);
        return 0;
    }
    if (strcmp(t.s, "trigger") == 0) {
        free(t.s);
        if ((rc = lex(pc, &t)) != 0) {
            if (rc > 0) {
                rc = perr(pc, ERR_UNSUPPORTED, t.col,
                    "trigger option \"%s\" "
                    "is not supported by herald; write \"trigger\" alone "
                    "and a \"correlate\" line",
                    t.s);
                free(t.s);
            }
            return rc;
        }
        *have_trigger = 1;
        return 0;
    }
    if (strcmp(t.s, "correlate") == 0) {
        col = t.col;
        free(t.s);
        if ((rc = lex_rest(pc, &expr, &col)) != 0)
            return rc;
        free(pc->a->correlate);
        pc->a->correlate = NULL;
        rc = applet_parse_correlate(expr, &pc->a->correlate, msg, sizeof(msg));
        free(expr);
        if (rc != 0)
            return perr(pc, rc, col, "%s", msg);
        return 0;
    }
    if (strcmp(t.s, "exit") == 0 || strcmp(t.s, "end") == 0) {
        free(t.s);
        return 0;
    }
unknown:
    rc = perr(pc, ERR_INVAL, t.col,
        "expected \"description\", \"event\", "
        "\"trigger\", \"correlate\" or \"action\", got \"%s\"",
        t.s);
    free(t.s);
    return rc;
}

int
eng_applet_parse(const char *text, size_t len, int first_line,
    struct eng_applet **out, struct errbuf *eb)
{
    struct pctx pc;
    char       *buf = NULL, *line, *nl;
    char        msg[512];
    int         rc = 0, have_header = 0, have_trigger = 0, idx = 0, which;
    size_t      i;

    *out = NULL;
    memset(&pc, 0, sizeof(pc));
    pc.eb = eb;
    if (len > APPLET_MAX_TEXT)
        return err_set(eb, ERR_TOOBIG, "too_large",
            "applet text is %zu "
            "bytes; the limit is %d",
            len, APPLET_MAX_TEXT);
    for (i = 0; i < len; i++)
        if (text[i] == '\0')
            return err_set(eb, ERR_INVAL, "parse_error",
                "applet text "
                "contains a NUL byte at offset %zu",
                i);
    if ((buf = strndup(text, len)) == NULL || (pc.a = applet_new()) == NULL) {
        free(buf);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    for (line = buf; line != NULL; line = nl, idx++) {
        size_t ll;
        if ((nl = strchr(line, '\n')) != NULL)
            *nl++ = '\0';
        ll = strlen(line);
        if (ll > 0 && line[ll - 1] == '\r')
            line[--ll] = '\0';
        for (i = 0; i < ll; i++)
            if ((unsigned char)line[i] < ' ' && line[i] != '\t') {
                pc.lineno = first_line + idx;
                rc = perr(&pc, ERR_INVAL, (int)i + 1,
                    "control character "
                    "0x%02x is not allowed",
                    (unsigned char)line[i]);
                goto out;
            }
        pc.line = line;
        pc.pos = eng_prompt_len(line);
        pc.lineno = first_line + idx;
        if (pc.pos > 0)
            pc.a->prompts_removed++;
        i = pc.pos + strspn(line + pc.pos, " \t");
        if (line[i] == '\0' || line[i] == '!')
            continue;
        if (!have_header) {
            if ((rc = parse_header(&pc)) != 0)
                goto out;
            have_header = 1;
            continue;
        }
        if ((rc = parse_line(&pc, &have_trigger)) != 0)
            goto out;
    }
    if (!have_header) {
        rc = err_at(eb, ERR_INVAL, first_line, 1, "parse_error",
            "line %d, "
            "column 1: expected \"event manager applet NAME\", got no text",
            first_line);
        goto out;
    }
    if ((rc = applet_check_events(pc.a, msg, sizeof(msg), &which)) != 0) {
        if (rc == ERR_NOMEM)
            rc = err_set(eb, rc, "nomem", "out of memory");
        else
            rc = err_at(eb, rc, first_line, 1, "parse_error", "applet %s: %s",
                pc.a->name, msg);
        goto out;
    }
    if ((rc = applet_check_blocks(pc.a, msg, sizeof(msg), &i)) != 0) {
        if (rc == ERR_NOMEM)
            rc = err_set(eb, rc, "nomem", "out of memory");
        else
            rc = err_at(eb, rc, pc.a->actions[i].src, 1, "parse_error",
                "line %d: %s", pc.a->actions[i].src, msg);
        goto out;
    }
    (void)have_trigger;
    *out = pc.a;
    pc.a = NULL;
out:
    eng_applet_free(pc.a);
    free(buf);
    return rc;
}

/* ---- the printer ----------------------------------------------------- */

static int
needs_quote(const char *s, const struct gverb *v)
{
    if (s[0] == '\0' || strpbrk(s, " \t\"$\\\n!") != NULL)
        return 1;
    return v != NULL && gram_is_keyword(v, s);
}

/* Writes s quoted with the escapes the lexer undoes. */
static int
put_quoted(struct buf *b, const char *s)
{
    int rc = buf_putc(b, '"');

    for (; *s != '\0' && rc == 0; s++) {
        if (*s == '"')
            rc = buf_puts(b, "\\\"");
        else if (*s == '\n')
            rc = buf_puts(b, "\\n");
        else if (*s == '\\'
            && (s[1] == '"' || s[1] == '\\' || s[1] == 'n' || s[1] == '\0'))
            rc = buf_puts(b, "\\\\");
        else
            rc = buf_putc(b, *s);
    }
    return rc != 0 ? rc : buf_putc(b, '"');
}

static int
put_value(struct buf *b, const char *s, const struct gverb *v, int force)
{
    if (force || needs_quote(s, v))
        return put_quoted(b, s);
    return buf_puts(b, s);
}

static int
print_event(struct buf *b, const struct applet_event *e)
{
    char num[64];
    int  rc = buf_puts(b, " event ");

    if (rc == 0 && e->tag != NULL) {
        rc = buf_puts(b, "tag ");
        rc = rc ? rc : put_value(b, e->tag, NULL, 0);
        rc = rc ? rc : buf_putc(b, ' ');
    }
    rc = rc ? rc : buf_puts(b, eng_event_type_name(e->pub.type));
    if (rc == 0 && e->pattern != NULL) {
        rc = buf_puts(b, " pattern ");
        rc = rc ? rc : put_quoted(b, e->pattern);
    }
    if (rc == 0 && e->pub.type == ENG_EV_APPLICATION)
        rc = buf_printf(b, " sub-system %u type %u", e->pub.sub_system,
            e->pub.app_type);
    if (rc == 0 && e->pub.type == ENG_EV_SYSLOG && e->pub.occurs != 1)
        rc = buf_printf(b, " occurs %u", e->pub.occurs);
    if (rc == 0 && e->pub.period > 0) {
        applet_fmt_num(e->pub.period, num, sizeof(num));
        rc = buf_printf(b, " period %s", num);
    }
    if (rc == 0 && e->priority != NULL)
        rc = buf_printf(b, " priority %s", e->priority);
    if (rc == 0
        && (e->pub.type == ENG_EV_TIMER_WATCHDOG
            || e->pub.type == ENG_EV_TIMER_COUNTDOWN
            || e->pub.type == ENG_EV_TIMER_ABSOLUTE)) {
        applet_fmt_num(e->pub.time, num, sizeof(num));
        rc = buf_printf(b, " time %s", num);
    }
    if (rc == 0 && e->cron_entry != NULL) {
        rc = buf_puts(b, " cron-entry ");
        rc = rc ? rc : put_quoted(b, e->cron_entry);
    }
    if (rc == 0 && e->timer_name != NULL)
        rc = buf_printf(b, " name %s", e->timer_name);
    if (rc == 0 && e->pub.maxrun > 0) {
        applet_fmt_num(e->pub.maxrun, num, sizeof(num));
        rc = buf_printf(b, " maxrun %s", num);
    }
    if (rc == 0 && e->pub.ratelimit > 0) {
        applet_fmt_num(e->pub.ratelimit, num, sizeof(num));
        rc = buf_printf(b, " ratelimit %s", num);
    }
    return rc ? rc : buf_putc(b, '\n');
}

static int
print_action(struct buf *b, const struct applet_action *act)
{
    const struct gverb *v = act->def;
    size_t              i, n = gram_nparams(v);
    int                 rc;

    rc = buf_printf(b, " action %s %s", act->label, v->verb);
    for (i = 0; i < n && rc == 0; i++) {
        const struct gparam *p = &v->p[i];
        const char          *val = act->val[i];

        if (val == NULL)
            continue;
        switch (p->kind) {
        case GP_FLAG:
            rc = buf_printf(b, " %s", p->name);
            break;
        case GP_KW:
            rc = buf_printf(b, " %s ", p->name);
            rc = rc ? rc : put_value(b, val, NULL, 0);
            break;
        case GP_REST:
            rc = buf_putc(b, ' ');
            rc = rc ? rc : put_value(b, val, v, val[0] == '"');
            break;
        default:
            rc = buf_putc(b, ' ');
            rc = rc ? rc : put_value(b, val, v, 0);
            break;
        }
    }
    return rc ? rc : buf_putc(b, '\n');
}

char *
eng_applet_to_text(const struct eng_applet *a)
{
    struct buf b = BUF_INIT;
    size_t     i;
    int        rc;

    rc = buf_printf(&b, "event manager applet %s%s%s%s\n", a->name,
        a->klass != NULL ? " class " : "", a->klass != NULL ? a->klass : "",
        a->auth_bypass ? " authorization bypass" : "");
    if (rc == 0 && a->description != NULL) {
        rc = buf_puts(&b, " description ");
        rc = rc ? rc : put_quoted(&b, a->description);
        rc = rc ? rc : buf_putc(&b, '\n');
    }
    for (i = 0; i < a->nevents && rc == 0; i++)
        rc = print_event(&b, &a->events[i]);
    if (rc == 0 && a->correlate != NULL)
        rc = buf_printf(&b, " trigger\n  correlate %s\n", a->correlate);
    for (i = 0; i < a->nactions && rc == 0; i++)
        rc = print_action(&b, &a->actions[i]);
    if (rc != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* ---- warnings -------------------------------------------------------- */

/* Families whose members vary (arguments, webhook fields, ...). */
static const char *const builtin_prefixes[] = {
    "_event_",
    "_none_arg",
    "_timer_",
    "_webhook_",
    "_regexp_result",
    "_string_result",
    "_result",
    "_remainder",
    "_error",
    "_exit_status",
    "_cli_result",
    "_info_",
    NULL,
};

/* The built-ins of a syslog run and of an application event, by name
 * (a misspelt $_syslog_mnemonic still warns). */
static const char *const builtin_names[] = {
    "_syslog_msg",
    "_syslog_host",
    "_syslog_source_ip",
    "_syslog_facility",
    "_syslog_subfacility",
    "_syslog_mnemonic",
    "_syslog_severity",
    "_syslog_seq",
    "_syslog_timestamp",
    "_syslog_app",
    "_syslog_pri",
    "_application_sub_system",
    "_application_type",
    "_application_data1",
    "_application_data2",
    "_application_data3",
    "_application_data4",
    NULL,
};

static int
is_builtin(const char *name)
{
    size_t i;

    for (i = 0; builtin_prefixes[i] != NULL; i++)
        if (strncmp(name, builtin_prefixes[i], strlen(builtin_prefixes[i]))
            == 0)
            return 1;
    for (i = 0; builtin_names[i] != NULL; i++)
        if (strcmp(name, builtin_names[i]) == 0)
            return 1;
    return 0;
}

/* Names the applet itself sets; 1 and *any when a context retrieve may set
 * anything. */
static int
applet_sets(const struct eng_applet *a, const char *name, int *any)
{
    static const char *const setters[][2] = {
        { "set", "var" },
        { "append", "var" },
        { "increment", "var" },
        { "decrement", "var" },
        { "foreach", "var" },
        { "regexp", "match" },
        { "regexp", "sub1" },
        { "regexp", "sub2" },
        { "regexp", "sub3" },
        { "context retrieve", "variable" },
    };
    size_t i, j;

    *any = 0;
    for (i = 0; i < a->nactions; i++) {
        const struct applet_action *act = &a->actions[i];
        for (j = 0; j < sizeof(setters) / sizeof(setters[0]); j++) {
            int         k;
            const char *v;
            if (strcmp(act->def->verb, setters[j][0]) != 0)
                continue;
            k = gram_param_index(act->def, setters[j][1]);
            v = k >= 0 ? act->val[k] : NULL;
            if (strcmp(setters[j][0], "context retrieve") == 0
                && (v == NULL
                    || !eng_var_name_valid(v[0] == '$' ? v + 1 : v))) {
                *any = 1;
                continue;
            }
            if (v != NULL && strcmp(v[0] == '$' ? v + 1 : v, name) == 0)
                return 1;
        }
    }
    return 0;
}

static int
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

static int
warn_add(struct cJSON *arr, const char *code, const char *message,
    const char *label, const char *var)
{
    struct cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddStringToObject(o, "code", code) == NULL
        || cJSON_AddStringToObject(o, "message", message) == NULL
        || (label != NULL && cJSON_AddStringToObject(o, "label", label) == NULL)
        || (var != NULL
            && cJSON_AddStringToObject(o, "variable", var) == NULL)) {
        cJSON_Delete(o);
        return ERR_NOMEM;
    }
    cJSON_AddItemToArray(arr, o);
    return 0;
}

/* 1 if a warning about variable name at label is already in arr (one per
 * variable and label). */
static int
warned(struct cJSON *arr, const char *name, const char *label)
{
    struct cJSON *it, *v, *l;

    cJSON_ArrayForEach(it, arr)
    {
        v = cJSON_GetObjectItemCaseSensitive(it, "variable");
        l = cJSON_GetObjectItemCaseSensitive(it, "label");
        if (cJSON_IsString(v) && strcmp(v->valuestring, name) == 0
            && ((label == NULL && l == NULL)
                || (label != NULL && cJSON_IsString(l)
                    && strcmp(l->valuestring, label) == 0)))
            return 1;
    }
    return 0;
}

/* The parameters that take a secret whole: a mail action's server, and
 * set, whose copy stays as secret as the original. */
static int
consumes_secret(const char *verb, const char *param)
{
    return (strcmp(verb, "mail") == 0 && strcmp(param, "server") == 0)
        || (strcmp(verb, "set") == 0 && strcmp(param, "value") == 0);
}

/* Scans one value for $name / ${name} references. */
static int
warn_vars_in(const struct eng_applet *a, const char *val, const char *label,
    const char *verb, const char *param, int optional,
    int (*is_defined)(void *ctx, const char *name), void *ctx,
    struct cJSON *arr)
{
    const char *p = val, *q;
    char        name[APPLET_MAX_NAME + 2], msg[768];
    int         any, brace, defined;
    size_t      n;

    while ((p = strchr(p, '$')) != NULL) {
        if (p > val && p[-1] == '\\') {
            p++;
            continue;
        }
        brace = p[1] == '{';
        q = p + 1 + brace;
        while (is_name_char(*q))
            q++;
        n = (size_t)(q - p - 1 - brace);
        if (n == 0 || n > APPLET_MAX_NAME || (brace && *q != '}')) {
            p++;
            continue;
        }
        snprintf(name, sizeof(name), "%.*s", (int)n, p + 1 + brace);
        p = q;
        if (is_builtin(name) || applet_sets(a, name, &any) || any)
            continue;
        defined = is_defined != NULL ? is_defined(ctx, name) : 0;
        if (defined == 2 && label != NULL && !consumes_secret(verb, param)) {
            snprintf(msg, sizeof(msg),
                "$%s (action %s %s, %s) holds a "
                "secret: it is shown masked here (user:*****@host or *****)"
                "; only a mail action's server receives its value",
                name, label, verb, param);
            if (!warned(arr, name, label)
                && warn_add(arr, "secret_variable", msg, label, name) != 0)
                return ERR_NOMEM;
            continue;
        }
        if (defined)
            continue;
        if (warned(arr, name, label))
            continue;
        if (label != NULL)
            snprintf(msg, sizeof(msg),
                "$%s (action %s %s, %s) is undefined: "
                "the %s action would fail at run time. Define it with "
                "\"event manager environment %s ...\"%s%s%s",
                name, label, verb, param, verb, name,
                optional ? " or remove \"" : "", optional ? param : "",
                optional ? "\"" : "");
        else
            snprintf(msg, sizeof(msg),
                "$%s (in the event %s) is undefined: "
                "the event cannot be registered. Define it with \"event "
                "manager environment %s ...\"",
                name, param, name);
        if (warn_add(arr, "undefined_variable", msg, label, name) != 0)
            return ERR_NOMEM;
    }
    return 0;
}

static int
label_numeric(const char *s, double *d)
{
    char       *end;
    int         dots = 0;
    const char *p;

    for (p = s; *p != '\0'; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return 0;
    }
    if (dots > 1 || s[0] == '.' || s[0] == '\0')
        return 0;
    *d = strtod(s, &end);
    return *end == '\0';
}

static int
warn_label_order(const struct eng_applet *a, struct cJSON *arr)
{
    size_t      i, len = 0, shown;
    double      prev = 0, d;
    char        msg[768];
    const char *first_bad = NULL;

    if (a->nactions < 2)
        return 0;
    for (i = 0; i < a->nactions; i++) {
        if (!label_numeric(a->actions[i].label, &d))
            return 0;
        if (i > 0 && d < prev && first_bad == NULL)
            first_bad = a->actions[i].label;
        prev = d;
    }
    if (first_bad == NULL)
        return 0;
    len = (size_t)snprintf(msg, sizeof(msg),
        "numeric labels run in byte "
        "order, not numeric order: ");
    for (i = 0, shown = 0; i < a->nactions && shown < 12; i++, shown++)
        len += (size_t)snprintf(msg + len,
            len < sizeof(msg) ? sizeof(msg) - len : 0, "%s%s", i ? ", " : "",
            a->actions[i].label);
    if (len < sizeof(msg))
        snprintf(msg + len, sizeof(msg) - len,
            "%s. Give the labels equal "
            "width (e.g. 0010, 0020, 0100) to run them in numeric order",
            a->nactions > shown ? ", ..." : "");
    return warn_add(arr, "label_order", msg, first_bad, NULL);
}

int
applet_check_blocks(const struct eng_applet *a, char *msg, size_t msglen,
    size_t *which)
{
    struct frame {
        size_t head, last;
    } * st;
    size_t sp = 0, i, j;
    int    rc = 0;

    *which = 0;
    if ((st = calloc(a->nactions + 1, sizeof(*st))) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return ERR_NOMEM;
    }
    for (i = 0; i < a->nactions && rc == 0; i++) {
        const char *v = a->actions[i].def->verb;
        const char *l = a->actions[i].label;

        *which = i;
        if (strcmp(v, "if") == 0 || strcmp(v, "while") == 0
            || strcmp(v, "foreach") == 0) {
            st[sp].head = st[sp].last = i;
            sp++;
        } else if (strcmp(v, "elseif") == 0 || strcmp(v, "else") == 0) {
            if (sp == 0
                || strcmp(a->actions[st[sp - 1].head].def->verb, "if") != 0) {
                snprintf(msg, msglen,
                    "action %s: \"%s\" without an "
                    "opening \"if\" (actions run in label byte order)",
                    l, v);
                rc = ERR_INVAL;
            } else if (strcmp(a->actions[st[sp - 1].last].def->verb, "else")
                == 0) {
                snprintf(msg, msglen,
                    "action %s: \"%s\" after the "
                    "\"else\" of action %s (actions run in label byte "
                    "order)",
                    l, v, a->actions[st[sp - 1].last].label);
                rc = ERR_INVAL;
            } else {
                st[sp - 1].last = i;
            }
        } else if (strcmp(v, "end") == 0) {
            if (sp == 0) {
                snprintf(msg, msglen,
                    "action %s: \"end\" without an "
                    "opening \"if\", \"while\" or \"foreach\" (actions "
                    "run in label byte order)",
                    l);
                rc = ERR_INVAL;
            } else {
                sp--;
            }
        } else if (strcmp(v, "break") == 0 || strcmp(v, "continue") == 0) {
            for (j = sp; j > 0; j--)
                if (strcmp(a->actions[st[j - 1].head].def->verb, "if") != 0)
                    break;
            if (j == 0) {
                snprintf(msg, msglen,
                    "action %s: \"%s\" outside a "
                    "\"while\" or \"foreach\" loop (actions run in label "
                    "byte order)",
                    l, v);
                rc = ERR_INVAL;
            }
        }
    }
    if (rc == 0 && sp > 0) {
        *which = st[sp - 1].head;
        snprintf(msg, msglen,
            "action %s: \"%s\" is never closed: add an "
            "\"end\" action after its block (actions run in label byte "
            "order)",
            a->actions[*which].label, a->actions[*which].def->verb);
        rc = ERR_INVAL;
    }
    free(st);
    return rc;
}

/* A mail action whose port and secure mode disagree: 465 speaks TLS from
 * the first byte (RFC 8314), so "secure tls" (STARTTLS) there waits for a
 * greeting that never comes; 587 and 25 with "secure implicit" the
 * reverse. */
static int
warn_mail_ports(const struct eng_applet *a, struct cJSON *arr)
{
    const char *port, *sec, *want = NULL;
    char        msg[512];
    size_t      i;
    int         rc = 0;

    for (i = 0; i < a->nactions && rc == 0; i++) {
        if (strcmp(a->actions[i].def->verb, "mail") != 0)
            continue;
        port = eng_action_arg(a, i, "port");
        sec = eng_action_arg(a, i, "secure");
        if (port == NULL || sec == NULL)
            continue;
        if (strcmp(port, "465") == 0 && strcmp(sec, "tls") == 0)
            want = "implicit";
        else if ((strcmp(port, "587") == 0 || strcmp(port, "25") == 0)
            && strcmp(sec, "implicit") == 0)
            want = "tls";
        else
            continue;
        snprintf(msg, sizeof(msg),
            "action %s: port %s with secure %s: "
            "port %s %s, so this mail would wait for a greeting until it "
            "times out. Use \"secure %s\"",
            a->actions[i].label, port, sec, port,
            strcmp(want, "implicit") == 0
                ? "speaks TLS from the "
                  "first byte (implicit TLS, RFC 8314)"
                : "starts in plain text "
                  "and upgrades with STARTTLS",
            want);
        rc = warn_add(arr, "port_secure_mismatch", msg, a->actions[i].label,
            NULL);
    }
    return rc;
}

int
eng_applet_credential_warnings(const struct eng_applet *a,
    int (*exists)(void *ctx, const char *name), void *ctx, struct cJSON *arr)
{
    const char   *name;
    struct cJSON *o;
    char          msg[512];
    size_t        i;

    for (i = 0; i < a->nactions; i++) {
        if (strcmp(a->actions[i].def->verb, "mail") != 0
            || (name = eng_action_arg(a, i, "credential")) == NULL
            || strchr(name, '$') != NULL
            || (exists != NULL && exists(ctx, name)))
            continue;
        snprintf(msg, sizeof(msg),
            "action %s: credential %.64s does not exist: this mail would "
            "fail at run time. Create it with PUT /api/v1/credentials/%.64s "
            "(or \"herald credential %.64s\" in the config text)",
            a->actions[i].label, name, name, name);
        if (warn_add(arr, "unknown_credential", msg, a->actions[i].label, NULL)
                != 0
            || (o = cJSON_GetArrayItem(arr, cJSON_GetArraySize(arr) - 1))
                == NULL
            || cJSON_AddStringToObject(o, "credential", name) == NULL)
            return ERR_NOMEM;
    }
    return 0;
}

int
eng_applet_storable(const struct eng_applet *a, struct errbuf *eb)
{
    if (a->nevents > 0)
        return 0;
    return err_field(eb, ERR_INVAL, "events", "no_event",
        "applet %s has no "
        "event, so nothing could ever run it: add an \"event\" line, e.g. "
        "\" event none\" to run it by hand or through the API",
        a->name);
}

struct cJSON *
eng_applet_warnings(const struct eng_applet *a,
    int (*is_defined)(void *ctx, const char *name), void *ctx)
{
    struct cJSON *arr = cJSON_CreateArray();
    size_t        i, j, n;
    int           rc = 0;

    if (arr == NULL)
        return NULL;
    for (i = 0; i < a->nevents && rc == 0; i++) {
        const struct applet_event *e = &a->events[i];
        if (e->pattern != NULL)
            rc = warn_vars_in(a, e->pattern, NULL, NULL, "pattern", 0,
                is_defined, ctx, arr);
        if (rc == 0 && e->cron_entry != NULL)
            rc = warn_vars_in(a, e->cron_entry, NULL, NULL, "cron-entry", 0,
                is_defined, ctx, arr);
    }
    for (i = 0; i < a->nactions && rc == 0; i++) {
        const struct applet_action *act = &a->actions[i];
        n = gram_nparams(act->def);
        for (j = 0; j < n && rc == 0; j++)
            if (act->val[j] != NULL && act->def->p[j].type != GT_VAR)
                rc = warn_vars_in(a, act->val[j], act->label, act->def->verb,
                    act->def->p[j].name, (act->def->p[j].flags & GP_OPT) != 0,
                    is_defined, ctx, arr);
    }
    if (rc == 0)
        rc = warn_label_order(a, arr);
    if (rc == 0)
        rc = warn_mail_ports(a, arr);
    if (rc != 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}
