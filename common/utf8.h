/* SPDX-License-Identifier: MIT */
/*
 * common/utf8.h: strict UTF-8 validation (RFC 3629).
 *
 * Valid means: no overlong forms, no UTF-16 surrogates (U+D800..U+DFFF), no
 * code point above U+10FFFF, no sequence cut short by the end of the input.
 * NUL bytes are valid UTF-8; callers that refuse them check separately.
 */
#ifndef HERALD_COMMON_UTF8_H
#define HERALD_COMMON_UTF8_H

#include <stddef.h>

/* Returns 1 if the len bytes at p are valid UTF-8. Otherwise returns 0 and,
 * if bad is not NULL, the offset of the first byte of the first invalid
 * sequence in *bad. p may be NULL when len is 0. */
int utf8_valid(const void *p, size_t len, size_t *bad);

#endif
