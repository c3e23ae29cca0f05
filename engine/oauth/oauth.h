/* SPDX-License-Identifier: MIT */
/*
 * engine/oauth/oauth.h: OAuth 2.0 access tokens for SMTP AUTH (XOAUTH2,
 * OAUTHBEARER).
 *
 * A credential names a token endpoint and a grant (client_credentials or
 * refresh_token, RFC 6749 §4.4 and §6). eng_oauth_token() returns an access
 * token for it: the cached one until ENG_OAUTH_EARLY_S seconds before it
 * expires (half its lifetime before, for a token that lives less than
 * twice that), else one fetched from token_url over TLS (wolfSSL, verified
 * against the same pki_trust as the mail server's chain, with the same
 * verdict and advice when it fails). One cache serves every sender: when a
 * token is due, one caller fetches and the others wait for its result (one
 * refresh, not one per sender). A refresh token rotated by the endpoint is
 * handed to the rotate callback, which stores it.
 *
 * Secrets (client_secret, refresh_token, access tokens) are struct sec and
 * never appear in a trace, a log line or a result message. The endpoint's
 * answer is read with a size limit (ENG_OAUTH_REPLY_MAX) and a deadline.
 *
 * Thread-safe: one cache, any number of threads.
 */
#ifndef HERALD_ENGINE_OAUTH_H
#define HERALD_ENGINE_OAUTH_H

#include "engine/smtp/smtp.h"

struct cJSON;
struct pki_trust;
struct sec;

enum eng_oauth_grant {
    ENG_OAUTH_CLIENT_CREDENTIALS = 1, /* "client_credentials" */
    ENG_OAUTH_REFRESH_TOKEN,          /* "refresh_token" */
};
int         eng_oauth_grant_parse(const char *s); /* value or -1 */
const char *eng_oauth_grant_name(int grant);

#define ENG_OAUTH_EARLY_S   60          /* refresh this long before expiry */
#define ENG_OAUTH_REPLY_MAX (64 * 1024) /* the endpoint's whole answer */

/* A credential as the token client needs it: plain data, all borrowed. */
struct eng_oauth_cred {
    const char       *name;       /* cache key */
    long long         generation; /* changes when the stored credential
                                     changes: its cached token is dropped */
    int               grant;      /* enum eng_oauth_grant */
    const char       *token_url;  /* "https://host[:port]/path" */
    const char       *client_id;
    const struct sec *client_secret; /* NULL: none (public client) */
    const struct sec *refresh_token; /* the refresh_token grant's */
    const char       *scope;         /* NULL or "": none */
    const char       *tls_name;      /* NULL: the URL's host */
};

/* Called (outside the cache's lock, on the thread that fetched) with a
 * rotated refresh token returned by the endpoint; it stores it for the
 * credential named name. refresh_token is borrowed for the call (sec_dup()
 * to keep it). The cache also keeps it and sends it on the next refresh
 * until cred->generation changes; a store that bumps the generation when it
 * saves the rotated token costs one extra fetch, nothing more. */
typedef void (*eng_oauth_rotate_fn)(void *ctx, const char *name,
    const struct sec *refresh_token);

struct eng_oauth_cache;
/* Returns 0 and a new cache in *out (free with eng_oauth_cache_free()), or
 * ERR_NOMEM. rotate may be NULL (rotated tokens are then only kept in
 * memory); ctx is passed to it. */
int  eng_oauth_cache_new(eng_oauth_rotate_fn rotate, void *ctx,
     struct eng_oauth_cache **out);
void eng_oauth_cache_free(struct eng_oauth_cache *c); /* NULL: no-op */
/* Drops the cached token (and a rotated refresh token) of the credential
 * named name (deleted, changed). A fetch in flight for it still answers its
 * callers but is not cached. */
void eng_oauth_cache_forget(struct eng_oauth_cache *c, const char *name);

/* An access token for cred, new in *token (sec_free()). stale, if not NULL,
 * is a token the mail server refused: when it is still the cached one it is
 * discarded and a new one fetched (once, shared by every caller holding the
 * same stale token). trust verifies the endpoint's chain (borrowed). trace,
 * if not NULL, receives "oauth_endpoint": {url (without its query),
 * credential, grant, cached, and for a fetch status, dialogue [connection
 * notes], tls {...pki_tls_verdict trace}} with no secret. When a fetch is
 * already in flight for cred->name the call waits for it (at most its 30 s
 * deadline) and shares its outcome, a failure included. res->code is the
 * endpoint's HTTP status when it answered. Returns 0, or an ERR_* value
 * with res filled:
 *   auth_failed     the endpoint refused (HTTP 400/401, "invalid_client",
 *                   "invalid_grant", ...): message quotes its error and
 *                   error_description, advice says what to do (wrong client
 *                   secret, expired or revoked refresh token, scope)
 *   dns, connect, timeout, tls_handshake, certificate_untrusted,
 *   hostname_mismatch, certificate_expired
 *                   as for the mail server, naming the token endpoint
 *   protocol        not HTTP, no access_token, token_type not Bearer,
 *                   another HTTP status (5xx, 429: not permanent), answer
 *                   over the limit (ERR_PROTO, ERR_TOOBIG)
 *   invalid_request token_url not https://, grant incomplete (ERR_INVAL;
 *                   nothing is sent) */
int eng_oauth_token(struct eng_oauth_cache *c,
    const struct eng_oauth_cred *cred, struct pki_trust *trust,
    const struct sec *stale, struct sec **token, struct cJSON *trace,
    struct smtp_result *res);

struct eng_oauth_stats {
    unsigned long long fetched; /* tokens issued to herald */
    unsigned long long cached;  /* answers from the cache */
    unsigned long long refused; /* endpoint refusals (auth_failed) */
    unsigned long long failed;  /* endpoint unreachable, bad answer */
};
void eng_oauth_stats(struct eng_oauth_cache *c, struct eng_oauth_stats *out);

#endif
