/* SPDX-License-Identifier: MIT */
/*
 * common/log.c: key=value logging to stderr, one write(2) per line.
 *
 * A line identical to the one before it (all but the time) is not
 * written again: it is counted, and the count goes out as one line when a
 * different line comes, or from log_flush() (the main thread's tick) once
 * the fold is LOG_FOLD_MS old. A flood of the same failure is two lines
 * every tick, not one per event.
 */
#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048
#define LOG_FOLD_MS  1000

int        log_level_current = LOG_INFO;
static int log_fd = 2;

/* the fold: the last line written (without its time), and how many
 * identical ones came since; under log_mu */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char            log_last[LOG_LINE_MAX];
static size_t          log_last_len;
static unsigned long   log_repeats;
static int             log_last_level;
static long long       log_fold_t0; /* ms, CLOCK_MONOTONIC */

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

static long long
log_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the count of the folded lines, if any. Under log_mu. */
static void
log_fold_out(void)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    char               buf[LOG_LINE_MAX + 128];
    size_t             n;
    int                m, show;

    if (log_repeats == 0)
        return;
    n = log_prefix(buf, sizeof(buf));
    show = log_last_len > 160 ? 160 : (int)log_last_len;
    m = snprintf(buf + n, sizeof(buf) - n,
        "level=%s sub=log event=repeated count=%lu line=\"%.*s%s\"\n",
        names[log_last_level], log_repeats, show, log_last,
        (size_t)show < log_last_len ? "..." : "");
    n += m > 0 ? (size_t)m : 0;
    if (n > sizeof(buf))
        n = sizeof(buf);
    (void)!write(log_fd, buf, n);
    log_repeats = 0;
    log_last_len = 0; /* the next line is written, and starts a fold */
}

/* buf[0..n) is a line whose first skip bytes are its time. */
static void
log_write(int level, char *buf, size_t n, size_t sz, size_t skip)
{
    if (n >= sz - 1)
        n = sz - 2;
    /* a log line is one line: no CR/LF from any argument survives */
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    if (skip > n)
        skip = n;
    pthread_mutex_lock(&log_mu);
    if (n - skip == log_last_len
        && memcmp(buf + skip, log_last, log_last_len) == 0) {
        if (log_repeats++ == 0)
            log_fold_t0 = log_mono_ms();
        pthread_mutex_unlock(&log_mu);
        return;
    }
    log_fold_out();
    log_last_len = n - skip < sizeof(log_last) ? n - skip : 0;
    memcpy(log_last, buf + skip, log_last_len);
    log_last_level = level < 0 ? 0 : level > 3 ? 3 : level;
    buf[n++] = '\n';
    (void)!write(log_fd, buf, n);
    pthread_mutex_unlock(&log_mu);
}

void
log_flush(int all)
{
    pthread_mutex_lock(&log_mu);
    if (log_repeats > 0 && (all || log_mono_ms() - log_fold_t0 >= LOG_FOLD_MS))
        log_fold_out();
    pthread_mutex_unlock(&log_mu);
}

void
log_emit(int level, const char *sub, const char *fmt, ...)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    char               buf[LOG_LINE_MAX];
    size_t             n, skip;
    int                m;
    va_list            ap;

    if (level > log_level_current)
        return;
    n = skip = log_prefix(buf, sizeof(buf));
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
    log_write(level, buf, n, sizeof(buf), skip);
}

void
log_ios(int level, const char *fmt, ...)
{
    char    buf[LOG_LINE_MAX];
    size_t  n, skip;
    int     m;
    va_list ap;

    if (level > log_level_current)
        return;
    n = skip = log_prefix(buf, sizeof(buf));
    va_start(ap, fmt);
    m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
    va_end(ap);
    n += m > 0 ? (size_t)m : 0;
    log_write(level, buf, n, sizeof(buf), skip);
}
