/* SPDX-License-Identifier: MIT */
/*
 * server/main.c: the herald command line.
 *
 *   herald --help | --version
 *   herald serve [--listen ADDR:PORT] [--data-dir DIR] [--threads N]
 *       [--max-body BYTES] [--webhook-max-body BYTES] [--max-connections N]
 *       [--max-connections-per-ip N] [--timeout SECS]
 *       [--header-timeout SECS] [--body-timeout SECS]
 *       [--log-level L] [--web-dir DIR] [--admin-token-file F]
 *       [--metrics-token-file F] [--database-url URL | --database-url-file F]
 *
 * Every flag also reads from HERALD_<FLAG> in the environment; flags win.
 * The database URL holds a password: it is never printed (not in --help,
 * errors, logs or /healthz); HERALD_DATABASE_URL_FILE or
 * --database-url-file keep it out of the process list.
 * Exit codes: 0 after SIGTERM/SIGINT, 1 when start-up fails (data dir,
 * database, address in use), 2 for a bad flag or value.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"
#include "engine/run/runtime.h"
#include "pki/pki.h"
#include "server/srv.h"

/* the longest database URL (or file holding one) taken */
#define DB_URL_MAX 4096

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: herald serve [options]\n"
        "       herald health [--listen ADDR:PORT]\n"
        "       herald --help | --version\n"
        "\n"
        "herald: a REST-managed notification appliance (EEM applets, SMTP\n"
        "over TLS with trustpoint chain validation).\n"
        "\n"
        "serve options (environment variable in brackets; flags win):\n"
        "  --listen ADDR:PORT      listen address, [::1]:PORT for IPv6; "
        "port 0 = any\n"
        "                          [HERALD_LISTEN] (default " SRV_DEFAULT_LISTEN
        ")\n"
        "  --data-dir DIR          state directory [HERALD_DATA_DIR] "
        "(default " SRV_DEFAULT_DATA_DIR ")\n"
        "  --threads N             HTTP threads [HERALD_THREADS] "
        "(default 2)\n"
        "  --max-body BYTES        largest request body [HERALD_MAX_BODY] "
        "(default 1048576)\n"
        "  --webhook-max-body BYTES\n"
        "                          largest POST /hooks/{applet} body, "
        "refused with 413\n"
        "                          as soon as it is passed "
        "[HERALD_WEBHOOK_MAX_BODY]\n"
        "                          (default 262144)\n"
        "  --max-connections N     open connections "
        "[HERALD_MAX_CONNECTIONS]\n"
        "                          (default 4096; lowered to fit "
        "RLIMIT_NOFILE)\n"
        "  --max-connections-per-ip N\n"
        "                          of them from one client address\n"
        "                          [HERALD_MAX_CONNECTIONS_PER_IP] (default "
        "a quarter,\n"
        "                          at most 256; raise it behind a proxy)\n"
        "  --timeout SECS          inactivity timeout [HERALD_TIMEOUT]"
        " (default 30)\n"
        "  --header-timeout SECS   a request's headers must be complete "
        "this long\n"
        "                          after the connection opened or the last "
        "answer\n"
        "                          (also the keep-alive idle time)\n"
        "                          [HERALD_HEADER_TIMEOUT] (default 10)\n"
        "  --body-timeout SECS     its body this long after the headers\n"
        "                          [HERALD_BODY_TIMEOUT] (default 60)\n"
        "  --log-level L           error|warn|info|debug [HERALD_LOG_LEVEL]"
        " (default info)\n"
        "  --access-log            a log line for every HTTP request\n"
        "                          [HERALD_ACCESS_LOG=1]; by default only "
        "5xx answers\n"
        "                          and aborted requests get one (all at "
        "debug level)\n"
        "  --web-dir DIR           web console files [HERALD_WEB_DIR]\n"
        "  --database-url URL      keep all state in PostgreSQL, shared by "
        "several\n"
        "                          herald instances [HERALD_DATABASE_URL]:\n"
        "                          postgresql://USER:PASSWORD@HOST:PORT/DB "
        "or\n"
        "                          libpq's key=value form\n"
        "  --database-url-file F   read it from file F "
        "[HERALD_DATABASE_URL_FILE]\n"
        "                          (keeps the password out of the process "
        "list).\n"
        "                          Default: SQLite in DATA_DIR/herald.db "
        "(one\n"
        "                          instance). The URL is never printed.\n"
        "  --admin-token-file F    file holding the admin token\n"
        "                          [HERALD_ADMIN_TOKEN_FILE]; "
        "HERALD_ADMIN_TOKEN gives it\n"
        "                          directly; default DATA_DIR/admin.token,\n"
        "                          created on first start\n"
        "  --metrics-token-file F  file holding a token that opens GET "
        "/metrics\n"
        "                          only [HERALD_METRICS_TOKEN_FILE]; "
        "HERALD_METRICS_TOKEN\n"
        "                          gives it directly (default: none; the "
        "admin\n"
        "                          token opens /metrics too)\n"
        "  --workers N             applet worker threads [HERALD_WORKERS]\n"
        "                          (default: number of cores); queue size\n"
        "                          [HERALD_QUEUE_SIZE] (default 1024)\n"
        "  --syslog-listen A:P     receive syslog on UDP+TCP A:P\n"
        "                          [HERALD_SYSLOG_LISTEN] (default off)\n"
        "  --trigger-queue N       runs of one applet that may wait for a "
        "worker;\n"
        "                          a syslog or timer trigger finding N "
        "queued is\n"
        "                          dropped, counted and logged, with no "
        "run record\n"
        "                          [HERALD_TRIGGER_QUEUE] (default 16)\n"
        "  mail outbox: HERALD_MAIL_WAIT=queue|delivery (default queue),\n"
        "  HERALD_MAIL_LIFETIME secs (86400), HERALD_MAIL_SENDERS (8 SMTP\n"
        "  sessions kept open); run history:\n"
        "  HERALD_RUN_RETENTION_DAYS (30)\n"
        "\n"
        "health: GET /healthz of the server at --listen / HERALD_LISTEN\n"
        "(0.0.0.0 and :: mean loopback); exit 0 if it answers ok, else 1.\n"
        "For container health checks.\n");
}

static int
bad(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "herald: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry 'herald --help'.\n");
    return 2;
}

/* Parses an unsigned number in [min, max] for option name. */
static int
num(const char *name, const char *v, unsigned long long min,
    unsigned long long max, unsigned long long *out)
{
    char              *end;
    unsigned long long x;
    char               range[64];

    errno = 0;
    if (v == NULL || *v == '\0' || *v == '-')
        goto no;
    x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        goto no;
    *out = x;
    return 0;
no:
    snprintf(range, sizeof(range), "%llu..%llu", min, max);
    fprintf(stderr,
        "herald: %s: '%s' is not a number in %s\n"
        "Try 'herald --help'.\n",
        name, v ? v : "", range);
    return 2;
}

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
    got_signal = sig;
}

/*
 * Called every 2 s. Once a burst of work is over (activity moved, then did
 * not during the last tick) it hands the heap pages that requests, runs and
 * deliveries freed back to the system, and twice more, 12 and 22 s later,
 * after the idle SMTP sessions have been closed (10 s) and the mail
 * senders and applet workers the burst started have ended, the last ones
 * too (10 s without work, counted from its own last work and session:
 * their per-thread malloc caches go back to the heap then, and their
 * stacks are unmapped at the next tick). The store first
 * gives back SQLite's page cache (up to 2 MB after a burst). glibc keeps
 * freed memory for reuse; without this a single trustpoint upload leaves
 * about 1.6 MB resident for good.
 */
static void
idle_trim(struct srv *s)
{
    static long long last = -1;
    static int       quiet;
    long long        now = srv_activity(s);

    if (now != last) {
        last = now;
        quiet = 0;
        return;
    }
    if (++quiet == 1 || quiet == 7 || quiet == 12) {
        struct mallinfo2 mi;

        srv_release_memory(s);
        malloc_trim(0);
        mi = mallinfo2();
        log_debug("main",
            "event=trim heap_kb=%zu in_use_kb=%zu free_kb=%zu "
            "mmap_kb=%zu",
            mi.arena / 1024, mi.uordblks / 1024, mi.fordblks / 1024,
            mi.hblkhd / 1024);
    }
}

/* serve's settings as text: HERALD_* first, then the command line. */
struct serve_args {
    const char *listen, *data, *threads, *body, *conn, *timeout, *log, *web;
    const char *tokfile, *token, *per_ip, *htimeout, *btimeout, *hbody;
    const char *mtokfile, *mtoken, *alog;
    const char *dburl, *dburlfile;           /* the URL holds a password */
    const char *dburl_from, *dburlfile_from; /* flag or variable name */
};

static void
serve_args_env(struct serve_args *a)
{
    a->listen = getenv("HERALD_LISTEN");
    a->data = getenv("HERALD_DATA_DIR");
    a->threads = getenv("HERALD_THREADS");
    a->body = getenv("HERALD_MAX_BODY");
    a->hbody = getenv("HERALD_WEBHOOK_MAX_BODY");
    a->conn = getenv("HERALD_MAX_CONNECTIONS");
    a->timeout = getenv("HERALD_TIMEOUT");
    a->per_ip = getenv("HERALD_MAX_CONNECTIONS_PER_IP");
    a->htimeout = getenv("HERALD_HEADER_TIMEOUT");
    a->btimeout = getenv("HERALD_BODY_TIMEOUT");
    a->log = getenv("HERALD_LOG_LEVEL");
    a->web = getenv("HERALD_WEB_DIR");
    a->tokfile = getenv("HERALD_ADMIN_TOKEN_FILE");
    a->token = getenv("HERALD_ADMIN_TOKEN");
    a->mtokfile = getenv("HERALD_METRICS_TOKEN_FILE");
    a->mtoken = getenv("HERALD_METRICS_TOKEN");
    a->alog = getenv("HERALD_ACCESS_LOG");
    a->dburl = getenv("HERALD_DATABASE_URL");
    a->dburlfile = getenv("HERALD_DATABASE_URL_FILE");
    a->dburl_from = "HERALD_DATABASE_URL";
    a->dburlfile_from = "HERALD_DATABASE_URL_FILE";
}

/* An argument as a usage error may repeat it: an option without its
 * "=value", and nothing that may hold a password (a mistyped
 * --database-url=postgresql://user:pw@...). */
static const char *
arg_shown(const char *arg, char *buf, size_t sz)
{
    if (arg[0] == '-') {
        snprintf(buf, sz, "%.*s", (int)strcspn(arg, "="), arg);
        return buf;
    }
    if (strchr(arg, '@') != NULL || strstr(arg, "://") != NULL
        || strstr(arg, "password") != NULL)
        return "(not shown: it may hold a password)";
    snprintf(buf, sz, "%s", arg);
    return buf;
}

/* Reads the options over the environment's values. Returns -1 to go on, or
 * the exit status (0 after --help, 2 for a usage error). */
static int
serve_args_parse(int argc, char **argv, struct serve_args *a)
{
    enum {
        O_LISTEN = 1,
        O_DATA,
        O_THREADS,
        O_BODY,
        O_CONN,
        O_TIMEOUT,
        O_LOG,
        O_WEB,
        O_TOKFILE,
        O_HELP,
        O_WORKERS,
        O_SYSLOG,
        O_PER_IP,
        O_HTIMEOUT,
        O_BTIMEOUT,
        O_HBODY,
        O_TQUEUE,
        O_MTOKFILE,
        O_ALOG,
        O_DBURL,
        O_DBURLFILE
    };
    static const struct option opts[] = {
        { "listen", required_argument, NULL, O_LISTEN },
        { "data-dir", required_argument, NULL, O_DATA },
        { "threads", required_argument, NULL, O_THREADS },
        { "max-body", required_argument, NULL, O_BODY },
        { "webhook-max-body", required_argument, NULL, O_HBODY },
        { "max-connections", required_argument, NULL, O_CONN },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "max-connections-per-ip", required_argument, NULL, O_PER_IP },
        { "header-timeout", required_argument, NULL, O_HTIMEOUT },
        { "body-timeout", required_argument, NULL, O_BTIMEOUT },
        { "log-level", required_argument, NULL, O_LOG },
        { "web-dir", required_argument, NULL, O_WEB },
        { "admin-token-file", required_argument, NULL, O_TOKFILE },
        { "metrics-token-file", required_argument, NULL, O_MTOKFILE },
        { "help", no_argument, NULL, O_HELP },
        { "workers", required_argument, NULL, O_WORKERS },
        { "syslog-listen", required_argument, NULL, O_SYSLOG },
        { "trigger-queue", required_argument, NULL, O_TQUEUE },
        { "access-log", no_argument, NULL, O_ALOG },
        { "database-url", required_argument, NULL, O_DBURL },
        { "database-url-file", required_argument, NULL, O_DBURLFILE },
        { NULL, 0, NULL, 0 },
    };
    unsigned long long x;
    int                c;
    char               shown[64];

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            a->listen = optarg;
            break;
        case O_DATA:
            a->data = optarg;
            break;
        case O_THREADS:
            a->threads = optarg;
            break;
        case O_BODY:
            a->body = optarg;
            break;
        case O_HBODY:
            a->hbody = optarg;
            break;
        case O_CONN:
            a->conn = optarg;
            break;
        case O_TIMEOUT:
            a->timeout = optarg;
            break;
        case O_PER_IP:
            a->per_ip = optarg;
            break;
        case O_HTIMEOUT:
            a->htimeout = optarg;
            break;
        case O_BTIMEOUT:
            a->btimeout = optarg;
            break;
        case O_LOG:
            a->log = optarg;
            break;
        case O_WEB:
            a->web = optarg;
            break;
        case O_TOKFILE:
            a->tokfile = optarg;
            a->token = NULL;
            break;
        case O_MTOKFILE:
            a->mtokfile = optarg;
            a->mtoken = NULL;
            break;
        case O_ALOG:
            a->alog = "1";
            break;
        case O_DBURL: /* a flag wins over both variables */
            a->dburl = optarg;
            a->dburl_from = "--database-url";
            a->dburlfile = NULL;
            break;
        case O_DBURLFILE:
            a->dburlfile = optarg;
            a->dburlfile_from = "--database-url-file";
            a->dburl = NULL;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        case O_WORKERS:
            if (num("--workers", optarg, 1, 256, &x))
                return 2;
            setenv("HERALD_WORKERS", optarg, 1);
            break;
        case O_SYSLOG:
            setenv("HERALD_SYSLOG_LISTEN", optarg, 1);
            break;
        case O_TQUEUE:
            if (num("--trigger-queue", optarg, 1, 1000000, &x))
                return 2;
            setenv("HERALD_TRIGGER_QUEUE", optarg, 1);
            break;
        case ':':
            return bad("option '%s' needs a value%s",
                arg_shown(argv[optind - 1], shown, sizeof(shown)), "");
        default:
            return bad("unknown option '%s'%s",
                arg_shown(argv[optind - 1], shown, sizeof(shown)), "");
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'%s",
            arg_shown(argv[optind], shown, sizeof(shown)), "");
    return -1;
}

/* Checks the settings into cfg (and sets the log level). Returns 0, or 2
 * after printing the usage error. */
static int
serve_config(const struct serve_args *a, struct srv_config *cfg)
{
    struct errbuf      eb = { 0 };
    unsigned long long x;
    char               host[256];
    unsigned           port;
    int                level;

    if (a->listen
        && srv_listen_parse(a->listen, host, sizeof(host), &port, &eb) != 0)
        return bad("--listen: %s%s", eb.msg, "");
    cfg->listen = a->listen;
    if (a->data && *a->data == '\0')
        return bad("--data-dir: the directory name is empty%s%s", "", "");
    cfg->data_dir = a->data;
    if (a->threads) {
        if (num("--threads", a->threads, 1, 256, &x))
            return 2;
        cfg->threads = (unsigned)x;
    }
    if (a->body) {
        if (num("--max-body", a->body, 1024, 1024ULL * 1024 * 1024, &x))
            return 2;
        cfg->max_body = (size_t)x;
    }
    if (a->alog) {
        if (num("--access-log (HERALD_ACCESS_LOG)", a->alog, 0, 1, &x))
            return 2;
        cfg->access_log = (int)x;
    }
    if (a->hbody) {
        if (num("--webhook-max-body", a->hbody, 1024, 1024ULL * 1024 * 1024,
                &x))
            return 2;
        cfg->webhook_max_body = (size_t)x;
    }
    if (a->conn) {
        if (num("--max-connections", a->conn, 1, 100000, &x))
            return 2;
        cfg->max_connections = (unsigned)x;
    }
    if (a->timeout) {
        if (num("--timeout", a->timeout, 1, 86400, &x))
            return 2;
        cfg->timeout_s = (unsigned)x;
    }
    if (a->per_ip) {
        if (num("--max-connections-per-ip", a->per_ip, 1, 100000, &x))
            return 2;
        cfg->max_per_ip = (unsigned)x;
    }
    if (a->htimeout) {
        if (num("--header-timeout", a->htimeout, 1, 3600, &x))
            return 2;
        cfg->header_timeout_s = (unsigned)x;
    }
    if (a->btimeout) {
        if (num("--body-timeout", a->btimeout, 1, 86400, &x))
            return 2;
        cfg->body_timeout_s = (unsigned)x;
    }
    if (a->log) {
        if ((level = log_level_parse(a->log)) < 0)
            return bad("--log-level: '%s' is not one of error, warn, info, "
                       "debug%s",
                a->log, "");
        log_set_level(level);
    }
    cfg->web_dir = a->web && *a->web ? a->web : NULL;
    if (cfg->web_dir) {
        struct stat sb;

        if (stat(cfg->web_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return bad("--web-dir: '%s' is not a directory%s", cfg->web_dir,
                "");
    }
    cfg->admin_token_file = a->tokfile && *a->tokfile ? a->tokfile : NULL;
    cfg->admin_token = a->token && *a->token ? a->token : NULL;
    cfg->metrics_token_file = a->mtokfile && *a->mtokfile ? a->mtokfile : NULL;
    cfg->metrics_token = a->mtoken && *a->mtoken ? a->mtoken : NULL;
    return 0;
}

/* Reads the database URL from file path (what: the flag or variable that
 * named it) into a new string, trimmed. Returns 0, or 2 after printing
 * why (the file's name, never its content). */
static int
db_url_read(const char *path, const char *what, char **out)
{
    char    buf[DB_URL_MAX + 2];
    size_t  n = 0, b = 0;
    ssize_t r;
    int     fd, rc = 2;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr,
            "herald: %s: cannot read the database URL file %s: %s\n"
            "Try 'herald --help'.\n",
            what, path, strerror(errno));
        return 2;
    }
    while (n < sizeof(buf) - 1
        && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr,
                "herald: %s: cannot read the database URL file %s: %s\n", what,
                path, strerror(errno));
            goto out;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (n > DB_URL_MAX) {
        fprintf(stderr,
            "herald: %s: the database URL file %s is longer than %d "
            "bytes\n",
            what, path, DB_URL_MAX);
        goto out;
    }
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]) != NULL)
        buf[--n] = '\0';
    while (b < n && strchr(" \t\r\n", buf[b]) != NULL)
        b++;
    if (b == n || strlen(buf + b) != n - b || strpbrk(buf + b, "\r\n")) {
        fprintf(stderr,
            "herald: %s: the database URL file %s %s\n"
            "Try 'herald --help'.\n",
            what, path,
            b == n ? "is empty" : "must hold the URL alone, on one line");
        goto out;
    }
    if ((*out = strdup(buf + b)) == NULL)
        fprintf(stderr, "herald: out of memory\n");
    else
        rc = 0;
out:
    close(fd);
    sec_wipe(buf, sizeof(buf));
    return rc;
}

/* The database URL (NULL: SQLite) from --database-url or
 * HERALD_DATABASE_URL, else from the file named by --database-url-file or
 * HERALD_DATABASE_URL_FILE, checked (srv_db_url_check) into *out, a new
 * string (sec_free_str). Returns 0, or 2 after printing why: a bad value
 * is refused before the data directory or the database are touched. */
static int
serve_db_url(const struct serve_args *a, char **out)
{
    struct errbuf eb = { 0 };
    const char   *from;
    char         *u = NULL;
    int           rc;

    *out = NULL;
    if (a->dburl != NULL && *a->dburl != '\0') {
        from = a->dburl_from;
        if ((u = strdup(a->dburl)) == NULL) {
            fprintf(stderr, "herald: out of memory\n");
            return 2;
        }
    } else if (a->dburlfile != NULL && *a->dburlfile != '\0') {
        from = a->dburlfile_from;
        if ((rc = db_url_read(a->dburlfile, from, &u)) != 0)
            return rc;
    } else {
        return 0;
    }
    if (srv_db_url_check(u, &eb) != 0) {
        sec_free_str(u);
        fprintf(stderr, "herald: %s: %s\nTry 'herald --help'.\n", from, eb.msg);
        return 2;
    }
    *out = u;
    return 0;
}

/* The process: one malloc arena, umask, SIGPIPE ignored, and SIGTERM and
 * SIGINT blocked in every thread (*old gets the mask before). */
static void
serve_process_setup(sigset_t *old)
{
    struct sigaction sa;
    sigset_t         stop;

    /* one malloc arena for all threads (unless MALLOC_ARENA_MAX says
     * otherwise): glibc would give each of the ~12 threads an arena of its
     * own that keeps its freed pages, about 300 KB each at idle; the
     * per-thread caches in front of the arena keep the lock cold */
    if (getenv("MALLOC_ARENA_MAX") == NULL)
        mallopt(M_ARENA_MAX, 1);
    umask(077); /* the database and token file hold secrets */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* Block the stop signals in every thread; the main thread waits for
     * them with ppoll in serve_wait. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_BLOCK, &stop, old);
}

/* Creates and starts the server and its runtime into *out. Returns 0, or
 * the exit status after printing why (nothing is left running). */
static int
serve_start(const struct srv_config *cfg, struct srv **out)
{
    struct eng_runtime_opts ro;
    struct errbuf           eb = { 0 };
    struct srv             *s = NULL;

    /* a bad HERALD_* value is a usage error: refused before the data
     * directory, the database or the token are touched */
    memset(&ro, 0, sizeof(ro));
    if (eng_runtime_opts_resolve(&ro, &eb) != 0) {
        fprintf(stderr, "herald: %s\nTry 'herald --help'.\n", eb.msg);
        return 2;
    }
    if (pki_init() != 0) {
        fprintf(stderr, "herald: cannot initialise wolfSSL\n");
        return 1;
    }
    if (srv_new(cfg, &s, &eb) != 0) {
        fprintf(stderr, "herald: %s\n", eb.msg);
        pki_cleanup();
        return 1;
    }
    /* the execution runtime (worker pool, triggers, outbox) in
     * s->runtime; it takes runs as soon as the HTTP side is up */
    if (srv_runtime_start(s, &eb) != 0) {
        fprintf(stderr, "herald: %s\n", eb.msg);
        srv_free(s);
        pki_cleanup();
        return 1;
    }
    if (srv_start(s, &eb) != 0) {
        fprintf(stderr, "herald: %s\n", eb.msg);
        srv_runtime_free(s);
        srv_free(s);
        pki_cleanup();
        return 1;
    }
    *out = s;
    return 0;
}

/* Waits for SIGTERM or SIGINT, trimming the heap when idle, writing the
 * count of folded log lines (common/log.h) and ticking the store and the
 * runtime once a second (srv_tick: leases, other instances' changes,
 * timer leadership, runs of dead instances). This is the main thread,
 * none of the HTTP server's: a slow tick (a database that does not
 * answer) delays only the next tick and the reaction to the stop
 * signal, never a request. */
static void
serve_wait(struct srv *s, const sigset_t *old)
{
    sigset_t wait = *old;
    unsigned ticks = 0;

    sigdelset(&wait, SIGTERM);
    sigdelset(&wait, SIGINT);
    while (!got_signal) {
        struct timespec tick = { 1, 0 };

        if (ppoll(NULL, 0, &tick, &wait) == 0) {
            srv_tick(s);
            log_flush(0);
            if (++ticks % 2 == 0)
                idle_trim(s);
        }
    }
    log_flush(1);
}

static int
serve(int argc, char **argv)
{
    struct serve_args a;
    struct srv_config cfg = { 0 };
    struct srv       *s = NULL;
    sigset_t          old;
    char             *dburl = NULL;
    int               rc;

    serve_args_env(&a);
    if ((rc = serve_args_parse(argc, argv, &a)) >= 0)
        return rc;
    if ((rc = serve_config(&a, &cfg)) != 0)
        return rc;
    if ((rc = serve_db_url(&a, &dburl)) != 0)
        return rc;
    cfg.database_url = dburl;
    serve_process_setup(&old);
    rc = serve_start(&cfg, &s);
    /* the store keeps what it needs to reconnect; not the server */
    sec_free_str(dburl);
    cfg.database_url = NULL;
    if (rc != 0)
        return rc;
    log_info("main", "event=started version=%s", HERALD_VERSION);
    serve_wait(s, &old);

    log_info("main", "event=stopping signal=%d", (int)got_signal);
    /* Graceful stop, in order: (1) stop accepting HTTP requests and finish
     * the ones in flight; (2) drain the execution runtime (stop triggers,
     * let running applets finish or cancel them at maxrun, flush the
     * outbox state) -- hook it in here, between srv_stop and srv_free;
     * (3) close the store. */
    srv_runtime_drain(s, 20.0); /* new triggers get 429 meanwhile */
    srv_stop(s);
    srv_runtime_free(s);
    srv_free(s);
    pki_cleanup();
    log_info("main", "event=stopped");
    return 0;
}

/* Reads until close or deadline; returns bytes read or -1. */
static ssize_t
health_read(int fd, char *buf, size_t sz, int timeout_ms)
{
    size_t n = 0;

    while (n + 1 < sz) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t       r;

        if (poll(&p, 1, timeout_ms) != 1)
            return -1;
        if ((r = read(fd, buf + n, sz - 1 - n)) < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

static int
health(int argc, char **argv)
{
    const char             *listen = getenv("HERALD_LISTEN");
    struct sockaddr_storage ss;
    socklen_t               sl;
    struct errbuf           eb = { 0 };
    char                    host[256], req[512], resp[2048];
    unsigned                port;
    int                     fd;

    if (argc == 3 && strcmp(argv[1], "--listen") == 0)
        listen = argv[2];
    else if (argc != 1)
        return bad("usage: herald health [--listen ADDR:PORT]%s%s", "", "");
    if (listen == NULL || *listen == '\0')
        listen = SRV_DEFAULT_LISTEN;
    if (srv_listen_parse(listen, host, sizeof(host), &port, &eb) != 0)
        return bad("--listen: %s%s", eb.msg, "");
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        strcpy(host, "::1");
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in);
    } else {
        inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr);
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
        sl = sizeof(struct sockaddr_in6);
    }
    if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0
        || connect(fd, (struct sockaddr *)&ss, sl) != 0) {
        fprintf(stderr, "herald: health: cannot connect to %s: %s\n", listen,
            strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    snprintf(req, sizeof(req),
        "GET /healthz HTTP/1.1\r\nHost: %s\r\n"
        "Connection: close\r\n\r\n",
        host);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)
        || health_read(fd, resp, sizeof(resp), 4000) < 0) {
        fprintf(stderr, "herald: health: no answer from %s\n", listen);
        close(fd);
        return 1;
    }
    close(fd);
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0
        || strstr(resp, "\"status\":\"ok\"") == NULL) {
        /* the body says why (the database's reason in a 503) */
        char *body = strstr(resp, "\r\n\r\n");

        if (body != NULL) {
            body += 4;
            body[strcspn(body, "\r\n")] = '\0';
        }
        resp[strcspn(resp, "\r\n")] = '\0';
        fprintf(stderr, "herald: health: %s answered '%s'%s%.600s\n", listen,
            resp, body != NULL && *body ? ": " : "", body ? body : "");
        return 1;
    }
    printf("herald: healthy (%s)\n", listen);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("herald %s\n", HERALD_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "health") == 0)
        return health(argc - 1, argv + 1);
    fprintf(stderr, "herald: unknown command '%s'\nTry 'herald --help'.\n",
        argv[1]);
    return 2;
}
