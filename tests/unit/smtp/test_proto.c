/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/smtp/test_proto.c: protocol scripts for the SMTP client, run
 * against the real client over a loopback socket (curl's tests/data, the
 * OpenSMTPD smtpscript idea).
 *
 * Every tests/proto/smtp/NNN-name.txt is one test. A script has a client
 * part and a server part, separated by a line "---". Lines starting with
 * '#' and empty lines in the client part are ignored.
 *
 * Client part (what the test does with the real client, in order):
 *   client KEY=VALUE...   parameters: user, pass, secure (none|tls|implicit),
 *                         allow_plain_auth (0|1), helo (default
 *                         herald.test), reply_timeout_ms (default 5000),
 *                         transaction_timeout_ms (default 0: the client's
 *                         own), host (default 127.0.0.1; the fake server
 *                         listens on 127.0.0.1 only), source_address,
 *                         token (an OAuth bearer token: AUTH XOAUTH2 or
 *                         OAUTHBEARER instead of the password), mech
 *                         (xoauth2|oauthbearer); with secure tls or
 *                         implicit the client trusts the test PKI's root A
 *                         and checks the name "localhost"
 *   open EXPECT...        smtp_open() to the fake server
 *   send from=A to=B,C EXPECT...
 *                         smtp_send() of the message built by the "body"
 *                         lines that follow it
 *   body TEXT             one message line; lines are joined with a bare LF
 *                         (so CRLF normalisation is always exercised)
 *   close                 smtp_close() (done anyway at the end)
 *   batch                 the "send" lines (with their bodies) up to
 *                         "endbatch" form one smtp_send_batch() call, each
 *                         message with a trace of its own; each send's
 *                         EXPECT checks that message's result (usable=
 *                         after the whole batch)
 *   endbatch done=N       runs the batch; N: the count it must return
 *                         (default: all of them)
 *   mtrace K TEXT         the trace of batch message K (from 1, counted
 *                         over the whole script) must contain TEXT
 *   nomtrace K TEXT       ... and must not contain TEXT
 *   wire TEXT             the bytes the server received, all of them, must
 *                         contain TEXT exactly; "\r", "\n" and "\\" are CR,
 *                         LF and a backslash (so a script can prove what
 *                         one write held, CRLFs and all)
 *   trace TEXT            the trace JSON (unformatted) must contain TEXT
 *   notrace TEXT          ... and must not contain TEXT
 * EXPECT is any of: expect=ok|KLASS, permanent=0|1, code=NNN,
 * recipient=ADDRS, advice=SUBSTRING, message=SUBSTRING, usable=0|1. A value
 * may be written in double quotes to hold spaces.
 *
 * Server part (what the fake server does, in order):
 *   S: TEXT   send TEXT and CRLF (with any held S+ lines, in one write)
 *   S+ TEXT   hold TEXT and CRLF back and send it in one write with the
 *             next S: line, so that several replies (or lines) arrive in
 *             one TCP segment
 *   C: TEXT   read one line from the client; it must be exactly TEXT
 *   C~ REGEX  read one line; it must match the POSIX extended REGEX
 *   S* N TEXT send TEXT and CRLF N times (with any held S+ lines first),
 *             in large writes; "{n}" in TEXT is the repetition's number
 *             (from 1). If the client closes the connection meanwhile
 *             (it gave up, as it should against a flood), the rest is
 *             dropped and the script goes on.
 *   D: MS TEXT drip-feed: send TEXT and CRLF every MS milliseconds until
 *             the client closes the connection or sends something; a
 *             client that still listens after 10 s fails the test
 *   W: MS     stay silent for MS milliseconds
 *   X:        close the connection now (the client sees it end); the
 *             script ends here
 *   T: NAME   TLS handshake (server side) with NAME.pem and NAME.key of
 *             the test PKI (tests/lib/mkpki.sh, e.g. chain-full); the
 *             rest of the script goes over TLS
 * In every TEXT above (C: lines too), and in trace/notrace, "{C*N}" stands
 * for the character C N times ("250-{x*5000}": a line of 5004 octets), and
 * "{xoauth2}", "{oauthbearer}" for the base64 initial responses the client
 * must send for its user and token (OAUTHBEARER's holds the fake's port).
 * An empty server part means the client must not connect at all.
 * Before each S: or S+ line, the client must have sent nothing that the
 * script has not read yet: the server answers only a client that waits.
 * So the script gives the exact interleaving: several C: lines before
 * their S: replies prove that the client pipelined them (RFC 2920; a
 * client that waits for each reply would time out), and a C: line after
 * an S: proves that the client waited for that reply (a client that sent
 * it early fails with "sent ... before the server's reply").
 * When the script ends the server reads on until the client closes: any
 * further line fails the test ("sent after the end of the script"), so a
 * script also proves what the client did NOT send.
 *
 * Secrets: whenever the client has a password, the test also checks that
 * neither the password, nor its base64, nor the AUTH PLAIN token appear in
 * the trace JSON or in the log captured at debug level; whenever it has an
 * OAuth token, the same for the token and both initial responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"
#include "engine/smtp/smtp.h"
#include "pki/pki.h"

#define PROTO_DIR TEST_SRC_DIR "/proto/smtp"

struct script {
    char  *text;   /* whole file, split in place */
    char **client; /* client lines */
    size_t nclient;
    char **server; /* server lines */
    size_t nserver;
};

struct fake {
    struct buf     wire; /* every byte the server received */
    WOLFSSL_CTX   *ctx;  /* after a T: line */
    int            lfd;
    unsigned       port;
    struct script *sc;
    const char    *name;
    char           err[1024];
};

/* ---- script file -------------------------------------------------------- */

static void
script_load(const char *path, struct script *sc)
{
    FILE *f = fopen(path, "rb");
    long  n;
    char *p, *line;
    int   in_server = 0;

    memset(sc, 0, sizeof(*sc));
    if (f == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    sc->text = calloc(1, (size_t)n + 1);
    if (fread(sc->text, 1, (size_t)n, f) != (size_t)n)
        fail_msg("cannot read %s", path);
    fclose(f);
    sc->client = calloc((size_t)n + 1, sizeof(char *));
    sc->server = calloc((size_t)n + 1, sizeof(char *));
    for (p = sc->text; p != NULL && *p != '\0';) {
        char *nl = strchr(p, '\n');

        line = p;
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else
            p = NULL;
        if (!in_server && strcmp(line, "---") == 0) {
            in_server = 1;
            continue;
        }
        if (in_server) {
            if (line[0] == '#' || line[0] == '\0')
                continue;
            sc->server[sc->nserver++] = line;
        } else if (line[0] != '#' && line[0] != '\0')
            sc->client[sc->nclient++] = line;
    }
    if (!in_server)
        fail_msg("%s: no \"---\" line between client and server parts", path);
}

static void
script_free(struct script *sc)
{
    free(sc->text);
    free(sc->client);
    free(sc->server);
}

/* Next key=value (value may be quoted) from *p; 0 at the end. */
static int
next_kv(char **p, char *key, size_t ksz, char *val, size_t vsz)
{
    char  *s = *p, *eq;
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return 0;
    eq = strchr(s, '=');
    if (eq == NULL)
        fail_msg("expected key=value at \"%s\"", s);
    n = (size_t)(eq - s);
    snprintf(key, ksz, "%.*s", (int)n, s);
    s = eq + 1;
    if (*s == '"') {
        char *q = strchr(s + 1, '"');

        if (q == NULL)
            fail_msg("unterminated quote at \"%s\"", s);
        snprintf(val, vsz, "%.*s", (int)(q - s - 1), s + 1);
        s = q + 1;
    } else {
        n = strcspn(s, " \t");
        snprintf(val, vsz, "%.*s", (int)n, s);
        s += n;
    }
    *p = s;
    return 1;
}

/* The OAuth initial responses of the script's session, base64 (set before
 * the fake server starts): "{xoauth2}" and "{oauthbearer}" in a TEXT. */
static char oauth_xoauth2[2048], oauth_bearer[2048];

/* The test PKI (tests/lib/mkpki.sh) for sessions with TLS, and a trust
 * anchored at its root A. */
static char              pkidir[128];
static struct pki_trust *trust;

/* New string: s with each "{C*N}" replaced by N times C, each "{n}" by num
 * (when num is not 0), and "{xoauth2}", "{oauthbearer}" by the session's
 * OAuth initial responses. */
static char *
expand(const char *s, size_t num)
{
    struct buf b = BUF_INIT;

    while (*s != '\0') {
        char         *end;
        unsigned long n;

        if (s[0] == '{' && s[1] != '\0' && s[2] == '*'
            && (n = strtoul(s + 3, &end, 10)) > 0 && *end == '}') {
            while (n-- > 0)
                buf_putc(&b, s[1]);
            s = end + 1;
        } else if (num != 0 && strncmp(s, "{n}", 3) == 0) {
            buf_printf(&b, "%zu", num);
            s += 3;
        } else if (strncmp(s, "{xoauth2}", 9) == 0) {
            buf_puts(&b, oauth_xoauth2);
            s += 9;
        } else if (strncmp(s, "{oauthbearer}", 13) == 0) {
            buf_puts(&b, oauth_bearer);
            s += 13;
        } else
            buf_putc(&b, *s++);
    }
    return buf_take(&b);
}

/* ---- fake server ------------------------------------------------------- */

struct conn {
    int         fd;
    WOLFSSL    *ssl; /* after a T: line */
    char        buf[65536];
    size_t      len;
    struct buf *wire; /* gets a copy of what is read */
};

/* Reads what is available (waiting up to timeout_ms) into c->buf. Returns
 * the count, 0 on EOF or error, -1 on timeout. */
static long
conn_read(struct conn *c, int timeout_ms)
{
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    long          r;

    if (c->len >= sizeof(c->buf))
        return 0;
    if (c->ssl == NULL || wolfSSL_pending(c->ssl) == 0)
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
    if (c->ssl != NULL)
        r = wolfSSL_read(c->ssl, c->buf + c->len,
            (int)(sizeof(c->buf) - c->len));
    else
        r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
    if (r <= 0)
        return 0;
    buf_append(c->wire, c->buf + c->len, (size_t)r);
    c->len += (size_t)r;
    return r;
}

/* Reads one line (without CRLF). Returns 1, 0 on EOF, -1 on timeout. */
static int
conn_line(struct conn *c, char *out, size_t sz, int timeout_ms)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        long  r;

        if (nl != NULL) {
            size_t n = (size_t)(nl - c->buf);

            if (n > 0 && c->buf[n - 1] == '\r')
                n--;
            snprintf(out, sz, "%.*s", (int)n, c->buf);
            c->len -= (size_t)(nl + 1 - c->buf);
            memmove(c->buf, nl + 1, c->len);
            return 1;
        }
        if ((r = conn_read(c, timeout_ms)) < 0)
            return -1;
        if (r == 0)
            return 0;
    }
}

/* Takes in whatever the client has sent by now, without waiting. Returns
 * 1 and the first line (or the partial line) in out if anything is unread;
 * 0 if nothing is. */
static int
conn_early(struct conn *c, char *out, size_t sz)
{
    size_t n;

    while (c->len < sizeof(c->buf) && conn_read(c, 0) > 0)
        ;
    if (c->len == 0)
        return 0;
    for (n = 0; n < c->len && c->buf[n] != '\r' && c->buf[n] != '\n'; n++)
        ;
    snprintf(out, sz, "%.*s", (int)n, c->buf);
    return 1;
}

/* Sends n bytes. Returns 0, or -1 if the client is gone (EPIPE,
 * ECONNRESET: never SIGPIPE) or stopped reading for 10 s. */
static int
conn_send(struct conn *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = c->ssl != NULL ? wolfSSL_write(c->ssl, p, (int)n)
                                   : send(c->fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* S* N TEXT after the held lines: returns 0 when all was sent or the
 * client closed the connection, -1 (fk->err set) otherwise. */
static int
fake_flood(struct fake *fk, struct conn *c, size_t line, const char *arg,
    const char *held, size_t nheld)
{
    struct buf    b = BUF_INIT;
    char         *end;
    unsigned long n = strtoul(arg, &end, 10);
    int           gone = 0;

    if (n == 0 || *end != ' ') {
        snprintf(fk->err, sizeof(fk->err),
            "server script line %zu: S* "
            "needs a count and a text",
            line);
        return -1;
    }
    buf_append(&b, held, nheld);
    for (unsigned long i = 1; i <= n && !gone; i++) {
        char *t = expand(end + 1, i);

        buf_printf(&b, "%s\r\n", t);
        free(t);
        if (b.len >= 65536 || i == n) {
            gone = conn_send(c, b.p, b.len) != 0;
            buf_reset(&b);
        }
    }
    buf_free(&b);
    if (gone && errno != EPIPE && errno != ECONNRESET) {
        snprintf(fk->err, sizeof(fk->err),
            "server script line %zu: the "
            "client neither read the flood nor closed the connection (%s)",
            line, strerror(errno));
        return -1;
    }
    return 0;
}

/* D: MS TEXT: returns 0 when the client closed or spoke, -1 (fk->err set)
 * if it still listened after 10 s. */
static int
fake_drip(struct fake *fk, struct conn *c, size_t line, const char *arg)
{
    char           *end, *text;
    long            ms = strtol(arg, &end, 10);
    struct timespec t0, now;

    if (ms <= 0 || *end != ' ') {
        snprintf(fk->err, sizeof(fk->err),
            "server script line %zu: D: "
            "needs milliseconds and a text",
            line);
        return -1;
    }
    text = expand(end + 1, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = { c->fd, POLLIN, 0 };
        char          msg[8192];
        int           n;

        if (poll(&pfd, 1, (int)ms) > 0) {
            ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

            if (r > 0) { /* the client spoke: go on */
                buf_append(c->wire, c->buf + c->len, (size_t)r);
                c->len += (size_t)r;
            }
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= 10) {
            snprintf(fk->err, sizeof(fk->err),
                "server script line %zu: "
                "the client still waited for the reply after 10 s of "
                "drip-fed lines",
                line);
            free(text);
            return -1;
        }
        n = snprintf(msg, sizeof(msg), "%s\r\n", text);
        if (conn_send(c, msg, (size_t)n) != 0)
            break;
    }
    free(text);
    return 0;
}

/* T: NAME: the TLS handshake, server side, with NAME.pem and NAME.key of
 * the test PKI; what follows goes over TLS. Returns 0, or -1 (fk->err). */
static int
fake_tls(struct fake *fk, struct conn *c, size_t line, const char *name)
{
    char path[300], kpath[300];

    if (c->len > 0) {
        snprintf(fk->err, sizeof(fk->err),
            "server script line %zu: the client sent data before the TLS "
            "handshake",
            line);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s.pem", pkidir, name);
    snprintf(kpath, sizeof(kpath), "%s/%s.key", pkidir, name);
    fk->ctx = wolfSSL_CTX_new(wolfTLS_server_method());
    if (fk->ctx == NULL
        || wolfSSL_CTX_use_certificate_chain_file(fk->ctx, path)
            != WOLFSSL_SUCCESS
        || wolfSSL_CTX_use_PrivateKey_file(fk->ctx, kpath, WOLFSSL_FILETYPE_PEM)
            != WOLFSSL_SUCCESS) {
        snprintf(fk->err, sizeof(fk->err),
            "server script line %zu: cannot load %s", line, path);
        return -1;
    }
    c->ssl = wolfSSL_new(fk->ctx);
    wolfSSL_set_fd(c->ssl, c->fd);
    if (wolfSSL_accept(c->ssl) != WOLFSSL_SUCCESS) {
        snprintf(fk->err, sizeof(fk->err),
            "server script line %zu: the TLS handshake failed", line);
        return -1;
    }
    return 0;
}

static void *
fake_run(void *arg)
{
    struct fake   *fk = arg;
    struct conn   *c = calloc(1, sizeof(*c));
    char           line[8192];
    size_t         i;
    struct pollfd  pfd = { fk->lfd, POLLIN, 0 };
    int            one = 1;
    char           held[8200];
    size_t         nheld = 0;
    struct timeval sndto = { 10, 0 };

    if (fk->sc->nserver == 0) {
        /* an empty server part: the client must not even connect */
        if (poll(&pfd, 1, 1000) > 0)
            snprintf(fk->err, sizeof(fk->err),
                "the client connected, but "
                "the script has no server part");
        goto out;
    }
    if (poll(&pfd, 1, 10000) <= 0) {
        snprintf(fk->err, sizeof(fk->err), "the client never connected");
        goto out;
    }
    c->fd = accept(fk->lfd, NULL, NULL);
    c->wire = &fk->wire;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &sndto, sizeof(sndto));
    for (i = 0; i < fk->sc->nserver; i++) {
        const char *l = fk->sc->server[i];
        const char *arg1 = l + 2 + (l[2] == ' ');

        if (strncmp(l, "S:", 2) == 0 || strncmp(l, "S+", 2) == 0
            || strncmp(l, "S*", 2) == 0) {
            char *text;
            int   n;

            if (conn_early(c, line, sizeof(line))) {
                snprintf(fk->err, sizeof(fk->err),
                    "server script line %zu: the client sent \"%.400s\" "
                    "before the server's reply \"%s\"",
                    i + 1, line, arg1);
                goto out;
            }
            if (l[1] == '*') {
                if (fake_flood(fk, c, i + 1, arg1, held, nheld) != 0)
                    goto out;
                nheld = 0;
                continue;
            }
            text = expand(arg1, 0);
            n = snprintf(held + nheld, sizeof(held) - nheld, "%s\r\n", text);
            free(text);
            if (n < 0 || (size_t)n >= sizeof(held) - nheld) {
                snprintf(fk->err, sizeof(fk->err),
                    "server script line %zu: too much held back", i + 1);
                goto out;
            }
            nheld += (size_t)n;
            if (l[1] == '+')
                continue;
            if (conn_send(c, held, nheld) != 0) {
                snprintf(fk->err, sizeof(fk->err),
                    "script line %zu: cannot send \"%.400s\"", i + 1, arg1);
                goto out;
            }
            nheld = 0;
        } else if (strncmp(l, "D:", 2) == 0) {
            if (fake_drip(fk, c, i + 1, arg1) != 0)
                goto out;
        } else if (strncmp(l, "T:", 2) == 0) {
            if (fake_tls(fk, c, i + 1, arg1) != 0)
                goto out;
        } else if (strncmp(l, "X:", 2) == 0) {
            if (nheld > 0 && conn_send(c, held, nheld) != 0)
                snprintf(fk->err, sizeof(fk->err),
                    "cannot send the held lines");
            goto out;
        } else if (strncmp(l, "W:", 2) == 0) {
            struct timespec ts;
            long            ms = atol(arg1);

            ts.tv_sec = ms / 1000;
            ts.tv_nsec = (ms % 1000) * 1000000L;
            nanosleep(&ts, NULL);
        } else if (strncmp(l, "C:", 2) == 0 || strncmp(l, "C~", 2) == 0) {
            int r = conn_line(c, line, sizeof(line), 5000);

            if (r <= 0) {
                snprintf(fk->err, sizeof(fk->err),
                    "server script line %zu: expected the client to send "
                    "\"%s\" but it %s",
                    i + 1, arg1,
                    r == 0 ? "closed the connection" : "sent nothing");
                goto out;
            }
            if (l[1] == ':') {
                char *want = expand(arg1, 0);
                int   differ = strcmp(line, want) != 0;

                if (differ)
                    snprintf(fk->err, sizeof(fk->err),
                        "server script line %zu: expected \"%.400s\", "
                        "client sent \"%.400s\"",
                        i + 1, want, line);
                free(want);
                if (differ)
                    goto out;
            }
            if (l[1] == '~') {
                regex_t re;

                if (regcomp(&re, arg1, REG_EXTENDED | REG_NOSUB) != 0) {
                    snprintf(fk->err, sizeof(fk->err), "bad regex %s", arg1);
                    goto out;
                }
                r = regexec(&re, line, 0, NULL, 0);
                regfree(&re);
                if (r != 0) {
                    snprintf(fk->err, sizeof(fk->err),
                        "server script line %zu: client sent \"%.400s\", "
                        "which does not match /%s/",
                        i + 1, line, arg1);
                    goto out;
                }
            }
        } else {
            snprintf(fk->err, sizeof(fk->err),
                "server script line %zu: unknown directive \"%s\"", i + 1, l);
            goto out;
        }
    }
    if (nheld > 0 && conn_send(c, held, nheld) != 0) {
        snprintf(fk->err, sizeof(fk->err), "cannot send the held lines");
        goto out;
    }
    /* the client must not say anything more */
    if (conn_line(c, line, sizeof(line), 3000) == 1)
        snprintf(fk->err, sizeof(fk->err),
            "client sent \"%.400s\" after the "
            "end of the script",
            line);
out:
    if (c->ssl != NULL) {
        wolfSSL_shutdown(c->ssl);
        wolfSSL_free(c->ssl);
    }
    wolfSSL_CTX_free(fk->ctx);
    fk->ctx = NULL;
    if (c->fd > 0)
        close(c->fd);
    free(c);
    pki_thread_cleanup();
    return NULL;
}

/* ---- expectations ------------------------------------------------------ */

static void
check_result(const char *name, const char *what, int rc,
    const struct smtp_result *res, char *rest, struct smtp_client *cl)
{
    char key[64], val[512];

    while (next_kv(&rest, key, sizeof(key), val, sizeof(val))) {
        if (strcmp(key, "expect") == 0) {
            if (strcmp(val, "ok") == 0) {
                if (rc != 0)
                    fail_msg("%s: %s failed (%s): %s", name, what, res->klass,
                        res->message);
                assert_string_equal(res->klass, "");
            } else {
                if (rc == 0)
                    fail_msg("%s: %s succeeded, expected %s", name, what, val);
                if (strcmp(res->klass, val) != 0)
                    fail_msg("%s: %s: klass \"%s\" (%s), expected \"%s\"", name,
                        what, res->klass, res->message, val);
                assert_true(res->rc < 0);
                assert_true(res->message[0] != '\0');
            }
        } else if (strcmp(key, "permanent") == 0) {
            if (res->permanent != atoi(val))
                fail_msg("%s: %s: permanent=%d, expected %s", name, what,
                    res->permanent, val);
        } else if (strcmp(key, "code") == 0) {
            if (res->code != atoi(val))
                fail_msg("%s: %s: code=%d, expected %s", name, what, res->code,
                    val);
        } else if (strcmp(key, "recipient") == 0) {
            if (strcmp(res->recipient, val) != 0)
                fail_msg("%s: %s: recipient \"%s\", expected \"%s\"", name,
                    what, res->recipient, val);
        } else if (strcmp(key, "advice") == 0) {
            if (strstr(res->advice, val) == NULL)
                fail_msg("%s: %s: advice \"%s\" lacks \"%s\"", name, what,
                    res->advice, val);
        } else if (strcmp(key, "message") == 0) {
            if (strstr(res->message, val) == NULL)
                fail_msg("%s: %s: message \"%s\" lacks \"%s\"", name, what,
                    res->message, val);
        } else if (strcmp(key, "token_refused") == 0) {
            if (res->token_refused != atoi(val))
                fail_msg("%s: %s: token_refused=%d, expected %s", name, what,
                    res->token_refused, val);
        } else if (strcmp(key, "usable") == 0) {
            if (smtp_usable(cl) != atoi(val))
                fail_msg("%s: %s: usable=%d, expected %s", name, what,
                    smtp_usable(cl), val);
        } else if (strcmp(key, "from") != 0 && strcmp(key, "to") != 0)
            fail_msg("%s: unknown expectation %s", name, key);
    }
}

static char *
b64(const char *p, size_t n)
{
    static const char t[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = calloc(1, 4 * ((n + 2) / 3) + 1), *o = out;

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)p[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)(unsigned char)p[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)p[i + 2];
        *o++ = t[(v >> 18) & 63];
        *o++ = t[(v >> 12) & 63];
        *o++ = i + 1 < n ? t[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? t[v & 63] : '=';
    }
    return out;
}

static void
assert_no_secret(const char *name, const char *where, const char *hay,
    const char *needle)
{
    if (needle != NULL && *needle != '\0' && strstr(hay, needle) != NULL)
        fail_msg("%s: a secret (\"%s\") appears in the %s", name, needle,
            where);
}

/* ---- the runner -------------------------------------------------------- */

/*
 * The test's session and fake server live here, not on run_script's stack:
 * a failed check leaves run_script by longjmp while the fake server thread
 * still runs, and proto_teardown then closes the client (the fake sees
 * EOF), joins the thread and frees the script.
 */
static struct {
    struct script       sc;
    struct fake         fk;
    pthread_t           th;
    int                 started;
    struct smtp_client *cl;
} cur;

static int
proto_teardown(void **state)
{
    (void)state;
    smtp_close(cur.cl);
    cur.cl = NULL;
    if (cur.fk.lfd >= 0)
        shutdown(cur.fk.lfd, SHUT_RDWR);
    if (cur.started)
        pthread_join(cur.th, NULL);
    cur.started = 0;
    if (cur.fk.lfd >= 0)
        close(cur.fk.lfd);
    cur.fk.lfd = -1;
    script_free(&cur.sc);
    memset(&cur.sc, 0, sizeof(cur.sc));
    return 0;
}

/* A "send" line and its body lines. */
struct tmsg {
    char               from[512];
    char             **rv;
    size_t             rn;
    struct buf         body;
    char              *rest; /* the expectations (borrowed from the script) */
    struct smtp_result res;
};

/* Reads the send line at index i (rest: after "send ") and the body lines
 * after it into t; returns the index of its last line. */
static size_t
tmsg_read(const char *name, size_t i, char *rest, struct tmsg *t)
{
    char          key[64], val[512], to[512] = "", *r2 = rest;
    struct errbuf eb = { 0 };

    memset(t, 0, sizeof(*t));
    t->body = (struct buf)BUF_INIT;
    t->rest = rest;
    while (next_kv(&r2, key, sizeof(key), val, sizeof(val))) {
        if (strcmp(key, "from") == 0)
            snprintf(t->from, sizeof(t->from), "%s", val);
        else if (strcmp(key, "to") == 0)
            snprintf(to, sizeof(to), "%s", val);
    }
    while (i + 1 < cur.sc.nclient
        && strncmp(cur.sc.client[i + 1], "body", 4) == 0) {
        const char *b = cur.sc.client[++i] + 4;

        if (*b == ' ')
            b++;
        buf_puts(&t->body, b);
        buf_putc(&t->body, '\n');
    }
    if (smtp_addrs_parse(to, &t->rv, &t->rn, &eb) != 0)
        fail_msg("%s: bad to=%s: %s", name, to, eb.msg);
    return i;
}

static void
tmsg_clear(struct tmsg *t)
{
    smtp_addrs_free(t->rv, t->rn);
    buf_free(&t->body);
    memset(t, 0, sizeof(*t));
}

/* TEXT of a "wire" line with \r, \n and \\ decoded, then expanded. */
static char *
wire_text(const char *s)
{
    struct buf b = BUF_INIT;
    char      *t, *e;

    for (; *s != '\0'; s++) {
        if (s[0] == '\\' && s[1] == 'r')
            buf_putc(&b, '\r'), s++;
        else if (s[0] == '\\' && s[1] == 'n')
            buf_putc(&b, '\n'), s++;
        else if (s[0] == '\\' && s[1] == '\\')
            buf_putc(&b, '\\'), s++;
        else
            buf_putc(&b, *s);
    }
    t = buf_take(&b);
    e = expand(t, 0);
    free(t);
    return e;
}

#define BATCH_MAX  16
#define MTRACE_MAX 64

static void
run_script(void **state)
{
    const char        *path = *state;
    const char        *name = strrchr(path, '/') + 1;
    struct sockaddr_in sa;
    socklen_t          sl = sizeof(sa);
    struct smtp_params p;
    struct sec        *pass = NULL;
    cJSON             *trace = cJSON_CreateObject();
    char        user[512] = "", passwd[512] = "", helo[512] = "herald.test";
    char        host[512] = "127.0.0.1", srcaddr[512] = "";
    char        token[512] = "";
    struct sec *tok = NULL;
    char        logpath[] = "/tmp/herald-proto-log-XXXXXX";
    int         logfd;
    struct tmsg batch[BATCH_MAX];
    struct smtp_result bres[BATCH_MAX];
    size_t             nbatch = 0, nmtraces = 0;
    int                inbatch = 0;
    cJSON             *mtraces[MTRACE_MAX];
    char              *tjson, *logtxt;
    long               loglen;
    FILE              *lf;

    memset(&cur, 0, sizeof(cur));
    cur.fk.lfd = -1;
    script_load(path, &cur.sc);
    cur.fk.sc = &cur.sc;
    cur.fk.name = name;
    cur.fk.lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(cur.fk.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(cur.fk.lfd, 4), 0);
    getsockname(cur.fk.lfd, (struct sockaddr *)&sa, &sl);
    cur.fk.port = ntohs(sa.sin_port);

    logfd = mkstemp(logpath);
    assert_true(logfd >= 0);
    log_set_fd(logfd);
    log_set_level(LOG_DEBUG);

    memset(&p, 0, sizeof(p));
    p.host = host;
    p.port = cur.fk.port;
    p.secure = SMTP_SECURE_NONE;
    p.helo_name = helo;
    p.reply_timeout_ms = 5000;
    p.connect_timeout_ms = 5000;
    p.trust = trust;
    p.tls_name = "localhost";
    /* the OAuth initial responses the fake server expects ({xoauth2},
     * {oauthbearer}): the client line is read ahead for user and token */
    oauth_xoauth2[0] = oauth_bearer[0] = '\0';
    for (size_t i = 0; i < cur.sc.nclient; i++) {
        char *rest = cur.sc.client[i] + 6, key[64], val[512];

        if (strncmp(cur.sc.client[i], "client", 6) != 0)
            continue;
        while (next_kv(&rest, key, sizeof(key), val, sizeof(val)))
            if (strcmp(key, "user") == 0)
                snprintf(user, sizeof(user), "%s", val);
            else if (strcmp(key, "token") == 0)
                snprintf(token, sizeof(token), "%s", val);
    }
    if (token[0] != '\0') {
        char  raw[1600];
        char *e;
        int   n;

        n = snprintf(raw, sizeof(raw), "user=%s\001auth=Bearer %s\001\001",
            user, token);
        e = b64(raw, (size_t)n);
        snprintf(oauth_xoauth2, sizeof(oauth_xoauth2), "%s", e);
        free(e);
        n = snprintf(raw, sizeof(raw),
            "n,a=%s,\001host=%s\001port=%u\001auth=Bearer %s\001\001", user,
            host, cur.fk.port, token);
        e = b64(raw, (size_t)n);
        snprintf(oauth_bearer, sizeof(oauth_bearer), "%s", e);
        free(e);
    }
    assert_int_equal(pthread_create(&cur.th, NULL, fake_run, &cur.fk), 0);
    cur.started = 1;

    for (size_t i = 0; i < cur.sc.nclient; i++) {
        char *l = cur.sc.client[i], *rest = strchr(l, ' ');
        char  key[64], val[512];

        rest = rest ? rest + 1 : l + strlen(l);
        if (strncmp(l, "client", 6) == 0) {
            while (next_kv(&rest, key, sizeof(key), val, sizeof(val))) {
                if (strcmp(key, "user") == 0)
                    snprintf(user, sizeof(user), "%s", val);
                else if (strcmp(key, "pass") == 0)
                    snprintf(passwd, sizeof(passwd), "%s", val);
                else if (strcmp(key, "token") == 0)
                    snprintf(token, sizeof(token), "%s", val);
                else if (strcmp(key, "mech") == 0)
                    p.oauth_mech = smtp_oauth_mech_parse(val);
                else if (strcmp(key, "secure") == 0)
                    p.secure = smtp_secure_parse(val);
                else if (strcmp(key, "allow_plain_auth") == 0)
                    p.allow_plain_auth = atoi(val);
                else if (strcmp(key, "helo") == 0)
                    snprintf(helo, sizeof(helo), "%s", val);
                else if (strcmp(key, "host") == 0)
                    snprintf(host, sizeof(host), "%s", val);
                else if (strcmp(key, "source_address") == 0) {
                    snprintf(srcaddr, sizeof(srcaddr), "%s", val);
                    p.source_address = srcaddr;
                } else if (strcmp(key, "reply_timeout_ms") == 0)
                    p.reply_timeout_ms = (unsigned)atoi(val);
                else if (strcmp(key, "transaction_timeout_ms") == 0)
                    p.transaction_timeout_ms = (unsigned)atoi(val);
                else
                    fail_msg("%s: unknown client key %s", name, key);
            }
        } else if (strncmp(l, "open", 4) == 0) {
            struct smtp_result res;
            int                rc;

            if (user[0] != '\0') {
                p.user = user;
                pass = sec_new(passwd, strlen(passwd));
                p.pass = pass;
            }
            if (token[0] != '\0') {
                tok = sec_new(token, strlen(token));
                p.oauth_token = tok;
            }
            rc = smtp_open(&p, &cur.cl, trace, &res);
            check_result(name, "open", rc, &res, rest, cur.cl);
        } else if (strncmp(l, "send", 4) == 0) {
            struct tmsg *t;
            int          rc;

            if (nbatch == BATCH_MAX)
                fail_msg("%s: more than %d messages in a batch", name,
                    BATCH_MAX);
            t = &batch[nbatch];
            i = tmsg_read(name, i, rest, t);
            if (cur.cl == NULL)
                fail_msg("%s: send without a successful open", name);
            if (inbatch) {
                nbatch++;
                continue;
            }
            rc = smtp_send(cur.cl, t->from, t->rv, t->rn, buf_str(&t->body),
                t->body.len, NULL, &t->res);
            check_result(name, "send", rc, &t->res, t->rest, cur.cl);
            tmsg_clear(t);
        } else if (strcmp(l, "batch") == 0) {
            inbatch = 1;
            nbatch = 0;
        } else if (strncmp(l, "endbatch", 8) == 0) {
            struct smtp_batch_msg bm[BATCH_MAX];
            size_t                want = nbatch, done;

            while (next_kv(&rest, key, sizeof(key), val, sizeof(val)))
                if (strcmp(key, "done") == 0)
                    want = (size_t)atoi(val);
                else
                    fail_msg("%s: unknown endbatch key %s", name, key);
            for (size_t k = 0; k < nbatch; k++) {
                if (nmtraces == MTRACE_MAX)
                    fail_msg("%s: too many batch messages", name);
                mtraces[nmtraces] = cJSON_CreateObject();
                bm[k].from = batch[k].from;
                bm[k].rcpts = batch[k].rv;
                bm[k].nrcpts = batch[k].rn;
                bm[k].msg = buf_str(&batch[k].body);
                bm[k].len = batch[k].body.len;
                bm[k].trace = mtraces[nmtraces++];
            }
            done = smtp_send_batch(cur.cl, bm, nbatch, bres);
            if (done != want)
                fail_msg("%s: smtp_send_batch dealt with %zu messages, "
                         "expected %zu",
                    name, done, want);
            for (size_t k = 0; k < nbatch; k++) {
                char what[64];

                snprintf(what, sizeof(what), "batch message %zu", k + 1);
                check_result(name, what, bres[k].rc, &bres[k], batch[k].rest,
                    cur.cl);
                tmsg_clear(&batch[k]);
            }
            inbatch = 0;
            nbatch = 0;
        } else if (strcmp(l, "close") == 0) {
            smtp_close(cur.cl);
            cur.cl = NULL;
        } else if (strncmp(l, "trace", 5) == 0 || strncmp(l, "notrace", 7) == 0
            || strncmp(l, "mtrace ", 7) == 0 || strncmp(l, "nomtrace ", 9) == 0
            || strncmp(l, "wire ", 5) == 0) {
            /* checked below, after the session */
        } else
            fail_msg("%s: unknown client directive \"%s\"", name, l);
    }
    smtp_close(cur.cl);
    cur.cl = NULL;
    if (cur.started)
        pthread_join(cur.th, NULL);
    cur.started = 0;
    close(cur.fk.lfd);
    cur.fk.lfd = -1;
    if (cur.fk.err[0] != '\0')
        fail_msg("%s: %s", name, cur.fk.err);

    if (inbatch)
        fail_msg("%s: batch without endbatch", name);
    tjson = cJSON_PrintUnformatted(trace);
    for (size_t i = 0; i < cur.sc.nclient; i++) {
        const char *l = cur.sc.client[i];
        char       *want = NULL;

        if (strncmp(l, "trace ", 6) == 0
            && strstr(tjson, (want = expand(l + 6, 0))) == NULL)
            fail_msg("%s: the trace lacks %.400s\ntrace: %.4000s", name, want,
                tjson);
        if (strncmp(l, "notrace ", 8) == 0
            && strstr(tjson, (want = expand(l + 8, 0))) != NULL)
            fail_msg("%s: the trace holds %.400s\ntrace: %.4000s", name, want,
                tjson);
        free(want);
        if (strncmp(l, "mtrace ", 7) == 0 || strncmp(l, "nomtrace ", 9) == 0) {
            int         no = l[0] == 'n';
            char       *end, *mj;
            size_t      k = strtoul(l + (no ? 9 : 7), &end, 10);
            const char *has;

            if (k == 0 || k > nmtraces || *end != ' ')
                fail_msg("%s: \"%s\": no such batch message", name, l);
            mj = cJSON_PrintUnformatted(mtraces[k - 1]);
            want = expand(end + 1, 0);
            has = strstr(mj, want);
            if (!no && has == NULL)
                fail_msg("%s: the trace of batch message %zu lacks "
                         "%.400s\ntrace: %.4000s",
                    name, k, want, mj);
            if (no && has != NULL)
                fail_msg("%s: the trace of batch message %zu holds "
                         "%.400s\ntrace: %.4000s",
                    name, k, want, mj);
            free(want);
            free(mj);
        }
        if (strncmp(l, "wire ", 5) == 0) {
            want = wire_text(l + 5);
            if (cur.fk.wire.len < strlen(want)
                || memmem(cur.fk.wire.p, cur.fk.wire.len, want, strlen(want))
                    == NULL)
                fail_msg("%s: the server did not receive \"%.400s\" as "
                         "written (wire line %s)\nreceived: %.4000s",
                    name, want, l + 5, buf_str(&cur.fk.wire));
            free(want);
        }
    }
    /* the batch messages' traces are traces too */
    for (size_t k = 0; k < nmtraces; k++) {
        char *mj = cJSON_PrintUnformatted(mtraces[k]);
        char *all = NULL;

        if (asprintf(&all, "%s\n%s", tjson, mj) < 0)
            fail_msg("out of memory");
        free(tjson);
        free(mj);
        tjson = all;
        cJSON_Delete(mtraces[k]);
    }
    buf_free(&cur.fk.wire);

    /* secrets: nowhere in the trace or the log */
    log_set_fd(2);
    lf = fdopen(logfd, "rb");
    fseek(lf, 0, SEEK_END);
    loglen = ftell(lf);
    fseek(lf, 0, SEEK_SET);
    logtxt = calloc(1, (size_t)loglen + 1);
    if (fread(logtxt, 1, (size_t)loglen, lf) != (size_t)loglen)
        fail_msg("cannot read the captured log");
    fclose(lf);
    unlink(logpath);
    if (passwd[0] != '\0') {
        char   tok[1100];
        size_t ul = strlen(user), pl = strlen(passwd);
        char  *b64pass = b64(passwd, pl), *b64plain;

        tok[0] = '\0';
        memcpy(tok + 1, user, ul);
        tok[1 + ul] = '\0';
        memcpy(tok + 2 + ul, passwd, pl);
        b64plain = b64(tok, ul + pl + 2);
        assert_no_secret(name, "trace", tjson, passwd);
        assert_no_secret(name, "trace", tjson, b64pass);
        assert_no_secret(name, "trace", tjson, b64plain);
        assert_no_secret(name, "log", logtxt, passwd);
        assert_no_secret(name, "log", logtxt, b64pass);
        assert_no_secret(name, "log", logtxt, b64plain);
        /* the log did see the session, so the check means something */
        assert_non_null(strstr(logtxt, "event=send"));
        free(b64pass);
        free(b64plain);
    }
    if (token[0] != '\0') {
        assert_no_secret(name, "trace", tjson, token);
        assert_no_secret(name, "trace", tjson, oauth_xoauth2);
        assert_no_secret(name, "trace", tjson, oauth_bearer);
        assert_no_secret(name, "log", logtxt, token);
        assert_no_secret(name, "log", logtxt, oauth_xoauth2);
        assert_no_secret(name, "log", logtxt, oauth_bearer);
        assert_non_null(strstr(logtxt, "event=send"));
    }
    free(logtxt);
    free(tjson);
    cJSON_Delete(trace);
    sec_free(pass);
    sec_free(tok);
    script_free(&cur.sc);
    memset(&cur.sc, 0, sizeof(cur.sc));
}

/* The test PKI and a trust anchored at root A, for scripts with T: */
static int
proto_group_setup(void **state)
{
    struct pki_trustpoint tp = { "TEST-TP", PKI_CHAIN_CONTINUE, PKI_REV_NONE,
        NULL };
    struct pki_cert      *cert = NULL;
    struct errbuf         eb = { 0 };
    char                  cmd[300], buf[16384];
    FILE                 *f;
    size_t                len;

    (void)state;
    snprintf(pkidir, sizeof(pkidir), "/tmp/herald-smtp-proto.XXXXXX");
    if (mkdtemp(pkidir) == NULL || pki_init() != 0)
        return -1;
    snprintf(cmd, sizeof(cmd), "sh %s/lib/mkpki.sh %s", TEST_SRC_DIR, pkidir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tests/lib/mkpki.sh failed: no test PKI\n");
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "%s/root-a.pem", pkidir);
    if ((f = fopen(cmd, "rb")) == NULL)
        return -1;
    len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (pki_cert_parse(buf, len, &cert, &eb) != 0)
        return -1;
    tp.cert = cert;
    if (pki_trust_new(&tp, 1, 0, &trust, &eb) != 0) {
        fprintf(stderr, "pki_trust_new: %s\n", eb.msg);
        pki_cert_free(cert);
        return -1;
    }
    pki_cert_free(cert);
    return 0;
}

static int
proto_group_teardown(void **state)
{
    char cmd[300];

    (void)state;
    pki_trust_unref(trust);
    trust = NULL;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pkidir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", pkidir);
    pki_cleanup();
    return 0;
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
    DIR               *d = opendir(PROTO_DIR);
    struct dirent     *de;
    char             **paths = NULL;
    size_t             n = 0;
    struct CMUnitTest *tests;
    int                rc;

    if (d == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", PROTO_DIR, strerror(errno));
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0)
            continue;
        paths = realloc(paths, (n + 1) * sizeof(*paths));
        if (asprintf(&paths[n], "%s/%s", PROTO_DIR, de->d_name) < 0)
            return 1;
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "no protocol scripts in %s\n", PROTO_DIR);
        return 1;
    }
    qsort(paths, n, sizeof(*paths), cmp_names);
    tests = calloc(n, sizeof(*tests));
    for (size_t i = 0; i < n; i++) {
        tests[i].name = strrchr(paths[i], '/') + 1;
        tests[i].test_func = run_script;
        tests[i].teardown_func = proto_teardown;
        tests[i].initial_state = paths[i];
    }
    rc = _cmocka_run_group_tests("smtp_proto", tests, n, proto_group_setup,
        proto_group_teardown);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(tests);
    return rc;
}
