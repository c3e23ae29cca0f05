/* SPDX-License-Identifier: MIT */
/*
 * engine/store.h: durable state in SQLite (DATA_DIR/herald.db).
 *
 * WAL, foreign keys, a versioned schema with forward migrations (table
 * schema_version), every write in a transaction. One connection guarded by a
 * mutex: every function is thread-safe. Opening gives a clear error for a
 * missing/unwritable directory or a corrupt database.
 *
 * Records returned by *_get and *_list are new copies owned by the caller and
 * freed with the matching *_free function. Secret values are returned (the
 * engine needs them); it is the caller's duty never to print them.
 *
 * Multi-write operations (config import) use eng_store_begin/commit/rollback;
 * the single-record functions then join that transaction instead of opening
 * their own. Only the thread that began it may use the store until commit or
 * rollback (others wait on the mutex).
 */
#ifndef HERALD_ENGINE_STORE_H
#define HERALD_ENGINE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct eng_store;

/* Opens or creates DATA_DIR/herald.db (creating dir with mode 0700 if
 * needed) and migrates the schema. Errors: ERR_IO (dir missing/unwritable;
 * eb says which path and why), ERR_DB (corrupt or newer schema). */
int  eng_store_open(const char *dir, struct eng_store **out,
    struct errbuf *eb);
void eng_store_close(struct eng_store *st); /* NULL is a no-op */
const char *eng_store_dir(const struct eng_store *st);

int eng_store_begin(struct eng_store *st, struct errbuf *eb);
int eng_store_commit(struct eng_store *st, struct errbuf *eb);
void eng_store_rollback(struct eng_store *st);

/* environment variables */
struct eng_env_var {
    char     *name;
    char     *value;
    int       secret;  /* marked secret by the user */
    long long updated; /* unix seconds */
};
/* Creates or replaces. Returns 0 or ERR_DB. *created (may be NULL) is 1 if
 * the variable did not exist. */
int eng_store_env_put(struct eng_store *st, const char *name,
    const char *value, int secret, int *created, struct errbuf *eb);
int eng_store_env_get(struct eng_store *st, const char *name,
    struct eng_env_var *out, struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_env_del(struct eng_store *st, const char *name,
    struct errbuf *eb); /* ERR_NOTFOUND */
/* All variables ordered by name. */
int eng_store_env_list(struct eng_store *st, struct eng_env_var **out,
    size_t *n, struct errbuf *eb);
void eng_env_var_clear(struct eng_env_var *v);
void eng_env_vars_free(struct eng_env_var *v, size_t n);

/* applets, stored as canonical CLI text (engine/applet.h) */
struct eng_applet_rec {
    char     *name;
    char     *text;
    char     *webhook_token; /* NULL unless set; a secret */
    long long created;
    long long updated;
};
int eng_store_applet_put(struct eng_store *st, const char *name,
    const char *text, int *created, struct errbuf *eb);
int eng_store_applet_get(struct eng_store *st, const char *name,
    struct eng_applet_rec *out, struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_applet_del(struct eng_store *st, const char *name,
    struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_applet_list(struct eng_store *st, struct eng_applet_rec **out,
    size_t *n, struct errbuf *eb);
void eng_applet_rec_clear(struct eng_applet_rec *r);
void eng_applet_recs_free(struct eng_applet_rec *r, size_t n);

/* trustpoints */
struct eng_tp_rec {
    char          *name;
    char          *revocation_check; /* "none" | "crl" | "ocsp" */
    char          *chain_validation; /* "stop" | "continue" */
    char          *enrollment;       /* "terminal" */
    unsigned char *cert_der;         /* NULL until authenticated */
    size_t         cert_len;
    long long      created;
    long long      cert_installed;   /* 0 if no certificate */
};
/* Creates or updates the policy fields; keeps an existing certificate. */
int eng_store_tp_put(struct eng_store *st, const struct eng_tp_rec *r,
    int *created, struct errbuf *eb);
/* Sets (or with der == NULL clears) the certificate. ERR_NOTFOUND. */
int eng_store_tp_set_cert(struct eng_store *st, const char *name,
    const unsigned char *der, size_t len, struct errbuf *eb);
int eng_store_tp_get(struct eng_store *st, const char *name,
    struct eng_tp_rec *out, struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_tp_del(struct eng_store *st, const char *name,
    struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_tp_list(struct eng_store *st, struct eng_tp_rec **out,
    size_t *n, struct errbuf *eb);
void eng_tp_rec_clear(struct eng_tp_rec *r);
void eng_tp_recs_free(struct eng_tp_rec *r, size_t n);
/* Increases on every trustpoint or trust-setting change (also across
 * restarts: starts from a stored counter). Cached TLS state built from an
 * older generation must be dropped. */
uint64_t eng_store_trust_generation(struct eng_store *st);

/* settings: small key/value pairs ("trustpool" = "on"|"off", ...) */
int eng_store_setting_get(struct eng_store *st, const char *key,
    char **value, struct errbuf *eb); /* new string, ERR_NOTFOUND */
int eng_store_setting_put(struct eng_store *st, const char *key,
    const char *value, struct errbuf *eb);

#endif
