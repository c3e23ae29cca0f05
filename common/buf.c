/* SPDX-License-Identifier: MIT */
/* common/buf.c: growable byte buffer. */
#include "common/buf.h"
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
buf_reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1, cap;
    char  *p;

    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if ((p = realloc(b->p, cap)) == NULL)
        return ERR_NOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return ERR_NOMEM;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int
buf_json_str(struct buf *b, const char *s)
{
    static const char    hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t               n = 2, run;
    char                *o;

    for (run = 0; p[run] != '\0'; run++)
        n += p[run] < 32 ? 6 : (p[run] == '"' || p[run] == '\\') ? 2 : 1;
    if (buf_reserve(b, n) != 0)
        return ERR_NOMEM;
    o = b->p + b->len;
    *o++ = '"';
    for (; *p != '\0'; p++) {
        if (*p >= 32 && *p != '"' && *p != '\\') {
            *o++ = (char)*p;
            continue;
        }
        *o++ = '\\';
        switch (*p) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[*p >> 4];
            o[4] = hex[*p & 15];
            o += 5;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->p);
    return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0)
        return ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *
buf_take(struct buf *b)
{
    char *p = b->p;

    if (p == NULL)
        p = strdup("");
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

const char *
buf_str(const struct buf *b)
{
    return b->p ? b->p : "";
}
