/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/applet_int.h: in-module interface of the applet model
 * (engine/lang/applet.c, applet_grammar.c, applet_json.c). Other modules use
 * engine/lang/applet.h.
 *
 * The grammar is one table of action verbs (applet_grammar.c), each with its
 * parameters in print order: positional, keyword ("port 587"), flag
 * ("nocase") or rest-of-line ("comment ..."), with a value type. The CLI
 * parser and the JSON reader both fill the model through the builder below,
 * so that both check values with the same rules and messages.
 *
 * Values in the model are the unquoted text: the parser turns \" into ",
 * \\ into \ and \n into a line feed; "\$" stays as written (the expander,
 * engine/run/interp_expand.c, makes it a literal '$'); any other backslash stays
 * as written, so regular expressions such as "\." keep working.
 */
#ifndef HERALD_ENGINE_APPLET_INT_H
#define HERALD_ENGINE_APPLET_INT_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/err.h"
#include "engine/lang/applet.h"

#define APPLET_MAX_TEXT    (256 * 1024)
#define APPLET_MAX_ACTIONS 10000
#define APPLET_MAX_LABEL   31
#define APPLET_MAX_NAME    64
#define APPLET_MAX_PARAMS  13
#define APPLET_MAX_VALUE   4096

enum gp_kind {
    GP_POS = 0, /* positional */
    GP_KW,      /* "keyword value" */
    GP_FLAG,    /* "keyword" alone; value "1" */
    GP_REST,    /* the rest of the line */
};

enum gp_type {
    GT_STR = 0,
    GT_VAR,  /* variable name; a leading '$' is dropped */
    GT_INT,  /* integer or a $variable */
    GT_NUM,  /* non-negative decimal number or a $variable */
    GT_ENUM, /* one of choices */
};

#define GP_OPT  0x1 /* optional */
#define GP_NOLF 0x2 /* no line feed (mail headers, addresses) */

struct gparam {
    const char   *name;
    unsigned char kind;     /* enum gp_kind */
    unsigned char type;     /* enum gp_type */
    unsigned char flags;    /* GP_* */
    const char   *choices;  /* GT_ENUM: "tls|none|implicit" */
    long          min, max; /* GT_INT literal range when min < max */
};

struct gverb {
    const char   *verb;                 /* canonical, "string trim" */
    struct gparam p[APPLET_MAX_PARAMS]; /* ends at name == NULL */
};

/* applet_grammar.c */
const struct gverb *gram_verb(const char *verb); /* exact name or NULL */
size_t              gram_verb_count(void);
const struct gverb *gram_verb_at(size_t i);
size_t              gram_nparams(const struct gverb *v);
int gram_param_index(const struct gverb *v, const char *name); /* or -1 */
/* 1 if word is a router-only action (cli, reload, ...). */
int gram_router_only(const char *word);
/* Checks (and for GT_VAR normalises, dropping '$') a value. Returns 0, or
 * ERR_INVAL with msg saying what was expected (no position, no field), or
 * ERR_UNSUPPORTED for a router-only choice ("info type snmp"). The
 * normalised value is written to *norm (new string) when not NULL. */
int gram_check_value(const struct gverb *v, const struct gparam *p,
    const char *value, char **norm, char *msg, size_t msglen);
/* Writes "a, b or c" for an enum's choices. */
void gram_choices_text(const char *choices, char *out, size_t outlen);
/* 1 if s names a keyword or flag parameter of v. */
int gram_is_keyword(const struct gverb *v, const char *s);

/* A stored event: pub points into the owned strings. */
struct applet_event {
    struct eng_event pub;
    char            *tag, *pattern, *priority, *cron_entry, *timer_name;
};

struct applet_action {
    struct eng_action   pub; /* label and verb (def->verb) */
    const struct gverb *def;
    int                 src; /* text: its line; JSON: index + 1; 0 */
    char               *label;
    char               *val[APPLET_MAX_PARAMS];
};

struct eng_applet {
    atomic_uint           refs; /* eng_applet_ref / eng_applet_free */
    char                 *name;
    char                 *description;
    char                 *klass;       /* "class A".."Z"|"default", or NULL */
    int                   auth_bypass; /* "authorization bypass" */
    unsigned              prompts_removed;
    struct applet_event  *events;
    size_t                nevents;
    char                 *correlate;
    struct applet_action *actions; /* sorted by label (strcmp) */
    size_t                nactions, capactions;
};

/* Builder (applet.c), shared by the parser and the JSON reader. */
struct eng_applet *applet_new(void);
/* Inserts or replaces by label; takes ownership of act's strings, even on
 * failure. Errors: ERR_TOOBIG (too many actions), ERR_NOMEM. */
int applet_put_action(struct eng_applet *a, struct applet_action *act);
/* Validates tags and the correlate expression; fills a default "or"
 * correlate when several tagged events have none. Returns 0 or ERR_INVAL
 * with msg; *which is set to -1 (correlate) or the event index at fault. */
int applet_check_events(struct eng_applet *a, char *msg, size_t msglen,
    int *which);
/* Checks the block structure in run order, as the interpreter builds its
 * jump table: else/elseif inside an if (not after its else), end closing
 * an open if/while/foreach, break/continue inside a loop, every block
 * closed. Returns 0, or ERR_INVAL with msg (naming the label) and *which
 * the index of the action at fault. */
int applet_check_blocks(const struct eng_applet *a, char *msg, size_t msglen,
    size_t *which);
/* Checks a "class" value (A..Z or default); 0 or ERR_INVAL with msg. */
int applet_check_class(const char *v, char *msg, size_t msglen);
/* Checks an applet name; 0 or ERR_INVAL with msg. */
int applet_check_name(const char *name, char *msg, size_t msglen);
/* Normalises a correlate expression ("event a or event b"); new string in
 * *out. 0, ERR_INVAL (msg), ERR_UNSUPPORTED (msg) or ERR_NOMEM. */
int applet_parse_correlate(const char *expr, char **out, char *msg,
    size_t msglen);
/* Formats a number the shortest way that reads back equal. */
void applet_fmt_num(double d, char *out, size_t outlen);

/* Event keywords (applet.c). */
enum {
    EK_PATTERN = 0,
    EK_OCCURS,
    EK_PERIOD,
    EK_PRIORITY,
    EK_TIME,
    EK_CRON,
    EK_NAME,
    EK_MAXRUN,
    EK_RATELIMIT,
    EK_SUBSYS,
    EK_APPTYPE,
    EK_N
};
int         applet_event_keyword(const char *s); /* EK_* or -1 */
const char *applet_event_kw_name(int k);
unsigned    applet_event_allowed(int type); /* bit per EK_* */
unsigned    applet_event_required(int type);
/* Event type from its words ("timer", "cron"), or -1. */
int applet_event_type_parse(const char *w1, const char *w2);
/* Checks one keyword value and stores it in ev. 0, ERR_INVAL or ERR_NOMEM
 * with msg. */
int applet_event_set(struct applet_event *ev, int k, const char *value,
    char *msg, size_t msglen);
/* Appends ev to a; takes ev's strings, even on failure. */
int  applet_add_event(struct eng_applet *a, struct applet_event *ev);
void applet_event_clear(struct applet_event *ev);
void applet_action_clear(struct applet_action *act);

#endif
