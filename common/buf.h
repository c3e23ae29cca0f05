/* SPDX-License-Identifier: MIT */
/*
 * common/buf.h: a growable byte buffer, always NUL-terminated.
 *
 * struct buf b = BUF_INIT; buf_printf(&b, "%d", 1); ... free(buf_take(&b));
 * Functions return 0 or ERR_NOMEM. buf_free() releases the storage.
 */
#ifndef HERALD_COMMON_BUF_H
#define HERALD_COMMON_BUF_H

#include <stddef.h>

struct buf {
    char  *p; /* NULL until the first append */
    size_t len;
    size_t cap;
};
#define BUF_INIT                                                               \
    {                                                                          \
        NULL, 0, 0                                                             \
    }

int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal: quoted, with '"', '\\' and the control
 * characters escaped as cJSON prints them (\b \f \n \r \t, else \u00XX);
 * other bytes, UTF-8 included, as they are. For JSON text built without
 * a tree (a trace line, a run's variables): the same text cJSON would
 * print, without an allocation per value. */
int  buf_json_str(struct buf *b, const char *s);
int  buf_reserve(struct buf *b, size_t extra);
void buf_reset(struct buf *b); /* len = 0, keeps storage */
void buf_free(struct buf *b);  /* frees storage, b is BUF_INIT again */
/* Returns the string (never NULL; "" for an empty buffer; caller frees) and
 * leaves b empty. Returns NULL only on allocation failure. */
char       *buf_take(struct buf *b);
const char *buf_str(const struct buf *b); /* "" when empty; borrowed */

#endif
