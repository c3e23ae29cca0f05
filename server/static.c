/* SPDX-License-Identifier: MIT */
/*
 * server/static.c: serves the web console (web/) as plain files.
 *
 * The directory is --web-dir / HERALD_WEB_DIR, else the compiled-in
 * HERALD_WEB_DIR (the source tree), else /usr/share/herald/web. "/" and
 * "/ui/" give index.html; "/ui/X" and "/X" give the file X. Paths with ".."
 * or hidden segments are refused and the resolved file must lie inside the
 * directory (symlinks cannot lead out).
 */
#include "server/srv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HERALD_WEB_DIR
#define HERALD_WEB_DIR "/usr/share/herald/web"
#endif

#define STATIC_MAX_FILE (16 * 1024 * 1024)

static int
static_is_dir(const char *d)
{
    struct stat sb;

    return d && stat(d, &sb) == 0 && S_ISDIR(sb.st_mode);
}

char *
srv_static_dir(const char *configured)
{
    const char *cands[] = { configured, HERALD_WEB_DIR,
        "/usr/share/herald/web" };

    if (configured != NULL)
        return realpath(configured, NULL); /* as told, or nothing */
    for (size_t i = 1; i < 3; i++)
        if (static_is_dir(cands[i]))
            return realpath(cands[i], NULL);
    return NULL;
}

static const char *
static_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
        { ".txt", "text/plain; charset=utf-8" },
        { ".map", "application/json" },
        { ".woff2", "font/woff2" },
        { ".yaml", "application/yaml" },
    };
    const char *dot = strrchr(path, '.');

    if (dot != NULL && strchr(dot, '/') == NULL)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static int
static_path_ok(const char *rel)
{
    const char *p = rel;

    if (*rel == '\0')
        return 0;
    while (*p) {
        size_t n = strcspn(p, "/");

        if (n == 0 || p[0] == '.' || memchr(p, '\\', n) != NULL)
            return 0; /* empty, hidden, "..", or a backslash */
        p += n;
        if (*p == '/')
            p++;
    }
    return 1;
}

int
srv_static_serve(struct srv_req *rq, struct srv_resp *rs)
{
    const char *dir = rq->srv->web_dir;
    const char *rel;
    char        path[PATH_MAX], *real = NULL;
    struct stat sb;
    struct buf  b = BUF_INIT;
    int         fd = -1;
    size_t      dl;

    if (dir == NULL)
        return -1;
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0)
        return -1;
    rel = rq->path;
    if (strcmp(rel, "/") == 0 || strcmp(rel, "/ui") == 0
        || strcmp(rel, "/ui/") == 0)
        rel = "index.html";
    else if (strncmp(rel, "/ui/", 4) == 0)
        rel += 4;
    else
        rel += 1;
    if (!static_path_ok(rel))
        return -1;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
        return -1;
    if ((real = realpath(path, NULL)) == NULL)
        return -1;
    dl = strlen(dir);
    if (strncmp(real, dir, dl) != 0 || real[dl] != '/')
        goto no;
    if ((fd = open(real, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) != 0
        || !S_ISREG(sb.st_mode) || sb.st_size > STATIC_MAX_FILE)
        goto no;
    if (buf_reserve(&b, (size_t)sb.st_size + 1) != 0)
        goto no;
    for (;;) {
        ssize_t n = read(fd, b.p + b.len, b.cap - b.len - 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        b.len += (size_t)n;
        if (b.len + 1 >= b.cap && buf_reserve(&b, 4096) != 0)
            goto no;
    }
    srv_reply_text(rs, 200, static_type(real), b.p ? b.p : "", b.len);
    buf_free(&b);
    close(fd);
    free(real);
    return 0;
no:
    buf_free(&b);
    if (fd >= 0)
        close(fd);
    free(real);
    return -1;
}
