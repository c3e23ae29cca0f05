/* SPDX-License-Identifier: MIT */
/*
 * engine/config/credential.h: the rules of an OAuth 2.0 credential for SMTP
 * AUTH (XOAUTH2, OAUTHBEARER; issue 13), shared by the REST API (PUT
 * /api/v1/credentials/{name}) and the config text ("herald credential
 * NAME"), and the checked writes.
 *
 * A credential is {type "oauth2", grant "client_credentials" |
 * "refresh_token", token_url "https://host[:port]/path", client_id,
 * client_secret (required for client_credentials), refresh_token (required
 * for the refresh_token grant), scope (optional), mechanism "xoauth2"
 * (default) | "oauthbearer"}. Names follow the environment variable rule
 * ([A-Za-z_][A-Za-z0-9_]*, up to 64 bytes). No value may hold CR, LF or
 * another control character.
 *
 * The secrets are write-only. When a credential is replaced, a secret that
 * is not given (NULL) or given masked ("*****", what config export
 * writes) keeps the stored one; an empty string removes it. A masked
 * secret with nothing stored is refused.
 */
#ifndef HERALD_ENGINE_CREDENTIAL_H
#define HERALD_ENGINE_CREDENTIAL_H

#include "common/err.h"

struct eng_store;
struct eng_cred_rec;

#define ENG_CRED_NAME_MAX  64
#define ENG_CRED_VALUE_MAX 8192

/* A credential as given: plain data, borrowed; NULL: not given. */
struct eng_cred_in {
    const char *type, *grant, *token_url, *client_id, *client_secret,
        *refresh_token, *scope, *mechanism;
};

/* Errors: ERR_INVAL with field "name". */
int eng_cred_name_check(const char *name, struct errbuf *eb);
/* Checks a complete record (r->name aside). Errors: ERR_INVAL with field
 * type, grant, token_url, client_id, client_secret, refresh_token, scope
 * or mechanism, the message saying what is expected. */
int eng_cred_check(const struct eng_cred_rec *r, struct errbuf *eb);

/* The record to store for name from in, merged with the stored one (the
 * secrets, see above), checked, as new strings in *out (eng_cred_rec_clear
 * it, also on failure). Errors: ERR_INVAL naming the field, ERR_DB,
 * ERR_NOMEM. */
int eng_cred_prepare(struct eng_store *st, const char *name,
    const struct eng_cred_in *in, struct eng_cred_rec *out, struct errbuf *eb);
/* eng_cred_prepare, then creates or replaces it; *created (may be NULL) is
 * 1 if it did not exist. Errors: those of eng_cred_prepare. */
int eng_cred_set(struct eng_store *st, const char *name,
    const struct eng_cred_in *in, int *created, struct errbuf *eb);

/* The first applet (by name) with a mail action that uses credential
 * name, as a new string in *applet (NULL: none). Errors: ERR_DB,
 * ERR_NOMEM. */
int eng_cred_used_by(struct eng_store *st, const char *name, char **applet,
    struct errbuf *eb);
/* Deletes credential name unless an applet uses it. Errors: ERR_NOTFOUND,
 * ERR_EXISTS (code "credential_in_use", the message naming the applet),
 * ERR_DB. */
int eng_cred_delete(struct eng_store *st, const char *name, struct errbuf *eb);

/* For eng_applet_credential_warnings (ctx: the store): 1 if credential
 * name exists. */
int eng_cred_exists(void *store, const char *name);

#endif
