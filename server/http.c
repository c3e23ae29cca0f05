/* SPDX-License-Identifier: MIT */
/*
 * server/http.c: the libmicrohttpd daemon. Binds the listen socket itself
 * (so "address in use" is reported plainly), runs MHD's epoll thread pool
 * with connection, per-IP, timeout and header-memory limits, accumulates
 * request bodies up to --max-body (413 beyond, checked against
 * Content-Length up front), hands complete requests to the router, and logs
 * an access line per request (method, path, status, ms) with --access-log,
 * else only for 5xx answers (but 503: the database is down, said once by
 * the store) and aborted requests. Bodies and the
 * Authorization header are never logged.
 *
 * Webhooks (POST /hooks/{applet}) can come from anyone: their credentials
 * are checked from the headers at the first call, before any of the body
 * is read (srv_hook_early); their bodies have their own limit
 * (--webhook-max-body), answered with 413 as soon as it is passed, without
 * draining; and a refused one is logged in place of its access line, at
 * most one line a second, with a count of the rest (http_hook_refused).
 *
 * Keep-alive: MHD answers "Connection: close" when a response is queued on
 * the first call for a request, so the first call only records the request
 * and the response is queued on a later call.
 *
 * Slots: MHD's own timeout (--timeout) is one of inactivity, so a client
 * that drips a byte a second would hold a slot for ever. Each connection
 * therefore has a deadline for its whole header block (--header-timeout,
 * from the accept or the end of the previous response) and one for its
 * whole body (--body-timeout, from the end of the headers). A reaper thread
 * closes late connections with shutdown(2) (after a 408 with the usual JSON
 * error when a request was under way); MHD then sees the end of the stream
 * and frees the slot in its own thread. When the open connections reach
 * 7/8 of --max-connections, connections that have waited 2 s for a request
 * are closed as well. One client address holds at most
 * --max-connections-per-ip slots, so one address cannot take them all.
 * --max-connections is lowered to what RLIMIT_NOFILE allows.
 */
#include "server/srv_int.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/sec.h"
#include "engine/mail/mail.h"
#include "engine/run/runtime.h"
#include "engine/store/store.h"
#include "pki/pki.h"

#define SRV_HEADER_MEMORY (64 * 1024)
/* a declared body over --max-body but under this is read and dropped so the
 * client sees the 413; a larger one is refused at once */
#define SRV_DRAIN_MAX (64 * 1024 * 1024)
/* descriptors kept free of connections: database, SMTP, syslog, MHD */
#define SRV_FD_RESERVE 256
/* when slots run short: waiting this long for a request closes */
#define SRV_PRESSURE_IDLE  2.0
#define SRV_REAPER_TICK_MS 250
/* the reaper ends after this long without a connection */
#define SRV_REAPER_LINGER_MS 2000
/* refused webhooks: at most one log line per this many seconds */
#define SRV_HOOK_LOG_INTERVAL 1.0

static void http_hook_flush(struct srv *s, double now, int force);

/* ---- request helpers ---------------------------------------------------- */

const char *
srv_req_header(struct srv_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *
srv_req_query(struct srv_req *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
srv_req_media_type(struct srv_req *rq, char *buf, size_t sz)
{
    const char *ct = srv_req_header(rq, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t      i = 0;

    buf[0] = '\0';
    if (ct == NULL)
        return buf;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; *ct && *ct != ';' && *ct != ' ' && i + 1 < sz; ct++)
        buf[i++] = (char)((*ct >= 'A' && *ct <= 'Z') ? *ct + 32 : *ct);
    buf[i] = '\0';
    return buf;
}

int
srv_req_accept_types(struct srv_req *rq, struct srv_resp *rs,
    const char *const *types)
{
    char       mt[128];
    struct buf b = BUF_INIT;

    srv_req_media_type(rq, mt, sizeof(mt));
    for (size_t i = 0; types[i]; i++)
        if (strcmp(mt, types[i]) == 0)
            return 1;
    for (size_t i = 0; types[i]; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", types[i]);
    srv_reply_errorf(rs, ERR_UNSUPPORTED, "unsupported_media_type",
        "Content-Type %s%s%s is not accepted here; send %s", *mt ? "'" : "",
        *mt ? mt : "(none)", *mt ? "'" : "", buf_str(&b));
    rs->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    buf_free(&b);
    return 0;
}

struct cJSON *
srv_parse_json(struct srv_req *rq, struct srv_resp *rs)
{
    struct errbuf eb = { 0 };
    cJSON        *j = NULL;

    if (srv_json_parse(buf_str(&rq->body), rq->body.len, &j, &eb) != 0) {
        srv_reply_error(rs, ERR_INVAL, &eb);
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        srv_reply_errorf(rs, ERR_INVAL, "invalid_json",
            "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

struct cJSON *
srv_req_json(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const types[] = { "application/json", NULL };

    if (!srv_req_accept_types(rq, rs, types))
        return NULL;
    return srv_parse_json(rq, rs);
}

/* ---- responses ---------------------------------------------------------- */

void
srv_reply_json(struct srv_resp *rs, int status, struct cJSON *j)
{
    char *s;

    buf_reset(&rs->body);
    rs->status = status;
    rs->content_type = "application/json";
    if (j == NULL || (s = cJSON_PrintUnformatted(j)) == NULL) {
        cJSON_Delete(j);
        rs->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        buf_puts(&rs->body,
            "{\"error\":{\"code\":\"internal\","
            "\"message\":\"out of memory\"}}");
        return;
    }
    cJSON_Delete(j);
    buf_puts(&rs->body, s);
    buf_putc(&rs->body, '\n');
    free(s);
}

void
srv_reply_text(struct srv_resp *rs, int status, const char *ctype,
    const char *text, size_t len)
{
    buf_reset(&rs->body);
    rs->status = status;
    rs->content_type = ctype;
    buf_append(&rs->body, text, len);
}

void
srv_reply_status(struct srv_resp *rs, int status)
{
    buf_reset(&rs->body);
    rs->status = status;
    rs->content_type = NULL;
}

int
srv_resp_header(struct srv_resp *rs, const char *name, const char *value)
{
    if (rs->nheaders >= SRV_MAX_HEADERS)
        return ERR_TOOBIG;
    if ((rs->hval[rs->nheaders] = strdup(value)) == NULL)
        return ERR_NOMEM;
    rs->hname[rs->nheaders++] = name;
    return 0;
}

void
srv_resp_clear(struct srv_resp *rs)
{
    buf_free(&rs->body);
    for (size_t i = 0; i < rs->nheaders; i++)
        free(rs->hval[i]);
    memset(rs, 0, sizeof(*rs));
}

/* ---- connection deadlines ---------------------------------------------- */

static double
http_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Moves conn to phase with a deadline of secs from now (0: none); done
 * counts a completed request. */
static void
http_conn_phase(struct srv *s, struct MHD_Connection *conn, int phase,
    unsigned secs, int done)
{
    const union MHD_ConnectionInfo *ci;
    struct srv_conn                *c;
    double                          now = http_now();

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci == NULL || (c = ci->socket_context) == NULL)
        return;
    pthread_mutex_lock(&s->conn_lock);
    c->phase = phase;
    c->since = now;
    c->deadline = secs ? now + secs : 0;
    c->requests += done ? 1 : 0;
    pthread_mutex_unlock(&s->conn_lock);
}

static void http_reaper_wake(struct srv *s);

/* MHD_OPTION_NOTIFY_CONNECTION: keeps the list of open connections. MHD
 * calls CLOSED before it closes the socket, so under conn_lock c->fd is
 * still this connection's. */
static void
http_conn_notify(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode toe)
{
    struct srv                     *s = cls;
    struct srv_conn                *c = *ctx;
    const union MHD_ConnectionInfo *ci;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci == NULL || (c = calloc(1, sizeof(*c))) == NULL)
            return; /* no deadlines; MHD's inactivity timeout holds */
        c->fd = ci->connect_fd;
        c->phase = SRV_CONN_HEAD;
        c->since = http_now();
        c->deadline = c->since + s->cfg.header_timeout_s;
        pthread_mutex_lock(&s->conn_lock);
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
        if (s->nconns++ == 0)
            http_reaper_wake(s);
        pthread_mutex_unlock(&s->conn_lock);
        *ctx = c;
        return;
    }
    if (c == NULL)
        return;
    pthread_mutex_lock(&s->conn_lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    s->nconns--;
    pthread_mutex_unlock(&s->conn_lock);
    free(c);
    *ctx = NULL;
}

/* Writes a whole JSON answer with status (e.g. "408 Request Timeout") to
 * fd ourselves, for the moments libmicrohttpd takes no response (a late
 * or oversized request it is still reading); best effort, never blocks. */
static void
http_raw_answer(int fd, const char *status, const char *body)
{
    char msg[640];
    int  n;

    n = snprintf(msg, sizeof(msg),
        "HTTP/1.1 %s\r\n"
        "Content-Type: application/json\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        status, strlen(body), body);
    if (n > 0 && (size_t)n < sizeof(msg))
        (void)send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Ends c (under conn_lock): a 408 if what (the late part) is not NULL,
 * then shutdown(2); MHD reads the end of the stream and closes it. MHD
 * writes nothing in the phases this is used in (HEAD, BODY), so the 408
 * cannot mix with a response. */
static void
http_conn_drop(struct srv *s, struct srv_conn *c, const char *what,
    unsigned secs, const char *flag)
{
    char body[256];

    if (what != NULL) {
        snprintf(body, sizeof(body),
            "{\"error\":{\"code\":\"timeout\","
            "\"message\":\"the request %s did not arrive within %u s (%s); "
            "send the request without pauses\"}}\n",
            what, secs, flag);
        http_raw_answer(c->fd, "408 Request Timeout", body);
    }
    shutdown(c->fd, SHUT_RDWR);
    c->closing = 1;
    (void)s;
}

/* Waits on conn_cv (CLOCK_MONOTONIC) under conn_lock for ms at most. */
static void
http_reaper_wait(struct srv *s, long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->conn_cv, &s->conn_lock, &ts);
}

/* The reaper: runs while there are connections to watch (or refused
 * webhooks still to report), and SRV_REAPER_LINGER_MS more; then it ends,
 * so that an idle server has no thread for it (its stack and TLS go back,
 * common/thread.h). http_reaper_wake starts it again. */
static void
http_reaper(void *arg, unsigned slot)
{
    struct srv *s = arg;
    double      quiet_since = 0;

    pthread_mutex_lock(&s->conn_lock);
    while (!s->reaper_stop) {
        unsigned lim = s->cfg.max_connections;
        unsigned nh = 0, nb = 0, ni = 0, open = s->nconns;
        int      pressure = s->nconns >= lim - lim / 8, pending;
        double   now = http_now();

        for (struct srv_conn *c = s->conns; c != NULL; c = c->next) {
            if (c->closing || c->phase == SRV_CONN_REPLY)
                continue;
            if (c->deadline > 0 && now >= c->deadline) {
                if (c->phase == SRV_CONN_BODY) {
                    http_conn_drop(s, c, "body", s->cfg.body_timeout_s,
                        "--body-timeout");
                    nb++;
                } else {
                    /* an idle keep-alive connection just ends */
                    http_conn_drop(s, c, c->requests ? NULL : "headers",
                        s->cfg.header_timeout_s, "--header-timeout");
                    nh++;
                }
            } else if (pressure && c->phase == SRV_CONN_HEAD
                && now - c->since >= SRV_PRESSURE_IDLE) {
                http_conn_drop(s, c, c->requests ? NULL : "headers",
                    (unsigned)SRV_PRESSURE_IDLE, "all connections in use");
                ni++;
            }
        }
        if (nh + nb + ni > 0)
            log_info("http",
                "event=conn-drop header_timeout=%u "
                "body_timeout=%u idle_when_full=%u open=%u limit=%u",
                nh, nb, ni, open, lim);
        pthread_mutex_lock(&s->hook_log_mu);
        http_hook_flush(s, now, 0);
        pending = s->hook_log_suppressed > 0;
        pthread_mutex_unlock(&s->hook_log_mu);
        if (s->conns != NULL || pending) {
            quiet_since = 0;
            http_reaper_wait(s, SRV_REAPER_TICK_MS);
            continue;
        }
        /* nothing to watch: wait for a connection, then end */
        if (quiet_since == 0)
            quiet_since = now;
        else if (now - quiet_since >= SRV_REAPER_LINGER_MS / 1000.0)
            break;
        http_reaper_wait(s, SRV_REAPER_LINGER_MS);
    }
    thr_set_leave(&s->reaper, slot);
    pthread_mutex_unlock(&s->conn_lock);
}

/* A connection opened (under conn_lock): the reaper watches it, started
 * if it had ended. Without it deadlines go unenforced until srv_reap
 * starts it, so a failure is logged. */
static void
http_reaper_wake(struct srv *s)
{
    int rc;

    if ((rc = thr_set_wake(&s->reaper, &s->conn_cv)) != 0 && rc != ECANCELED)
        log_warn("http",
            "event=reaper-start-failed error=\"%s\" note=\"header and "
            "body deadlines wait for it; tried again every second\"",
            strerror(rc));
}

void
srv_reap(struct srv *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->conn_lock);
    thr_set_reap(&s->reaper);
    if (s->conns != NULL && thr_set_live(&s->reaper) == 0)
        http_reaper_wake(s); /* it could not be started */
    pthread_mutex_unlock(&s->conn_lock);
}

/* ---- the access handler ------------------------------------------------- */

static enum MHD_Result
http_queue(struct srv_req *rq, struct srv_resp *rs)
{
    struct MHD_Response *r;
    enum MHD_Result      ret;

    r = MHD_create_response_from_buffer(rs->body.len,
        rs->body.len ? rs->body.p : (void *)"", MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return MHD_NO;
    if (rs->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
            rs->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    for (size_t i = 0; i < rs->nheaders; i++)
        MHD_add_response_header(r, rs->hname[i], rs->hval[i]);
    rq->status = rs->status;
    rq->answered = 1;
    metrics_http(rs->status);
    if (rq->hook) /* every answer of POST /hooks/{applet}, early or not */
        metrics_webhook(rs->status);
    http_conn_phase(rq->srv, rq->conn, SRV_CONN_REPLY, 0, 0);
    ret = MHD_queue_response(rq->conn, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

/*
 * A webhook body (without Content-Length, e.g. chunked) went over its
 * limit while arriving: answer 413 at once and stop reading. libmicrohttpd
 * 0.9.75 accepts no response in the middle of a body, so the answer is
 * written to the socket here, as the reaper writes its 408 (MHD writes
 * nothing while it reads a body), and MHD_NO makes it close the
 * connection.
 */
static enum MHD_Result
http_too_large_now(struct srv_req *rq)
{
    const union MHD_ConnectionInfo *ci;
    char                            body[256];

    snprintf(body, sizeof(body),
        "{\"error\":{\"code\":\"too_large\","
        "\"message\":\"the request body is over the limit of %zu bytes "
        "(%s)\"}}\n",
        rq->max_body, rq->max_flag);
    ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL) {
        http_raw_answer(ci->connect_fd, "413 Content Too Large", body);
        shutdown(ci->connect_fd, SHUT_WR);
    }
    rq->status = MHD_HTTP_CONTENT_TOO_LARGE;
    rq->answered = 1;
    rq->refused = 1;
    metrics_http(rq->status);
    if (rq->hook)
        metrics_webhook(rq->status);
    return MHD_NO;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
    struct srv     *s = cls;
    struct srv_req *rq = *req_cls;
    struct srv_resp rs = { 0 };
    enum MHD_Result ret;

    (void)version;
    if (rq == NULL) {
        const char *cl;

        if ((rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        rq->srv = s;
        rq->conn = conn;
        rq->method = method;
        if ((rq->path = strdup(url)) == NULL) {
            free(rq);
            return MHD_NO;
        }
        *req_cls = rq;
        rq->max_body = s->cfg.max_body;
        rq->max_flag = "--max-body";
        http_conn_phase(s, conn, SRV_CONN_BODY, s->cfg.body_timeout_s, 0);
        /* a webhook's credentials are checked before its body is read */
        if (srv_hook_early(rq, &rs)) {
            ret = http_queue(rq, &rs);
            srv_resp_clear(&rs);
            return ret;
        }
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
            MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL) {
            char              *end;
            unsigned long long v;

            errno = 0;
            v = strtoull(cl, &end, 10);
            if (errno == 0 && *end == '\0')
                rq->declared_len = (size_t)v;
            if (errno == 0 && rq->declared_len > rq->max_body
                && rq->declared_len <= SRV_DRAIN_MAX && !rq->hook
                && MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                       MHD_HTTP_HEADER_EXPECT)
                    == NULL) {
                /* Most clients write the whole body before they read the
                 * answer: an early 413 and a close would reach them as a
                 * broken pipe. Read and drop the body, then answer. */
                rq->too_large = 1;
            } else if (errno != 0 || rq->declared_len > rq->max_body) {
                /* answer now (before "100 Continue", for a body too big
                 * to drain, or for any webhook: anyone may send those);
                 * MHD closes the connection unread */
                srv_reply_errorf(&rs, ERR_TOOBIG, "too_large",
                    "the request body (Content-Length %s) is over the "
                    "limit of %zu bytes (%s)",
                    cl, rq->max_body, rq->max_flag);
                rq->refused = rq->hook;
                ret = http_queue(rq, &rs);
                srv_resp_clear(&rs);
                return ret;
            }
        }
        return MHD_YES;
    }
    if (rq->deferred) { /* resumed: srv_resume filled the answer */
        rq->deferred = 0;
        ret = http_queue(rq, &rq->late);
        srv_resp_clear(&rq->late);
        return ret;
    }
    if (rq->answered) {
        *upload_data_size = 0; /* discard */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!rq->too_large && rq->body.len + *upload_data_size > rq->max_body) {
            rq->too_large = 1;
            buf_free(&rq->body);
            if (rq->hook)
                return http_too_large_now(rq);
        }
        if (!rq->too_large
            && buf_append(&rq->body, upload_data, *upload_data_size) != 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_large)
        srv_reply_errorf(&rs, ERR_TOOBIG, "too_large",
            "the request body is over the limit of %zu bytes (%s)",
            rq->max_body, rq->max_flag);
    else
        srv_dispatch(rq, &rs);
    if (rq->deferred) { /* suspended: answered when resumed */
        srv_resp_clear(&rs);
        return MHD_YES;
    }
    if (rs.status == 0)
        srv_reply_errorf(&rs, ERR_INTERNAL, "internal",
            "the handler gave no answer");
    ret = http_queue(rq, &rs);
    srv_resp_clear(&rs);
    return ret;
}

/* ---- answers from another thread (srv_int.h) --------------------------- */

int
srv_defer_begin(struct srv_req *rq)
{
    struct srv *s = rq->srv;
    int         ok;

    pthread_mutex_lock(&s->defer_mu);
    if ((ok = !s->defer_closed))
        s->ndeferred++;
    pthread_mutex_unlock(&s->defer_mu);
    return ok;
}

static void
http_defer_end(struct srv *s)
{
    pthread_mutex_lock(&s->defer_mu);
    if (--s->ndeferred == 0)
        pthread_cond_broadcast(&s->defer_cv);
    pthread_mutex_unlock(&s->defer_mu);
}

void
srv_defer_cancel(struct srv_req *rq)
{
    http_defer_end(rq->srv);
}

void
srv_defer(struct srv_req *rq)
{
    /* no deadline while it waits: the reaper leaves REPLY alone, and MHD
     * times out no suspended connection */
    http_conn_phase(rq->srv, rq->conn, SRV_CONN_REPLY, 0, 0);
    rq->deferred = 1;
    MHD_suspend_connection(rq->conn);
}

void
srv_resume(struct srv_req *rq)
{
    struct srv *s = rq->srv; /* rq may be gone once resumed */

    MHD_resume_connection(rq->conn);
    http_defer_end(s);
}

/* ---- refused webhooks: a bounded log ----------------------------------- */

/* Reports the refusals not logged since the last refusal line, if a second
 * has passed (or force). So at most two lines a second. Under
 * hook_log_mu. */
static void
http_hook_flush(struct srv *s, double now, int force)
{
    if (s->hook_log_suppressed == 0
        || (!force && now - s->hook_log_last < SRV_HOOK_LOG_INTERVAL))
        return;
    log_warn("http",
        "event=webhook-refused-suppressed count=%llu "
        "note=\"%llu failed webhook attempts suppressed (one is logged "
        "a second)\"",
        s->hook_log_suppressed, s->hook_log_suppressed);
    s->hook_log_suppressed = 0;
    (void)now; /* the next refusal may still be logged at once */
}

/*
 * One line for a refused webhook (401, 413) in place of the access line,
 * at most one a second over all applets: a flood of bad attempts must not
 * fill the disk. The rest are counted, and the count is logged a second
 * later, by the next refusal or by the reaper.
 */
static void
http_hook_refused(struct srv *s, struct srv_req *rq, double ms)
{
    double now = http_now();

    pthread_mutex_lock(&s->hook_log_mu);
    if (s->hook_log_last > 0
        && now - s->hook_log_last < SRV_HOOK_LOG_INTERVAL) {
        s->hook_log_suppressed++;
    } else {
        http_hook_flush(s, now, 1);
        log_warn("http",
            "event=webhook-refused path=%s status=%d ms=%.1f "
            "reason=\"%s\"",
            rq->path, rq->answered ? rq->status : 0, ms,
            rq->reason[0] ? rq->reason : "body too large");
        s->hook_log_last = now;
    }
    pthread_mutex_unlock(&s->hook_log_mu);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
    struct srv_req *rq = *req_cls;
    struct timespec t1;
    double          ms;
    long long       nreq;

    /* the next request's headers are due from now */
    http_conn_phase(cls, conn, SRV_CONN_HEAD,
        ((struct srv *)cls)->cfg.header_timeout_s, 1);
    if (rq == NULL)
        return;
    nreq = ++((struct srv *)cls)->requests;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - rq->t0.tv_sec) * 1e3
        + (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e6;
    if (rq->refused)
        http_hook_refused(cls, rq, ms);
    else if (((struct srv *)cls)->cfg.access_log
        || (rq->status >= 500 && rq->status != MHD_HTTP_SERVICE_UNAVAILABLE)
        || !rq->answered || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK
        || log_level_current >= LOG_DEBUG)
        /* one line a request only when asked: a flood must not fill the
         * disk (runs and deliveries have lines of their own); its number
         * keeps identical requests from folding (common/log.h). A 503
         * (the database is down) is not a line each: the store logs the
         * loss, and every trigger of a flood would get one */
        log_info("http",
            "event=request req=%lld method=%s path=%s status=%d "
            "ms=%.1f%s",
            nreq, rq->method, rq->path, rq->answered ? rq->status : 0, ms,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    for (size_t i = 0; i < rq->nparams; i++)
        free(rq->params[i]);
    buf_free(&rq->body);
    free(rq->path);
    free(rq);
    *req_cls = NULL;
}

static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    log_debug("mhd", "event=mhd msg=\"%s\"", msg);
}

/* ---- listen address ----------------------------------------------------- */

int
srv_listen_parse(const char *s, char *host, size_t hostsz, unsigned *port,
    struct errbuf *eb)
{
    const char   *colon, *h = s;
    size_t        hl;
    char         *end;
    unsigned long p;

    if (s == NULL || *s == '\0')
        return err_set(eb, ERR_INVAL, "invalid_listen",
            "listen address is empty; use HOST:PORT, e.g. 127.0.0.1:8080");
    if (*s == '[') {
        const char *rb = strchr(s, ']');

        if (rb == NULL || rb[1] != ':')
            return err_set(eb, ERR_INVAL, "invalid_listen",
                "listen address '%s': an IPv6 address is written "
                "[ADDR]:PORT, e.g. [::1]:8080",
                s);
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL)
            return err_set(eb, ERR_INVAL, "invalid_listen",
                "listen address '%s' has no port; use HOST:PORT, e.g. "
                "127.0.0.1:8080",
                s);
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return err_set(eb, ERR_INVAL, "invalid_listen",
                "listen address '%s': write an IPv6 address in brackets, "
                "e.g. [::1]:8080",
                s);
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostsz)
        return err_set(eb, ERR_INVAL, "invalid_listen",
            "listen address '%s' has no host; use HOST:PORT", s);
    errno = 0;
    p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535)
        return err_set(eb, ERR_INVAL, "invalid_listen",
            "listen address '%s': port must be a number 0-65535", s);
    memcpy(host, h, hl);
    host[hl] = '\0';
    {
        unsigned char a[sizeof(struct in6_addr)];

        if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, a) != 1
            && inet_pton(AF_INET6, host, a) != 1)
            return err_set(eb, ERR_INVAL, "invalid_listen",
                "listen address '%s': '%s' is not an IPv4 or IPv6 address", s,
                host);
    }
    *port = (unsigned)p;
    return 0;
}

static int
http_bind(struct srv *s, struct errbuf *eb)
{
    struct sockaddr_storage ss;
    socklen_t               sl;
    char                    host[256];
    unsigned                port;
    int                     fd, on = 1, rc, v6 = 0;

    if ((rc = srv_listen_parse(s->listen, host, sizeof(host), &port, eb)) != 0)
        return rc;
    memset(&ss, 0, sizeof(ss));
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host,
                   &((struct sockaddr_in6 *)&ss)->sin6_addr)
        == 1) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*sin6);
        v6 = 1;
    } else {
        return err_set(eb, ERR_INVAL, "invalid_listen",
            "listen address '%s': '%s' is not an IPv4 or IPv6 address",
            s->listen, host);
    }
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return err_set(eb, ERR_IO, "listen", "cannot create socket: %s",
            strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (v6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0) {
        rc = err_set(eb, ERR_IO, "listen", "cannot listen on %s: %s", s->listen,
            strerror(errno));
        close(fd);
        return rc;
    }
    sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (v6) {
        char a[INET6_ADDRSTRLEN];

        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a,
            sizeof(a));
        snprintf(s->host, sizeof(s->host), "[%s]", a);
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        char a[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a,
            sizeof(a));
        snprintf(s->host, sizeof(s->host), "%s", a);
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    s->listen_fd = fd;
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int
srv_new(const struct srv_config *cfg, struct srv **out, struct errbuf *eb)
{
    struct srv        *s;
    pthread_condattr_t ca;
    int                rc;

    *out = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    s->cfg = *cfg;
    s->listen_fd = -1;
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_mutex_init(&s->hook_log_mu, NULL);
    pthread_mutex_init(&s->defer_mu, NULL);
    pthread_cond_init(&s->defer_cv, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->conn_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (thr_set_init(&s->reaper, 1, "herald-reaper", http_reaper, s) != 0) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto fail;
    }
    s->listen = strdup(cfg->listen ? cfg->listen : SRV_DEFAULT_LISTEN);
    s->data_dir = strdup(cfg->data_dir ? cfg->data_dir : SRV_DEFAULT_DATA_DIR);
    if (s->listen == NULL || s->data_dir == NULL
        || srv_slow_new(&s->slow) != 0) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto fail;
    }
    s->cfg.listen = s->listen;
    s->cfg.data_dir = s->data_dir;
    s->cfg.web_dir = NULL;
    s->cfg.admin_token = NULL;
    s->cfg.admin_token_file = NULL;
    if (s->cfg.threads == 0)
        s->cfg.threads = SRV_DEFAULT_THREADS;
    if (s->cfg.max_body == 0)
        s->cfg.max_body = SRV_DEFAULT_MAX_BODY;
    if (s->cfg.webhook_max_body == 0)
        s->cfg.webhook_max_body = SRV_DEFAULT_WEBHOOK_MAX_BODY;
    if (s->cfg.max_connections == 0) {
        s->cfg.max_connections = SRV_DEFAULT_MAX_CONN;
        s->conn_default = 1;
    }
    if (s->cfg.timeout_s == 0)
        s->cfg.timeout_s = SRV_DEFAULT_TIMEOUT;
    if (s->cfg.header_timeout_s == 0)
        s->cfg.header_timeout_s = SRV_DEFAULT_HEADER_TIMEOUT;
    if (s->cfg.body_timeout_s == 0)
        s->cfg.body_timeout_s = SRV_DEFAULT_BODY_TIMEOUT;
    s->web_dir = srv_static_dir(cfg->web_dir);
    /* older databases hold clear webhook tokens: the store hashes them */
    eng_store_set_digest(pki_sha256);
    /* SQLite in the data directory, or PostgreSQL (srv_db.c); the URL
     * is not kept */
    s->cfg.database_url = NULL;
    if ((rc = srv_db_open(s, cfg->database_url, eb)) != 0)
        goto fail;
    if ((rc = eng_trustcache_new(s->store, &s->trust, eb)) != 0)
        goto fail;
    /* auth reads cfg->admin_token(_file) from the caller's config */
    s->cfg.admin_token = cfg->admin_token;
    s->cfg.admin_token_file = cfg->admin_token_file;
    rc = srv_auth_init(s, eb);
    s->cfg.admin_token = NULL;
    s->cfg.admin_token_file = NULL;
    if (rc != 0)
        goto fail;
    s->started = time(NULL);
    *out = s;
    return 0;
fail:
    srv_free(s);
    return rc;
}

/*
 * Fits --max-connections under RLIMIT_NOFILE (raising the soft limit up to
 * the hard one first) and picks the per-address limit, below the global
 * one. Logs the figures chosen.
 */
static void
http_limits(struct srv *s)
{
    struct rlimit      rl;
    unsigned long long want, nofile = 0;
    unsigned           asked = s->cfg.max_connections, lim, per_ip;

    want = (unsigned long long)asked + SRV_FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
            struct rlimit up = rl;

            up.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
                ? (rlim_t)want
                : rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                rl = up;
        }
        nofile = rl.rlim_cur == RLIM_INFINITY ? want : rl.rlim_cur;
        if (nofile < want) {
            s->cfg.max_connections = nofile > 2 * SRV_FD_RESERVE
                ? (unsigned)(nofile - SRV_FD_RESERVE)
                : (unsigned)(nofile / 2 > 0 ? nofile / 2 : 1);
            /* a warning only if the operator asked for more */
            if (log_level_current >= (s->conn_default ? LOG_INFO : LOG_WARN))
                log_emit(s->conn_default ? LOG_INFO : LOG_WARN, "http",
                    "event=max-connections-lowered asked=%u max_conn=%u "
                    "nofile=%llu reason=\"RLIMIT_NOFILE (hard limit) "
                    "leaves room for %u connections; raise it (ulimit -Hn, "
                    "LimitNOFILE=, --ulimit nofile=) for more\"",
                    asked, s->cfg.max_connections, nofile,
                    s->cfg.max_connections);
        }
    }
    lim = s->cfg.max_connections;
    per_ip = s->cfg.max_per_ip;
    if (per_ip == 0) {
        per_ip = lim / 4 < SRV_DEFAULT_PER_IP ? lim / 4 : SRV_DEFAULT_PER_IP;
    } else if (per_ip >= lim && lim > 1) {
        per_ip = lim / 2;
        log_warn("http",
            "event=max-connections-per-ip-lowered asked=%u "
            "per_ip=%u max_conn=%u reason=\"one address must not take "
            "every slot\"",
            s->cfg.max_per_ip, per_ip, lim);
    }
    s->cfg.max_per_ip = per_ip > 0 ? per_ip : 1;
    log_info("http",
        "event=limits max_conn=%u per_ip=%u nofile=%llu "
        "header_timeout_s=%u body_timeout_s=%u idle_timeout_s=%u",
        lim, s->cfg.max_per_ip, nofile, s->cfg.header_timeout_s,
        s->cfg.body_timeout_s, s->cfg.timeout_s);
}

int
srv_start(struct srv *s, struct errbuf *eb)
{
    int rc;

    if ((rc = http_bind(s, eb)) != 0)
        return rc;
    http_limits(s);
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
            | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
        0, NULL, NULL, http_access, s, MHD_OPTION_LISTEN_SOCKET,
        (MHD_socket)s->listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)s->cfg.threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)s->cfg.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)s->cfg.max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->cfg.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SRV_HEADER_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s,
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, s, MHD_OPTION_END);
    if (s->mhd == NULL) {
        close(s->listen_fd);
        s->listen_fd = -1;
        return err_set(eb, ERR_IO, "listen",
            "cannot start the HTTP server on %s (threads=%u, "
            "max-connections=%u)",
            s->listen, s->cfg.threads, s->cfg.max_connections);
    }
    s->listen_fd = -1; /* MHD owns and closes it now */
    log_info("http",
        "event=listen addr=%s:%u threads=%u max_conn=%u "
        "max_body=%zu webhook_max_body=%zu timeout_s=%u web_dir=%s",
        s->host, s->port, s->cfg.threads, s->cfg.max_connections,
        s->cfg.max_body, s->cfg.webhook_max_body, s->cfg.timeout_s,
        s->web_dir ? s->web_dir : "-");
    printf("herald: listening on http://%s:%u\n", s->host, s->port);
    fflush(stdout);
    return 0;
}

void
srv_stop(struct srv *s)
{
    if (s == NULL || s->mhd == NULL)
        return;
    pthread_mutex_lock(&s->conn_lock);
    s->reaper_stop = 1;
    thr_set_close(&s->reaper);
    pthread_cond_signal(&s->conn_cv);
    pthread_mutex_unlock(&s->conn_lock);
    thr_set_fini(&s->reaper);
    /* MHD must not stop with a connection suspended (microhttpd.h): a
     * webhook's answer comes within a disk sync, a slow route's within
     * its own deadlines (a probe's connect and reply timeouts) */
    pthread_mutex_lock(&s->defer_mu);
    s->defer_closed = 1;
    while (s->ndeferred > 0)
        pthread_cond_wait(&s->defer_cv, &s->defer_mu);
    pthread_mutex_unlock(&s->defer_mu);
    MHD_stop_daemon(s->mhd); /* closes the listen socket */
    s->mhd = NULL;
}

void
srv_free(struct srv *s)
{
    if (s == NULL)
        return;
    srv_stop(s);
    thr_set_fini(&s->reaper); /* srv_start was never called */
    srv_slow_free(s->slow);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    pthread_cond_destroy(&s->conn_cv);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_mutex_destroy(&s->hook_log_mu);
    pthread_cond_destroy(&s->defer_cv);
    pthread_mutex_destroy(&s->defer_mu);
    eng_trustcache_free(s->trust);
    srv_db_free(s);
    sec_free(s->admin_token);
    sec_free(s->metrics_token);
    free(s->listen);
    free(s->data_dir);
    free(s->web_dir);
    free(s);
}

/* ---- the execution runtime (srv.h) ------------------------------------ */

int
srv_runtime_start(struct srv *s, struct errbuf *eb)
{
    struct eng_runtime *rt = NULL;
    int                 rc;

    if ((rc = eng_runtime_new(s->store, s->trust, NULL, &rt, eb)) != 0)
        return rc;
    if ((rc = eng_runtime_start(rt, eb)) != 0) {
        eng_runtime_free(rt);
        return rc;
    }
    s->runtime = rt;
    return 0;
}

void
srv_runtime_drain(struct srv *s, double timeout_s)
{
    if (s != NULL && s->runtime != NULL)
        eng_runtime_drain(s->runtime, timeout_s);
}

void
srv_runtime_free(struct srv *s)
{
    if (s == NULL)
        return;
    eng_runtime_free(s->runtime);
    s->runtime = NULL;
}

long long
srv_activity(struct srv *s)
{
    return s->requests
        + (s->runtime != NULL ? eng_runtime_activity(s->runtime) : 0);
}

void
srv_release_memory(struct srv *s)
{
    eng_store_release_memory(s->store);
}

void
srv_runtime_applets_changed(struct srv *s)
{
    struct errbuf eb;

    err_clear(&eb);
    if (s != NULL && s->runtime != NULL
        && eng_runtime_applets_changed(s->runtime, &eb) != 0)
        log_warn("server", "event=reregister-failed reason=\"%s\"", eb.msg);
}
