/* SPDX-License-Identifier: MIT */
/*
 * common/log.h: one key=value event per line on stderr (OpenSMTPD style).
 *
 *   log_info("smtp", "event=connect host=%s port=%u", host, port);
 *   -> 2026-11-27T17:00:00Z level=info sub=smtp event=connect host=... port=587
 *
 * Never pass secrets: callers log masked forms (sec.h, redact.h).
 * The level is checked before the arguments are formatted.
 */
#ifndef HERALD_COMMON_LOG_H
#define HERALD_COMMON_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_level_current;

/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int  log_level_parse(const char *s);
void log_set_level(int level);
/* Redirects output to fd (default 2). For tests. */
void log_set_fd(int fd);
/* A line identical to the one before it (but for the time) is counted,
 * not written; the count is written as one line ("event=repeated
 * count=N line=...") before the next different line, or by log_flush()
 * once the fold is a second old (at once with all). Call it every second,
 * and with all at exit. */
void log_flush(int all);

void log_emit(int level, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A raw line, as IOS prints it ("%HA_EM-3-FMPD_SMTP: ..."), at level. */
void log_ios(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_err(sub, ...) log_emit(LOG_ERR, sub, __VA_ARGS__)
#define log_warn(sub, ...)                                                     \
    do {                                                                       \
        if (log_level_current >= LOG_WARN)                                     \
            log_emit(LOG_WARN, sub, __VA_ARGS__);                              \
    } while (0)
#define log_info(sub, ...)                                                     \
    do {                                                                       \
        if (log_level_current >= LOG_INFO)                                     \
            log_emit(LOG_INFO, sub, __VA_ARGS__);                              \
    } while (0)
#define log_debug(sub, ...)                                                    \
    do {                                                                       \
        if (log_level_current >= LOG_DEBUG)                                    \
            log_emit(LOG_DEBUG, sub, __VA_ARGS__);                             \
    } while (0)

#endif
