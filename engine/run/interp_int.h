/* SPDX-License-Identifier: MIT */
/*
 * engine/run/interp_int.h: in-module interface of the applet interpreter
 * (engine/run/interp.c, interp_expand.c, interp_string.c). Not for other
 * modules: they use engine/run/interp.h.
 *
 * The run context holds the local variables, the read-only built-ins, the
 * jump table built from the linear action order, and the state of the
 * action being executed (its error, its trace entry).
 */
#ifndef HERALD_ENGINE_INTERP_INT_H
#define HERALD_ENGINE_INTERP_INT_H

#include <stddef.h>

#include "common/err.h"
#include "engine/run/interp.h"

#define INTERP_TRACE_MAX  10000       /* entries, then one "truncated" */
#define INTERP_OUTPUT_MAX (64 * 1024) /* bytes of puts output */

struct interp_var {
    char *name;
    char *value;
    char *shown; /* a secret's shown form; NULL: not secret */
};

/* One action's place in the block structure (the jump table). */
enum interp_kind {
    K_PLAIN = 0,
    K_IF,
    K_ELSEIF,
    K_ELSE,
    K_END,
    K_WHILE,
    K_FOREACH,
    K_BREAK,
    K_CONTINUE,
};

struct interp_ctx;

/* One row of the dispatch table: a grammar verb (engine/lang/applet_grammar.c),
 * its jump-table kind and, for a plain action, its handler (called with
 * arg: +1/-1 for increment/decrement, the operator for arithmetic, ...).
 * Control-flow verbs have run == NULL: run_once() handles them. */
struct interp_action {
    const char *verb;
    int         kind; /* enum interp_kind */
    int (*run)(struct interp_ctx *c, int arg);
    int arg;
};

struct interp_jump {
    int                         kind; /* enum interp_kind */
    const struct interp_action *act;  /* NULL: not a verb herald runs */
    size_t next;     /* if/elseif: the next elseif/else/end of the chain */
    size_t end;      /* if/elseif/else/while/foreach: the matching end */
    size_t head;     /* end of a loop, break, continue: the loop's head */
    int    loop_end; /* K_END: 1 if it closes a loop */
};

/* Per-foreach iteration state. */
struct interp_iter {
    char **items;
    size_t n;
    size_t pos;
};

struct interp_ctx {
    const struct eng_applet  *a;
    const struct eng_run_env *env;
    struct eng_run_result    *out;

    struct interp_var *locals;
    size_t             nlocals, caplocals;
    struct interp_var *builtins; /* read-only (copied) */
    size_t             nbuiltins;

    struct interp_jump *jt;
    struct interp_iter *iters;
    size_t              nactions;

    double deadline; /* monotonic seconds */
    double maxrun;
    size_t ntrace;
    int    output_truncated;

    /* handle-error policy */
    int    he_type; /* 0 exit, 1 ignore, 2 retry */
    long   he_count;
    double he_delay;

    /* the action being run */
    size_t        pc;
    struct errbuf aeb;    /* code = error class, msg = message */
    struct cJSON *entry;  /* its trace entry (borrowed from trace) */
    int           stop;   /* exit action ran */
    int           branch; /* next visit evaluates an elseif/else */
    int           again;  /* next visit of a loop head continues it */
    int           nomem;
};

/* Variables (interp.c). */
/* Lookup for eng_expand (eng_lookup_fn): locals, built-ins, then
 * environment. */
char *interp_lookup(void *ud, const char *name, char **shown);
/* Sets a local; fails for read-only built-ins and invalid names. */
int interp_setvar(struct interp_ctx *c, const char *name, const char *value);
/* Sets a local that holds a secret: value is what a mail server argument
 * gets, shown what every other use sees (NULL: not a secret). */
int interp_setvar_secret(struct interp_ctx *c, const char *name,
    const char *value, const char *shown);
/* Expands parameter param of the current action (NULL if absent, with
 * *out = NULL). Errors: ERR_INVAL (undefined_variable), ERR_NOMEM. */
int interp_arg(struct interp_ctx *c, const char *param, char **out);
/* Like interp_arg, but a secret expands to its value, not its shown
 * form: only for the parameter that consumes a credential (mail server). */
int interp_arg_reveal(struct interp_ctx *c, const char *param, char **out);
/* Like interp_arg, but a missing parameter is an error. */
int interp_arg_req(struct interp_ctx *c, const char *param, char **out);
/* Parses a whole decimal integer (optional sign, surrounding blanks).
 * Returns 0 or ERR_INVAL with c->aeb naming what and s. */
int interp_int(struct interp_ctx *c, const char *what, const char *s,
    long long *v);

/* The dispatch row of a grammar verb, or NULL (interp.c). Every verb in
 * the grammar table has one; tests/unit/run/test_dispatch.c walks the
 * grammar and checks it. */
const struct interp_action *interp_action_find(const char *verb);

/* String operations (interp_string.c): the "string ..." rows of the
 * dispatch table, n_interp_string_actions of them. */
extern const struct interp_action interp_string_actions[];
extern const size_t               n_interp_string_actions;

#endif
