/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/applet_grammar.c: the grammar of every EEM action herald runs.
 *
 * One row per canonical verb, its parameters in the order the canonical
 * text prints them. The parameter names are the contract with the
 * interpreter (engine/lang/applet.h lists them). Router-only actions (cli,
 * reload, snmp-trap, ...) are listed separately so that they are rejected by
 * name instead of as unknown words.
 */
#include "engine/lang/applet_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POS(n)                                                                 \
    {                                                                          \
        n, GP_POS, GT_STR, 0, NULL, 0, 0                                       \
    }
#define POSO(n)                                                                \
    {                                                                          \
        n, GP_POS, GT_STR, GP_OPT, NULL, 0, 0                                  \
    }
#define POSV(n)                                                                \
    {                                                                          \
        n, GP_POS, GT_VAR, 0, NULL, 0, 0                                       \
    }
#define POSVO(n)                                                               \
    {                                                                          \
        n, GP_POS, GT_VAR, GP_OPT, NULL, 0, 0                                  \
    }
#define POSIO(n)                                                               \
    {                                                                          \
        n, GP_POS, GT_INT, GP_OPT, NULL, 0, 0                                  \
    }
#define KW(n)                                                                  \
    {                                                                          \
        n, GP_KW, GT_STR, 0, NULL, 0, 0                                        \
    }
#define KWO(n)                                                                 \
    {                                                                          \
        n, GP_KW, GT_STR, GP_OPT, NULL, 0, 0                                   \
    }
#define KWH(n)                                                                 \
    {                                                                          \
        n, GP_KW, GT_STR, GP_NOLF, NULL, 0, 0                                  \
    }
#define KWHO(n)                                                                \
    {                                                                          \
        n, GP_KW, GT_STR, GP_NOLF | GP_OPT, NULL, 0, 0                         \
    }
#define FLAG(n)                                                                \
    {                                                                          \
        n, GP_FLAG, GT_STR, GP_OPT, NULL, 0, 0                                 \
    }
#define REST(n)                                                                \
    {                                                                          \
        n, GP_REST, GT_STR, GP_OPT, NULL, 0, 0                                 \
    }
#define END                                                                    \
    {                                                                          \
        NULL, 0, 0, 0, NULL, 0, 0                                              \
    }

#define SYSLOG_LEVELS                                                          \
    "emergencies|alerts|critical|errors|warnings|notifications|"               \
    "informational|debugging"

static const struct gverb verbs[] = {
    { "mail",
        { KWH("server"), KWH("to"), KWH("from"), KWHO("cc"), KWH("subject"),
            KWO("body"), KWHO("source-interface"), KWHO("source-address"),
            { "port", GP_KW, GT_INT, GP_OPT, NULL, 1, 65535 },
            { "secure", GP_KW, GT_ENUM, GP_OPT, "tls|none|implicit", 0, 0 },
            KWHO("tls-name"), KWHO("credential"), END } },
    { "syslog",
        { { "priority", GP_KW, GT_ENUM, GP_OPT, SYSLOG_LEVELS, 0, 0 },
            KW("msg"), KWHO("facility"), END } },
    { "set", { POSV("var"), POS("value"), END } },
    { "append", { POSV("var"), POS("value"), END } },
    { "increment", { POSV("var"), POSIO("value"), END } },
    { "decrement", { POSV("var"), POSIO("value"), END } },
    { "add", { POS("left"), POS("right"), END } },
    { "subtract", { POS("left"), POS("right"), END } },
    { "multiply", { POS("left"), POS("right"), END } },
    { "divide", { POS("left"), POS("right"), END } },
    { "if",
        { POS("left"), { "op", GP_POS, GT_ENUM, 0, "eq|ne|lt|le|gt|ge", 0, 0 },
            POS("right"), END } },
    { "elseif",
        { POS("left"), { "op", GP_POS, GT_ENUM, 0, "eq|ne|lt|le|gt|ge", 0, 0 },
            POS("right"), END } },
    { "while",
        { POS("left"), { "op", GP_POS, GT_ENUM, 0, "eq|ne|lt|le|gt|ge", 0, 0 },
            POS("right"), END } },
    { "else", { END } },
    { "end", { END } },
    { "break", { END } },
    { "continue", { END } },
    { "foreach", { POSV("var"), POS("list"), POSO("delim"), END } },
    { "regexp",
        { POS("pattern"), POS("input"), POSVO("match"), POSVO("sub1"),
            POSVO("sub2"), POSVO("sub3"), END } },
    { "string compare", { FLAG("nocase"), POS("left"), POS("right"), END } },
    { "string equal", { FLAG("nocase"), POS("left"), POS("right"), END } },
    { "string first", { POS("needle"), POS("haystack"), POSIO("index"), END } },
    { "string last", { POS("needle"), POS("haystack"), POSIO("index"), END } },
    { "string index",
        { POS("string"), { "index", GP_POS, GT_STR, 0, NULL, 0, 0 }, END } },
    { "string length", { POS("string"), END } },
    { "string match", { FLAG("nocase"), POS("pattern"), POS("string"), END } },
    { "string range", { POS("string"), POS("first"), POS("last"), END } },
    { "string replace",
        { POS("string"), POS("first"), POS("last"), POSO("new"), END } },
    { "string tolower", { POS("string"), POSO("first"), POSO("last"), END } },
    { "string toupper", { POS("string"), POSO("first"), POSO("last"), END } },
    { "string trim", { POS("string"), POSO("chars"), END } },
    { "string trimleft", { POS("string"), POSO("chars"), END } },
    { "string trimright", { POS("string"), POSO("chars"), END } },
    { "wait", { { "seconds", GP_POS, GT_NUM, 0, NULL, 0, 0 }, END } },
    { "puts", { FLAG("nonewline"), POS("text"), END } },
    { "exit", { POSIO("status"), END } },
    { "comment", { REST("text"), END } },
    { "handle-error",
        { { "type", GP_KW, GT_ENUM, 0, "exit|ignore|retry", 0, 0 },
            { "count", GP_KW, GT_INT, GP_OPT, NULL, 0, 0 },
            { "delay", GP_KW, GT_NUM, GP_OPT, NULL, 0, 0 }, END } },
    { "context save", { KWH("key"), KW("variable"), END } },
    { "context retrieve", { KWH("key"), KWO("variable"), END } },
    { "policy", { POS("name"), REST("args"), END } },
    { "publish-event",
        { { "sub-system", GP_KW, GT_INT, 0, NULL, 1, 999 },
            { "type", GP_KW, GT_INT, 0, NULL, 1, 999 }, KWO("arg1"),
            KWO("arg2"), KWO("arg3"), KWO("arg4"), END } },
    /* the other info types (snmp, cli history, syslog frequency, ...)
     * read router state: gram_check_value() refuses them by name */
    { "info", { { "type", GP_KW, GT_ENUM, 0, "routername", 0, 0 }, END } },
};

static const char *const router_only[] = {
    "cli",
    "reload",
    "snmp-trap",
    "snmp-object-value",
    "snmp-request",
    "cns-event",
    "force-switchover",
    "gets",
    "file",
    "track",
    "counter",
    "ipsla",
    "sync",
    "syslog-detector",
    NULL,
};

size_t
gram_verb_count(void)
{
    return sizeof(verbs) / sizeof(verbs[0]);
}

const struct gverb *
gram_verb_at(size_t i)
{
    return i < gram_verb_count() ? &verbs[i] : NULL;
}

const struct gverb *
gram_verb(const char *verb)
{
    size_t i;

    for (i = 0; i < gram_verb_count(); i++)
        if (strcmp(verbs[i].verb, verb) == 0)
            return &verbs[i];
    return NULL;
}

size_t
gram_nparams(const struct gverb *v)
{
    size_t n = 0;

    while (n < APPLET_MAX_PARAMS && v->p[n].name != NULL)
        n++;
    return n;
}

int
gram_param_index(const struct gverb *v, const char *name)
{
    size_t i, n = gram_nparams(v);

    for (i = 0; i < n; i++)
        if (strcmp(v->p[i].name, name) == 0)
            return (int)i;
    return -1;
}

int
gram_is_keyword(const struct gverb *v, const char *s)
{
    size_t i, n = gram_nparams(v);

    for (i = 0; i < n; i++)
        if ((v->p[i].kind == GP_KW || v->p[i].kind == GP_FLAG)
            && strcmp(v->p[i].name, s) == 0)
            return 1;
    return 0;
}

int
gram_router_only(const char *word)
{
    size_t i;

    for (i = 0; router_only[i] != NULL; i++)
        if (strcmp(router_only[i], word) == 0)
            return 1;
    return 0;
}

void
gram_choices_text(const char *choices, char *out, size_t outlen)
{
    const char *p = choices, *bar;
    size_t      n = 0, total = 1, len = 0;

    for (bar = choices; *bar != '\0'; bar++)
        if (*bar == '|')
            total++;
    out[0] = '\0';
    while (p != NULL && *p != '\0') {
        bar = strchr(p, '|');
        n++;
        len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0,
            "%s%.*s", n == 1 ? "" : (n == total ? " or " : ", "),
            (int)(bar != NULL ? (size_t)(bar - p) : strlen(p)), p);
        if (len >= outlen)
            return;
        p = bar != NULL ? bar + 1 : NULL;
    }
}

static int
enum_has(const char *choices, const char *v)
{
    const char *p = choices, *bar;
    size_t      n, vl = strlen(v);

    while (p != NULL && *p != '\0') {
        bar = strchr(p, '|');
        n = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (n == vl && strncmp(p, v, n) == 0)
            return 1;
        p = bar != NULL ? bar + 1 : NULL;
    }
    return 0;
}

int
gram_check_value(const struct gverb *v, const struct gparam *p,
    const char *value, char **norm, char *msg, size_t msglen)
{
    char        choices[256], *end;
    const char *s = value;
    long long   ll;
    double      d;

    if (norm != NULL)
        *norm = NULL;
    if (v != NULL && strcmp(v->verb, "info") == 0
        && strcmp(p->name, "type") == 0 && strcmp(value, "routername") != 0) {
        snprintf(msg, msglen,
            "\"info type %.64s\" is router-only: herald "
            "runs off the router and has no %.64s data to read; only "
            "\"info type routername\" is supported",
            value, value);
        return ERR_UNSUPPORTED;
    }
    if (strlen(value) > APPLET_MAX_VALUE) {
        snprintf(msg, msglen, "value of \"%s\" is %zu bytes; the limit is %d",
            p->name, strlen(value), APPLET_MAX_VALUE);
        return ERR_INVAL;
    }
    if (strchr(value, '\r') != NULL
        || ((p->flags & GP_NOLF) && strchr(value, '\n') != NULL)
        || (p->type != GT_STR && strchr(value, '\n') != NULL)) {
        snprintf(msg, msglen, "value of \"%s\" must not contain a line break",
            p->name);
        return ERR_INVAL;
    }
    switch (p->type) {
    case GT_VAR:
        if (s[0] == '$')
            s++;
        if (!eng_var_name_valid(s)) {
            snprintf(msg, msglen,
                "expected a variable name for \"%s\" "
                "(letters, digits and _), got \"%s\"",
                p->name, value);
            return ERR_INVAL;
        }
        break;
    case GT_INT:
        if (strchr(value, '$') != NULL)
            break;
        errno = 0;
        ll = strtoll(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || errno != 0 || value[0] == '+'
            || value[0] == ' ') {
            snprintf(msg, msglen,
                "expected \"%s\" to be an integer, got "
                "\"%s\"",
                p->name, value);
            return ERR_INVAL;
        }
        if (p->min < p->max && (ll < p->min || ll > p->max)) {
            snprintf(msg, msglen,
                "expected \"%s\" between %ld and %ld, got "
                "\"%s\"",
                p->name, p->min, p->max, value);
            return ERR_INVAL;
        }
        break;
    case GT_NUM:
        if (strchr(value, '$') != NULL)
            break;
        errno = 0;
        d = strtod(value, &end);
        if (value[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d)
            || d < 0
            || !((value[0] >= '0' && value[0] <= '9') || value[0] == '.')) {
            snprintf(msg, msglen,
                "expected \"%s\" to be a number of seconds "
                "(e.g. 5 or 0.5), got \"%s\"",
                p->name, value);
            return ERR_INVAL;
        }
        break;
    case GT_ENUM:
        if (!enum_has(p->choices, value)) {
            gram_choices_text(p->choices, choices, sizeof(choices));
            snprintf(msg, msglen, "expected \"%s\" value %s, got \"%s\"",
                p->name, choices, value);
            return ERR_INVAL;
        }
        break;
    default:
        break;
    }
    (void)v;
    if (norm != NULL && (*norm = strdup(s)) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return ERR_NOMEM;
    }
    return 0;
}
