/* SPDX-License-Identifier: MIT */
/*
 * engine/run/interp.h: runs one applet's actions with the semantics of
 * ../shared/EEM.md: ascending byte-wise label order, local variables over
 * environment variables over nothing (undefined = the action fails),
 * built-ins, control flow, handle-error, maxrun.
 *
 * The interpreter does no I/O of its own beyond wait: mail, syslog, context
 * and policy go through the hooks in struct eng_run_env, so that it can be
 * unit-tested with fakes and the runtime decides (outbox, logging, store).
 */
#ifndef HERALD_ENGINE_INTERP_H
#define HERALD_ENGINE_INTERP_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct cJSON;
struct eng_applet;
struct eng_mail_req;
struct smtp_result;

/* A name/value pair list (built-ins of the event: _event_type, _none_arg1,
 * _syslog_msg, _webhook_body, ...). Borrowed. */
struct eng_kv {
    const char *name;
    const char *value;
};

struct eng_run_env {
    /* Environment lookup: returns a new string (free()) or NULL if unset;
     * *secret is set to 1 when the variable is marked secret. */
    char *(*env_get)(void *ud, const char *name, int *secret);
    /* mail action: 0 on success, or an ERR_* value (negative) with *res
     * filled (the run's trace gets trace's content). */
    int (*mail)(void *ud, const struct eng_mail_req *req, struct cJSON *trace,
        struct smtp_result *res);
    /* syslog action: level 0..7, the formatted "%HA_EM-6-LOG: ..." line. */
    void (*syslog)(void *ud, int priority, const char *line);
    /* context save/retrieve: vars is a JSON object name -> string. save
     * takes nothing; retrieve returns a new object or NULL if no such key. */
    int (*context_save)(void *ud, const char *key, const struct cJSON *vars);
    struct cJSON *(*context_retrieve)(void *ud, const char *key);
    /* policy NAME: trigger another applet (asynchronously). 0 or an ERR_*
     * value (negative). */
    int (*policy)(void *ud, const char *name, const char *args);
    /* publish-event: raise application event sub_system/type (1..999,
     * checked) with ndata (0..4) data strings; entry is the action's
     * trace object (may be NULL) for what the hook did. 0 or an ERR_*
     * value (negative) with msg filled. NULL: the event is only recorded
     * in the trace. */
    int (*publish)(void *ud, unsigned sub_system, unsigned type,
        const char *const *data, size_t ndata, struct cJSON *entry, char *msg,
        size_t msglen);
    void       *ud;
    double      maxrun; /* seconds; 0: the default (ENG_MAXRUN_DEFAULT) */
    atomic_int *cancel; /* set to nonzero to stop the run (SIGTERM);
                              * may be stored from another thread */
};

#define ENG_MAXRUN_DEFAULT 120.0 /* IOS: 20 s; mail needs more */

enum eng_run_status {
    ENG_RUN_SUCCESS = 0, /* ran to the end or `exit` */
    ENG_RUN_ABORT,       /* an action failed (failed_label set) */
    ENG_RUN_TIMEOUT,     /* maxrun expired */
    ENG_RUN_CANCELLED,   /* cancel flag */
};
const char *eng_run_status_name(int status); /* "success", "abort", ... */

struct eng_run_result {
    int           status;      /* enum eng_run_status */
    int           exit_status; /* $_exit_status */
    char          failed_label[32];
    char          error_class[32]; /* e.g. "undefined_variable", mail klass */
    char          error[768];      /* message */
    struct buf    output;          /* puts output */
    struct cJSON *trace;           /* array of {label, action, ms, outcome,
                                    error?, smtp?} (cJSON_Delete) */
};

/* Runs applet a with the event's built-ins. Always fills *out (free its
 * members with eng_run_result_clear()). Returns 0 (whatever the run's
 * status) or ERR_NOMEM. */
int  eng_interp_run(const struct eng_applet *a, const struct eng_kv *builtins,
     size_t nbuiltins, const struct eng_run_env *env,
     struct eng_run_result *out);
void eng_run_result_clear(struct eng_run_result *r);

/* A variable lookup for eng_expand: returns name's value as a new string
 * (free()), or NULL when it is undefined. When the value is a secret,
 * *shown (NULL on entry) receives a new string with the form it may be
 * shown in ("user:*****@host", "*****"). */
typedef char *(*eng_lookup_fn)(void *ud, const char *name, char **shown);

/* Expands $name and ${name} in s using lookup (locals then environment).
 * A secret expands to its shown form unless reveal is set (only where a
 * credential is consumed: a mail action's server). Returns 0 and a new
 * string in *out, or ERR_INVAL with eb naming the undefined variable (code
 * "undefined_variable"). */
int eng_expand(const char *s, eng_lookup_fn lookup, void *ud, int reveal,
    char **out, struct errbuf *eb);

/* How an environment value may be shown: a server string with a password
 * -> "user:*****@host"; any other value of a variable marked secret ->
 * "*****"; else NULL (not a secret). New string (free()); *oom is set when
 * memory ran out. */
char *eng_secret_shown(const char *value, int marked_secret, int *oom);

#endif
