/* SPDX-License-Identifier: MIT */
/*
 * engine/oauth/oauth_int.h: in-module declarations of the token client,
 * shared by oauth.c (grants, answers, the cache), oauth_http.c (the URL,
 * the request, the HTTP/1.1 answer parser, the HTTPS exchange) and the
 * module's unit tests, which replace the exchange and the clock.
 */
#ifndef HERALD_ENGINE_OAUTH_INT_H
#define HERALD_ENGINE_OAUTH_INT_H

#include <stddef.h>

#include "common/err.h"
#include "engine/oauth/oauth.h"

#define OAUTH_HEAD_MAX     16384 /* status line and headers */
#define OAUTH_CONNECT_MS   10000
#define OAUTH_EXCHANGE_MS  30000 /* connect to the answer's last byte */
#define OAUTH_DEFAULT_LIFE 3600  /* expires_in when the answer has none */
#define OAUTH_MAX_LIFE     (30 * 86400)
#define OAUTH_TEXT_MAX     200 /* of error_description in a message */

/* ---- the URL ----------------------------------------------------------- */

struct oauth_url {
    char     host[256];  /* without brackets for an IPv6 literal */
    unsigned port;       /* 443 when not given */
    char     path[1024]; /* "/..." with the query, without the fragment */
    int      v6;         /* host is an IPv6 literal */
};
/* "https://host[:port][/path[?query]]". Errors: ERR_INVAL (eb says why:
 * not https, user info, bad port, control characters, too long). */
int oauth_url_parse(const char *url, struct oauth_url *u, struct errbuf *eb);

/* ---- the request -------------------------------------------------------- */

/* The application/x-www-form-urlencoded body for cred's grant (client
 * authentication in the body, RFC 6749 2.3.1), refresh the refresh token to
 * send (cred's, or the one the endpoint rotated to). Returns a new buffer
 * (wipe with sec_wipe() over *len, then free()) or NULL with eb set:
 * ERR_INVAL (grant incomplete), ERR_NOMEM. */
char *oauth_form_new(const struct eng_oauth_cred *cred,
    const struct sec *refresh, size_t *len, struct errbuf *eb);

/* The whole request (head and body) for url, as a new buffer (wipe, then
 * free()), or NULL. */
char *oauth_request_new(const struct oauth_url *u, const char *form,
    size_t flen, size_t *len);

/* ---- the answer (pure, for unit tests) --------------------------------- */

struct oauth_http_resp {
    int       status;         /* 100..599 */
    size_t    head_len;       /* octets up to and with the empty line */
    long long content_length; /* -1: none */
    int       chunked;        /* Transfer-Encoding: chunked */
    char      content_type[96];
    size_t    body_off; /* the body, once complete (chunked: decoded by */
    size_t    body_len; /* oauth_http_body) */
};
/* Parses the answer in buf[0..len); eof says the peer has closed. Returns 1
 * when complete (r filled), 0 when more must be read, or ERR_PROTO (not
 * HTTP, malformed header, bad chunk size, truncated at eof, unsupported
 * transfer coding) or ERR_TOOBIG (headers over OAUTH_HEAD_MAX, a length
 * over ENG_OAUTH_REPLY_MAX) with eb saying what. Never writes buf. */
int oauth_http_parse(const char *buf, size_t len, int eof,
    struct oauth_http_resp *r, struct errbuf *eb);
/* After oauth_http_parse returned 1: decodes a chunked body in place (buf
 * is changed) and sets r->body_off and r->body_len. */
void oauth_http_body(char *buf, struct oauth_http_resp *r);

/* ---- the exchange ------------------------------------------------------- */

struct oauth_req {
    const struct oauth_url *url;
    const char             *tls_name; /* NULL: the URL's host */
    struct pki_trust       *trust;
    const char             *data; /* the whole request (secret) */
    size_t                  len;
};
/* Sends req and reads the answer into buf (cap octets) until it is
 * complete (oauth_http_parse) or the peer closes; *len is what was read.
 * trace (may be NULL) receives the connection notes and "tls". Returns 0,
 * or an ERR_* value with res filled: dns, connect, timeout, the TLS
 * classes, ERR_TOOBIG (protocol: over cap). */
typedef int (*oauth_exchange_fn)(void *ctx, const struct oauth_req *req,
    char *buf, size_t cap, size_t *len, struct cJSON *trace,
    struct smtp_result *res);
/* The real one: HTTPS through engine/smtp/net.h. */
int oauth_https_exchange(void *ctx, const struct oauth_req *req, char *buf,
    size_t cap, size_t *len, struct cJSON *trace, struct smtp_result *res);

/* Test hooks: replace the exchange (NULL: the real one) and the monotonic
 * clock in milliseconds (NULL: CLOCK_MONOTONIC). */
void oauth_cache_set_exchange(struct eng_oauth_cache *c, oauth_exchange_fn fn,
    void *ctx);
void oauth_cache_set_clock(struct eng_oauth_cache *c, long long (*now)(void));

/* Fills res (rc, klass, permanent, advice, a printf message); the SMTP
 * reply fields stay empty. res may be NULL. */
void oauth_result(struct smtp_result *res, int rc, const char *klass,
    int permanent, const char *advice, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Copies s (n octets) into out (sz) for a message: CR, LF, tabs and other
 * control characters become one space, runs of spaces one, at most max
 * octets (cut at a UTF-8 boundary, "..." appended). */
void oauth_text(const char *s, size_t n, size_t max, char *out, size_t sz);

#endif
