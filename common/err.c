/* SPDX-License-Identifier: MIT */
/* common/err.c: error detail buffers. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
err_vfill(struct errbuf *eb, const char *code, const char *fmt, va_list ap)
{
    snprintf(eb->code, sizeof(eb->code), "%s", code ? code : "error");
    vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
}

int
err_set(struct errbuf *eb, int rc, const char *code, const char *fmt, ...)
{
    va_list ap;

    if (eb == NULL)
        return rc;
    eb->field[0] = '\0';
    eb->line = eb->col = 0;
    va_start(ap, fmt);
    err_vfill(eb, code, fmt, ap);
    va_end(ap);
    return rc;
}

int
err_field(struct errbuf *eb, int rc, const char *field, const char *code,
    const char *fmt, ...)
{
    va_list ap;

    if (eb == NULL)
        return rc;
    snprintf(eb->field, sizeof(eb->field), "%s", field ? field : "");
    eb->line = eb->col = 0;
    va_start(ap, fmt);
    err_vfill(eb, code, fmt, ap);
    va_end(ap);
    return rc;
}

int
err_at(struct errbuf *eb, int rc, int line, int col, const char *code,
    const char *fmt, ...)
{
    va_list ap;

    if (eb == NULL)
        return rc;
    eb->field[0] = '\0';
    eb->line = line;
    eb->col = col;
    va_start(ap, fmt);
    err_vfill(eb, code, fmt, ap);
    va_end(ap);
    return rc;
}

void
err_clear(struct errbuf *eb)
{
    if (eb != NULL)
        memset(eb, 0, sizeof(*eb));
}

const char *
err_name(int rc)
{
    switch (rc) {
    case ERR_OK:
        return "ERR_OK";
    case ERR_NOMEM:
        return "ERR_NOMEM";
    case ERR_INVAL:
        return "ERR_INVAL";
    case ERR_NOTFOUND:
        return "ERR_NOTFOUND";
    case ERR_EXISTS:
        return "ERR_EXISTS";
    case ERR_TOOBIG:
        return "ERR_TOOBIG";
    case ERR_UNSUPPORTED:
        return "ERR_UNSUPPORTED";
    case ERR_IO:
        return "ERR_IO";
    case ERR_DB:
        return "ERR_DB";
    case ERR_BUSY:
        return "ERR_BUSY";
    case ERR_AUTH:
        return "ERR_AUTH";
    case ERR_PROTO:
        return "ERR_PROTO";
    case ERR_TLS:
        return "ERR_TLS";
    case ERR_TIMEOUT:
        return "ERR_TIMEOUT";
    case ERR_DNS:
        return "ERR_DNS";
    case ERR_CONNECT:
        return "ERR_CONNECT";
    case ERR_REJECTED:
        return "ERR_REJECTED";
    case ERR_INTERNAL:
        return "ERR_INTERNAL";
    default:
        return "ERR_UNKNOWN";
    }
}
