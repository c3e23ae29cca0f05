/* SPDX-License-Identifier: MIT */
/*
 * engine/mail/mail.h: the one delivery path, and the trust cache.
 *
 * A mail request becomes an SMTP session in one place: eng_mail_open()
 * resolves it (server string split, the separate fields overriding its
 * parts, port, secure mode, trust from the trust cache) and opens the
 * session; eng_mail_deliver() checks the addresses, builds the message and
 * sends it. The outbox's senders (the mail action of every run) use these
 * two over sessions they keep; the server's mail test (POST
 * /api/v1/mail/test) uses eng_mail_send(), which is open, deliver, close
 * plus the IOS log line
 *   %HA_EM-3-FMPD_SMTP: Error occurred when sending mail to SMTP server:
 *   <server, password masked> : <reason>
 * So a green mail test proves the path an applet's mail takes. Every
 * result is one struct smtp_result (class, message, advice, permanent) and
 * every trace one shape (server, secure, the SMTP dialogue with AUTH
 * redacted, the TLS verification and its anchor). The chain probe (POST
 * /api/v1/probe) is eng_mail_probe().
 */
#ifndef HERALD_ENGINE_MAIL_H
#define HERALD_ENGINE_MAIL_H

#include "common/err.h"
#include "engine/smtp/smtp.h"

struct cJSON;
struct eng_store;

/* The trust cache: one pki_trust built from the store's trustpoints, rebuilt
 * when eng_store_trust_generation() changes. Thread-safe. It also owns the
 * one OAuth 2.0 token cache (engine/oauth/oauth.h) of the process, so that
 * everything that sends mail (the outbox's senders, the mail test) shares
 * the cached tokens: the trust cache is the mail context every sender
 * already has. A refresh token rotated by a token endpoint is stored
 * (eng_store_cred_rotate). */
struct eng_trustcache;
int  eng_trustcache_new(struct eng_store *st, struct eng_trustcache **out,
     struct errbuf *eb);
void eng_trustcache_free(struct eng_trustcache *tc);
/* Returns a referenced pki_trust (pki_trust_unref() when done), or NULL with
 * eb set (e.g. a trustpoint with revocation-check crl). */
struct pki_trust *eng_trustcache_get(struct eng_trustcache *tc,
    struct errbuf                                          *eb);
/* The OAuth 2.0 token cache (borrowed: lives as long as tc), for its
 * statistics and to forget a deleted credential's token. */
struct eng_oauth_cache *eng_trustcache_oauth(struct eng_trustcache *tc);

/* A mail request: what the mail action and POST /api/v1/mail/test take. */
struct eng_mail_req {   /* plain data; all borrowed */
    const char *server; /* "user:pass@host[:port]" or NULL if host given */
    const char *host;   /* separate fields (override the server string) */
    const char *username;
    const char *password;
    unsigned    port;   /* 0: from server string, else 25 */
    const char *secure; /* "tls" | "implicit" | "none"; NULL: "none" */
    const char *to, *cc, *from, *subject, *body;
    const char *tls_name;             /* host name override for verification */
    int         insecure_skip_verify; /* explicit opt-out */
    int         allow_plain_auth;
    const char *source_address, *source_interface;
    const char *server_source; /* the applet's server parameter before
                                * expansion ("$_email_server"): a resend of
                                * a message that lost its password takes
                                * the credentials from the environment
                                * again through it; NULL: none */
    const char *credential;    /* an OAuth 2.0 credential's name: AUTH
                                * XOAUTH2/OAUTHBEARER with its access
                                * token (server "user@host", no password);
                                * NULL: password or no AUTH */
};

/* The secure mode named by s (NULL: dflt): SMTP_SECURE_*, or ERR_INVAL
 * naming the field "secure" and the accepted values. */
int eng_mail_secure_parse(const char *s, const char *dflt, struct errbuf *eb);

/* An open SMTP session for one destination (server and account). */
struct eng_mail_sess;
/* Resolves req and opens its session into *out (eng_mail_close()). trace
 * (may be NULL) gets "server" (password masked), "secure", "verification"
 * when it is off, and the dialogue and TLS trace; res is always filled.
 * Returns 0 or an ERR_* value (negative); input errors are ERR_INVAL
 * with res->klass "invalid_request" (and eb->field; eb may be NULL).
 * With req->credential, the access token comes from the trust cache's
 * token cache (fetched from the credential's token endpoint when due;
 * trace gets "oauth_endpoint") and a failure there is classified like a
 * mail server's (auth_failed, dns, connect, tls_handshake,
 * certificate_untrusted, ...). A token the mail server refuses is
 * discarded and the session opened once more with a fresh one (the
 * refused dialogue is kept in the trace as "refused_dialogue"). An
 * unknown credential is ERR_INVAL with field "credential". Nothing is
 * logged. */
int eng_mail_open(struct eng_trustcache *tc, const struct eng_mail_req *req,
    struct eng_mail_sess **out, struct cJSON *trace, struct smtp_result *res,
    struct errbuf *eb);
/* Checks req's addresses and headers, builds its message and sends it over
 * s. Same trace, result and errors as eng_mail_open. */
int eng_mail_deliver(struct eng_mail_sess *s, const struct eng_mail_req *req,
    struct cJSON *trace, struct smtp_result *res, struct errbuf *eb);
/* Delivers n requests over s, in order, as n eng_mail_deliver calls would
 * (each checked and built the same way; one that cannot be is refused
 * alone), with fewer round trips (smtp_send_batch): res[i] and traces[i]
 * are request i's (traces, or traces[i], may be NULL: no trace). Returns
 * how many requests were dealt with, res filled: n, unless the session
 * broke (eng_mail_usable() is then 0); the requests from the returned
 * index on were not sent (their res say so: klass connect, or
 * invalid_request for one that cannot be built, refused again next time)
 * and may go over a new session. Out of memory for the batch, it returns 0
 * and each res says so (klass internal); the session is still usable. */
size_t eng_mail_deliver_batch(struct eng_mail_sess *s,
    const struct eng_mail_req *const *reqs, size_t n,
    struct cJSON *const *traces, struct smtp_result *res);
/* 1 if s can take another message. */
int  eng_mail_usable(const struct eng_mail_sess *s);
void eng_mail_close(struct eng_mail_sess *s); /* QUIT; NULL: no-op */

/* Sends one message synchronously. trace (if not NULL) receives the SMTP
 * dialogue and TLS trace, secrets redacted; res is always filled. Returns 0
 * or an ERR_* value (negative).
 * Input errors (bad address, CR/LF in a header) return ERR_INVAL with
 * res->klass "invalid_request" and eb->field set. */
int eng_mail_send(struct eng_trustcache *tc, const struct eng_mail_req *req,
    struct cJSON *trace, struct smtp_result *res, struct errbuf *eb);

/* A chain probe: connect, STARTTLS or implicit TLS, capture and verify the
 * presented chain against the trust cache. */
struct eng_probe_req { /* plain data; all borrowed */
    const char *host;
    unsigned    port;     /* 0: 465 implicit, 587 tls, 25 none */
    const char *secure;   /* NULL: "tls" */
    const char *tls_name; /* host name override for verification */
};
/* Returns 0 and the report in *report (new; cJSON_Delete(), secrets
 * redacted) when the server was reached, also when verification failed.
 * Errors: ERR_INVAL naming the field; ERR_UNSUPPORTED or ERR_INTERNAL when
 * the trustpoints cannot be loaded; ERR_CONNECT when the server could not
 * be reached, with res filled (klass, message) and eb's code set from it. */
int eng_mail_probe(struct eng_trustcache *tc, const struct eng_probe_req *req,
    struct cJSON **report, struct smtp_result *res, struct errbuf *eb);

#endif
