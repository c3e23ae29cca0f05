/* SPDX-License-Identifier: MIT */
/*
 * server/srv.h: the HTTP side of herald, as main() sees it.
 *
 * srv_new() opens the store (DATA_DIR/herald.db, or PostgreSQL with
 * database_url: docs/storage.md), the trust cache and the admin token; srv_start() binds the listen address, starts the
 * libmicrohttpd thread pool and prints the one line
 *   herald: listening on http://HOST:PORT
 * on stdout; srv_stop() stops accepting and waits for the request threads;
 * srv_free() releases everything. Configuration is plain data copied by
 * srv_new().
 */
#ifndef HERALD_SERVER_SRV_H
#define HERALD_SERVER_SRV_H

#include <stddef.h>

#include "common/err.h"

struct srv_config {     /* plain data, copied by srv_new() */
    const char *listen; /* "HOST:PORT" or "[V6]:PORT" */
    const char *data_dir;
    const char *database_url;       /* NULL: SQLite in data_dir; else a
                                     * PostgreSQL URL (holds the password:
                                     * never printed; not kept) */
    const char *web_dir;            /* NULL: compiled-in, then /usr/share */
    const char *admin_token;        /* from HERALD_ADMIN_TOKEN, or NULL */
    const char *admin_token_file;   /* or NULL: DATA_DIR/admin.token */
    const char *metrics_token;      /* HERALD_METRICS_TOKEN, or NULL */
    const char *metrics_token_file; /* or NULL: no metrics token */
    unsigned    threads;
    size_t      max_body;
    size_t      webhook_max_body; /* POST /hooks/{applet} bodies */
    unsigned    max_connections;  /* lowered to fit RLIMIT_NOFILE */
    unsigned    max_per_ip;       /* 0: a quarter of it, at most 256 */
    unsigned    timeout_s;        /* inactivity */
    unsigned    header_timeout_s; /* whole header block, from the start */
    unsigned    body_timeout_s;   /* whole body, from the headers' end */
    int         access_log;       /* a line per request; else only for
                                     * 5xx and aborted ones (and at debug) */
};

#define SRV_DEFAULT_LISTEN           "127.0.0.1:8080"
#define SRV_DEFAULT_DATA_DIR         "./data"
#define SRV_DEFAULT_THREADS          2
#define SRV_DEFAULT_MAX_BODY         (1024 * 1024)
#define SRV_DEFAULT_WEBHOOK_MAX_BODY (256 * 1024)
#define SRV_DEFAULT_MAX_CONN         4096
#define SRV_DEFAULT_PER_IP           256
#define SRV_DEFAULT_TIMEOUT          30
#define SRV_DEFAULT_HEADER_TIMEOUT   10
#define SRV_DEFAULT_BODY_TIMEOUT     60

struct srv;

/* Splits "HOST:PORT" / "[V6]:PORT" into host (without brackets) and port.
 * Errors: ERR_INVAL with a message naming the problem. */
int srv_listen_parse(const char *s, char *host, size_t hostsz, unsigned *port,
    struct errbuf *eb);

/* Checks that url is a PostgreSQL connection string: a
 * "postgresql://" (or "postgres://") URI, or libpq's key=value form.
 * Errors: ERR_INVAL; the message names at most the URL's scheme, never
 * the rest of it. */
int srv_db_url_check(const char *url, struct errbuf *eb);

/* Errors: ERR_IO (data dir, token file), ERR_INVAL (a token too short, a
 * database URL that is not PostgreSQL's), ERR_DB (database),
 * ERR_UNAVAILABLE (the PostgreSQL server cannot be reached or refused the
 * login: eb names HOST:PORT, never the password), ERR_NOMEM. */
int srv_new(const struct srv_config *cfg, struct srv **out, struct errbuf *eb);
/* Errors: ERR_IO (address in use, cannot bind), ERR_INVAL (bad address). */
int  srv_start(struct srv *s, struct errbuf *eb);
void srv_stop(struct srv *s);
void srv_free(struct srv *s); /* NULL is a no-op */

/* The execution runtime (engine/run/runtime.h; server/http.c): start it
 * after srv_new() (reads HERALD_WORKERS, HERALD_QUEUE_SIZE,
 * HERALD_SYSLOG_LISTEN, HERALD_MAIL_WAIT, ...); on SIGTERM drain it (stop
 * triggers, finish in-flight runs for up to timeout_s), then srv_stop(),
 * then srv_runtime_free() before srv_free(). Errors: as
 * eng_runtime_new/eng_runtime_start. */
int  srv_runtime_start(struct srv *s, struct errbuf *eb);
void srv_runtime_drain(struct srv *s, double timeout_s);
void srv_runtime_free(struct srv *s);
/* Re-registers applet events after an applet or variable changed, before
 * the route answers (the store's change also kicks the timer thread,
 * which would do it a moment later: a trigger sent right after the
 * answer would miss it). Failures are logged. */
void srv_runtime_applets_changed(struct srv *s);
/* Once a second, from the main loop (never an HTTP thread): the store's
 * cluster tick (leases renewed, other instances' changes read, timer
 * leadership; reconnects a lost database) and the runtime's (runs of dead
 * instances taken over, runs held back while the database was down sent
 * again). While the database stays away, a reminder a minute (the store
 * logs the loss and the return). Nothing to do with SQLite but a few
 * calls. */
void srv_tick(struct srv *s);
/* A number that grows with every completed request, run and delivery
 * attempt: unchanged between two calls means herald was idle. */
long long srv_activity(struct srv *s);
/* For an idle process: the store gives its cached pages back to the heap
 * (the caller then trims the heap). */
void srv_release_memory(struct srv *s);

#endif
