/* SPDX-License-Identifier: MIT */
/*
 * server/auth.c: the admin token for /api/v1, and the metrics token.
 *
 * Source, first found wins: HERALD_ADMIN_TOKEN (the environment), the file
 * named by --admin-token-file / HERALD_ADMIN_TOKEN_FILE, else
 * DATA_DIR/admin.token, which is created on first start (mode 0600, 32
 * random bytes from getrandom(2) as hex) and printed once to stdout:
 *   herald: admin token (saved in DIR/admin.token): TOKEN
 * Requests are checked with a constant-time compare (sec_equal); the token
 * is never logged.
 *
 * The metrics token (optional) opens GET /metrics and nothing else, for a
 * Prometheus server that should not hold the admin token: from
 * HERALD_METRICS_TOKEN, or the file named by --metrics-token-file /
 * HERALD_METRICS_TOKEN_FILE. Same rules, same compare.
 */
#include "server/srv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"
#include "engine/store/store.h"

#define AUTH_TOKEN_MAX 512

/* Trims p[0..n) and stores it as the token *dst; what names it in errors
 * ("admin token"), code the errbuf code ("admin_token"). */
static int
auth_set(struct sec **dst, const char *what, const char *code, const char *p,
    size_t n, const char *from, struct errbuf *eb)
{
    while (n > 0
        && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '
            || p[n - 1] == '\t'))
        n--;
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (n < 16)
        return err_set(eb, ERR_INVAL, code,
            "the %s from %s is %s; use at least 16 characters", what, from,
            n == 0 ? "empty" : "too short");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
            return err_set(eb, ERR_INVAL, code,
                "the %s from %s contains a space or a control "
                "character",
                what, from);
    if ((*dst = sec_new(p, n)) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    return 0;
}

static int
auth_read_file(struct sec **dst, const char *what, const char *code,
    const char *path, struct errbuf *eb)
{
    char    buf[AUTH_TOKEN_MAX + 2];
    ssize_t n;
    int     fd, rc;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return err_set(eb, ERR_IO, code, "cannot read the %s file %s: %s", what,
            path, strerror(errno));
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return err_set(eb, ERR_IO, code, "cannot read the %s file %s: %s", what,
            path, strerror(errno));
    if ((size_t)n > AUTH_TOKEN_MAX)
        return err_set(eb, ERR_INVAL, code, "the %s file %s is too long", what,
            path);
    rc = auth_set(dst, what, code, buf, (size_t)n, path, eb);
    sec_wipe(buf, sizeof(buf));
    return rc;
}

static int
auth_create(struct srv *s, const char *path, struct errbuf *eb)
{
    unsigned char rnd[32];
    char          hex[65];
    int           fd, rc;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return err_set(eb, ERR_IO, "admin_token", "getrandom failed: %s",
            strerror(errno));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    sec_wipe(rnd, sizeof(rnd));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(eb, ERR_IO, "admin_token",
            "cannot create the admin token file %s: %s", path, strerror(errno));
    fchmod(fd, 0600);
    if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        rc = err_set(eb, ERR_IO, "admin_token",
            "cannot write the admin token file %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return rc;
    }
    close(fd);
    if ((rc = auth_set(&s->admin_token, "admin token", "admin_token", hex, 64,
             path, eb))
        == 0) {
        printf("herald: admin token (saved in %s): %s\n", path, hex);
        fflush(stdout);
        log_info("auth", "event=token-created file=%s", path);
    }
    sec_wipe(hex, sizeof(hex));
    return rc;
}

static int
auth_admin_init(struct srv *s, struct errbuf *eb)
{
    char path[4096];

    if (s->cfg.admin_token != NULL)
        return auth_set(&s->admin_token, "admin token", "admin_token",
            s->cfg.admin_token, strlen(s->cfg.admin_token),
            "HERALD_ADMIN_TOKEN", eb);
    if (s->cfg.admin_token_file != NULL)
        return auth_read_file(&s->admin_token, "admin token", "admin_token",
            s->cfg.admin_token_file, eb);
    snprintf(path, sizeof(path), "%s/admin.token", s->data_dir);
    /* a token of the data directory is this instance's alone: behind a
     * load balancer the others would refuse it */
    if (eng_store_shared(s->store))
        log_warn("auth",
            "event=token-per-instance file=%s note=\"instances sharing the "
            "database need the same admin token: give each the same "
            "HERALD_ADMIN_TOKEN_FILE\"",
            path);
    if (access(path, F_OK) == 0)
        return auth_read_file(&s->admin_token, "admin token", "admin_token",
            path, eb);
    return auth_create(s, path, eb);
}

/* The metrics token, if one is configured; the caller's strings in s->cfg
 * are not kept. */
static int
auth_metrics_init(struct srv *s, struct errbuf *eb)
{
    const char *tok = s->cfg.metrics_token;
    const char *file = s->cfg.metrics_token_file;

    s->cfg.metrics_token = NULL;
    s->cfg.metrics_token_file = NULL;
    if (tok != NULL)
        return auth_set(&s->metrics_token, "metrics token", "metrics_token",
            tok, strlen(tok), "HERALD_METRICS_TOKEN", eb);
    if (file != NULL)
        return auth_read_file(&s->metrics_token, "metrics token",
            "metrics_token", file, eb);
    return 0;
}

int
srv_auth_init(struct srv *s, struct errbuf *eb)
{
    int rc;

    if ((rc = auth_admin_init(s, eb)) != 0) {
        s->cfg.metrics_token = NULL;
        s->cfg.metrics_token_file = NULL;
        return rc;
    }
    return auth_metrics_init(s, eb);
}

/* 1 if the request's Authorization is "Bearer <t>". */
static int
auth_bearer(struct srv_req *rq, const struct sec *t)
{
    const char *h = srv_req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);

    if (h == NULL || t == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return sec_equal(h, strlen(h), sec_data(t), sec_len(t));
}

int
srv_auth_ok(struct srv_req *rq)
{
    return auth_bearer(rq, rq->srv->admin_token);
}

int
srv_auth_metrics_ok(struct srv_req *rq)
{
    return auth_bearer(rq, rq->srv->admin_token)
        || auth_bearer(rq, rq->srv->metrics_token);
}

void
srv_reply_unauthorized(struct srv_resp *rs, const char *why)
{
    srv_reply_errorf(rs, ERR_AUTH, "unauthorized", "%s", why);
    srv_resp_header(rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
        "Bearer realm=\"herald\"");
}
