/* SPDX-License-Identifier: MIT */
/* common/sec.c: secrets that wipe themselves. */
#include "common/sec.h"

#include <stdlib.h>
#include <string.h>

struct sec {
    size_t len;
    char   data[];
};

struct sec *
sec_new(const char *p, size_t len)
{
    struct sec *s = malloc(sizeof(*s) + len + 1);

    if (s == NULL)
        return NULL;
    s->len = len;
    if (len)
        memcpy(s->data, p, len);
    s->data[len] = '\0';
    return s;
}

struct sec *
sec_dup(const struct sec *s)
{
    return s ? sec_new(s->data, s->len) : NULL;
}

const char *
sec_data(const struct sec *s)
{
    return s ? s->data : "";
}

size_t
sec_len(const struct sec *s)
{
    return s ? s->len : 0;
}

void
sec_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

void
sec_free_str(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void
sec_free(struct sec *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s->data, s->len);
    free(s);
}

int
sec_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const unsigned char *x = a, *y = b;
    unsigned char        d = (unsigned char)(alen != blen);
    size_t               n = alen < blen ? alen : blen;

    /* time depends only on the shorter length, never on the contents */
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}
