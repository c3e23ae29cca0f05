/* SPDX-License-Identifier: MIT */
/*
 * common/err.h: the one error vocabulary of herald.
 *
 * Functions return 0 or a negative enum err. The human detail goes into a
 * caller-owned struct errbuf (curl's failf), so reporting an error never
 * allocates. server/srv_err.c alone maps these codes to HTTP statuses.
 */
#ifndef HERALD_COMMON_ERR_H
#define HERALD_COMMON_ERR_H

#include <stddef.h>

enum err {
    ERR_OK = 0,
    ERR_NOMEM = -1,        /* allocation failed */
    ERR_INVAL = -2,        /* bad input: syntax, value, field (HTTP 400/422) */
    ERR_NOTFOUND = -3,     /* no such object (404) */
    ERR_EXISTS = -4,       /* already exists / conflict (409) */
    ERR_TOOBIG = -5,       /* input over a limit (413) */
    ERR_UNSUPPORTED = -6,  /* understood, but not supported (422) */
    ERR_IO = -7,           /* file system / socket I/O */
    ERR_DB = -8,           /* SQLite failure */
    ERR_BUSY = -9,         /* queue full, try later (429/503) */
    ERR_AUTH = -10,        /* authentication failed (401) */
    ERR_PROTO = -11,       /* peer violated its protocol */
    ERR_TLS = -12,         /* TLS handshake / verification */
    ERR_TIMEOUT = -13,     /* deadline passed */
    ERR_DNS = -14,         /* name did not resolve */
    ERR_CONNECT = -15,     /* TCP connect failed */
    ERR_REJECTED = -16,    /* peer refused (SMTP 4xx/5xx) */
    ERR_INTERNAL = -17,    /* broken invariant */
    ERR_UNAVAILABLE = -18, /* a service herald needs (the database) cannot
                            * be reached: try later (503) */
};

/*
 * Detail of the last error. code is a short stable machine name
 * ("invalid_json", "certificate_untrusted"); msg a sentence for a person;
 * field the JSON field concerned, or line/col the text position (1-based, 0
 * when not applicable).
 */
struct errbuf {
    char code[48];
    char msg[768];
    char field[64];
    int  line;
    int  col;
};

/* Sets code and a printf-formatted message; returns rc, so that callers can
 * write `return err_set(eb, ERR_INVAL, "invalid_json", "...")`. eb may be
 * NULL. */
int err_set(struct errbuf *eb, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like err_set, and records the field name. */
int err_field(struct errbuf *eb, int rc, const char *field, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Like err_set, and records the text position. */
int  err_at(struct errbuf *eb, int rc, int line, int col, const char *code,
     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void err_clear(struct errbuf *eb);
/* Static name of an enum err value, e.g. "ERR_INVAL". */
const char *err_name(int rc);

#endif
