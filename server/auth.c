/* SPDX-License-Identifier: MIT */
/*
 * server/auth.c: the admin token for /api/v1.
 *
 * Source, first found wins: HERALD_ADMIN_TOKEN (the environment), the file
 * named by --admin-token-file / HERALD_ADMIN_TOKEN_FILE, else
 * DATA_DIR/admin.token, which is created on first start (mode 0600, 32
 * random bytes from getrandom(2) as hex) and printed once to stdout:
 *   herald: admin token (saved in DIR/admin.token): TOKEN
 * Requests are checked with a constant-time compare (sec_equal); the token
 * is never logged.
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

#define AUTH_TOKEN_MAX 512

static int
auth_set(struct srv *s, const char *p, size_t n, const char *from,
    struct errbuf *eb)
{
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' ||
                        p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (n < 16)
        return err_set(eb, ERR_INVAL, "admin_token",
            "the admin token from %s is %s; use at least 16 characters",
            from, n == 0 ? "empty" : "too short");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
            return err_set(eb, ERR_INVAL, "admin_token",
                "the admin token from %s contains a space or a control "
                "character", from);
    if ((s->admin_token = sec_new(p, n)) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    return 0;
}

static int
auth_read_file(struct srv *s, const char *path, struct errbuf *eb)
{
    char    buf[AUTH_TOKEN_MAX + 2];
    ssize_t n;
    int     fd, rc;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return err_set(eb, ERR_IO, "admin_token",
            "cannot read the admin token file %s: %s", path,
            strerror(errno));
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return err_set(eb, ERR_IO, "admin_token",
            "cannot read the admin token file %s: %s", path,
            strerror(errno));
    if ((size_t)n > AUTH_TOKEN_MAX)
        return err_set(eb, ERR_INVAL, "admin_token",
            "the admin token file %s is too long", path);
    rc = auth_set(s, buf, (size_t)n, path, eb);
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
        return err_set(eb, ERR_IO, "admin_token",
            "getrandom failed: %s", strerror(errno));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    sec_wipe(rnd, sizeof(rnd));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set(eb, ERR_IO, "admin_token",
            "cannot create the admin token file %s: %s", path,
            strerror(errno));
    fchmod(fd, 0600);
    if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        rc = err_set(eb, ERR_IO, "admin_token",
            "cannot write the admin token file %s: %s", path,
            strerror(errno));
        close(fd);
        unlink(path);
        return rc;
    }
    close(fd);
    if ((rc = auth_set(s, hex, 64, path, eb)) == 0) {
        printf("herald: admin token (saved in %s): %s\n", path, hex);
        fflush(stdout);
        log_info("auth", "event=token-created file=%s", path);
    }
    sec_wipe(hex, sizeof(hex));
    return rc;
}

int
srv_auth_init(struct srv *s, struct errbuf *eb)
{
    char path[4096];

    if (s->cfg.admin_token != NULL)
        return auth_set(s, s->cfg.admin_token, strlen(s->cfg.admin_token),
            "HERALD_ADMIN_TOKEN", eb);
    if (s->cfg.admin_token_file != NULL)
        return auth_read_file(s, s->cfg.admin_token_file, eb);
    snprintf(path, sizeof(path), "%s/admin.token", s->data_dir);
    if (access(path, F_OK) == 0)
        return auth_read_file(s, path, eb);
    return auth_create(s, path, eb);
}

int
srv_auth_ok(struct srv_req *rq)
{
    const char *h = srv_req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION);
    const struct sec *t = rq->srv->admin_token;

    if (h == NULL || t == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return sec_equal(h, strlen(h), sec_data(t), sec_len(t));
}

void
srv_reply_unauthorized(struct srv_resp *rs, const char *why)
{
    srv_reply_errorf(rs, ERR_AUTH, "unauthorized", "%s", why);
    srv_resp_header(rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
        "Bearer realm=\"herald\"");
}
