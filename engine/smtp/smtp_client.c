/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp_client.c: the SMTP submission client (RFC 5321), with
 * STARTTLS (RFC 3207), implicit TLS (RFC 8314), AUTH PLAIN/LOGIN (RFC 4954),
 * AUTH XOAUTH2 and OAUTHBEARER (RFC 7628) with a bearer token, SIZE (RFC
 * 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), PIPELINING (RFC
 * 2920) of the transaction commands and CHUNKING (RFC 3030) for batches of
 * whole messages in one write. Its transport (connect, TLS, reads
 * and writes against a deadline) also serves the OAuth token client
 * through net.h (smtp_net_*, at the end of this file).
 *
 * Blocking in shape, non-blocking underneath: every connect, read and write
 * waits with poll() against a deadline. smtp_cmd() is the only wire writer
 * and the only place the state changes; it logs "A -> B" and records the
 * line in the dialogue trace with its declared sensitivity, so a password
 * never reaches a trace or a log. STARTTLS is never downgraded: a server that
 * does not offer it, or answers anything but 220, ends the session, and bytes
 * received before the handshake are discarded (CVE-2011-0411 class).
 */
#include "engine/smtp/smtp_int.h"
#include "engine/smtp/net.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "common/log.h"
#include "common/redact.h"
#include "common/sec.h"

static const char *smtp_state_name[S__COUNT] = {
    [S_INIT] = "INIT",
    [S_CONNECT] = "CONNECT",
    [S_GREETING] = "GREETING",
    [S_EHLO] = "EHLO",
    [S_HELO] = "HELO",
    [S_STARTTLS] = "STARTTLS",
    [S_TLS] = "TLS",
    [S_AUTH] = "AUTH",
    [S_AUTH_USER] = "AUTH_USER",
    [S_AUTH_PASS] = "AUTH_PASS",
    [S_READY] = "READY",
    [S_RSET] = "RSET",
    [S_MAIL] = "MAIL",
    [S_RCPT] = "RCPT",
    [S_DATA] = "DATA",
    [S_BODY] = "BODY",
    [S_BDAT] = "BDAT",
    [S_QUIT] = "QUIT",
    [S_CLOSED] = "CLOSED",
    [S_BROKEN] = "BROKEN",
};

static const char b64tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of n bytes into a new string (wipe and free by the caller). */
static char *
smtp_b64_new(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        *o++ = b64tab[(v >> 18) & 63];
        *o++ = b64tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64tab[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static void
smtp_secret_free(char *s)
{
    if (s != NULL) {
        sec_wipe(s, strlen(s));
        free(s);
    }
}

long long
smtp_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms as people read it: "300 ms", "30 s", "5 min". Returns buf. */
static const char *
smtp_ms_str(char *buf, size_t sz, unsigned ms)
{
    if (ms % 60000 == 0)
        snprintf(buf, sz, "%u min", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, sz, "%u s", ms / 1000);
    else
        snprintf(buf, sz, "%u ms", ms);
    return buf;
}

/* n with thousands separators: "9,980". Returns buf. */
static const char *
smtp_count_str(char *buf, size_t sz, size_t n)
{
    char   digits[32];
    int    len = snprintf(digits, sizeof(digits), "%zu", n);
    size_t o = 0;

    for (int i = 0; i < len && o + 2 < sz; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* Starts an operation (smtp_open, smtp_send, smtp_probe) that must end
 * within transaction_timeout_ms; what names it in the timeout message. */
static void
smtp_deadline_start(struct smtp_client *c, const char *what)
{
    c->deadline = smtp_now_ms() + c->transaction_timeout_ms;
    c->deadline_what = what;
}

/* ---- trace ------------------------------------------------------------- */

/* A dialogue entry {"t_ms","dir","line"[,"verification"]} goes into the
 * trace as JSON text (a raw item: cJSON prints it as it is), not as an
 * object of four nodes and their strings: a message's dialogue is about
 * ten entries, and they were most of a sender's allocations. Nothing
 * reads an entry back before the trace is printed; a reader of the
 * stored trace sees the same objects. */
static void
smtp_trace_add(struct smtp_client *c, const char *dir, const char *line)
{
    cJSON          *d, *e;
    struct timespec ts;
    long long       ms;
    int             err;

    if (c->trace == NULL)
        return;
    d = cJSON_GetObjectItemCaseSensitive(c->trace, "dialogue");
    if (d == NULL && (d = cJSON_AddArrayToObject(c->trace, "dialogue")) == NULL)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ms = (long long)(ts.tv_sec - c->t0.tv_sec) * 1000
        + (ts.tv_nsec - c->t0.tv_nsec) / 1000000;
    buf_reset(&c->tline);
    err = buf_printf(&c->tline, "{\"t_ms\":%lld,\"dir\":", ms);
    err |= buf_json_str(&c->tline, dir);
    err |= buf_puts(&c->tline, ",\"line\":");
    err |= buf_json_str(&c->tline, line);
    if (c->insecure)
        err |= buf_puts(&c->tline, ",\"verification\":\"OFF\"");
    err |= buf_putc(&c->tline, '}');
    if (err == 0 && (e = cJSON_CreateRaw(buf_str(&c->tline))) != NULL)
        cJSON_AddItemToArray(d, e);
}

void
smtp_trace_note(struct smtp_client *c, const char *fmt, ...)
{
    char    line[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    smtp_trace_add(c, "-", line);
    log_debug("smtp", "session=%016llx event=note%s note=\"%s\"",
        (unsigned long long)c->session, c->insecure ? " verify=OFF" : "", line);
}

static void
smtp_set_trace_caps(struct smtp_client *c, const struct smtp_reply *r)
{
    cJSON      *a;
    const char *p, *nl;

    if (c->trace == NULL)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(c->trace, "capabilities");
    if ((a = cJSON_AddArrayToObject(c->trace, "capabilities")) == NULL)
        return;
    p = strchr(r->text, '\n');
    for (p = p ? p + 1 : NULL; p != NULL && *p != '\0'; p = nl + 1) {
        char word[256];

        nl = strchr(p, '\n');
        snprintf(word, sizeof(word), "%.*s",
            (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
        cJSON_AddItemToArray(a, cJSON_CreateString(word));
        if (nl == NULL)
            break;
    }
}

/*
 * Traces and logs line n (from 0) of the reply being read, if the excerpt
 * has room for it: the first SMTP_TRACE_LINES lines of a reply, at most
 * SMTP_TRACE_LINE_MAX octets of each (cut at a UTF-8 character boundary,
 * with a mark saying how much went), no more than SMTP_TRACE_MAX octets of
 * server lines in one trace, and control characters shown as '?', so that
 * a line never grows sixfold as JSON escapes. Returns 1 if the line was
 * traced, 0 if it was left out.
 */
static int
smtp_trace_reply_line(struct smtp_client *c, size_t n, const char *p,
    size_t len)
{
    char   line[SMTP_TRACE_LINE_MAX + 64];
    size_t k = len < SMTP_TRACE_LINE_MAX ? len : SMTP_TRACE_LINE_MAX;

    if (n >= SMTP_TRACE_LINES || c->traced + k > SMTP_TRACE_MAX)
        return 0;
    while (k > 0 && k < len && ((unsigned char)p[k] & 0xc0) == 0x80)
        k--;
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)p[i];

        line[i] = (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : (char)ch;
    }
    line[k] = '\0';
    if (k < len)
        snprintf(line + k, sizeof(line) - k, " ... (%zu more octets cut)",
            len - k);
    c->traced += k;
    smtp_trace_add(c, "S", line);
    log_debug("smtp", "session=%016llx event=recv line=\"%s\"",
        (unsigned long long)c->session, line);
    return 1;
}

/* ---- the wire ----------------------------------------------------------- */

int
smtp_wait_fd(struct smtp_client *c, int for_write, long long deadline)
{
    if (c->deadline != 0 && c->deadline < deadline)
        deadline = c->deadline;
    for (;;) {
        struct pollfd pfd = { c->fd, for_write ? POLLOUT : POLLIN, 0 };
        long long     left = deadline - smtp_now_ms();
        int           n;

        if (left <= 0)
            return ERR_TIMEOUT;
        n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return ERR_IO;
    }
}

static int
smtp_io_write(struct smtp_client *c, const char *p, size_t n)
{
    long long deadline = smtp_now_ms() + c->reply_timeout_ms;
    int       rc;

    while (n > 0) {
        long w;
        int  want = 2;

        if (c->ssl != NULL)
            w = smtp_tls_write(c, p, n, &want);
        else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0)
                want = (errno == EAGAIN || errno == EWOULDBLOCK) ? 2
                    : errno == EINTR                             ? 3
                                                                 : 0;
        }
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            c->wrote = 1;
            continue;
        }
        if (want == 3)
            continue;
        if (want == 0)
            return ERR_IO;
        if ((rc = smtp_wait_fd(c, want == 2, deadline)) != 0)
            return rc;
    }
    return 0;
}

/* Reads up to n bytes into p, waiting until deadline. Returns the count
 * (> 0), or ERR_CONNECT on EOF, ERR_TIMEOUT, ERR_IO. */
static long
smtp_io_recv(struct smtp_client *c, char *p, size_t n, long long deadline)
{
    int rc;

    /* right after a write the answer is not there yet: waiting first
     * saves the read that would only say so (EAGAIN), a system call a
     * round trip; not while TLS holds bytes already taken from the socket,
     * which poll() cannot see */
    if (c->wrote) {
        c->wrote = 0;
        if (!smtp_tls_pending(c) && (rc = smtp_wait_fd(c, 0, deadline)) != 0)
            return rc;
    }
    for (;;) {
        long r;
        int  want = 1;

        if (c->ssl != NULL)
            r = smtp_tls_read(c, p, n, &want);
        else {
            r = recv(c->fd, p, n, 0);
            if (r < 0)
                want = (errno == EAGAIN || errno == EWOULDBLOCK) ? 1
                    : errno == EINTR                             ? 3
                                                                 : 0;
        }
        if (r > 0)
            return r;
        if (r == 0)
            return ERR_CONNECT;
        if (want == 3)
            continue;
        if (want == 0)
            return ERR_IO;
        if ((rc = smtp_wait_fd(c, want == 2, deadline)) != 0)
            return rc;
    }
}

/* Reads more bytes into rbuf. Returns 0, ERR_TIMEOUT, ERR_IO, or
 * ERR_CONNECT on EOF. */
static int
smtp_io_fill(struct smtp_client *c, long long deadline)
{
    long r;

    if (c->rlen >= sizeof(c->rbuf))
        return ERR_IO;
    r = smtp_io_recv(c, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, deadline);
    if (r < 0)
        return (int)r;
    c->rlen += (size_t)r;
    return 0;
}

/*
 * The only wire writer and the only place the state changes. fmt NULL
 * changes the state without writing (connect, greeting, TLS). sens declares
 * what the trace may show; any line that answers a 334 is secret whatever
 * the caller said. While c->pipe is set (a pipelined group), the line is
 * traced and appended there instead of written, and only the group's first
 * command changes the state: its reply comes first, and the reader moves
 * the state on (fmt NULL) as each reply arrives. Secrets are never
 * pipelined. Errors: ERR_IO, ERR_TIMEOUT, ERR_NOMEM, ERR_INVAL (CR or LF
 * in the line), ERR_INTERNAL (a secret line in a group).
 */
static int
smtp_cmd(struct smtp_client *c, int next, int sens, const char *fmt, ...)
{
    char   *line = NULL, shown[600];
    va_list ap;
    int     n, rc = 0;

    if (c->pipe != NULL && fmt != NULL) {
        if (sens != SEC_PUBLIC || c->last_code == 334)
            return ERR_INTERNAL; /* AUTH is never part of a group */
        if (c->pipe->len > 0)
            next = c->state;
    }
    if (c->state != next)
        log_debug("smtp", "session=%016llx event=state change=\"%s -> %s\"%s",
            (unsigned long long)c->session, smtp_state_name[c->state],
            smtp_state_name[next], c->insecure ? " verify=OFF" : "");
    c->state = next;
    if (fmt == NULL)
        return 0;
    /* sized first, so that a secret is never copied by realloc; room for
     * CRLF, so that one write carries the whole command */
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (line = malloc((size_t)n + 3)) == NULL)
        return ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (c->last_code == 334)
        sens = SEC_SECRET;
    redact_line(line,
        sens == SEC_SECRET     ? REDACT_LINE_SECRET
            : sens == SEC_VERB ? REDACT_LINE_VERB
                               : REDACT_LINE_PUBLIC,
        shown, sizeof(shown));
    smtp_trace_add(c, "C", shown);
    log_debug("smtp", "session=%016llx event=send line=\"%s\"%s",
        (unsigned long long)c->session, shown,
        c->insecure ? " verify=OFF" : "");
    if (memchr(line, '\r', (size_t)n) || memchr(line, '\n', (size_t)n))
        rc = ERR_INVAL; /* never reached: callers refuse CR/LF first */
    memcpy(line + n, "\r\n", 3);
    if (rc == 0 && c->pipe != NULL)
        rc = buf_append(c->pipe, line, (size_t)n + 2);
    else if (rc == 0)
        rc = smtp_io_write(c, line, (size_t)n + 2);
    sec_wipe(line, (size_t)n + 2);
    free(line);
    return rc;
}

/* Fills res for a transport error rc in the current state. */
static int
smtp_io_fail(struct smtp_client *c, int rc, struct smtp_result *res)
{
    const char *st = smtp_state_name[c->state];
    char        ms[32];

    c->usable = 0;
    if (rc == ERR_TIMEOUT && c->deadline != 0 && smtp_now_ms() >= c->deadline)
        smtp_result_set(res, ERR_TIMEOUT, "timeout", 0, NULL,
            "The server answers too slowly, or keeps the session busy "
            "without finishing it; herald retries later.",
            "%s:%u did not let the %s finish within %s (in state %s)", c->host,
            c->port, c->deadline_what ? c->deadline_what : "session",
            smtp_ms_str(ms, sizeof(ms), c->transaction_timeout_ms), st);
    else if (rc == ERR_TIMEOUT)
        smtp_result_set(res, ERR_TIMEOUT, "timeout", 0, NULL,
            "Check that the server and port are right and reachable; "
            "herald retries later.",
            "no complete reply from %s:%u within %s (waiting in state %s)",
            c->host, c->port, smtp_ms_str(ms, sizeof(ms), c->reply_timeout_ms),
            st);
    else if (rc == ERR_CONNECT)
        smtp_result_set(res, ERR_CONNECT, "connect", 0, NULL,
            "The server may be overloaded or dropping clients; herald "
            "retries later.",
            "%s:%u closed the connection (in state %s)", c->host, c->port, st);
    else if (rc == ERR_PROTO)
        smtp_result_set(res, ERR_PROTO, "protocol", 0, NULL,
            "Check that the port speaks SMTP (and whether it expects "
            "implicit TLS).",
            "%s:%u sent a malformed reply (in state %s)", c->host, c->port, st);
    else
        smtp_result_set(res, rc, "connect", 0, NULL,
            "Check the network path to the server; herald retries later.",
            "I/O error talking to %s:%u (in state %s): %s", c->host, c->port,
            st, strerror(errno));
    smtp_trace_note(c, "%s", res ? res->message : "transport error");
    c->state = S_BROKEN;
    return res ? res->rc : rc;
}

/* A reply that passed a limit of smtp_reply_feed (detail names it). */
static int
smtp_limit_fail(struct smtp_client *c, const char *detail,
    struct smtp_result *res)
{
    c->usable = 0;
    smtp_result_set(res, ERR_PROTO, "protocol", 0, NULL,
        "A working SMTP server never sends this: check that the host and "
        "port are the mail server you mean. herald stops reading rather "
        "than let a server take unbounded memory or time.",
        "%s:%u sent a %s (in state %s); herald stopped reading", c->host,
        c->port, detail, smtp_state_name[c->state]);
    smtp_trace_note(c, "%s", res ? res->message : detail);
    c->state = S_BROKEN;
    return ERR_PROTO;
}

/*
 * Reads one complete reply into *r, tracing an excerpt of it. The reply
 * must be complete within reply_timeout_ms of the start (right after its
 * command was written, or after the previous reply of a pipelined group)
 * and within c->deadline, however fast or slowly the bytes come; its lines
 * and size are bounded by smtp_reply_feed. Errors: as smtp_io_fail, and
 * ERR_PROTO (class protocol) for a malformed reply or a passed limit.
 */
static int
smtp_reply_read(struct smtp_client *c, struct smtp_reply *r,
    struct smtp_result *res)
{
    long long     deadline = smtp_now_ms() + c->reply_timeout_ms;
    struct errbuf eb = { 0 };
    size_t        lines = 0, cut = 0, octets = 0;
    int           rc;

    if (c->deadline != 0 && c->deadline < deadline)
        deadline = c->deadline;
    memset(r, 0, sizeof(*r));
    for (;;) {
        char  *nl = memchr(c->rbuf, '\n', c->rlen);
        size_t len, used;

        if (nl == NULL && c->rlen <= SMTP_LINE_MAX + 1) {
            /* checked here too: a server that keeps sending never makes
             * smtp_io_fill wait */
            rc = smtp_now_ms() >= deadline ? ERR_TIMEOUT
                                           : smtp_io_fill(c, deadline);
            if (rc != 0)
                break;
            continue;
        }
        /* a line, or more than a line may hold without its end in sight:
         * smtp_reply_feed refuses that by its length */
        len = nl != NULL ? (size_t)(nl - c->rbuf) : c->rlen;
        used = nl != NULL ? len + 1 : c->rlen;
        if (nl != NULL && len > 0 && c->rbuf[len - 1] == '\r')
            len--;
        if (!smtp_trace_reply_line(c, r->nlines, c->rbuf, len))
            cut++;
        rc = smtp_reply_feed(r, c->rbuf, len, &eb);
        lines++;
        octets += used;
        c->rlen -= used;
        memmove(c->rbuf, c->rbuf + used, c->rlen);
        if (rc != 0)
            break;
    }
    if (cut > 0) {
        char n1[32], n2[32], n3[32];

        smtp_trace_note(c,
            "... %s more lines cut (%s lines, %s octets "
            "read of this reply)",
            smtp_count_str(n1, sizeof(n1), cut),
            smtp_count_str(n2, sizeof(n2), lines),
            smtp_count_str(n3, sizeof(n3), octets));
    }
    if (rc == ERR_TOOBIG)
        return smtp_limit_fail(c, eb.msg, res);
    if (rc == ERR_PROTO) {
        smtp_trace_note(c, "%s", eb.msg);
        smtp_io_fail(c, ERR_PROTO, res);
        if (res != NULL)
            snprintf(res->message, sizeof(res->message), "%s", eb.msg);
        return ERR_PROTO;
    }
    if (rc != 1)
        return smtp_io_fail(c, rc, res);
    c->last_code = r->code;
    if (r->code == 421)
        c->usable = 0;
    /* the first reply over TLS: a TLS 1.3 ticket has arrived */
    if (c->save_session)
        smtp_tls_save_session(c);
    return 0;
}

/* ---- connecting -------------------------------------------------------- */

static int
smtp_bind_source(struct smtp_client *c, int fd, int family,
    struct smtp_result *res)
{
    if (c->source_interface != NULL
        && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, c->source_interface,
               (socklen_t)strlen(c->source_interface))
            != 0) {
        smtp_result_set(res, ERR_CONNECT, "connect", 1, NULL,
            "Give an existing interface name, or remove source-interface "
            "(binding to a device needs CAP_NET_RAW).",
            "cannot bind to source-interface %s: %s", c->source_interface,
            strerror(errno));
        return ERR_CONNECT;
    }
    if (c->source_address != NULL) {
        struct addrinfo hints = { 0 }, *ai = NULL;
        int             g;

        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
        if ((g = getaddrinfo(c->source_address, NULL, &hints, &ai)) != 0)
            return 1; /* other family: try the next address */
        g = bind(fd, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (g != 0) {
            smtp_result_set(res, ERR_CONNECT, "connect", 1, NULL,
                "Use an address configured on this host, or remove "
                "source-address.",
                "cannot bind to source-address %s: %s", c->source_address,
                strerror(errno));
            return ERR_CONNECT;
        }
    }
    return 0;
}

static int
smtp_connect_tcp(struct smtp_client *c, struct smtp_result *res)
{
    struct addrinfo hints = { 0 }, *ai = NULL, *a;
    char            port[8], addr[INET6_ADDRSTRLEN];
    int             g, timeouts = 0, tries = 0, last_errno = 0, rc;

    smtp_cmd(c, S_CONNECT, SEC_PUBLIC, NULL);
    snprintf(port, sizeof(port), "%u", c->port);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    if ((g = getaddrinfo(c->host, port, &hints, &ai)) != 0) {
        smtp_result_set(res, ERR_DNS, "dns", 0, NULL,
            "Check the server name for typos and that this host's DNS "
            "resolver works.",
            "cannot resolve %s: %s", c->host, gai_strerror(g));
        smtp_trace_note(c, "%s", res->message);
        return ERR_DNS;
    }
    for (a = ai; a != NULL; a = a->ai_next) {
        int       fd, soerr = 0;
        socklen_t sl = sizeof(soerr);

        getnameinfo(a->ai_addr, a->ai_addrlen, addr, sizeof(addr), NULL, 0,
            NI_NUMERICHOST);
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
            a->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if ((rc = smtp_bind_source(c, fd, a->ai_family, res)) != 0) {
            close(fd);
            if (rc < 0) {
                freeaddrinfo(ai);
                smtp_trace_note(c, "%s", res->message);
                return rc;
            }
            continue;
        }
        tries++;
        smtp_trace_note(c, "connecting to %s port %s", addr, port);
        c->fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last_errno = errno;
                smtp_trace_note(c, "connect to %s: %s", addr, strerror(errno));
                close(fd);
                c->fd = -1;
                continue;
            }
            rc = smtp_wait_fd(c, 1, smtp_now_ms() + c->connect_timeout_ms);
            if (rc == 0
                && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0
                && soerr == 0)
                goto connected;
            if (rc == ERR_TIMEOUT) {
                timeouts++;
                smtp_trace_note(c, "connect to %s: no answer within %u ms",
                    addr, c->connect_timeout_ms);
            } else {
                last_errno = soerr ? soerr : errno;
                smtp_trace_note(c, "connect to %s: %s", addr,
                    strerror(last_errno));
            }
            close(fd);
            c->fd = -1;
            continue;
        }
connected:
        freeaddrinfo(ai);
        c->usable = 1;
        return 0;
    }
    freeaddrinfo(ai);
    if (tries > 0 && timeouts == tries) {
        smtp_result_set(res, ERR_TIMEOUT, "timeout", 0, NULL,
            "Check that a firewall lets this host reach the server's port; "
            "herald retries later.",
            "connecting to %s port %u timed out after %u ms", c->host, c->port,
            c->connect_timeout_ms);
        return ERR_TIMEOUT;
    }
    if (tries == 0 && c->source_address != NULL) {
        smtp_result_set(res, ERR_CONNECT, "connect", 1, NULL,
            "Use a source-address of the same family (IPv4/IPv6) as the "
            "server's addresses.",
            "no address of %s matches the family of "
            "source-address %s",
            c->host, c->source_address);
        return ERR_CONNECT;
    }
    smtp_result_set(res, ERR_CONNECT, "connect", 0, NULL,
        "Check the host and port (587 for STARTTLS, 465 for implicit TLS, "
        "25 for relay) and that the server is running; herald retries later.",
        "cannot connect to %s port %u: %s", c->host, c->port,
        strerror(last_errno ? last_errno : ECONNREFUSED));
    return ERR_CONNECT;
}

/* ---- the session ------------------------------------------------------- */

static int
smtp_ehlo(struct smtp_client *c, struct smtp_result *res)
{
    struct smtp_reply r;
    int               rc;

    if ((rc = smtp_cmd(c, S_EHLO, SEC_PUBLIC, "EHLO %s", c->helo_name)) != 0)
        return smtp_io_fail(c, rc, res);
    if ((rc = smtp_reply_read(c, &r, res)) != 0)
        return rc;
    if (r.code == 250) {
        c->esmtp = 1;
        smtp_caps_parse(&r, &c->caps);
        smtp_set_trace_caps(c, &r);
        return 0;
    }
    if (r.code == 421) {
        smtp_result_set(res, ERR_REJECTED, "protocol", 0, &r,
            "The server is closing the session; herald retries later.",
            "%s:%u refused EHLO and is closing the session", c->host, c->port);
        return ERR_REJECTED;
    }
    /* an old server: fall back to HELO (no extensions) */
    memset(&c->caps, 0, sizeof(c->caps));
    c->esmtp = 0;
    if ((rc = smtp_cmd(c, S_HELO, SEC_PUBLIC, "HELO %s", c->helo_name)) != 0)
        return smtp_io_fail(c, rc, res);
    if ((rc = smtp_reply_read(c, &r, res)) != 0)
        return rc;
    if (r.code != 250) {
        smtp_result_set(res, ERR_REJECTED, "protocol", r.code / 100 == 5, &r,
            "Set a helo name the server accepts, or ask its administrator "
            "why it refuses this client.",
            "%s:%u refused both EHLO and HELO %s", c->host, c->port,
            c->helo_name);
        return ERR_REJECTED;
    }
    if (c->trace != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(c->trace, "capabilities");
        cJSON_AddArrayToObject(c->trace, "capabilities");
    }
    return 0;
}

static int
smtp_greeting(struct smtp_client *c, struct smtp_result *res)
{
    struct smtp_reply r;
    int               rc;

    smtp_cmd(c, S_GREETING, SEC_PUBLIC, NULL);
    if ((rc = smtp_reply_read(c, &r, res)) != 0)
        return rc;
    if (r.code != 220) {
        c->usable = 0;
        smtp_result_set(res, ERR_REJECTED, "connect", r.code / 100 == 5, &r,
            r.code / 100 == 4 ? "The server is busy or in maintenance; "
                                "herald retries later."
                              : "The server refuses this client; ask "
                                "its administrator, or use another server.",
            "%s:%u refused the session: %d %s", c->host, c->port, r.code,
            r.text);
        return ERR_REJECTED;
    }
    return 0;
}

static int
smtp_starttls(struct smtp_client *c, struct smtp_result *res)
{
    struct smtp_reply r;
    int               rc;

    if (!(c->caps.flags & SMTP_CAP_STARTTLS)) {
        smtp_result_set(res, ERR_TLS, "starttls_unavailable", 1, NULL,
            "Check the port (587 usually offers STARTTLS; use secure "
            "implicit for 465). If the server should offer it, something on "
            "the path may be stripping STARTTLS: herald never falls back to "
            "plain text.",
            "%s:%u does not offer STARTTLS%s; secure tls requires it", c->host,
            c->port, c->esmtp ? "" : " (it does not speak ESMTP)");
        smtp_trace_note(c, "%s", res->message);
        return ERR_TLS;
    }
    if ((rc = smtp_cmd(c, S_STARTTLS, SEC_PUBLIC, "STARTTLS")) != 0)
        return smtp_io_fail(c, rc, res);
    if ((rc = smtp_reply_read(c, &r, res)) != 0)
        return rc;
    if (r.code != 220) {
        smtp_result_set(res, ERR_TLS, "starttls_unavailable", r.code / 100 == 5,
            &r,
            "The server offered STARTTLS but refused it; ask its "
            "administrator. herald never falls back to plain text.",
            "%s:%u refused STARTTLS: %d %s", c->host, c->port, r.code, r.text);
        return ERR_TLS;
    }
    if (c->rlen > 0) {
        /* bytes sent before the handshake would be read as if protected */
        smtp_trace_note(c,
            "discarded %zu bytes received before the TLS "
            "handshake (STARTTLS injection)",
            c->rlen);
        sec_wipe(c->rbuf, c->rlen);
        c->rlen = 0;
    }
    smtp_cmd(c, S_TLS, SEC_PUBLIC, NULL);
    if ((rc = smtp_tls_start(c, res)) != 0) {
        c->usable = 0;
        return rc;
    }
    return 0;
}

static int
smtp_auth_fail(struct smtp_client *c, const struct smtp_reply *r,
    struct smtp_result *res)
{
    int perm = r->code / 100 != 4;

    smtp_result_set(res, ERR_AUTH, "auth_failed", perm, r,
        r->code == 534
            ? "The server wants a stronger login: for Gmail or "
              "Microsoft 365, create an app password, or enable SMTP AUTH for "
              "the "
              "account."
            : "Check the user name and password (many providers need "
              "an app password for SMTP).",
        "%s:%u refused the login for user %s: %d %s", c->host, c->port, c->user,
        r->code, r->text);
    return ERR_AUTH;
}

/* A 334 where the mechanism has no more to say (what: "an unexpected AUTH
 * challenge"): cancels the exchange ("*", RFC 4954), reads its reply and
 * fails with class protocol. */
static int
smtp_auth_cancel(struct smtp_client *c, struct smtp_reply *r, const char *what,
    struct smtp_result *res)
{
    smtp_cmd(c, S_AUTH, SEC_PUBLIC, "*");
    smtp_reply_read(c, r, NULL);
    smtp_result_set(res, ERR_PROTO, "protocol", 1, r, "", "%s:%u sent %s",
        c->host, c->port, what);
    return ERR_PROTO;
}

/* ---- AUTH with an OAuth 2.0 bearer token (XOAUTH2, RFC 7628) ------------ */

/* Decodes base64 text (n bytes) into out (size sz, NUL-terminated, cut).
 * Returns the decoded length, or -1 for invalid base64. */
static long
smtp_b64_decode(const char *in, size_t n, char *out, size_t sz)
{
    unsigned v = 0;
    size_t   o = 0;
    int      bits = 0;

    if (sz == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *q;

        if (in[i] == '=')
            break;
        if (in[i] == ' ' || in[i] == '\t')
            continue;
        if ((q = strchr(b64tab, in[i])) == NULL || in[i] == '\0')
            return -1;
        v = (v << 6) | (unsigned)(q - b64tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 < sz)
                out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* Copies the JSON string member key of the decoded challenge into out,
 * printable ASCII only (the status and scope of RFC 7628 3.2.2, Google's
 * XOAUTH2 error), or "" when absent. Never a secret: the server's answer
 * about the token, not the token. */
static void
smtp_oauth_member(const cJSON *j, const char *key, char *out, size_t sz)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    size_t       o = 0;

    out[0] = '\0';
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return;
    for (const char *p = v->valuestring; *p != '\0' && o + 1 < sz; p++)
        out[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    out[o] = '\0';
}

/* The server's error challenge (334 base64(JSON)) as a phrase for the
 * result: "status invalid_token, scope https://mail.google.com/". */
static void
smtp_oauth_challenge(const struct smtp_reply *r, char *out, size_t sz)
{
    char   dec[768], status[64], scope[200];
    cJSON *j;
    long   n = smtp_b64_decode(r->text, strlen(r->text), dec, sizeof(dec));

    out[0] = '\0';
    if (n <= 0 || (j = cJSON_ParseWithLength(dec, (size_t)n)) == NULL) {
        snprintf(out, sz, "an error challenge that is not base64 JSON");
        return;
    }
    smtp_oauth_member(j, "status", status, sizeof(status));
    smtp_oauth_member(j, "scope", scope, sizeof(scope));
    cJSON_Delete(j);
    snprintf(out, sz, "status %s%s%s", status[0] ? status : "(none)",
        scope[0] ? ", scope " : "", scope);
}

/* OAUTHBEARER's gs2 authzid: ',' and '=' escaped as =2C and =3D (RFC
 * 5801). Returns the length written (without the NUL) or 0 if it does not
 * fit. */
static size_t
smtp_gs2_name(const char *user, char *out, size_t sz)
{
    size_t o = 0;

    for (; *user != '\0'; user++) {
        const char *esc = *user == ',' ? "=2C" : *user == '=' ? "=3D" : NULL;
        size_t      k = esc ? 3 : 1;

        if (o + k + 1 > sz)
            return 0;
        if (esc)
            memcpy(out + o, esc, 3);
        else
            out[o] = *user;
        o += k;
    }
    out[o] = '\0';
    return o;
}

/* The initial client response of XOAUTH2 or OAUTHBEARER, base64-encoded,
 * as a new string (smtp_secret_free()), or NULL on ENOMEM. */
static char *
smtp_oauth_response(const struct smtp_client *c, int mech)
{
    char   name[600], *raw, *tok;
    size_t tl = sec_len(c->oauth_token), cap, n;

    if (smtp_gs2_name(c->user, name, sizeof(name)) == 0)
        return NULL;
    cap = strlen(name) + strlen(c->host) + tl + 96;
    if ((raw = malloc(cap)) == NULL)
        return NULL;
    if (mech == SMTP_OAUTH_XOAUTH2)
        n = (size_t)snprintf(raw, cap, "user=%s\001auth=Bearer %s\001\001",
            c->user, sec_data(c->oauth_token));
    else
        n = (size_t)snprintf(raw, cap,
            "n,a=%s,\001host=%s\001port=%u\001auth=Bearer %s\001\001", name,
            c->host, c->port, sec_data(c->oauth_token));
    tok = n < cap ? smtp_b64_new((unsigned char *)raw, n) : NULL;
    sec_wipe(raw, cap);
    free(raw);
    return tok;
}

/* The mechanism to use: the wanted one if the server offers it (NONE:
 * XOAUTH2, else OAUTHBEARER), or SMTP_OAUTH_NONE. */
static int
smtp_oauth_pick(const struct smtp_client *c)
{
    unsigned f = c->caps.flags;

    switch (c->oauth_mech) {
    case SMTP_OAUTH_XOAUTH2:
        return f & SMTP_CAP_AUTH_XOAUTH2 ? SMTP_OAUTH_XOAUTH2 : SMTP_OAUTH_NONE;
    case SMTP_OAUTH_OAUTHBEARER:
        return f & SMTP_CAP_AUTH_OAUTHBEARER ? SMTP_OAUTH_OAUTHBEARER
                                             : SMTP_OAUTH_NONE;
    default:
        return f & SMTP_CAP_AUTH_XOAUTH2    ? SMTP_OAUTH_XOAUTH2
            : f & SMTP_CAP_AUTH_OAUTHBEARER ? SMTP_OAUTH_OAUTHBEARER
                                            : SMTP_OAUTH_NONE;
    }
}

/*
 * AUTH XOAUTH2 or AUTH OAUTHBEARER with the bearer token, only over TLS
 * (allow_plain_auth does not loosen that: a token is a password that also
 * works elsewhere). A refusal says token_refused, so that the caller can
 * discard the token and retry once with a fresh one. On failure the server
 * sends 334 and a base64 JSON status (RFC 7628 3.2.2; Google's XOAUTH2
 * too): herald records its status and scope, ends the exchange (an empty
 * line for XOAUTH2, a lone ^A for OAUTHBEARER) and reads the final 535.
 * Errors: ERR_AUTH (auth_unavailable, auth_failed), ERR_PROTO, transport
 * errors as smtp_io_fail, ERR_NOMEM.
 */
static int
smtp_auth_oauth(struct smtp_client *c, struct smtp_result *res)
{
    struct smtp_reply r;
    const char       *mname;
    char             *tok, challenge[320] = "";
    int               mech, rc, perm;

    if (c->ssl == NULL) {
        smtp_result_set(res, ERR_AUTH, "auth_unavailable", 1, NULL,
            "Use secure tls (STARTTLS, port 587) or secure implicit (465); "
            "herald sends an OAuth token only over TLS, whatever "
            "allow_plain_auth says.",
            "herald will not send the OAuth token for %s over an "
            "unencrypted connection to %s:%u",
            c->user, c->host, c->port);
        smtp_trace_note(c, "%s", res->message);
        return ERR_AUTH;
    }
    if ((mech = smtp_oauth_pick(c)) == SMTP_OAUTH_NONE) {
        smtp_result_set(res, ERR_AUTH, "auth_unavailable", 1, NULL,
            "Choose a mechanism the server offers (xoauth2 or oauthbearer) "
            "in the credential, or check that this is the provider's "
            "submission server (Microsoft 365: smtp.office365.com:587, "
            "Google: smtp.gmail.com:587).",
            "%s:%u does not offer AUTH %s; it offers %s", c->host, c->port,
            c->oauth_mech == SMTP_OAUTH_OAUTHBEARER ? "OAUTHBEARER"
                : c->oauth_mech == SMTP_OAUTH_XOAUTH2
                ? "XOAUTH2"
                : "XOAUTH2 or OAUTHBEARER",
            c->caps.auth_mechs[0] ? c->caps.auth_mechs : "no AUTH mechanism");
        smtp_trace_note(c, "%s", res->message);
        return ERR_AUTH;
    }
    mname = mech == SMTP_OAUTH_XOAUTH2 ? "XOAUTH2" : "OAUTHBEARER";
    if ((tok = smtp_oauth_response(c, mech)) == NULL)
        return ERR_NOMEM;
    rc = smtp_cmd(c, S_AUTH, SEC_VERB, "AUTH %s %s", mname, tok);
    smtp_secret_free(tok);
    if (rc != 0)
        return smtp_io_fail(c, rc, res);
    if ((rc = smtp_reply_read(c, &r, res)) != 0)
        return rc;
    if (r.code == 334) {
        /* the error challenge: note it, then end the exchange so that the
         * server sends its final reply (a secret line by rule: after 334) */
        smtp_oauth_challenge(&r, challenge, sizeof(challenge));
        smtp_trace_note(c, "AUTH %s error challenge: %s", mname, challenge);
        rc = mech == SMTP_OAUTH_XOAUTH2
            ? smtp_cmd(c, S_AUTH_PASS, SEC_SECRET, "%s", "")
            : smtp_cmd(c, S_AUTH_PASS, SEC_SECRET, "%s", "AQ==");
        if (rc != 0)
            return smtp_io_fail(c, rc, res);
        if ((rc = smtp_reply_read(c, &r, res)) != 0)
            return rc;
        if (r.code == 334) {
            char what[64];

            snprintf(what, sizeof(what), "a second AUTH %s challenge", mname);
            return smtp_auth_cancel(c, &r, what, res);
        }
    }
    if (r.code == 235) {
        smtp_trace_note(c, "authenticated as %s (%s)", c->user, mname);
        return 0;
    }
    perm = r.code / 100 != 4;
    smtp_result_set(res, ERR_AUTH, "auth_failed", perm, &r,
        "The mail server refused the OAuth token: check that the app has "
        "the mail scope (Microsoft 365: https://outlook.office365.com/"
        ".default with the SMTP.SendAsApp permission; Google: "
        "https://mail.google.com/), that SMTP AUTH is enabled for the "
        "mailbox and that the app's service principal has permission on "
        "the mailbox (Exchange Online: Add-MailboxPermission), and that "
        "the user name is that mailbox.",
        "%s:%u refused the OAuth token (AUTH %s) for %s: %d %s%s%s%s%s%s",
        c->host, c->port, mname, c->user, r.code, r.enhanced,
        r.enhanced[0] ? " " : "", r.text, challenge[0] ? " (" : "", challenge,
        challenge[0] ? ")" : "");
    /* 5xx (535) or an error challenge: this token will not do; 4xx is the
     * server's trouble and says nothing about the token */
    res->token_refused = perm || challenge[0] != '\0';
    return ERR_AUTH;
}

static int
smtp_auth(struct smtp_client *c, struct smtp_result *res)
{
    struct smtp_reply r;
    char             *tok = NULL, *raw = NULL;
    size_t            ul, pl;
    int               rc;

    if (c->oauth_token != NULL)
        return smtp_auth_oauth(c, res);
    if (c->ssl == NULL && !c->allow_plain_auth) {
        smtp_result_set(res, ERR_AUTH, "auth_unavailable", 1, NULL,
            "Use secure tls (STARTTLS, port 587) or secure implicit (465); "
            "or set allow_plain_auth only if the network path is trusted.",
            "herald will not send the password for %s over an unencrypted "
            "connection to %s:%u",
            c->user, c->host, c->port);
        smtp_trace_note(c, "%s", res->message);
        return ERR_AUTH;
    }
    if (!(c->caps.flags & (SMTP_CAP_AUTH_PLAIN | SMTP_CAP_AUTH_LOGIN))) {
        smtp_result_set(res, ERR_AUTH, "auth_unavailable", 1, NULL,
            "Many servers offer AUTH only after STARTTLS: use secure tls. "
            "Or remove the user name to send without logging in.",
            "%s:%u offers no AUTH mechanism herald speaks (PLAIN, LOGIN)%s%s",
            c->host, c->port, c->caps.auth_mechs[0] ? "; it offers " : "",
            c->caps.auth_mechs);
        smtp_trace_note(c, "%s", res->message);
        return ERR_AUTH;
    }
    ul = strlen(c->user);
    pl = sec_len(c->pass);
    if (c->caps.flags & SMTP_CAP_AUTH_PLAIN) {
        if ((raw = malloc(ul + pl + 3)) == NULL)
            return ERR_NOMEM;
        raw[0] = '\0';
        memcpy(raw + 1, c->user, ul);
        raw[1 + ul] = '\0';
        memcpy(raw + 2 + ul, sec_data(c->pass), pl);
        tok = smtp_b64_new((unsigned char *)raw, ul + pl + 2);
        sec_wipe(raw, ul + pl + 3);
        free(raw);
        if (tok == NULL)
            return ERR_NOMEM;
        rc = smtp_cmd(c, S_AUTH, SEC_VERB, "AUTH PLAIN %s", tok);
        if (rc == 0 && (rc = smtp_reply_read(c, &r, res)) == 0 && r.code == 334)
            /* a server that wants the response on its own line */
            if ((rc = smtp_cmd(c, S_AUTH_PASS, SEC_SECRET, "%s", tok)) == 0)
                rc = smtp_reply_read(c, &r, res);
        smtp_secret_free(tok);
        if (rc == ERR_IO || rc == ERR_TIMEOUT)
            return smtp_io_fail(c, rc, res);
        if (rc != 0)
            return rc;
    } else {
        if ((rc = smtp_cmd(c, S_AUTH, SEC_PUBLIC, "AUTH LOGIN")) != 0)
            return smtp_io_fail(c, rc, res);
        if ((rc = smtp_reply_read(c, &r, res)) != 0)
            return rc;
        if (r.code == 334) {
            if ((tok = smtp_b64_new((const unsigned char *)c->user, ul))
                == NULL)
                return ERR_NOMEM;
            rc = smtp_cmd(c, S_AUTH_USER, SEC_SECRET, "%s", tok);
            smtp_secret_free(tok);
            if (rc != 0)
                return smtp_io_fail(c, rc, res);
            if ((rc = smtp_reply_read(c, &r, res)) != 0)
                return rc;
        }
        if (r.code == 334) {
            tok = smtp_b64_new((const unsigned char *)sec_data(c->pass), pl);
            if (tok == NULL)
                return ERR_NOMEM;
            rc = smtp_cmd(c, S_AUTH_PASS, SEC_SECRET, "%s", tok);
            smtp_secret_free(tok);
            if (rc != 0)
                return smtp_io_fail(c, rc, res);
            if ((rc = smtp_reply_read(c, &r, res)) != 0)
                return rc;
        }
    }
    if (r.code == 334) /* more challenges than the mechanism has */
        return smtp_auth_cancel(c, &r, "an unexpected AUTH challenge", res);
    if (r.code != 235)
        return smtp_auth_fail(c, &r, res);
    smtp_trace_note(c, "authenticated as %s", c->user);
    return 0;
}

static void
smtp_quit(struct smtp_client *c)
{
    struct smtp_reply r;

    if (c->fd < 0 || !c->usable)
        return;
    c->reply_timeout_ms =
        c->reply_timeout_ms > 5000 ? 5000 : c->reply_timeout_ms;
    c->deadline = 0;
    if (smtp_cmd(c, S_QUIT, SEC_PUBLIC, "QUIT") == 0)
        smtp_reply_read(c, &r, NULL);
    c->usable = 0;
}

static char *
smtp_strdup0(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
smtp_client_free(struct smtp_client *c)
{
    if (c == NULL)
        return;
    smtp_tls_free(c);
    if (c->fd >= 0)
        close(c->fd);
    free(c->host);
    free(c->user);
    sec_free(c->pass);
    sec_free(c->oauth_token);
    free(c->tls_name);
    free(c->source_address);
    free(c->source_interface);
    free(c->helo_name);
    buf_free(&c->tline);
    sec_wipe(c->rbuf, sizeof(c->rbuf));
    free(c);
}

/* New client from params, not yet connected. */
static int
smtp_client_new(const struct smtp_params *p, struct cJSON *trace,
    struct smtp_client **out, struct smtp_result *res)
{
    struct smtp_client *c;

    *out = NULL;
    if (p->host == NULL || *p->host == '\0' || strpbrk(p->host, "\r\n ")) {
        smtp_result_set(res, ERR_INVAL, "protocol", 1, NULL,
            "Give the server's host name or address.",
            "missing or invalid SMTP host");
        return ERR_INVAL;
    }
    if ((p->user && strpbrk(p->user, "\r\n"))
        || (p->helo_name && strpbrk(p->helo_name, "\r\n "))) {
        smtp_result_set(res, ERR_INVAL, "protocol", 1, NULL,
            "Remove the line break.", "CR, LF or space in %s",
            p->helo_name && strpbrk(p->helo_name, "\r\n ") ? "helo name"
                                                           : "user name");
        return ERR_INVAL;
    }
    if (p->oauth_token != NULL) {
        const char *t = sec_data(p->oauth_token);
        size_t      n = sec_len(p->oauth_token);
        int         bad = n == 0;

        for (size_t i = 0; i < n && !bad; i++)
            bad = (unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f;
        if (p->user == NULL || *p->user == '\0' || strchr(p->user, '\001')
            || bad) {
            smtp_result_set(res, ERR_INVAL, "auth_unavailable", 1, NULL,
                bad ? "Fetch a new token: a bearer token is printable "
                      "ASCII without spaces."
                    : "Give the mailbox as the user (user@host in the "
                      "server string).",
                bad ? "the OAuth token is empty or holds a space or "
                      "control character"
                    : "AUTH with an OAuth token needs the mailbox user name");
            return ERR_INVAL;
        }
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return ERR_NOMEM;
    c->fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    if (getrandom(&c->session, sizeof(c->session), 0) < 0)
        c->session = (uint64_t)c->t0.tv_nsec;
    c->host = strdup(p->host);
    c->port = p->port ? p->port : 25;
    c->secure = p->secure;
    c->user = p->user && *p->user ? strdup(p->user) : NULL;
    c->pass = p->user && *p->user
        ? (p->pass ? sec_dup(p->pass) : sec_new("", 0))
        : NULL;
    c->oauth_token = p->oauth_token && c->user ? sec_dup(p->oauth_token) : NULL;
    c->oauth_mech = p->oauth_mech;
    c->allow_plain_auth = p->allow_plain_auth;
    c->tls_name = smtp_strdup0(p->tls_name);
    c->verify = p->verify;
    c->insecure = p->verify == PKI_VERIFY_NONE && p->secure != SMTP_SECURE_NONE;
    c->source_address = smtp_strdup0(p->source_address);
    c->source_interface = smtp_strdup0(p->source_interface);
    c->helo_name = strdup(
        p->helo_name && *p->helo_name ? p->helo_name : "herald.localdomain");
    c->connect_timeout_ms =
        p->connect_timeout_ms ? p->connect_timeout_ms : 10000;
    c->reply_timeout_ms = p->reply_timeout_ms ? p->reply_timeout_ms : 30000;
    c->transaction_timeout_ms = p->transaction_timeout_ms
        ? p->transaction_timeout_ms
        : SMTP_TRANSACTION_MS;
    c->trust = p->trust;
    c->trace = trace;
    if (c->host == NULL || c->helo_name == NULL
        || (c->user != NULL && c->pass == NULL)
        || (p->oauth_token != NULL && c->user != NULL
            && c->oauth_token == NULL)) {
        smtp_client_free(c);
        return ERR_NOMEM;
    }
    *out = c;
    return 0;
}

/* Forgets a dead connection so that smtp_session_start can begin anew. */
static void
smtp_session_reset(struct smtp_client *c)
{
    smtp_tls_free(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    sec_wipe(c->rbuf, c->rlen);
    c->rlen = 0;
    memset(&c->caps, 0, sizeof(c->caps));
    c->esmtp = 0;
    c->usable = 0;
    c->save_session = 0;
    c->tls_resume_failed = 0;
}

/* Connect, greeting, EHLO, TLS as asked, EHLO again. */
static int
smtp_session_start(struct smtp_client *c, struct smtp_result *res)
{
    int rc;

    if (c->insecure)
        smtp_trace_note(c,
            "certificate verification is OFF "
            "(insecure_skip_verify): the server is not authenticated");
    if ((rc = smtp_connect_tcp(c, res)) != 0)
        return rc;
    if (c->secure == SMTP_SECURE_IMPLICIT) {
        smtp_cmd(c, S_TLS, SEC_PUBLIC, NULL);
        if ((rc = smtp_tls_start(c, res)) != 0) {
            c->usable = 0;
            return rc;
        }
    }
    if ((rc = smtp_greeting(c, res)) != 0 || (rc = smtp_ehlo(c, res)) != 0)
        return rc;
    if (c->secure == SMTP_SECURE_TLS) {
        if ((rc = smtp_starttls(c, res)) != 0 || (rc = smtp_ehlo(c, res)) != 0)
            return rc;
    }
    return 0;
}

int
smtp_open(const struct smtp_params *params, struct smtp_client **out,
    struct cJSON *trace, struct smtp_result *res)
{
    struct smtp_client *c = NULL;
    struct smtp_result  dummy;
    int                 rc;

    if (res == NULL)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    *out = NULL;
    if ((rc = smtp_client_new(params, trace, &c, res)) != 0) {
        if (rc == ERR_NOMEM)
            smtp_result_set(res, rc, "protocol", 0, NULL, "", "out of memory");
        return rc;
    }
    log_debug("smtp",
        "session=%016llx event=open host=%s port=%u secure=%s "
        "auth=%s%s",
        (unsigned long long)c->session, c->host, c->port,
        smtp_secure_name(c->secure),
        c->oauth_token ? "oauth"
            : c->user  ? "yes"
                       : "no",
        c->insecure ? " verify=OFF" : "");
    smtp_deadline_start(c, "session setup");
    rc = smtp_session_start(c, res);
    if (rc != 0 && c->tls_resume_failed) {
        /* the server declined the cached TLS session and the connection
         * is gone: the cache entry is dropped, so one fresh connection
         * does a full handshake. A failed resumption never fails a send. */
        smtp_trace_note(c,
            "resuming the cached TLS session failed; "
            "reconnecting with a full handshake");
        smtp_session_reset(c);
        memset(res, 0, sizeof(*res));
        rc = smtp_session_start(c, res);
    }
    if (rc == 0 && c->user != NULL)
        rc = smtp_auth(c, res);
    if (rc != 0) {
        smtp_quit(c);
        smtp_client_free(c);
        return rc;
    }
    smtp_cmd(c, S_READY, SEC_PUBLIC, NULL);
    *out = c;
    return 0;
}

int
smtp_usable(const struct smtp_client *c)
{
    return c != NULL && c->usable && c->fd >= 0 && c->state == S_READY;
}

static int
smtp_rset(struct smtp_client *c)
{
    struct smtp_reply r;

    if (!c->usable)
        return ERR_IO;
    if (smtp_cmd(c, S_RSET, SEC_PUBLIC, "RSET") != 0
        || smtp_reply_read(c, &r, NULL) != 0 || r.code != 250) {
        c->usable = 0;
        return ERR_PROTO;
    }
    smtp_cmd(c, S_READY, SEC_PUBLIC, NULL);
    return 0;
}

static int
smtp_has_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

/*
 * Pipelining (RFC 2920). When the server offers PIPELINING, the commands of
 * a transaction go out in groups, each in one write, and the replies are
 * then read in order (smtp_send says which commands form a group). A group
 * is cut after SMTP_PIPE_MAX bytes and its replies read before the rest is
 * written: the replies to 4 KiB of commands fit in the socket buffers, so
 * the server never blocks writing replies while the client still writes
 * commands (the deadlock of RFC 2920 section 3.1).
 */
#define SMTP_PIPE_MAX 4096

/* One transaction of smtp_send. Its commands are numbered in wire order:
 * [RSET] MAIL, one RCPT per recipient, DATA. */
struct smtp_tx {
    const char  *from;
    char *const *rcpts;
    size_t       nrcpts;
    int          rset; /* command 0 is RSET */
    size_t       ncmds;
    char         params[96]; /* MAIL FROM parameters */
    int          failed;     /* S_MAIL, S_RCPT or S_DATA: the state of
                                 the first refusal, which is in res */
    int          stop;       /* no further reply can be read */
    int          go;         /* DATA was answered 354: send the content */
    int          bdat;       /* the last command is "BDAT <size> LAST"
                                with the content, not DATA
                                (smtp_batch_chunked) */
    size_t       size;       /* with bdat: the content's size */
    int          may_join;   /* a 503 to MAIL means the server kept the
                                previous message's refused transaction
                                open (smtp_chunk_replies) */
    struct buf   refused;    /* refused recipients, ", " separated */
    int          any5;
    int          last_refused_code;
};

/* The state (command) of command k; *rcpt is its recipient for S_RCPT. */
static int
smtp_tx_state(const struct smtp_tx *tx, size_t k, size_t *rcpt)
{
    if (tx->rset) {
        if (k == 0)
            return S_RSET;
        k--;
    }
    if (k == 0)
        return S_MAIL;
    if (k <= tx->nrcpts) {
        if (rcpt != NULL)
            *rcpt = k - 1;
        return S_RCPT;
    }
    return tx->bdat ? S_BDAT : S_DATA;
}

/* Writes command k of tx (c->pipe: appends it to the group). */
static int
smtp_tx_cmd(struct smtp_client *c, const struct smtp_tx *tx, size_t k)
{
    size_t i = 0;

    switch (smtp_tx_state(tx, k, &i)) {
    case S_RSET:
        return smtp_cmd(c, S_RSET, SEC_PUBLIC, "RSET");
    case S_MAIL:
        return smtp_cmd(c, S_MAIL, SEC_PUBLIC, "MAIL FROM:<%s>%s", tx->from,
            tx->params);
    case S_RCPT:
        return smtp_cmd(c, S_RCPT, SEC_PUBLIC, "RCPT TO:<%s>", tx->rcpts[i]);
    case S_BDAT:
        return smtp_cmd(c, S_BDAT, SEC_PUBLIC, "BDAT %zu LAST", tx->size);
    default:
        return smtp_cmd(c, S_DATA, SEC_PUBLIC, "DATA");
    }
}

/*
 * Writes commands from first: without PIPELINING only that one; with it,
 * those up to end (exclusive) that fit in one group, in one write. *next is
 * the first command not written. pre, if not NULL (only with PIPELINING),
 * holds what the group begins with (the previous message's content,
 * smtp_send_batch): the commands are appended to it and all is written at
 * once. A failed write counts as a failed RSET when the group starts with
 * RSET, as before pipelining. Errors: as smtp_io_fail; res keeps an
 * earlier refusal.
 */
static int
smtp_tx_write(struct smtp_client *c, struct smtp_tx *tx, size_t first,
    size_t end, size_t *next, struct buf *pre, struct smtp_result *res)
{
    struct buf         group = BUF_INIT, *g = pre != NULL ? pre : &group;
    struct smtp_result later;
    size_t             k, base = g->len;
    int                rc = 0;

    if (c->caps.flags & SMTP_CAP_PIPELINING)
        c->pipe = g;
    else
        end = first + 1;
    for (k = first;
         rc == 0 && k < end && (k == first || g->len - base < SMTP_PIPE_MAX);
         k++)
        rc = smtp_tx_cmd(c, tx, k);
    c->pipe = NULL;
    if (rc == 0 && g->len > 0)
        rc = smtp_io_write(c, g->p, g->len);
    buf_free(&group);
    *next = k;
    if (rc == 0)
        return 0;
    tx->stop = 1;
    if (smtp_tx_state(tx, first, NULL) == S_RSET) {
        c->usable = 0; /* the session is no longer trusted */
        rc = ERR_CONNECT;
    }
    return smtp_io_fail(c, rc, tx->failed ? &later : res);
}

static void
smtp_tx_sender_refused(struct smtp_client *c, const struct smtp_tx *tx,
    const struct smtp_reply *r, struct smtp_result *res)
{
    char advice[512];

    if (c->user != NULL)
        snprintf(advice, sizeof(advice),
            "The From address must match "
            "the account you log in with (%s), or be an alias the "
            "server allows for it.",
            c->user);
    else
        snprintf(advice, sizeof(advice),
            "Use a From address the server "
            "accepts; many servers require logging in (user:password@"
            "host) and a From that matches the account.");
    smtp_result_set(res, ERR_REJECTED, "sender_rejected", r->code / 100 == 5, r,
        advice, "%s:%u refused the sender %s: %d %s", c->host, c->port,
        tx->from, r->code, r->text);
}

/*
 * Reads the reply to command k. The first refusal goes into res (and
 * tx->failed); the replies after it are still read, to keep the reply
 * stream in step, but change nothing (a pipelined RCPT after a refused
 * MAIL gets 503). Sets tx->stop when no further reply can come: 421, a
 * failed RSET, a transport error. Errors: as smtp_io_fail; res keeps an
 * earlier refusal.
 */
static int
smtp_tx_reply(struct smtp_client *c, struct smtp_tx *tx, size_t k,
    struct smtp_result *res)
{
    struct smtp_reply  r;
    struct smtp_result later;
    size_t             i = 0;
    int                st = smtp_tx_state(tx, k, &i), rc;

    smtp_cmd(c, st, SEC_PUBLIC, NULL);
    if (st == S_RSET) {
        if (smtp_reply_read(c, &r, NULL) != 0 || r.code != 250) {
            c->usable = 0; /* the session is no longer trusted */
            tx->stop = 1;
            return smtp_io_fail(c, ERR_CONNECT, res);
        }
        return 0;
    }
    if ((rc = smtp_reply_read(c, &r, tx->failed ? &later : res)) != 0) {
        tx->stop = 1;
        return rc;
    }
    if (r.code == 421)
        tx->stop = 1; /* the server closes the session */
    if (st == S_MAIL) {
        if (r.code == 503 && tx->may_join)
            smtp_trace_note(c,
                "MAIL answered 503: the server kept the previous message's "
                "refused transaction open (same sender); this message's "
                "recipient and content go into it, and its final reply "
                "says whether it was taken");
        else if (r.code / 100 != 2) {
            smtp_tx_sender_refused(c, tx, &r, res);
            tx->failed = S_MAIL;
        }
    } else if (st == S_RCPT) {
        if (tx->failed == S_MAIL || r.code / 100 == 2)
            return 0;
        if (tx->refused.len == 0)
            smtp_result_set(res, ERR_REJECTED, "recipient_rejected", 0, &r, "",
                "refused");
        buf_printf(&tx->refused, "%s%s", tx->refused.len ? ", " : "",
            tx->rcpts[i]);
        tx->last_refused_code = r.code;
        tx->any5 |= r.code / 100 == 5;
        tx->failed = S_RCPT;
    } else if (tx->failed) {
        if (r.code != 354)
            return 0;
        /* only a pipelined DATA after a refusal, hence with a single
         * recipient: none is valid, yet the server wants the content. End
         * it at once: an empty message that can go to no one. */
        smtp_trace_note(c,
            "DATA answered 354 after a refusal; ending the "
            "message without content");
        if ((rc = smtp_cmd(c, S_BODY, SEC_PUBLIC, ".")) != 0) {
            tx->stop = 1;
            return smtp_io_fail(c, rc, &later);
        }
        if ((rc = smtp_reply_read(c, &r, &later)) != 0) {
            tx->stop = 1;
            return rc;
        }
        if (r.code == 421)
            tx->stop = 1;
    } else if (r.code != 354) {
        smtp_result_set(res, ERR_REJECTED, "data_rejected", r.code / 100 == 5,
            &r,
            "The server refused to take the message "
            "body; see its reply.",
            "%s:%u refused DATA: %d %s", c->host, c->port, r.code, r.text);
        tx->failed = S_DATA;
    } else
        tx->go = 1;
    return 0;
}

/* Refuses a sender or recipient that is missing or holds CR, LF, <, > or a
 * blank, and an empty recipient list. Errors: ERR_INVAL. */
static int
smtp_send_check(const char *from, char *const *rcpts, size_t nrcpts,
    struct smtp_result *res)
{
    if (from == NULL || strpbrk(from, "\r\n<> ") || nrcpts == 0) {
        smtp_result_set(res, ERR_INVAL,
            nrcpts ? "sender_rejected" : "recipient_rejected", 1, NULL,
            "Fix the address.",
            nrcpts ? "invalid sender address" : "no recipient given");
        return ERR_INVAL;
    }
    for (size_t i = 0; i < nrcpts; i++)
        if (rcpts[i] == NULL || strpbrk(rcpts[i], "\r\n<> ")) {
            smtp_result_set(res, ERR_INVAL, "recipient_rejected", 1, NULL,
                "Fix the address.", "invalid recipient address \"%s\"",
                rcpts[i] ? rcpts[i] : "");
            return ERR_INVAL;
        }
    return 0;
}

/* Encodes msg for DATA (or as a BDAT chunk) into *data and checks it
 * against the server's SIZE. Errors: ERR_TOOBIG, ERR_NOMEM. */
static int
smtp_send_encode(struct smtp_client *c, const char *msg, size_t len, int chunk,
    struct buf *data, int *eightbit, struct smtp_result *res)
{
    size_t badline;
    int    rc;

    rc = chunk ? smtp_chunk_encode(msg, len, data, eightbit, &badline)
               : smtp_data_encode(msg, len, data, eightbit, &badline);
    if (rc != 0) {
        if (rc == ERR_TOOBIG)
            smtp_result_set(res, ERR_TOOBIG, "data_rejected", 1, NULL,
                "Build the message with smtp_message_build, which encodes "
                "long lines as quoted-printable.",
                "line %zu of the message is longer than the 998 bytes SMTP "
                "allows",
                badline);
        return rc;
    }
    if ((c->caps.flags & SMTP_CAP_SIZE) && c->caps.size_max > 0
        && data->len > c->caps.size_max) {
        smtp_result_set(res, ERR_TOOBIG, "data_rejected", 1, NULL,
            "Shorten the message body.",
            "the message is %zu bytes; %s:%u accepts at most %zu (SIZE)",
            data->len, c->host, c->port, c->caps.size_max);
        return ERR_TOOBIG;
    }
    return 0;
}

/* The MAIL FROM parameters the server's extensions allow: SIZE, BODY,
 * SMTPUTF8. */
static void
smtp_tx_params(const struct smtp_client *c, struct smtp_tx *tx, size_t size,
    int eightbit)
{
    int utf8 = smtp_has_8bit(tx->from), pn = 0;

    for (size_t i = 0; i < tx->nrcpts; i++)
        utf8 |= smtp_has_8bit(tx->rcpts[i]);
    if (c->caps.flags & SMTP_CAP_SIZE)
        pn += snprintf(tx->params + pn, sizeof(tx->params) - (size_t)pn,
            " SIZE=%zu", size);
    if (eightbit && (c->caps.flags & SMTP_CAP_8BITMIME))
        pn += snprintf(tx->params + pn, sizeof(tx->params) - (size_t)pn,
            " BODY=8BITMIME");
    if (utf8 && (c->caps.flags & SMTP_CAP_SMTPUTF8))
        snprintf(tx->params + pn, sizeof(tx->params) - (size_t)pn, " SMTPUTF8");
}

/* The end (exclusive) of the envelope's first group (see smtp_tx_run). */
static size_t
smtp_tx_group(const struct smtp_client *c, const struct smtp_tx *tx)
{
    return !(c->caps.flags & SMTP_CAP_PIPELINING) ? 1
        : tx->nrcpts == 1                         ? tx->ncmds
                                                  : tx->ncmds - 1;
}

/*
 * Sends the envelope ([RSET] MAIL RCPT... DATA) and reads its replies.
 * Without PIPELINING, one command per round trip. With it, the first
 * group is [RSET] MAIL RCPT..., and DATA joins it only when there is a
 * single recipient. herald's rule is that a message with a refused
 * recipient goes to no one. With several recipients, a server may
 * answer 354 to a pipelined DATA although one RCPT was refused, and
 * then the only way out is to send the content or a lone "." - which
 * delivers to the recipients it accepted. So DATA waits for the RCPT
 * replies. With a single recipient, a refused RCPT leaves no valid
 * recipient and the server must refuse DATA (RFC 2920 section 3.1); if
 * it answers 354 anyway, a lone "." ends an empty message that can go
 * to no one (smtp_tx_reply), and the refusal is reported.
 * sent is the number of commands already written (smtp_send_batch wrote
 * the first group after the previous message's content).
 * Returns 0 (tx->failed says whether the server refused), or a transport
 * error as smtp_tx_write and smtp_tx_reply.
 */
static int
smtp_tx_run(struct smtp_client *c, struct smtp_tx *tx, size_t sent,
    struct smtp_result *res)
{
    size_t group = smtp_tx_group(c, tx), done = 0;
    int    rc = 0;

    while (done < tx->ncmds && !tx->stop) {
        if (done == sent) {
            /* nothing in flight: write the next command or group, unless
             * the sender was refused (nothing more to do) or DATA is next
             * after a refusal */
            if (tx->failed == S_MAIL
                || (tx->failed && smtp_tx_state(tx, sent, NULL) == S_DATA))
                break;
            if ((rc = smtp_tx_write(c, tx, sent,
                     sent < group ? group : tx->ncmds, &sent, NULL, res))
                != 0)
                break;
        }
        if ((rc = smtp_tx_reply(c, tx, done++, res)) != 0)
            break;
    }
    return rc;
}

/* res's message and advice for refused recipients (all of them named). */
static void
smtp_tx_refusal(const struct smtp_client *c, const struct smtp_tx *tx,
    struct smtp_result *res)
{
    int code = res->code;

    snprintf(res->recipient, sizeof(res->recipient), "%s",
        buf_str(&tx->refused));
    res->permanent = tx->any5;
    snprintf(res->message, sizeof(res->message),
        "%s:%u refused the recipient%s %s (%d); the message was not "
        "sent to anyone",
        c->host, c->port, strchr(buf_str(&tx->refused), ',') ? "s" : "",
        buf_str(&tx->refused), code ? code : tx->last_refused_code);
    snprintf(res->advice, sizeof(res->advice),
        "Check the spelling of "
        "%s; a relay may also refuse outside domains unless you log "
        "in.",
        buf_str(&tx->refused));
}

/* The trace's note of a message's content size (DATA and BDAT alike). */
static void
smtp_content_size_note(struct smtp_client *c, const struct buf *data,
    int eightbit)
{
    smtp_trace_note(c, "message content: %zu bytes%s", data->len,
        eightbit ? ", 8-bit" : "");
}

/* The content of a message goes out now (after its 354): the state and the
 * trace say so. */
static void
smtp_content_note(struct smtp_client *c, const struct buf *data, int eightbit)
{
    smtp_cmd(c, S_BODY, SEC_PUBLIC, NULL);
    smtp_content_size_note(c, data, eightbit);
}

/* Reads the final reply to a message's content (after DATA's ".", or to
 * BDAT LAST). Errors: as smtp_io_fail, ERR_REJECTED. */
static int
smtp_content_reply(struct smtp_client *c, struct smtp_result *res)
{
    const char       *after = c->state == S_BDAT ? "with BDAT" : "after DATA";
    struct smtp_reply r;
    int               rc;

    if ((rc = smtp_reply_read(c, &r, res)) != 0)
        return rc;
    if (r.code / 100 != 2) {
        smtp_result_set(res, ERR_REJECTED, "data_rejected", r.code / 100 == 5,
            &r,
            r.code / 100 == 5
                ? "The server refused "
                  "the message content (spam or policy filter, size); see its "
                  "reply."
                : "The server deferred the message; herald retries "
                  "later.",
            "%s:%u refused the message %s: %d %s", c->host, c->port, after,
            r.code, r.text);
        smtp_cmd(c, S_READY, SEC_PUBLIC, NULL);
        return ERR_REJECTED;
    }
    smtp_result_set(res, 0, "", 0, &r, "", "accepted by %s:%u: %d %s", c->host,
        c->port, r.code, r.text);
    smtp_cmd(c, S_READY, SEC_PUBLIC, NULL);
    return 0;
}

/* A message on its way (smtp_send, smtp_send_batch): its envelope, its
 * encoded content, its deadline and where its trace goes. */
struct smtp_out {
    struct smtp_tx tx;
    struct buf     data;
    int            eightbit;
    long long      deadline; /* of its transaction */
    struct cJSON  *trace;    /* its trace (the session's if none given) */
    size_t        *traced;   /* octets of server lines in that trace */
    size_t         own;      /* traced, for a trace of its own */
};

static void
smtp_out_clear(struct smtp_out *o)
{
    buf_free(&o->data);
    buf_free(&o->tx.refused);
}

/* Makes o the client's current message: its trace, its deadline. */
static void
smtp_out_enter(struct smtp_client *c, struct smtp_out *o)
{
    c->trace = o->trace;
    c->traced = *o->traced;
    c->deadline = o->deadline;
    c->deadline_what = "transaction";
}

static void
smtp_out_leave(struct smtp_client *c, struct smtp_out *o)
{
    *o->traced = c->traced;
}

/* Starts message o (its transaction's deadline runs from here), checks
 * its addresses and encodes its content (as a BDAT chunk if chunk, else
 * for DATA). trace NULL: o's trace is the session's, whose server lines
 * *session_traced counts. Errors: as smtp_send_check and
 * smtp_send_encode, nothing written. */
static int
smtp_out_prepare(struct smtp_client *c, struct smtp_out *o, int chunk,
    const char *from, char *const *rcpts, size_t nrcpts, const char *msg,
    size_t len, struct cJSON *trace, struct cJSON *session_trace,
    size_t *session_traced, struct smtp_result *res)
{
    int rc;

    memset(o, 0, sizeof(*o));
    o->data = (struct buf)BUF_INIT;
    o->tx.refused = (struct buf)BUF_INIT;
    o->deadline = smtp_now_ms() + c->transaction_timeout_ms;
    o->trace = trace != NULL ? trace : session_trace;
    o->traced = o->trace != session_trace ? &o->own : session_traced;
    smtp_out_enter(c, o);
    if ((rc = smtp_send_check(from, rcpts, nrcpts, res)) == 0
        && (rc = smtp_send_encode(c, msg, len, chunk, &o->data, &o->eightbit,
                res))
            == 0) {
        o->tx.from = from;
        o->tx.bdat = chunk;
        o->tx.size = o->data.len;
        o->tx.rcpts = rcpts;
        o->tx.nrcpts = nrcpts;
        smtp_tx_params(c, &o->tx, o->data.len, o->eightbit);
    }
    smtp_out_leave(c, o);
    return rc;
}

/* The transaction of o begins: RSET first only when the last one was left
 * half done (a 250 to the message's final dot, or the RSET after a
 * refusal, already reset it: RFC 5321 4.1.1.4); prev_content: the group
 * begins with the previous message's content, whose final reply ends its
 * transaction before this one's commands are read. */
static void
smtp_out_begin(struct smtp_client *c, struct smtp_out *o, int prev_content)
{
    o->tx.rset = prev_content ? 0 : c->tx_open;
    c->tx_open = 1;
    o->tx.ncmds = (size_t)o->tx.rset + 1 + o->tx.nrcpts + 1;
}

/* After o's envelope (rc from smtp_tx_run): a refusal is completed (all
 * refused recipients named) and the transaction reset at once, so the
 * next message starts clean. Returns 0 when the content is due (354),
 * else the message's error. */
static int
smtp_out_envelope_done(struct smtp_client *c, struct smtp_out *o, int rc,
    struct smtp_result *res)
{
    if (o->tx.failed == 0)
        return rc; /* 0, or a transport error, failed RSET: res says */
    if (o->tx.failed == S_RCPT)
        smtp_tx_refusal(c, &o->tx, res);
    if (c->usable && c->last_code != 421) {
        smtp_cmd(c, S_READY, SEC_PUBLIC, NULL);
        if (smtp_rset(c) == 0)
            c->tx_open = 0;
    } else
        c->usable = 0;
    return ERR_REJECTED;
}

/* A message's end: a session left between states is not used again. */
static void
smtp_out_end(struct smtp_client *c, int rc)
{
    if (c->state != S_READY && c->state != S_BROKEN && rc != 0
        && rc != ERR_INVAL && rc != ERR_TOOBIG)
        c->usable = 0;
}

int
smtp_send(struct smtp_client *c, const char *from, char *const *rcpts,
    size_t nrcpts, const char *msg, size_t len, struct cJSON *trace,
    struct smtp_result *res)
{
    struct smtp_result dummy;
    struct smtp_out    o;
    struct cJSON      *saved;
    size_t             saved_traced;
    int                rc;

    if (res == NULL)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    if (!smtp_usable(c)) {
        smtp_result_set(res, ERR_IO, "connect", 0, NULL, "Open a new session.",
            "the SMTP session is no longer usable");
        return ERR_IO;
    }
    saved = c->trace;
    saved_traced = c->traced;
    rc = smtp_out_prepare(c, &o, 0, from, rcpts, nrcpts, msg, len, trace, saved,
        &saved_traced, res);
    smtp_out_enter(c, &o);
    if (rc != 0)
        goto out;
    smtp_out_begin(c, &o, 0);
    rc = smtp_tx_run(c, &o.tx, 0, res);
    if ((rc = smtp_out_envelope_done(c, &o, rc, res)) != 0)
        goto out;
    smtp_content_note(c, &o.data, o.eightbit);
    if ((rc = smtp_io_write(c, o.data.p, o.data.len)) != 0)
        rc = smtp_io_fail(c, rc, res);
    else
        rc = smtp_content_reply(c, res);
    if (c->state == S_READY) /* the final reply came, whatever it said */
        c->tx_open = 0;
out:
    smtp_out_end(c, rc);
    smtp_out_leave(c, &o);
    smtp_out_clear(&o);
    c->trace = saved;
    c->traced = saved_traced;
    return rc;
}

/* Message o gets the failure that ended the session while its commands or
 * content were in flight (from, another message's result). */
static void
smtp_out_broken(struct smtp_client *c, struct smtp_out *o,
    const struct smtp_result *from, struct smtp_result *res)
{
    smtp_out_enter(c, o);
    *res = *from;
    smtp_trace_note(c, "%s", res->message);
    smtp_out_leave(c, o);
}

/*
 * smtp_send_batch with PIPELINING. Each round writes, in one write, the
 * content of message p (its 354 came) and the first group of the next
 * message q's envelope; then reads p's final reply and q's envelope
 * replies. A refused envelope is reset (RSET) at once, as in smtp_send,
 * and the next round has no content to carry. Returns the number of
 * messages dealt with.
 */
/* Message q's envelope went out but the session ended before its content
 * could: it was not sent, and goes over a new session as the messages
 * never written do (smtp_send_batch). Returns q, the count dealt with. */
static size_t
smtp_batch_untried(size_t q, struct smtp_result *res)
{
    memset(res, 0, sizeof(*res));
    return q;
}

static size_t
smtp_batch_pipelined(struct smtp_client *c, const struct smtp_batch_msg *m,
    size_t n, struct smtp_out *o, struct cJSON *session_trace,
    size_t *session_traced, struct smtp_result *res)
{
    struct buf group = BUF_INIT;
    size_t     i = 0, p = n, q, sent = 0;
    int        rc;

    for (;;) {
        /* the next message that may go on the wire */
        for (q = n; i < n && q == n; i++)
            if (smtp_out_prepare(c, &o[i], 0, m[i].from, m[i].rcpts,
                    m[i].nrcpts, m[i].msg, m[i].len, m[i].trace, session_trace,
                    session_traced, &res[i])
                == 0)
                q = i;
        if (p == n && q == n)
            break;
        buf_reset(&group);
        if (p < n) {
            smtp_out_enter(c, &o[p]);
            smtp_content_note(c, &o[p].data, o[p].eightbit);
            rc = buf_append(&group, o[p].data.p, o[p].data.len);
            smtp_out_leave(c, &o[p]);
            if (rc != 0) {
                smtp_result_set(&res[p], ERR_NOMEM, "protocol", 0, NULL, "",
                    "out of memory");
                c->usable = 0;
                break;
            }
        }
        if (q < n) {
            smtp_out_enter(c, &o[q]);
            smtp_out_begin(c, &o[q], p < n);
            if (p < n && o[p].deadline < c->deadline)
                c->deadline = o[p].deadline; /* the write is p's too */
            rc = smtp_tx_write(c, &o[q].tx, 0, smtp_tx_group(c, &o[q].tx),
                &sent, &group, &res[q]);
            smtp_out_leave(c, &o[q]);
            if (rc != 0) {
                if (p < n)
                    smtp_out_broken(c, &o[p], &res[q], &res[p]);
                i = smtp_batch_untried(q, &res[q]);
                break;
            }
        } else {
            smtp_out_enter(c, &o[p]);
            if ((rc = smtp_io_write(c, group.p, group.len)) != 0)
                smtp_io_fail(c, rc, &res[p]);
            smtp_out_leave(c, &o[p]);
            if (rc != 0)
                break;
        }
        if (p < n) {
            smtp_out_enter(c, &o[p]);
            rc = smtp_content_reply(c, &res[p]);
            if (q == n && c->state == S_READY)
                c->tx_open = 0;
            smtp_out_end(c, rc);
            smtp_out_leave(c, &o[p]);
            if (q < n && (c->state == S_BROKEN || !c->usable)) {
                /* the session ended (a 421 closes it without reading q's
                 * commands): q's envelope went out, its content did not */
                i = smtp_batch_untried(q, &res[q]);
                break;
            }
            p = n;
        }
        if (q == n || !c->usable)
            break;
        smtp_out_enter(c, &o[q]);
        rc = smtp_tx_run(c, &o[q].tx, sent, &res[q]);
        rc = smtp_out_envelope_done(c, &o[q], rc, &res[q]);
        if (rc == 0)
            p = q; /* 354: its content goes with the next envelope */
        else
            smtp_out_end(c, rc);
        smtp_out_leave(c, &o[q]);
        if (!c->usable)
            break;
    }
    buf_free(&group);
    return i;
}

/*
 * smtp_send_batch with CHUNKING and PIPELINING (RFC 3030, RFC 2920): whole
 * messages go out back to back in one write - [RSET] MAIL, RCPT,
 * "BDAT <size> LAST" and the content, message after message - and their
 * replies are read after it. DATA needs a round trip for its 354 before
 * the content; BDAT does not, so a window of messages costs each side
 * about one write and one read (Postfix answers a window with one flush)
 * instead of a round trip a message. A window holds up to SMTP_WINDOW_MAX
 * messages with one recipient each and the same sender, and stops
 * growing past SMTP_WINDOW_BYTES octets (its replies, about 100 octets a
 * message, always fit in the socket buffers: RFC 2920 section 3.1).
 *
 * One recipient: with several, a refused one must stop the content
 * (herald's rule, smtp_tx_run), so such a message waits for its RCPT
 * replies and goes with DATA (smtp_send). The same sender: a server that
 * keeps a transaction open after its chunk was refused for want of a
 * valid recipient answers the next MAIL 503 and takes the next
 * recipient into that transaction (Postfix resets it; RFC 3030 does not
 * say) - with the same sender that is the message meant, and its final
 * reply says whether it was taken. After a window with a refusal the next
 * one starts with RSET; otherwise no RSET is sent (a final reply ends a
 * transaction, RFC 5321 4.1.1.4).
 *
 * Returns the number of messages dealt with: a window whose write or
 * replies broke is dealt with whole (its messages' content went out, so
 * each gets the failure: delivery is at least once); the windows after it
 * were never written.
 */
#define SMTP_WINDOW_MAX   32
#define SMTP_WINDOW_BYTES 65536

/* Appends message o's commands and content to the window g. */
static int
smtp_chunk_append(struct smtp_client *c, struct smtp_out *o, struct buf *g)
{
    int    rc = 0;
    size_t k;

    c->pipe = g;
    for (k = 0; rc == 0 && k < o->tx.ncmds; k++)
        rc = smtp_tx_cmd(c, &o->tx, k);
    c->pipe = NULL;
    if (rc == 0) {
        smtp_content_size_note(c, &o->data, o->eightbit);
        rc = buf_append(g, o->data.p, o->data.len);
    }
    return rc;
}

/* Reads the replies to window message o: [RSET,] MAIL, RCPT, then BDAT's
 * final reply. The message's outcome goes into res; returns 0, or a
 * transport error (the session ended: res has it). */
static int
smtp_chunk_replies(struct smtp_client *c, struct smtp_out *o,
    struct smtp_result *res)
{
    struct smtp_tx    *tx = &o->tx;
    struct smtp_reply  r;
    struct smtp_result later;
    size_t             k;
    int                rc;

    for (k = 0; k + 1 < tx->ncmds; k++)
        if ((rc = smtp_tx_reply(c, tx, k, res)) != 0)
            return rc;
        else if (tx->stop) /* 421: the server reads nothing more */
            return ERR_CONNECT;
    smtp_cmd(c, S_BDAT, SEC_PUBLIC, NULL);
    if (!tx->failed) {
        rc = smtp_content_reply(c, res);
        return rc == ERR_REJECTED ? 0 : rc;
    }
    /* refused before the content: the chunk is refused too (503, 554 "no
     * valid recipients"), and the server discarded it (RFC 3030 section
     * 4.2); the first refusal is the message's result */
    if ((rc = smtp_reply_read(c, &r, &later)) != 0)
        return rc;
    if (tx->failed == S_RCPT)
        smtp_tx_refusal(c, tx, res);
    if (r.code / 100 == 2)
        smtp_trace_note(c,
            "the server took the content of a message it had refused "
            "(%d); with no valid recipient it goes to no one",
            r.code);
    smtp_cmd(c, S_READY, SEC_PUBLIC, NULL);
    return 0;
}

static size_t
smtp_batch_chunked(struct smtp_client *c, const struct smtp_batch_msg *m,
    size_t n, struct smtp_out *o, struct cJSON *session_trace,
    size_t *session_traced, struct smtp_result *res)
{
    struct buf g = BUF_INIT;
    size_t     i = 0;

    while (i < n && smtp_usable(c)) {
        const struct smtp_result *why = NULL; /* what the rest gets */
        struct smtp_result        gone;
        size_t                    first = i, end, k, lead = n;
        long long                 deadline = 0;
        int                       rc = 0, refused = 0, dirty = 0;

        if (m[i].nrcpts != 1) {
            c->trace = session_trace;
            c->traced = *session_traced;
            smtp_send(c, m[i].from, m[i].rcpts, m[i].nrcpts, m[i].msg, m[i].len,
                m[i].trace, &res[i]);
            *session_traced = c->traced;
            i++;
            continue;
        }
        buf_reset(&g);
        for (end = i; end < n && end - first < SMTP_WINDOW_MAX
             && (end == first || g.len < SMTP_WINDOW_BYTES);
             end++) {
            if (m[end].nrcpts != 1
                || (end > first && m[end].from != NULL && m[first].from != NULL
                    && strcmp(m[end].from, m[first].from) != 0))
                break;
            if (smtp_out_prepare(c, &o[end], 1, m[end].from, m[end].rcpts,
                    m[end].nrcpts, m[end].msg, m[end].len, m[end].trace,
                    session_trace, session_traced, &res[end])
                != 0)
                continue; /* res says why; nothing of it is written */
            smtp_out_enter(c, &o[end]);
            smtp_out_begin(c, &o[end], lead != n);
            if (lead == n || o[end].deadline < deadline)
                deadline = o[end].deadline;
            if (lead == n)
                lead = end;
            rc = smtp_chunk_append(c, &o[end], &g);
            smtp_out_leave(c, &o[end]);
            if (rc != 0) {
                /* out of memory: nothing of this window was written */
                c->usable = 0;
                buf_free(&g);
                return first;
            }
        }
        i = end;
        if (lead == n)
            continue; /* every message of it was refused before writing */
        smtp_out_enter(c, &o[lead]);
        c->deadline = deadline;
        if ((rc = smtp_io_write(c, g.p, g.len)) != 0) {
            smtp_io_fail(c, rc, &res[lead]);
            why = &res[lead];
        }
        smtp_out_leave(c, &o[lead]);
        for (k = lead + (rc != 0); k < end; k++) {
            if (o[k].tx.ncmds == 0)
                continue; /* not written */
            if (why != NULL) {
                smtp_out_broken(c, &o[k], why, &res[k]);
                continue;
            }
            smtp_out_enter(c, &o[k]);
            o[k].tx.may_join = refused == S_RCPT;
            rc = smtp_chunk_replies(c, &o[k], &res[k]);
            smtp_out_end(c, rc);
            smtp_out_leave(c, &o[k]);
            refused = o[k].tx.failed;
            dirty |= res[k].rc != 0;
            if (rc == 0 && !c->usable)
                rc = ERR_CONNECT;
            if (rc == 0)
                continue;
            /* the rest of the window gets the transport failure that
             * ended the session, else (421, or k's own refusal holds its
             * result) the session's end */
            why = &res[k];
            if (c->last_code == 421 || res[k].rc == 0
                || res[k].rc == ERR_REJECTED) {
                smtp_result_set(&gone, ERR_CONNECT, "connect", 0, NULL,
                    "herald sends it again later.",
                    "%s:%u ended the session%s before answering this "
                    "message",
                    c->host, c->port, c->last_code == 421 ? " (421)" : "");
                why = &gone;
            }
        }
        /* a refusal may have left a transaction open (see above) */
        c->tx_open = dirty || c->state != S_READY;
    }
    buf_free(&g);
    return i;
}

size_t
smtp_send_batch(struct smtp_client *c, const struct smtp_batch_msg *m, size_t n,
    struct smtp_result *res)
{
    struct smtp_out *o = NULL;
    struct cJSON    *saved;
    size_t           saved_traced, done = 0;

    for (size_t i = 0; i < n; i++)
        memset(&res[i], 0, sizeof(res[i]));
    if (!smtp_usable(c))
        ;
    else if ((c->caps.flags & (SMTP_CAP_PIPELINING | SMTP_CAP_CHUNKING))
            == (SMTP_CAP_PIPELINING | SMTP_CAP_CHUNKING)
        && (o = calloc(n, sizeof(*o))) != NULL) {
        saved = c->trace;
        saved_traced = c->traced;
        done = smtp_batch_chunked(c, m, n, o, saved, &saved_traced, res);
        for (size_t i = 0; i < n; i++)
            smtp_out_clear(&o[i]);
        free(o);
        c->trace = saved;
        c->traced = saved_traced;
    } else if (!(c->caps.flags & SMTP_CAP_PIPELINING) || n < 2) {
        for (; done < n && smtp_usable(c); done++)
            smtp_send(c, m[done].from, m[done].rcpts, m[done].nrcpts,
                m[done].msg, m[done].len, m[done].trace, &res[done]);
    } else if ((o = calloc(n, sizeof(*o))) != NULL) {
        saved = c->trace;
        saved_traced = c->traced;
        done = smtp_batch_pipelined(c, m, n, o, saved, &saved_traced, res);
        for (size_t i = 0; i < n; i++) /* zeroed or prepared */
            smtp_out_clear(&o[i]);
        free(o);
        c->trace = saved;
        c->traced = saved_traced;
    }
    for (size_t i = done; i < n; i++)
        smtp_result_set(&res[i], ERR_CONNECT, "connect", 0, NULL,
            "herald sends it over a new session.",
            "not sent: the SMTP session to %s:%u ended before this message",
            c->host, c->port);
    return done;
}

void
smtp_close(struct smtp_client *c)
{
    if (c == NULL)
        return;
    if (c->state == S_READY)
        smtp_quit(c);
    smtp_cmd(c, S_CLOSED, SEC_PUBLIC, NULL);
    smtp_client_free(c);
}

/* ---- probe ------------------------------------------------------------- */

struct cJSON *
smtp_probe(const struct smtp_params *params, struct smtp_result *res)
{
    struct smtp_client *c = NULL;
    struct smtp_result  dummy, r2;
    cJSON              *trace = NULL, *out = NULL, *v, *caps;
    int                 rc;

    if (res == NULL)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    memset(&r2, 0, sizeof(r2));
    if ((trace = cJSON_CreateObject()) == NULL)
        return NULL;
    if ((rc = smtp_client_new(params, trace, &c, res)) != 0)
        goto fail;
    smtp_deadline_start(c, "probe");
    if ((rc = smtp_connect_tcp(c, res)) != 0)
        goto fail;
    if (c->secure == SMTP_SECURE_IMPLICIT) {
        smtp_cmd(c, S_TLS, SEC_PUBLIC, NULL);
        rc = smtp_tls_start(c, &r2);
        if (rc != 0 && r2.klass[0] == '\0') {
            *res = r2;
            goto fail;
        }
        if (rc == 0 && (rc = smtp_greeting(c, res)) == 0)
            rc = smtp_ehlo(c, res);
        else if (rc == 0)
            goto fail;
    } else {
        if ((rc = smtp_greeting(c, res)) != 0 || (rc = smtp_ehlo(c, res)) != 0)
            goto fail;
        if (c->secure == SMTP_SECURE_TLS) {
            rc = smtp_starttls(c, &r2);
            if (rc == 0)
                rc = smtp_ehlo(c, &r2);
        }
    }
    if ((out = cJSON_CreateObject()) == NULL)
        goto fail;
    cJSON_AddStringToObject(out, "host", c->host);
    cJSON_AddNumberToObject(out, "port", c->port);
    cJSON_AddStringToObject(out, "secure", smtp_secure_name(c->secure));
    cJSON_AddStringToObject(out, "speaks",
        c->ssl != NULL || (c->secure == SMTP_SECURE_IMPLICIT) ? "implicit"
                                                              : "plain");
    if (c->secure == SMTP_SECURE_TLS
        && (c->caps.flags & SMTP_CAP_STARTTLS || c->ssl != NULL))
        cJSON_ReplaceItemInObject(out, "speaks",
            cJSON_CreateString("starttls"));
    caps = cJSON_DetachItemFromObjectCaseSensitive(trace, "capabilities");
    cJSON_AddItemToObject(out, "capabilities",
        caps ? caps : cJSON_CreateArray());
    v = cJSON_DetachItemFromObjectCaseSensitive(trace, "tls");
    cJSON_AddItemToObject(out, "tls", v ? v : cJSON_CreateObject());
    v = cJSON_AddObjectToObject(out, "verdict");
    if (v != NULL) {
        const struct smtp_result *vr = rc != 0 ? &r2 : NULL;

        if (rc != 0 && r2.klass[0] == '\0')
            vr = res;
        cJSON_AddBoolToObject(v, "ok", rc == 0);
        cJSON_AddStringToObject(v, "code", vr ? vr->klass : "");
        cJSON_AddStringToObject(v, "message",
            vr           ? vr->message
                : c->ssl ? "the server's certificate chain and name verified"
                         : "the server answered");
        cJSON_AddStringToObject(v, "advice", vr ? vr->advice : "");
    }
    v = cJSON_DetachItemFromObjectCaseSensitive(trace, "dialogue");
    if (v != NULL)
        cJSON_AddItemToObject(out, "dialogue", v);
    if (rc != 0 && res->klass[0] == '\0')
        *res = r2;
    smtp_quit(c);
    smtp_client_free(c);
    cJSON_Delete(trace);
    return out;
fail:
    smtp_client_free(c);
    cJSON_Delete(trace);
    cJSON_Delete(out);
    if (res->klass[0] == '\0')
        smtp_result_set(res, rc ? rc : ERR_INTERNAL, "protocol", 0, NULL, "",
            "probe failed");
    return NULL;
}

/* ---- the transport for other clients (net.h) --------------------------- */

struct smtp_net {
    struct smtp_client *c;
    char                what[48];
    int                 read_once; /* a read succeeded (session saved) */
};

/* Prefixes res->message with "<what> HOST:PORT: " and, for the failures
 * whose SMTP advice names mail ports, gives advice that fits any peer. */
static void
smtp_net_name(const struct smtp_net *n, struct smtp_result *res)
{
    char msg[sizeof(res->message)], head[400];
    int  k = snprintf(head, sizeof(head), "%s %s:%u: ", n->what, n->c->host,
         n->c->port);

    if (k < 0 || (size_t)k >= sizeof(head))
        k = 0;
    memcpy(msg, head, (size_t)k);
    snprintf(msg + k, sizeof(msg) - (size_t)k, "%s", res->message);
    memcpy(res->message, msg, sizeof(msg));
    if (strcmp(res->klass, "connect") == 0
        || strcmp(res->klass, "timeout") == 0)
        snprintf(res->advice, sizeof(res->advice),
            "Check the host and port of the %s and that this host can "
            "reach it (firewall, proxy); herald retries later.",
            n->what);
}

static int
smtp_net_start(struct smtp_net *n, struct smtp_result *res)
{
    int rc;

    if ((rc = smtp_connect_tcp(n->c, res)) != 0)
        return rc;
    smtp_cmd(n->c, S_TLS, SEC_PUBLIC, NULL);
    return smtp_tls_start(n->c, res);
}

int
smtp_net_open(const struct smtp_net_params *np, struct smtp_net **out,
    struct cJSON *trace, struct smtp_result *res)
{
    struct smtp_params p;
    struct smtp_net   *n;
    int                rc;

    *out = NULL;
    memset(res, 0, sizeof(*res));
    memset(&p, 0, sizeof(p));
    p.host = np->host;
    p.port = np->port;
    p.secure = SMTP_SECURE_IMPLICIT;
    p.tls_name = np->tls_name;
    p.verify = np->verify;
    p.source_address = np->source_address;
    p.source_interface = np->source_interface;
    p.connect_timeout_ms = np->connect_timeout_ms;
    p.reply_timeout_ms = np->timeout_ms ? np->timeout_ms : 30000;
    p.transaction_timeout_ms = p.reply_timeout_ms;
    p.trust = np->trust;
    if (np->port == 0) {
        smtp_result_set(res, ERR_INVAL, "invalid_request", 1, NULL, "",
            "no port given for %s", np->host ? np->host : "the peer");
        return ERR_INVAL;
    }
    if ((n = calloc(1, sizeof(*n))) == NULL)
        return ERR_NOMEM;
    snprintf(n->what, sizeof(n->what), "%s", np->what ? np->what : "server");
    if ((rc = smtp_client_new(&p, trace, &n->c, res)) != 0) {
        free(n);
        return rc;
    }
    smtp_deadline_start(n->c, n->what);
    if (n->c->insecure)
        smtp_trace_note(n->c,
            "certificate verification is OFF: the %s is not "
            "authenticated",
            n->what);
    rc = smtp_net_start(n, res);
    if (rc != 0 && n->c->tls_resume_failed) {
        smtp_trace_note(n->c,
            "resuming the cached TLS session failed; "
            "reconnecting with a full handshake");
        smtp_session_reset(n->c);
        memset(res, 0, sizeof(*res));
        rc = smtp_net_start(n, res);
    }
    if (rc != 0) {
        smtp_net_name(n, res);
        smtp_net_close(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* Fills res for a transport error of a read or write. */
static int
smtp_net_fail(struct smtp_net *n, int rc, const char *doing,
    struct smtp_result *res)
{
    struct smtp_client *c = n->c;
    char                ms[32];

    c->usable = 0;
    if (rc == ERR_TIMEOUT)
        smtp_result_set(res, ERR_TIMEOUT, "timeout", 0, NULL,
            "The peer answers too slowly; herald retries later.",
            "%s %s:%u did not complete the exchange within %s (%s)", n->what,
            c->host, c->port,
            smtp_ms_str(ms, sizeof(ms), c->transaction_timeout_ms), doing);
    else
        smtp_result_set(res, rc, "connect", 0, NULL,
            "Check the network path; herald retries later.",
            "%s %s:%u: I/O error while %s", n->what, c->host, c->port, doing);
    smtp_trace_note(c, "%s", res->message);
    return res->rc;
}

int
smtp_net_write(struct smtp_net *n, const void *p, size_t len,
    struct smtp_result *res)
{
    int rc = smtp_io_write(n->c, p, len);

    return rc == 0 ? 0 : smtp_net_fail(n, rc, "sending", res);
}

long
smtp_net_read(struct smtp_net *n, void *p, size_t len, struct smtp_result *res)
{
    long r;

    if (len == 0)
        return 0;
    r = smtp_io_recv(n->c, p, len, n->c->deadline);
    if (r == ERR_CONNECT)
        return 0;
    if (r < 0)
        return smtp_net_fail(n, (int)r, "reading the answer", res);
    /* the first read over TLS: a TLS 1.3 ticket has arrived */
    if (n->c->save_session)
        smtp_tls_save_session(n->c);
    return r;
}

void
smtp_net_close(struct smtp_net *n)
{
    if (n == NULL)
        return;
    smtp_cmd(n->c, S_CLOSED, SEC_PUBLIC, NULL);
    smtp_client_free(n->c);
    free(n);
}
