/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/applet.h: the EEM applet model, its CLI-text parser and printer,
 * its JSON form, and save-time warnings. See ../shared/EEM.md.
 *
 * An applet is immutable once parsed. Actions are kept sorted by label in
 * ascending byte-wise (strcmp) order, which is the order they run in and the
 * order that decides how if/else/end and loops nest. Re-entering a label
 * replaces that action.
 *
 * Every action verb has a fixed grammar (engine/lang/applet_grammar.c): a list of
 * named parameters, positional or keyword. The model stores, per action, the
 * value of each parameter by name (unquoted, unexpanded text; NULL when
 * absent). The JSON form of an action is {"label":..., "action": VERB, PARAM:
 * VALUE...}: integer parameters whose value is a literal number (port,
 * count, ...) are JSON numbers, flags (nocase, nonewline) are true, all
 * else strings; eng_action_arg() returns them all as text ("587", "1").
 * The canonical text prints parameters in grammar order, quoting
 * values that need it. Parameter names (the contract with the interpreter):
 *
 *  mail            server to from cc subject body source-interface
 *                  source-address port secure(tls|none|implicit) tls-name
 *                  credential (herald: an OAuth 2.0 credential's name;
 *                  server is then "user@host" without a password)
 *  syslog          priority msg facility
 *  set|append      var value          increment|decrement  var [value]
 *  add|subtract|multiply|divide       left right
 *  if|elseif|while left op right      (op: eq ne lt le gt ge)
 *  else|end|break|continue            -
 *  foreach         var list [delim]
 *  regexp          pattern input [match] [sub1] [sub2] [sub3]
 *  string compare|equal   [nocase] left right      (nocase is a flag: "1")
 *  string first|last      needle haystack [index]
 *  string index           string index
 *  string length          string
 *  string match           [nocase] pattern string
 *  string range           string first last
 *  string replace         string first last [new]
 *  string tolower|toupper string [first] [last]
 *  string trim|trimleft|trimright  string [chars]
 *  wait            seconds            puts  [nonewline] text
 *  exit            [status]           comment  text (rest of line)
 *  handle-error    type(exit|ignore|retry) [count] [delay]
 *  context save    key variable       context retrieve  key [variable]
 *  policy          name [args]        publish-event sub-system type [arg1..arg4]
 *
 *  info            type(routername)   (other types are router-only)
 *
 * Router-only actions (cli, reload, snmp-trap, ...) are rejected by name.
 *
 * The header line is "event manager applet NAME [class A..Z|default]
 * [authorization bypass] [description ...]". class is stored and shown;
 * authorization bypass is accepted for pasted router configuration and has
 * no effect (herald has no AAA command authorization to bypass).
 *
 * Text pasted from a router terminal may carry prompts: a line starting
 * with "HOST#", "HOST(config)#", "HOST(config-applet)#", "HOST(MODE)#"
 * (HOST: a letter, then letters, digits, '-', '_', '.'), optionally
 * followed by blanks, has that prefix removed before it is parsed.
 */
#ifndef HERALD_ENGINE_APPLET_H
#define HERALD_ENGINE_APPLET_H

#include <stddef.h>

#include "common/err.h"

struct cJSON;
struct eng_applet; /* opaque, immutable after parse */

enum eng_event_type {
    ENG_EV_NONE = 0,
    ENG_EV_SYSLOG,
    ENG_EV_TIMER_WATCHDOG,
    ENG_EV_TIMER_COUNTDOWN,
    ENG_EV_TIMER_ABSOLUTE,
    ENG_EV_TIMER_CRON,
    ENG_EV_WEBHOOK,
    ENG_EV_APPLICATION, /* event application sub-system N type N */
};

/* A read-only view of one event line; strings are owned by the applet. */
struct eng_event {
    const char *tag;        /* "event tag T ...", or NULL */
    int         type;       /* enum eng_event_type */
    const char *pattern;    /* syslog: POSIX ERE */
    unsigned    occurs;     /* syslog: default 1 */
    double      period;     /* syslog: seconds, 0 = none */
    const char *priority;   /* syslog: level name or NULL (any) */
    double      time;       /* watchdog/countdown/absolute: seconds */
    const char *cron_entry; /* cron: "m h dom mon dow" */
    const char *timer_name; /* timer: "name N" or NULL */
    unsigned    sub_system; /* application: 1..999 */
    unsigned    app_type;   /* application: 1..999 */
    double      maxrun;     /* seconds; 0 = herald default */
    double      ratelimit;  /* seconds; 0 = none */
};

/* A read-only view of one action. */
struct eng_action {
    const char *label; /* e.g. "0010", "1.5" */
    const char *verb;  /* canonical verb: "mail", "string trim", ... */
};

/* Parses one "event manager applet NAME" block (the header line and its
 * indented lines; blank lines and "!" comments are skipped). first_line is
 * the line number of text's first line, for error positions. Returns 0 and a
 * new applet in *out (free with eng_applet_free()), or ERR_INVAL with
 * eb->line/col and a message saying what was expected, or ERR_UNSUPPORTED for
 * a router-only action (eb names it). Errors: ERR_INVAL, ERR_UNSUPPORTED,
 * ERR_TOOBIG, ERR_NOMEM. */
int eng_applet_parse(const char *text, size_t len, int first_line,
    struct eng_applet **out, struct errbuf *eb);

/* Builds an applet from its JSON form (see above; "name" required unless
 * name is given, which then wins). eb->field names the bad field. Errors:
 * ERR_INVAL, ERR_UNSUPPORTED, ERR_NOMEM. */
int eng_applet_from_json(const struct cJSON *j, const char *name,
    struct eng_applet **out, struct errbuf *eb);

/* The length of the router prompt at the start of line ("R1(config)#",
 * "R1# "), including the blanks after '#', or 0 when line starts with no
 * prompt. */
size_t eng_prompt_len(const char *line);

/* Returns new canonical CLI text (free()), ending in "\n"; NULL on ENOMEM.
 * Parsing this text gives an equal applet and prints the same text. */
char *eng_applet_to_text(const struct eng_applet *a);

/* Returns a new JSON object {name, description, class, authorization,
 * events, correlate, actions}
 * (cJSON_Delete()), or NULL on ENOMEM. */
struct cJSON *eng_applet_to_json(const struct eng_applet *a);

/* What an applet must have to be stored (the parser also reads fragments,
 * e.g. for tests): at least one event, else nothing could ever fire it.
 * Errors: ERR_INVAL naming the applet, field "events". */
int eng_applet_storable(const struct eng_applet *a, struct errbuf *eb);

/* Save-time warnings: a new JSON array (cJSON_Delete()) of objects {code,
 * message, label?, variable?}. code is "undefined_variable" (a $var that is
 * neither built-in, set by the applet, nor defined: is_defined(ctx, name)
 * returns nonzero for defined environment variables, 2 when the value is
 * a secret), "secret_variable" (a secret used where it is shown masked:
 * anywhere but a mail action's server or a set), "port_secure_mismatch"
 * (mail port 465 with secure tls, or 587/25 with secure implicit),
 * "label_order"
 * (numeric labels whose byte order differs from numeric order). An
 * unbalanced block (else/end/break without its opening, an if never
 * closed) is not a warning: the parser and the JSON reader refuse it. */
struct cJSON *eng_applet_warnings(const struct eng_applet *a,
    int (*is_defined)(void *ctx, const char *name), void *ctx);

/* Appends to arr (eng_applet_warnings' array) an "unknown_credential"
 * warning {code, message, label, credential} for every mail action whose
 * literal credential (one without '$') does not exist: exists(ctx, name)
 * returns nonzero for a stored credential. Returns 0 or ERR_NOMEM. */
int eng_applet_credential_warnings(const struct eng_applet *a,
    int (*exists)(void *ctx, const char *name), void *ctx, struct cJSON *arr);

const char *eng_applet_name(const struct eng_applet *a);
const char *eng_applet_description(const struct eng_applet *a); /* or NULL */
/* "A".."Z" or "default" ("class ..." on the header line), or NULL. */
const char *eng_applet_class(const struct eng_applet *a);
/* 1 if the header line says "authorization bypass" (no effect here). */
int eng_applet_authorization_bypass(const struct eng_applet *a);
/* How many router prompts eng_applet_parse() removed from the text. */
unsigned                eng_applet_prompts_removed(const struct eng_applet *a);
size_t                  eng_applet_event_count(const struct eng_applet *a);
const struct eng_event *eng_applet_event(const struct eng_applet *a, size_t i);
/* "correlate" expression when several tagged events exist, or NULL. */
const char *eng_applet_correlate(const struct eng_applet *a);
size_t      eng_applet_action_count(const struct eng_applet *a);
/* i-th action in run order (0..count-1). */
const struct eng_action *eng_applet_action(const struct eng_applet *a,
    size_t                                                          i);
/* Value of parameter param of action i (unexpanded), or NULL if absent. */
const char *eng_action_arg(const struct eng_applet *a, size_t i,
    const char *param);

/* Parsed applets are reference counted, so that one parse can be shared
 * between threads (engine/run/cfg_cache.h): eng_applet_ref returns a with
 * one more reference (NULL: NULL), and eng_applet_free drops one, freeing
 * the applet with the last. A new applet has one reference, so "frees" and
 * "takes a" read as before. A shared applet is read only: nothing in this
 * header changes a parsed applet. Thread-safe (the count is atomic). */
struct eng_applet *eng_applet_ref(struct eng_applet *a);
void               eng_applet_free(struct eng_applet *a); /* NULL is a no-op */

/* "none", "syslog", "timer watchdog", ... "webhook", "application"; "?"
 * if unknown. */
const char *eng_event_type_name(int type);

/* Variable names: letters, digits, '_'. Returns 1 if s is a valid name. */
int eng_var_name_valid(const char *s);

#endif
