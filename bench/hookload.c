/* SPDX-License-Identifier: MIT */
/*
 * bench/hookload.c: the benchmark's webhook load generator (bench/README.md,
 * "Throughput"). bench.py runs it; nothing else does.
 *
 *   hookload --path /hooks/APPLET --token T --k K [--rate R] [--timeout S]
 *            HOST:PORT [HOST:PORT ...]  < ids
 *
 * Posts {"id":"ID","source":"herald-bench"} once per id read from stdin
 * (one per line), from K threads, each keeping one HTTP/1.1 connection to
 * each server (the n-th id goes to server n mod their number). Without
 * --rate as fast as the answers come (closed loop); with it, id n is sent
 * at start + n / R seconds whatever the earlier answers did (open loop).
 * A 429 is retried after its Retry-After (0.01 - 1 s; 0.05 without one)
 * until the timeout. A kept-alive connection the server closed is
 * reconnected once, as HTTP clients do.
 *
 * Prints, once all are done, one line per id: "ok ID SENT ACCEPTED" (unix
 * nanoseconds just before the first request for it and when its 202
 * came) or "err ID TEXT", then "busy N" (429 answers).
 *
 * Why C: the Python client it replaces spent about 0.16 ms of CPU a
 * webhook on the two cores herald and Postfix share, more than half of
 * herald's own cost per message; in a deployment the webhooks come from
 * other machines. It reads only what it needs: the status, Content-Length,
 * Retry-After and Connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 8
#define MAX_HEAD    16384
#define IO_TIMEOUT  30000 /* ms, one read or write */

struct target {
    char host[256];
    char port[16];
};

struct result {
    long long sent, accepted; /* unix ns; accepted 0: not accepted */
    char     *error;          /* malloc'd, or NULL */
};

static struct target  targets[MAX_TARGETS];
static unsigned       ntargets;
static const char    *path, *token;
static double         rate, timeout_s = 600;
static char         **ids;
static size_t         nids;
static atomic_size_t  next_id;
static atomic_long    busy;
static struct result *results;
static double         t0, deadline; /* monotonic seconds */

struct conn {
    int    fd;
    char   buf[MAX_HEAD];
    size_t len; /* bytes held in buf */
};

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long
unix_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
sleep_s(double s)
{
    struct timespec ts;

    if (s <= 0)
        return;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void
conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* 0, or -1 with *err set (static text or strerror). */
static int
conn_open(struct conn *c, const struct target *t, const char **err)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
    int             one = 1, rc;

    if ((rc = getaddrinfo(t->host, t->port, &hints, &ai)) != 0) {
        *err = gai_strerror(rc);
        return -1;
    }
    *err = "no address";
    for (a = ai; a != NULL; a = a->ai_next) {
        c->fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            continue;
        if (connect(c->fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        *err = strerror(errno);
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(ai);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->len = 0;
    return 0;
}

static int
wait_fd(int fd, short ev)
{
    struct pollfd p = { .fd = fd, .events = ev };
    int           n;

    while ((n = poll(&p, 1, IO_TIMEOUT)) < 0 && errno == EINTR)
        ;
    return n > 0 ? 0 : -1;
}

/* 0 sent; -1 failed (*closed: the peer had closed the connection). */
static int
send_all(struct conn *c, const char *p, size_t n, int *closed)
{
    ssize_t w;

    while (n > 0) {
        w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c->fd, POLLOUT) != 0)
                return -1;
            continue;
        }
        if (w < 0) {
            *closed = errno == EPIPE || errno == ECONNRESET;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more into c->buf: 0, or -1 (*closed: end of stream, nothing read
 * of this response yet). */
static int
fill(struct conn *c, int *closed)
{
    ssize_t r;

    if (c->len >= sizeof(c->buf))
        return -1;
    if (wait_fd(c->fd, POLLIN) != 0)
        return -1;
    r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r <= 0) {
        *closed = c->len == 0 && (r == 0 || errno == ECONNRESET);
        return -1;
    }
    c->len += (size_t)r;
    return 0;
}

/* A header's value in head (NUL-terminated, lines end in CRLF), or NULL. */
static const char *
header(const char *head, const char *name, size_t *vlen)
{
    size_t      n = strlen(name);
    const char *p = strstr(head, "\r\n"), *v, *e;

    while (p != NULL && p[2] != '\0') {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            for (v = p + n + 1; *v == ' ' || *v == '\t'; v++)
                ;
            e = strstr(v, "\r\n");
            *vlen = e != NULL ? (size_t)(e - v) : strlen(v);
            return v;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

struct answer {
    int    status;
    double retry_after; /* < 0: none */
    char   text[160];   /* the body's start, for errors */
};

/* One response: 0, or -1 (*closed as fill). */
static int
response(struct conn *c, struct answer *a, int *closed, const char **err)
{
    char       *end, head[MAX_HEAD + 1];
    const char *v;
    size_t      hlen, vlen, clen = 0, have;
    int         close_after = 0;

    *err = "connection lost or timed out reading the response";
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL)
        if (fill(c, closed) != 0) {
            if (c->len >= sizeof(c->buf))
                *err = "response head too long";
            return -1;
        }
    hlen = (size_t)(end - c->buf);
    memcpy(head, c->buf, hlen);
    head[hlen] = '\0';
    if (strncmp(head, "HTTP/1.", 7) != 0
        || sscanf(head + 8, " %d", &a->status) != 1) {
        *err = "bad response status line";
        return -1;
    }
    if ((v = header(head, "Content-Length", &vlen)) != NULL)
        clen = strtoul(v, NULL, 10);
    a->retry_after = -1;
    if ((v = header(head, "Retry-After", &vlen)) != NULL)
        a->retry_after = strtod(v, NULL);
    if (((v = header(head, "Connection", &vlen)) != NULL && vlen == 5
            && strncasecmp(v, "close", 5) == 0)
        || head[7] == '0')
        close_after = 1;
    if (clen > sizeof(c->buf) - hlen - 4) {
        *err = "response body too long";
        return -1;
    }
    *closed = 0;
    while (c->len < hlen + 4 + clen)
        if (fill(c, closed) != 0)
            return -1;
    have = clen < sizeof(a->text) - 1 ? clen : sizeof(a->text) - 1;
    memcpy(a->text, c->buf + hlen + 4, have);
    a->text[have] = '\0';
    c->len -= hlen + 4 + clen;
    memmove(c->buf, c->buf + hlen + 4 + clen, c->len);
    if (close_after)
        conn_close(c);
    return 0;
}

/* Posts req over c (opening it when closed, reopening once a kept-alive
 * one the server closed): 0 with *a, or -1 with *err. */
static int
post(struct conn *c, const struct target *t, const char *req, size_t n,
    struct answer *a, const char **err)
{
    int reused, closed;

    for (int attempt = 0; attempt < 2; attempt++) {
        reused = c->fd >= 0;
        if (!reused && conn_open(c, t, err) != 0)
            return -1;
        closed = 0;
        *err = "connection lost while sending";
        if (send_all(c, req, n, &closed) == 0
            && response(c, a, &closed, err) == 0)
            return 0;
        conn_close(c);
        if (!closed || !reused)
            return -1;
    }
    return -1;
}

/* Records id i's error: one line (control characters become spaces). */
static void
fail(size_t i, const char *what, const char *detail)
{
    if (asprintf(&results[i].error, "%s%s%s", what, detail ? ": " : "",
            detail ? detail : "")
        < 0) {
        results[i].error = NULL;
        return;
    }
    for (char *p = results[i].error; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

static void
fire(struct conn *c, size_t i)
{
    const struct target *t = &targets[i % ntargets];
    char                 body[512], req[2048];
    struct answer        a;
    const char          *err;
    int                  bn, n;
    long long            sent;

    bn = snprintf(body, sizeof(body),
        "{\"id\":\"%s\",\"source\":\"herald-bench\"}", ids[i]);
    n = snprintf(req, sizeof(req),
        "POST %s HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
        path, t->host, t->port, token, bn, body);
    if (bn >= (int)sizeof(body) || n >= (int)sizeof(req)) {
        fail(i, "request too long", NULL);
        return;
    }
    for (;;) {
        sent = unix_ns();
        if (post(c, t, req, (size_t)n, &a, &err) != 0) {
            fail(i, err, NULL);
            return;
        }
        if (results[i].sent == 0)
            results[i].sent = sent;
        if (a.status == 202) {
            results[i].accepted = unix_ns();
            return;
        }
        if (a.status != 429 || mono() >= deadline) {
            char st[32];

            snprintf(st, sizeof(st), "HTTP %d", a.status);
            fail(i, st, a.text);
            return;
        }
        atomic_fetch_add(&busy, 1);
        sleep_s(a.retry_after < 0      ? 0.05
                : a.retry_after < 0.01 ? 0.01
                : a.retry_after > 1.0  ? 1.0
                                       : a.retry_after);
    }
}

static void *
worker(void *arg)
{
    struct conn *cs = calloc(ntargets, sizeof(*cs));
    size_t       i;

    (void)arg;
    if (cs == NULL)
        return NULL;
    for (unsigned j = 0; j < ntargets; j++)
        cs[j].fd = -1;
    while (mono() < deadline && (i = atomic_fetch_add(&next_id, 1)) < nids) {
        if (rate > 0)
            sleep_s(t0 + (double)i / rate - mono());
        fire(&cs[i % ntargets], i);
    }
    for (unsigned j = 0; j < ntargets; j++)
        conn_close(&cs[j]);
    free(cs);
    return NULL;
}

static int
usage(void)
{
    fprintf(stderr,
        "usage: hookload --path P --token T --k K [--rate R] "
        "[--timeout S] HOST:PORT ... < ids\n");
    return 2;
}

static int
add_target(const char *s)
{
    const char *colon = strrchr(s, ':');
    size_t      hl;

    if (colon == NULL || ntargets == MAX_TARGETS)
        return -1;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(targets[0].host)
        || strlen(colon + 1) >= sizeof(targets[0].port))
        return -1;
    memcpy(targets[ntargets].host, s, hl);
    targets[ntargets].host[hl] = '\0';
    strcpy(targets[ntargets].port, colon + 1);
    ntargets++;
    return 0;
}

static int
read_ids(void)
{
    char   *line = NULL;
    size_t  cap = 0, n = 0, want = 1024;
    ssize_t len;

    ids = malloc(want * sizeof(*ids));
    while (ids != NULL && (len = getline(&line, &cap, stdin)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (strpbrk(line, "\"\\") != NULL) /* goes into JSON as is */
            return -1;
        if (n == want) {
            char **more = realloc(ids, (want *= 2) * sizeof(*ids));

            if (more == NULL)
                return -1;
            ids = more;
        }
        if ((ids[n++] = strdup(line)) == NULL)
            return -1;
    }
    free(line);
    nids = n;
    return ids == NULL ? -1 : 0;
}

int
main(int argc, char **argv)
{
    unsigned   k = 0;
    pthread_t *th;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--path") == 0 && v != NULL)
            path = argv[++i];
        else if (strcmp(argv[i], "--token") == 0 && v != NULL)
            token = argv[++i];
        else if (strcmp(argv[i], "--k") == 0 && v != NULL)
            k = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rate") == 0 && v != NULL)
            rate = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--timeout") == 0 && v != NULL)
            timeout_s = strtod(argv[++i], NULL);
        else if (add_target(argv[i]) != 0)
            return usage();
    }
    if (path == NULL || token == NULL || k == 0 || k > 1024 || ntargets == 0
        || timeout_s <= 0 || rate < 0)
        return usage();
    if (read_ids() != 0) {
        fprintf(stderr,
            "hookload: cannot read the ids (out of memory, or "
            "an id with a quote or backslash)\n");
        return 2;
    }
    if ((results = calloc(nids ? nids : 1, sizeof(*results))) == NULL
        || (th = calloc(k, sizeof(*th))) == NULL) {
        fprintf(stderr, "hookload: out of memory\n");
        return 2;
    }
    t0 = mono() + 0.05;
    deadline = mono() + timeout_s;
    for (unsigned j = 0; j < k; j++)
        if (pthread_create(&th[j], NULL, worker, NULL) != 0) {
            fprintf(stderr, "hookload: cannot start thread %u\n", j);
            return 1;
        }
    for (unsigned j = 0; j < k; j++)
        pthread_join(th[j], NULL);
    for (size_t i = 0; i < nids; i++) {
        if (results[i].accepted)
            printf("ok %s %lld %lld\n", ids[i], results[i].sent,
                results[i].accepted);
        else if (results[i].error != NULL)
            printf("err %s %s\n", ids[i], results[i].error);
    }
    printf("busy %ld\n", atomic_load(&busy));
    return fflush(stdout) == 0 ? 0 : 1;
}
