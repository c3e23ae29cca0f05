/* SPDX-License-Identifier: MIT */
/*
 * engine/config/config.h: the whole configuration as router-style text.
 *
 * Export writes a running-config: "event manager environment" lines, applets
 * (canonical text), "crypto pki trustpoint" blocks and "crypto pki
 * certificate chain NAME" with the certificate as hex, as IOS shows it.
 * OAuth 2.0 credentials are herald's extension block
 *   herald credential NAME
 *    type oauth2
 *    grant client_credentials|refresh_token
 *    token-url https://...
 *    client-id ID
 *    client-secret *****
 *    refresh-token *****
 *    scope SCOPE
 *    mechanism xoauth2|oauthbearer
 * ("no herald credential NAME" deletes one; a secret line left out means
 * none). Secret values are masked ("event manager environment _pw *****";
 * the password part of user:password@host as "user:*****@host"; a
 * credential's client-secret and refresh-token).
 *
 * Import accepts such text and also the source document's form: "crypto pki
 * authenticate NAME" followed by a pasted certificate (PEM, or bare base64
 * lines without BEGIN/END) ended by "quit" or a blank line. It is all or
 * nothing: everything is parsed and checked first, then applied in one store
 * transaction. A value equal to its masked form keeps the stored secret.
 * "event manager run NAME [ARG ...]" lines are reported in the summary;
 * eng_config_import_run() also runs them, after the import succeeded.
 *
 * Text pasted from a router terminal is accepted as such: a prompt at the
 * start of a line ("R1(config)#", "R1(config-applet)#", "R1#", see
 * eng_prompt_len() in engine/lang/applet.h) is removed and counted, and
 * what the router prints in between ("% ..." messages, "Enter
 * configuration commands, ...", the dialogue of "crypto pki authenticate")
 * is skipped.
 */
#ifndef HERALD_ENGINE_CONFIG_H
#define HERALD_ENGINE_CONFIG_H

#include "common/buf.h"
#include "common/err.h"

struct cJSON;
struct eng_store;

/* Appends the running-config to out. Errors: ERR_DB, ERR_NOMEM. */
int eng_config_export(struct eng_store *st, struct buf *out, struct errbuf *eb);

/* Imports text. On success *summary (if not NULL) is a new JSON object
 * {environment: n, applets: n, trustpoints: n, certificates: n,
 *  credentials: n, prompts_removed: n, runs_requested: [names], warnings: [...]}
 * (cJSON_Delete()). On error nothing changed and eb->line says which line.
 * Errors: ERR_INVAL, ERR_UNSUPPORTED, ERR_TOOBIG, ERR_DB, ERR_NOMEM. */
int eng_config_import(struct eng_store *st, const char *text, size_t len,
    struct cJSON **summary, struct errbuf *eb);

/* Runs an applet for an "event manager run" line: name, its arguments
 * (at most 15, borrowed for the call) and item, the line's entry in the
 * summary's "runs" ({applet, line}), to complete with what happened
 * (e.g. run_id and status, or error). */
struct eng_config_runner {
    void (*run)(void *ud, const char *name, const char *const *args,
        size_t nargs, struct cJSON *item);
    void *ud;
};

/* Like eng_config_import(); then, when the import succeeded and runner is
 * not NULL, calls runner->run for each "event manager run" line in order
 * and adds "runs": [item] to the summary. A run that fails to start does
 * not undo the import (its item says why). */
int eng_config_import_run(struct eng_store *st, const char *text, size_t len,
    const struct eng_config_runner *runner, struct cJSON **summary,
    struct errbuf *eb);

#endif
