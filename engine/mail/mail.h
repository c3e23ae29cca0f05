/* SPDX-License-Identifier: MIT */
/*
 * engine/mail/mail.h: SMTP for callers outside the applet runs, and the trust
 * cache. The server's mail test (POST /api/v1/mail/test) sends one message
 * synchronously with eng_mail_send(): server string split, addresses
 * checked, message built, trust taken from the trust cache, SMTP session,
 * classified result, the IOS log line
 *   %HA_EM-3-FMPD_SMTP: Error occurred when sending mail to SMTP server:
 *   <server, password masked> : <reason>
 * plus a plain sentence saying what to do. The chain probe (POST
 * /api/v1/probe) is eng_mail_probe(). The mail action of a run goes through
 * the outbox and the runtime's transport instead; both share the trust
 * cache.
 */
#ifndef HERALD_ENGINE_MAIL_H
#define HERALD_ENGINE_MAIL_H

#include "common/err.h"
#include "engine/smtp/smtp.h"

struct cJSON;
struct eng_store;

/* The trust cache: one pki_trust built from the store's trustpoints, rebuilt
 * when eng_store_trust_generation() changes. Thread-safe. */
struct eng_trustcache;
int  eng_trustcache_new(struct eng_store *st, struct eng_trustcache **out,
    struct errbuf *eb);
void eng_trustcache_free(struct eng_trustcache *tc);
/* Returns a referenced pki_trust (pki_trust_unref() when done), or NULL with
 * eb set (e.g. a trustpoint with revocation-check crl). */
struct pki_trust *eng_trustcache_get(struct eng_trustcache *tc,
    struct errbuf *eb);

/* A mail request: what the mail action and POST /api/v1/mail/test take. */
struct eng_mail_req {               /* plain data; all borrowed */
    const char *server;   /* "user:pass@host[:port]" or NULL if host given */
    const char *host;     /* separate fields (override the server string) */
    const char *username;
    const char *password;
    unsigned    port;     /* 0: from server string, else 25 */
    const char *secure;   /* "tls" | "implicit" | "none"; NULL: "none" */
    const char *to, *cc, *from, *subject, *body;
    const char *tls_name;         /* host name override for verification */
    int         insecure_skip_verify; /* explicit opt-out */
    int         allow_plain_auth;
    const char *source_address, *source_interface;
    const char *server_source; /* the applet's server parameter before
                                * expansion ("$_email_server"): a resend of
                                * a message that lost its password takes
                                * the credentials from the environment
                                * again through it; NULL: none */
};

/* The secure mode named by s (NULL: dflt): SMTP_SECURE_*, or ERR_INVAL
 * naming the field "secure" and the accepted values. */
int eng_mail_secure_parse(const char *s, const char *dflt,
    struct errbuf *eb);

/* Sends one message synchronously. trace (if not NULL) receives the SMTP
 * dialogue and TLS trace, secrets redacted; res is always filled. Returns 0 or -ERR_*.
 * Input errors (bad address, CR/LF in a header) return ERR_INVAL with
 * res->klass "invalid_request" and eb->field set. */
int eng_mail_send(struct eng_trustcache *tc, const struct eng_mail_req *req,
    struct cJSON *trace, struct smtp_result *res, struct errbuf *eb);

/* A chain probe: connect, STARTTLS or implicit TLS, capture and verify the
 * presented chain against the trust cache. */
struct eng_probe_req {           /* plain data; all borrowed */
    const char *host;
    unsigned    port;            /* 0: 465 implicit, 587 tls, 25 none */
    const char *secure;          /* NULL: "tls" */
    const char *tls_name;        /* host name override for verification */
};
/* Returns 0 and the report in *report (new; cJSON_Delete(), secrets
 * redacted) when the server was reached, also when verification failed.
 * Errors: ERR_INVAL naming the field; ERR_UNSUPPORTED or ERR_INTERNAL when
 * the trustpoints cannot be loaded; ERR_CONNECT when the server could not
 * be reached, with res filled (klass, message) and eb's code set from it. */
int eng_mail_probe(struct eng_trustcache *tc, const struct eng_probe_req *req,
    struct cJSON **report, struct smtp_result *res, struct errbuf *eb);

#endif
