/* SPDX-License-Identifier: MIT */
/*
 * common/utf8.c: strict UTF-8 validation (common/utf8.h), the table of
 * well-formed byte sequences of RFC 3629 section 4 / Unicode table 3-7.
 */
#include "common/utf8.h"

int
utf8_valid(const void *p, size_t len, size_t *bad)
{
    const unsigned char *s = p;
    size_t               i = 0;

    while (i < len) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xBF; /* range of the 2nd byte */
        size_t        n;                    /* continuation bytes */

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlong 3-byte form */
            else if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* no overlong 4-byte form */
            else if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else
            goto invalid; /* 80..C1, F5..FF */
        if (len - i <= n)
            goto invalid; /* cut short */
        if (s[i + 1] < lo || s[i + 1] > hi)
            goto invalid;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                goto invalid;
        i += n + 1;
    }
    return 1;
invalid:
    if (bad != NULL)
        *bad = i;
    return 0;
}
