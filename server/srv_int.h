/* SPDX-License-Identifier: MIT */
/*
 * server/srv_int.h: inside the server module: the server context, one
 * request and its response, the route table and the helpers every route file
 * uses.
 *
 * A handler reads the request (srv_req_*), and fills the response with one
 * of srv_reply_json(), srv_reply_text(), srv_reply_error() or
 * srv_reply_status(). Errors from the engine and pki are passed as they are
 * (rc + struct errbuf) to srv_reply_error(); server/srv_err.c alone decides
 * the HTTP status. Adding a route = one line in routes.c's table.
 */
#ifndef HERALD_SERVER_SRV_INT_H
#define HERALD_SERVER_SRV_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/thread.h"
#include "server/srv.h"

struct cJSON;
struct sec;
struct eng_store;
struct eng_trustcache;
struct eng_runtime;
struct eng_tp_rec;
struct srv_slow;

struct srv {
    struct srv_config      cfg; /* strings below are owned copies */
    char                  *listen;
    char                  *data_dir;
    char                  *web_dir; /* resolved; NULL: no console */
    struct eng_store      *store;
    struct eng_trustcache *trust;
    struct sec            *admin_token;
    struct sec            *metrics_token; /* NULL: none (auth.c) */
    /* The database URL's password (a URI's and a password= one, each
     * also percent-decoded), kept only to scrub it from messages
     * (srv_db.c); NULLs: none. */
#define SRV_DB_SECRETS 4
    struct sec *db_secret[SRV_DB_SECRETS];
    /* srv_tick's view, main thread only: the database answered the last
     * tick; since when it does not; when that was last logged. */
    int                db_up;
    long long          db_down_since_ms, db_down_logged_ms;
    struct MHD_Daemon *mhd;
    int                listen_fd;
    char               host[256]; /* as bound */
    unsigned           port;
    time_t             started;
    /* The execution runtime (worker pool, triggers, outbox): NULL until
     * srv_runtime_start() and after srv_runtime_free() (server/http.c). */
    struct eng_runtime *runtime;
    _Atomic long long   requests; /* completed, for srv_activity */
    /* Open connections and their deadlines (http.c): the reaper thread
     * closes the ones that are late with their headers or body. */
    pthread_mutex_t  conn_lock;
    pthread_cond_t   conn_cv; /* wakes the reaper */
    struct srv_conn *conns;   /* under conn_lock */
    unsigned         nconns;
    int              reaper_stop;
    int              conn_default; /* max_connections not given */
    struct thr_set   reaper;       /* one thread, elastic: http.c */
    /* Refused webhooks are logged at most once a second (http.c); the
     * rest are counted and reported as suppressed. Leaf lock. */
    pthread_mutex_t    hook_log_mu;
    double             hook_log_last; /* monotonic s */
    unsigned long long hook_log_suppressed;
    /* Requests answered later from another thread (srv_defer_begin):
     * MHD must not stop with one suspended, so srv_stop waits for them.
     * Leaf lock. */
    pthread_mutex_t  defer_mu;
    pthread_cond_t   defer_cv; /* ndeferred went to 0 */
    unsigned         ndeferred;
    int              defer_closed; /* srv_stop: no new ones */
    struct srv_slow *slow;         /* slow.c: threads for SRV_ROUTE_SLOW */
};

/* One TCP connection (MHD's socket context). */
struct srv_conn {
    struct srv_conn *prev, *next;
    int              fd;
    int              phase;    /* SRV_CONN_* */
    double           since;    /* monotonic s: phase start */
    double           deadline; /* monotonic s; 0 = none */
    unsigned         requests; /* completed on this connection */
    int              closing;  /* the reaper shut it down */
};

enum {
    SRV_CONN_HEAD,  /* waiting for a request's headers (or idle) */
    SRV_CONN_BODY,  /* headers read, receiving the body */
    SRV_CONN_REPLY, /* answered (or to be: srv_defer); MHD is sending the
                       response */
};

#define SRV_MAX_PARAMS  4
#define SRV_MAX_HEADERS 6

struct srv_resp {
    int         status;
    struct buf  body;
    const char *content_type; /* static string */
    const char *hname[SRV_MAX_HEADERS];
    char       *hval[SRV_MAX_HEADERS];
    size_t      nheaders;
};

struct srv_req {
    struct srv            *srv;
    struct MHD_Connection *conn;
    const char            *method;
    char                  *path;
    struct buf             body;
    size_t                 declared_len; /* Content-Length, 0 if none */
    size_t                 max_body;     /* this request's body limit */
    const char            *max_flag;     /* the option that sets it */
    int                    too_large;    /* body went over max_body */
    int                    hook;         /* POST /hooks/{applet} */
    int                    refused;      /* a refused webhook: log limited */
    char                   reason[256];  /* why it was refused (log only) */
    int                    answered;     /* a response was queued */
    int                    status;       /* for the access log */
    char                  *params[SRV_MAX_PARAMS]; /* path {captures} */
    size_t                 nparams;
    struct timespec        t0;
    int                    deferred;  /* srv_defer: the answer is late's */
    struct srv_resp        late;      /* filled before srv_resume */
    struct srv_req        *slow_next; /* slow.c's queue */
    void (*slow_fn)(struct srv_req *, struct srv_resp *);
};

/*
 * A handler that answers later, from another thread (a webhook whose run
 * the runtime's committer puts on disk): srv_defer_begin says whether it
 * may (1: counted, and it must call srv_defer or srv_defer_cancel; 0: the
 * server stops, answer now). srv_defer suspends the connection (before the
 * other thread may answer): the handler returns without filling rs. The
 * other thread fills *rq->late and calls srv_resume, once, and must not
 * touch rq after it: the connection sends the answer and frees rq.
 */
int  srv_defer_begin(struct srv_req *rq);
void srv_defer(struct srv_req *rq);
void srv_defer_cancel(struct srv_req *rq);
void srv_resume(struct srv_req *rq);

/* Joins the connection reaper if it ended (http.c), so that its stack goes
 * back now rather than at the next connection, and starts it if a
 * connection is open but it could not be started: srv_tick, once a
 * second. */
void srv_reap(struct srv *s);

/* A route handler fills rs. Its return value is ignored: it must reply. */
typedef void (*srv_handler)(struct srv_req *rq, struct srv_resp *rs);

#define SRV_ROUTE_NOAUTH 0x1 /* no admin token needed */
/* may block for long (a mail server's answer, a run's outcome): runs on a
 * thread of server/slow.c, not on an HTTP thread */
#define SRV_ROUTE_SLOW 0x2

/*
 * server/slow.c: the handlers of SRV_ROUTE_SLOW routes run on up to
 * SRV_SLOW_THREADS threads of their own (elastic: none while idle), their
 * connections suspended meanwhile, so that the few HTTP threads only ever
 * wait for the CPU and the local disk. At most SRV_SLOW_QUEUED more wait
 * for a thread; past that, a 429 (busy).
 */
#define SRV_SLOW_THREADS 8
#define SRV_SLOW_QUEUED  64
struct srv_slow;
/* Errors: ENOMEM. */
int srv_slow_new(struct srv_slow **out);
/* Runs fn(rq, ...) on a slow thread and answers from there; answers rs
 * itself when the server stops (fn runs here) or too many wait (429). */
void srv_slow_run(struct srv *s, struct srv_req *rq, struct srv_resp *rs,
    srv_handler fn);
/* Once a second: joins threads that ended. */
void srv_slow_tick(struct srv_slow *w);
/* Joins the threads; none may be busy (srv_stop waited for every deferred
 * request). NULL: no-op. */
void srv_slow_free(struct srv_slow *w);

struct srv_route {
    const char *method;  /* "GET", ... */
    const char *pattern; /* "/api/v1/applets/{name}": {x} = one segment */
    srv_handler handler;
    unsigned    flags;
};

/* ---- routes.c ---- */
void srv_dispatch(struct srv_req *rq, struct srv_resp *rs);

/* ---- routes_hooks.c ---- */
/* At the first call for a request, before its body is read: for POST
 * /hooks/{applet}, marks rq as a webhook (its own body limit) and checks
 * its credentials from the headers. Returns 1 after filling rs with the
 * refusal (answer it now, the body unread), else 0. */
int srv_hook_early(struct srv_req *rq, struct srv_resp *rs);

/* ---- request helpers (http.c) ---- */
const char *srv_req_header(struct srv_req *rq, const char *name);
const char *srv_req_query(struct srv_req *rq, const char *name);
/* The media type of the body, lower-case, without parameters ("" if none),
 * in a caller buffer. */
const char *srv_req_media_type(struct srv_req *rq, char *buf, size_t sz);
/* 1 if the request's media type is one of the NULL-terminated list; else
 * replies 415 naming the accepted types and returns 0. */
int srv_req_accept_types(struct srv_req *rq, struct srv_resp *rs,
    const char *const *types);
/* Parses a JSON body (Content-Type application/json). Returns a new object
 * (cJSON_Delete()) or NULL after replying 415 or 400 invalid_json. */
struct cJSON *srv_req_json(struct srv_req *rq, struct srv_resp *rs);
/* Parses an already accepted body as JSON; NULL after replying 400. */
struct cJSON *srv_parse_json(struct srv_req *rq, struct srv_resp *rs);

/* ---- responses ---- */
void srv_reply_json(struct srv_resp *rs, int status, struct cJSON *j);
void srv_reply_text(struct srv_resp *rs, int status, const char *ctype,
    const char *text, size_t len);
void srv_reply_status(struct srv_resp *rs, int status); /* empty body */
int  srv_resp_header(struct srv_resp *rs, const char *name, const char *value);
void srv_resp_clear(struct srv_resp *rs);

/* ---- srv_db.c: the database as the server sees it ---- */
/* Opens s->store: SQLite in s->data_dir when url is NULL or "", else
 * PostgreSQL (keeps the password only to scrub messages). Errors: as
 * eng_store_open_url, with the password scrubbed from eb. */
int srv_db_open(struct srv *s, const char *url, struct errbuf *eb);
/* Replaces the database password, wherever it appears in msg, with
 * "*****" (a second lock: the store's messages never carry it). */
void srv_db_scrub(const struct srv *s, char *msg, size_t sz);
/* Adds "database": {backend, ready, leader, instance, error?} to obj;
 * returns 1 if the database is ready. */
int  srv_db_health(struct srv *s, struct cJSON *obj);
void srv_db_free(struct srv *s);

/* Seconds in the Retry-After of a 429 (busy) and a 503 (unavailable). */
#define SRV_RETRY_AFTER "5"

/* ---- srv_err.c: the only place enum err becomes an HTTP status ---- */
int srv_err_status(int rc, const struct errbuf *eb);
/* New {"error": {...}} object for rc/eb. */
struct cJSON *srv_err_json(int rc, const struct errbuf *eb);
void srv_reply_error(struct srv_resp *rs, int rc, const struct errbuf *eb);
/* Shorthand for a server-made error (code + message). */
void srv_reply_errorf(struct srv_resp *rs, int rc, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- srv_json.c ---- */
/* Checks a text body: valid UTF-8, no NUL byte. what names it in the
 * message ("the request body"). Errors: ERR_INVAL, code invalid_utf8 or
 * invalid_text, with the offset in the message and line/column. */
int srv_text_check(const char *p, size_t len, const char *what,
    struct errbuf *eb);
/* Parses len bytes as one JSON value (any type) into a new *out
 * (cJSON_Delete()): empty, not UTF-8, NUL bytes, a syntax error, bytes
 * after the value, a member given twice in one object, a number beyond a
 * double's range, and \u0000 in a string are refused. Errors: ERR_INVAL,
 * code invalid_json / invalid_utf8, or invalid_field with the path of the
 * member holding \u0000 in eb->field. */
int srv_json_parse(const char *p, size_t len, struct cJSON **out,
    struct errbuf *eb);
/* The \u0000 check alone, on text that cJSON accepted. */
int srv_json_nul_check(const char *p, size_t len, struct errbuf *eb);
/* Adds an RFC 3339 UTC time string ("" for t == 0 is null). */
int srv_json_add_time(struct cJSON *obj, const char *name, long long t);
/* Field readers. Missing and not required: *out untouched, returns 0.
 * Errors: ERR_INVAL with eb->field, code missing_field or invalid_field. */
int srv_json_string(const struct cJSON *obj, const char *name, int required,
    const char **out, struct errbuf *eb);
int srv_json_bool(const struct cJSON *obj, const char *name, int *out,
    struct errbuf *eb);
int srv_json_uint(const struct cJSON *obj, const char *name, unsigned max,
    unsigned *out, struct errbuf *eb);
/* Rejects members not in the NULL-terminated list. */
int srv_json_only(const struct cJSON *obj, const char *const *allowed,
    struct errbuf *eb);

/* ---- auth.c ---- */
int srv_auth_init(struct srv *s, struct errbuf *eb);
/* 1 if the request carries the admin token. */
int srv_auth_ok(struct srv_req *rq);
/* 1 if it carries the admin token or the metrics token. */
int  srv_auth_metrics_ok(struct srv_req *rq);
void srv_reply_unauthorized(struct srv_resp *rs, const char *why);

/* ---- static.c ---- */
/* Resolves the web console directory (NULL if none exists). */
char *srv_static_dir(const char *configured);
/* Serves GET/HEAD of a console path; returns 0 if it replied, -1 if the
 * path is not a console path (caller answers 404). */
int srv_static_serve(struct srv_req *rq, struct srv_resp *rs);

/* ---- route handlers ---- */
void srv_h_healthz(struct srv_req *, struct srv_resp *);
void srv_h_version(struct srv_req *, struct srv_resp *);
void srv_h_settings_get(struct srv_req *, struct srv_resp *);
void srv_h_settings_put(struct srv_req *, struct srv_resp *);
void srv_h_env_list(struct srv_req *, struct srv_resp *);
void srv_h_env_get(struct srv_req *, struct srv_resp *);
void srv_h_env_put(struct srv_req *, struct srv_resp *);
void srv_h_env_del(struct srv_req *, struct srv_resp *);
void srv_h_cred_list(struct srv_req *, struct srv_resp *);
void srv_h_cred_get(struct srv_req *, struct srv_resp *);
void srv_h_cred_put(struct srv_req *, struct srv_resp *);
void srv_h_cred_del(struct srv_req *, struct srv_resp *);
void srv_h_applet_list(struct srv_req *, struct srv_resp *);
void srv_h_applet_post(struct srv_req *, struct srv_resp *);
void srv_h_applet_get(struct srv_req *, struct srv_resp *);
void srv_h_applet_put(struct srv_req *, struct srv_resp *);
void srv_h_applet_del(struct srv_req *, struct srv_resp *);
void srv_h_tp_list(struct srv_req *, struct srv_resp *);
void srv_h_tp_post(struct srv_req *, struct srv_resp *);
void srv_h_tp_get(struct srv_req *, struct srv_resp *);
void srv_h_tp_del(struct srv_req *, struct srv_resp *);
void srv_h_tp_cert_put(struct srv_req *, struct srv_resp *);
void srv_h_tp_import_chain(struct srv_req *, struct srv_resp *);
void srv_h_config_get(struct srv_req *, struct srv_resp *);
void srv_h_config_post(struct srv_req *, struct srv_resp *);
void srv_h_probe(struct srv_req *, struct srv_resp *);
void srv_h_mail_test(struct srv_req *, struct srv_resp *);
/* execution (routes_runs.c, routes_hooks.c) */
void srv_h_applet_run(struct srv_req *, struct srv_resp *);
void srv_h_applet_webhook(struct srv_req *, struct srv_resp *);
void srv_h_hook(struct srv_req *, struct srv_resp *);
void srv_h_runs_list(struct srv_req *, struct srv_resp *);
void srv_h_run_get(struct srv_req *, struct srv_resp *);
void srv_h_outbox_list(struct srv_req *, struct srv_resp *);
void srv_h_outbox_get(struct srv_req *, struct srv_resp *);
void srv_h_outbox_resend(struct srv_req *, struct srv_resp *);
/* POST /api/v1/events/application (routes_events.c) */
void srv_h_event_application(struct srv_req *, struct srv_resp *);
/* GET /metrics (routes_metrics.c): a NOAUTH route that checks the admin
 * or the metrics token itself */
void srv_h_metrics(struct srv_req *, struct srv_resp *);

/* Trustpoint record -> API JSON (routes_trustpoints.c). */
struct cJSON *srv_tp_json(const struct eng_tp_rec *r);

#endif
