/* SPDX-License-Identifier: MIT */
/* common/log.c: key=value logging to stderr, one write(2) per line. */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int        log_level_current = LOG_INFO;
static int log_fd = 2;

int
log_level_parse(const char *s)
{
    static const char *names[] = { "error", "warn", "info", "debug" };

    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void
log_set_level(int level)
{
    log_level_current = level;
}

void
log_set_fd(int fd)
{
    log_fd = fd;
}

static size_t
log_prefix(char *buf, size_t sz)
{
    struct timespec ts;
    struct tm       tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    return strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ ", &tm);
}

static void
log_write(char *buf, size_t n, size_t sz)
{
    if (n >= sz - 1)
        n = sz - 2;
    /* a log line is one line: no CR/LF from any argument survives */
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    buf[n++] = '\n';
    (void)!write(log_fd, buf, n);
}

void
log_emit(int level, const char *sub, const char *fmt, ...)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    char               buf[2048];
    size_t             n;
    int                m;
    va_list            ap;

    if (level > log_level_current)
        return;
    n = log_prefix(buf, sizeof(buf));
    m = snprintf(buf + n, sizeof(buf) - n, "level=%s sub=%s ",
        names[level < 0     ? 0
                : level > 3 ? 3
                            : level],
        sub);
    n += m > 0 ? (size_t)m : 0;
    va_start(ap, fmt);
    m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    n += m > 0 ? (size_t)m : 0;
    log_write(buf, n, sizeof(buf));
}

void
log_ios(int level, const char *fmt, ...)
{
    char    buf[2048];
    size_t  n;
    int     m;
    va_list ap;

    if (level > log_level_current)
        return;
    n = log_prefix(buf, sizeof(buf));
    va_start(ap, fmt);
    m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    n += m > 0 ? (size_t)m : 0;
    log_write(buf, n, sizeof(buf));
}
