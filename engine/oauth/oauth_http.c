/* SPDX-License-Identifier: MIT */
/*
 * engine/oauth/oauth_http.c: one HTTPS POST to a token endpoint (RFC 6749
 * 4.4 and 6 over HTTP/1.1, RFC 9112): the URL, the form body, the request,
 * a bounded parser for the answer (Content-Length, chunked, or read to
 * close), and the exchange over engine/smtp/net.h, the mail path's own
 * transport (connect with deadlines, TLS verified through pki_trust).
 *
 * Exactly one request per connection ("Connection: close"), no redirects,
 * no compression. The answer is read into one buffer of
 * ENG_OAUTH_REPLY_MAX octets, allocated once so that nothing holding a
 * token is ever copied by realloc; callers wipe it. Nothing of the request
 * or the answer reaches a trace or a log.
 */
#include "engine/oauth/oauth_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sec.h"
#include "engine/smtp/net.h"
#include "pki/pki.h"

/* ---- the URL ----------------------------------------------------------- */

int
oauth_url_parse(const char *url, struct oauth_url *u, struct errbuf *eb)
{
    const char *p, *hend, *pstart;
    size_t      hl;

    memset(u, 0, sizeof(*u));
    if (url == NULL || *url == '\0')
        return err_set(eb, ERR_INVAL, "invalid_request", "no token_url");
    for (p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return err_set(eb, ERR_INVAL, "invalid_request",
                "token_url holds a space, control or non-ASCII character");
    if (strncasecmp(url, "https://", 8) != 0)
        return err_set(eb, ERR_INVAL, "invalid_request",
            "token_url must start with https:// (herald sends a client "
            "secret or refresh token only over TLS)");
    p = url + 8;
    pstart = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(pstart - p)) != NULL)
        return err_set(eb, ERR_INVAL, "invalid_request",
            "token_url must not hold a user name or password");
    if (*p == '[') {
        hend = memchr(p, ']', (size_t)(pstart - p));
        if (hend == NULL)
            return err_set(eb, ERR_INVAL, "invalid_request",
                "token_url: unterminated IPv6 literal");
        hl = (size_t)(hend - p - 1);
        p++;
        u->v6 = 1;
        hend++;
    } else {
        hend = p + strcspn(p, ":/?#");
        hl = (size_t)(hend - p);
    }
    if (hl == 0 || hl >= sizeof(u->host))
        return err_set(eb, ERR_INVAL, "invalid_request", "token_url: %s host",
            hl == 0 ? "empty" : "too long a");
    memcpy(u->host, p, hl);
    u->host[hl] = '\0';
    u->port = 443;
    if (*hend == ':') {
        unsigned long v = 0;
        const char   *q = hend + 1;

        if (q == pstart)
            return err_set(eb, ERR_INVAL, "invalid_request",
                "token_url: empty port");
        for (; q < pstart; q++) {
            if (!isdigit((unsigned char)*q)
                || (v = v * 10 + (unsigned)(*q - '0')) > 65535)
                return err_set(eb, ERR_INVAL, "invalid_request",
                    "token_url: the port is not a number from 1 to 65535");
        }
        if (v == 0)
            return err_set(eb, ERR_INVAL, "invalid_request",
                "token_url: the port is not a number from 1 to 65535");
        u->port = (unsigned)v;
    } else if (hend != pstart)
        return err_set(eb, ERR_INVAL, "invalid_request",
            "token_url: unexpected characters after the host");
    hl = strcspn(pstart, "#");
    if (hl + 2 > sizeof(u->path))
        return err_set(eb, ERR_INVAL, "invalid_request",
            "token_url: the path is too long");
    snprintf(u->path, sizeof(u->path), "%s%.*s", *pstart == '/' ? "" : "/",
        (int)hl, pstart);
    return 0;
}

/* ---- the request -------------------------------------------------------- */

/* Appends "&key=" and s percent-encoded (every octet but the unreserved
 * ones, RFC 3986 2.3; form encoding would also allow '+' for a space) at
 * out + *o; out has room (3 * n + key). */
static void
oauth_form_add(char *out, size_t *o, const char *key, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";

    *o += (size_t)sprintf(out + *o, "%s%s=", *o ? "&" : "", key);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
            out[(*o)++] = (char)ch;
        else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[ch >> 4];
            out[(*o)++] = hex[ch & 15];
        }
    }
    out[*o] = '\0';
}

char *
oauth_form_new(const struct eng_oauth_cred *cred, const struct sec *refresh,
    size_t *len, struct errbuf *eb)
{
    const char *scope = cred->scope ? cred->scope : "";
    size_t      cap, o = 0;
    char       *out;

    *len = 0;
    if (cred->client_id == NULL || *cred->client_id == '\0') {
        err_set(eb, ERR_INVAL, "invalid_request",
            "the credential has no "
            "client_id");
        return NULL;
    }
    if (cred->grant == ENG_OAUTH_CLIENT_CREDENTIALS
        && (cred->client_secret == NULL || sec_len(cred->client_secret) == 0)) {
        err_set(eb, ERR_INVAL, "invalid_request",
            "the client_credentials grant needs a client_secret");
        return NULL;
    }
    if (cred->grant == ENG_OAUTH_REFRESH_TOKEN
        && (refresh == NULL || sec_len(refresh) == 0)) {
        err_set(eb, ERR_INVAL, "invalid_request",
            "the refresh_token grant needs a refresh_token");
        return NULL;
    }
    if (cred->grant != ENG_OAUTH_CLIENT_CREDENTIALS
        && cred->grant != ENG_OAUTH_REFRESH_TOKEN) {
        err_set(eb, ERR_INVAL, "invalid_request", "unknown grant %d",
            cred->grant);
        return NULL;
    }
    cap = 128
        + 3
            * (strlen(cred->client_id) + strlen(scope)
                + (cred->client_secret ? sec_len(cred->client_secret) : 0)
                + (refresh ? sec_len(refresh) : 0));
    if ((out = malloc(cap)) == NULL) {
        err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        return NULL;
    }
    out[0] = '\0';
    if (cred->grant == ENG_OAUTH_CLIENT_CREDENTIALS)
        oauth_form_add(out, &o, "grant_type", "client_credentials", 18);
    else {
        oauth_form_add(out, &o, "grant_type", "refresh_token", 13);
        oauth_form_add(out, &o, "refresh_token", sec_data(refresh),
            sec_len(refresh));
    }
    oauth_form_add(out, &o, "client_id", cred->client_id,
        strlen(cred->client_id));
    if (cred->client_secret != NULL && sec_len(cred->client_secret) > 0)
        oauth_form_add(out, &o, "client_secret", sec_data(cred->client_secret),
            sec_len(cred->client_secret));
    if (*scope != '\0')
        oauth_form_add(out, &o, "scope", scope, strlen(scope));
    *len = o;
    return out;
}

char *
oauth_request_new(const struct oauth_url *u, const char *form, size_t flen,
    size_t *len)
{
    char   port[16] = "";
    size_t cap = strlen(u->host) + strlen(u->path) + flen + 512;
    char  *out = malloc(cap);
    int    n;

    if (out == NULL)
        return NULL;
    if (u->port != 443)
        snprintf(port, sizeof(port), ":%u", u->port);
    n = snprintf(out, cap,
        "POST %s HTTP/1.1\r\n"
        "Host: %s%s%s%s\r\n"
        "User-Agent: herald/" HERALD_VERSION "\r\n"
        "Accept: application/json\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: %zu\r\n"
        "Connection: close\r\n"
        "\r\n",
        u->path, u->v6 ? "[" : "", u->host, u->v6 ? "]" : "", port, flen);
    if (n < 0 || (size_t)n + flen >= cap) {
        free(out);
        return NULL;
    }
    memcpy(out + n, form, flen);
    *len = (size_t)n + flen;
    out[*len] = '\0';
    return out;
}

/* ---- the answer --------------------------------------------------------- */

/* Shown form of up to 40 octets of a line, for a message. */
static const char *
oauth_show(const char *p, size_t n, char *out, size_t sz)
{
    oauth_text(p, n, 40, out, sz);
    return out;
}

/* The end of the line that starts at p (before its CRLF or LF), or NULL if
 * buf[0..len) holds no LF after p. *next is the next line's start. */
static const char *
oauth_line(const char *buf, size_t len, const char *p, const char **next)
{
    const char *nl = memchr(p, '\n', len - (size_t)(p - buf));

    if (nl == NULL)
        return NULL;
    *next = nl + 1;
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

/* Parses a header line into r. Errors: ERR_PROTO, ERR_TOOBIG. */
static int
oauth_header(const char *p, const char *end, struct oauth_http_resp *r,
    struct errbuf *eb)
{
    const char *colon = memchr(p, ':', (size_t)(end - p)), *v;
    size_t      nl, vl;
    char        shown[64];

    if (colon == NULL || colon == p)
        return err_set(eb, ERR_PROTO, "bad_header",
            "malformed HTTP header \"%s\"",
            oauth_show(p, (size_t)(end - p), shown, sizeof(shown)));
    nl = (size_t)(colon - p);
    for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
        ;
    vl = (size_t)(end - v);
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    if (nl == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
        long long cl = 0;

        if (vl == 0)
            goto badlen;
        for (size_t i = 0; i < vl; i++) {
            if (!isdigit((unsigned char)v[i]))
                goto badlen;
            cl = cl * 10 + (v[i] - '0');
            if (cl > ENG_OAUTH_REPLY_MAX)
                return err_set(eb, ERR_TOOBIG, "reply_too_big",
                    "the answer announces a body of more than %d octets",
                    ENG_OAUTH_REPLY_MAX);
        }
        if (r->content_length >= 0 && r->content_length != cl)
            return err_set(eb, ERR_PROTO, "bad_header",
                "the answer has two different Content-Length headers");
        r->content_length = cl;
    } else if (nl == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
        /* only "chunked" alone: herald asks for no compression */
        if (vl == 7 && strncasecmp(v, "chunked", 7) == 0)
            r->chunked = 1;
        else if (!(vl == 8 && strncasecmp(v, "identity", 8) == 0))
            return err_set(eb, ERR_PROTO, "unsupported",
                "the answer uses Transfer-Encoding \"%s\"; herald reads "
                "only chunked",
                oauth_show(v, vl, shown, sizeof(shown)));
    } else if (nl == 12 && strncasecmp(p, "Content-Type", 12) == 0)
        snprintf(r->content_type, sizeof(r->content_type), "%.*s",
            (int)(vl < sizeof(r->content_type) ? vl
                                               : sizeof(r->content_type) - 1),
            v);
    return 0;
badlen:
    return err_set(eb, ERR_PROTO, "bad_header",
        "Content-Length \"%s\" is not a number",
        oauth_show(v, vl, shown, sizeof(shown)));
}

/* Walks a chunked body from p. Returns 1 (complete; *end after the
 * trailers, *dlen the decoded length), 0 (incomplete), or an error. */
static int
oauth_chunks(const char *buf, size_t len, const char *p, const char **end,
    size_t *dlen, struct errbuf *eb)
{
    const char *next, *le;
    char        shown[64];

    *dlen = 0;
    for (;;) {
        unsigned long long sz = 0;
        const char        *q;
        size_t             digits = 0;

        if ((le = oauth_line(buf, len, p, &next)) == NULL)
            return len - (size_t)(p - buf) > 1024 ? err_set(eb, ERR_PROTO,
                       "bad_chunk", "a chunk size line longer than 1024 octets")
                                                  : 0;
        for (q = p; q < le && isxdigit((unsigned char)*q); q++, digits++) {
            sz = sz * 16
                + (unsigned)(isdigit((unsigned char)*q)
                        ? *q - '0'
                        : tolower((unsigned char)*q) - 'a' + 10);
            if (sz > ENG_OAUTH_REPLY_MAX)
                return err_set(eb, ERR_TOOBIG, "reply_too_big",
                    "a chunk of more than %d octets", ENG_OAUTH_REPLY_MAX);
        }
        while (q < le && (*q == ' ' || *q == '\t'))
            q++;
        if (digits == 0 || (q < le && *q != ';'))
            return err_set(eb, ERR_PROTO, "bad_chunk",
                "bad chunk size line \"%s\"",
                oauth_show(p, (size_t)(le - p), shown, sizeof(shown)));
        p = next;
        if (sz == 0)
            break;
        if ((size_t)(buf + len - p) < sz + 2)
            return 0;
        if (p[sz] == '\r' ? p[sz + 1] != '\n' : p[sz] != '\n')
            return err_set(eb, ERR_PROTO, "bad_chunk",
                "a chunk is not followed by CRLF (wrong chunk size)");
        *dlen += (size_t)sz;
        p += sz + (p[sz] == '\r' ? 2 : 1);
    }
    /* trailers, up to an empty line */
    for (;;) {
        if ((le = oauth_line(buf, len, p, &next)) == NULL)
            return 0;
        if (le == p) {
            *end = next;
            return 1;
        }
        p = next;
    }
}

int
oauth_http_parse(const char *buf, size_t len, int eof,
    struct oauth_http_resp *r, struct errbuf *eb)
{
    const char *p = buf, *le, *next, *body;
    char        shown[64];
    size_t      have, dlen;
    int         rc;

again:
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    /* the head: complete before anything is judged but the status line */
    if ((le = oauth_line(buf, len, p, &next)) == NULL) {
        if (len - (size_t)(p - buf) > OAUTH_HEAD_MAX)
            return err_set(eb, ERR_TOOBIG, "reply_too_big",
                "a status line longer than %d octets", OAUTH_HEAD_MAX);
        if (!eof)
            return 0;
        return len == (size_t)(p - buf)
            ? err_set(eb, ERR_PROTO, "no_answer",
                "the connection was closed without an answer")
            : err_set(eb, ERR_PROTO, "truncated",
                "the answer ends within its status line");
    }
    if (le - p < 12 || strncmp(p, "HTTP/1.", 7) != 0
        || (p[7] != '0' && p[7] != '1') || p[8] != ' '
        || !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10])
        || !isdigit((unsigned char)p[11]) || (le - p > 12 && p[12] != ' ')
        || p[9] < '1' || p[9] > '5')
        return err_set(eb, ERR_PROTO, "not_http",
            "not an HTTP answer: the status line reads \"%s\"",
            oauth_show(p, (size_t)(le - p), shown, sizeof(shown)));
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    for (p = next;;) {
        if ((le = oauth_line(buf, len, p, &next)) == NULL) {
            if (len > OAUTH_HEAD_MAX)
                return err_set(eb, ERR_TOOBIG, "reply_too_big",
                    "headers longer than %d octets", OAUTH_HEAD_MAX);
            if (!eof)
                return 0;
            return err_set(eb, ERR_PROTO, "truncated",
                "the answer ends within its headers");
        }
        if ((size_t)(next - buf) > OAUTH_HEAD_MAX)
            return err_set(eb, ERR_TOOBIG, "reply_too_big",
                "headers longer than %d octets", OAUTH_HEAD_MAX);
        if (le == p)
            break;
        if (*p == ' ' || *p == '\t')
            return err_set(eb, ERR_PROTO, "bad_header",
                "a folded header line (obsolete, RFC 9112 5.2)");
        if ((rc = oauth_header(p, le, r, eb)) != 0)
            return rc;
        p = next;
    }
    body = next;
    r->head_len = (size_t)(body - buf);
    if (r->status / 100 == 1) {
        /* 100 Continue and friends: the real answer follows */
        p = body;
        goto again;
    }
    have = len - (size_t)(body - buf);
    r->body_off = (size_t)(body - buf);
    if (r->status == 204 || r->status == 304) {
        r->body_len = 0;
        return 1;
    }
    if (r->chunked) {
        const char *end;

        if ((rc = oauth_chunks(buf, len, body, &end, &dlen, eb)) != 1) {
            if (rc == 0 && eof)
                return err_set(eb, ERR_PROTO, "truncated",
                    "the chunked body ends before its last chunk");
            return rc;
        }
        r->body_len = dlen;
        return 1;
    }
    if (r->content_length >= 0) {
        if (have >= (size_t)r->content_length) {
            r->body_len = (size_t)r->content_length;
            return 1;
        }
        if (!eof)
            return 0;
        return err_set(eb, ERR_PROTO, "truncated",
            "the answer ends after %zu of the %lld octets of its body", have,
            r->content_length);
    }
    if (!eof)
        return 0;
    r->body_len = have;
    return 1;
}

void
oauth_http_body(char *buf, struct oauth_http_resp *r)
{
    char  *p = buf + r->body_off, *o = p;
    size_t total = 0;

    if (!r->chunked)
        return;
    /* oauth_http_parse checked every size and CRLF: decode trusting them */
    for (;;) {
        size_t sz = strtoul(p, NULL, 16);

        p = strchr(p, '\n') + 1;
        if (sz == 0)
            break;
        memmove(o, p, sz);
        o += sz;
        total += sz;
        p += sz;
        p += *p == '\r' ? 2 : 1;
    }
    r->body_len = total;
}

/* ---- the exchange -------------------------------------------------------- */

int
oauth_https_exchange(void *ctx, const struct oauth_req *req, char *buf,
    size_t cap, size_t *len, struct cJSON *trace, struct smtp_result *res)
{
    struct smtp_net_params np;
    struct smtp_net       *n = NULL;
    struct oauth_http_resp r;
    struct errbuf          eb = { 0 };
    int                    rc, eof = 0;

    (void)ctx;
    *len = 0;
    memset(&np, 0, sizeof(np));
    np.what = "token endpoint";
    np.host = req->url->host;
    np.port = req->url->port;
    np.tls_name = req->tls_name;
    np.verify = PKI_VERIFY_FULL; /* a token endpoint is always verified */
    np.connect_timeout_ms = OAUTH_CONNECT_MS;
    np.timeout_ms = OAUTH_EXCHANGE_MS;
    np.trust = req->trust;
    if ((rc = smtp_net_open(&np, &n, trace, res)) != 0)
        return rc;
    if ((rc = smtp_net_write(n, req->data, req->len, res)) != 0)
        goto out;
    for (;;) {
        long got;

        if (*len >= cap) {
            oauth_result(res, ERR_TOOBIG, "protocol", 0,
                "Check that token_url is the provider's token endpoint.",
                "token endpoint %s:%u: the answer is longer than %zu octets; "
                "herald stopped reading",
                req->url->host, req->url->port, cap);
            rc = ERR_TOOBIG;
            goto out;
        }
        if ((got = smtp_net_read(n, buf + *len, cap - *len, res)) < 0) {
            rc = (int)got;
            goto out;
        }
        if (got == 0)
            eof = 1;
        *len += (size_t)got;
        /* the caller parses again and reports errors: stop at one */
        if (oauth_http_parse(buf, *len, eof, &r, &eb) != 0 || eof)
            break;
    }
    rc = 0;
out:
    smtp_net_close(n);
    return rc;
}
