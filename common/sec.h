/* SPDX-License-Identifier: MIT */
/*
 * common/sec.h: a secret (password, token) that is never printed.
 *
 * There is deliberately no printf-style accessor: the bytes are reachable only
 * through sec_data() for the one place that must send them (AUTH, token
 * comparison). sec_free() wipes the memory with explicit_bzero.
 */
#ifndef HERALD_COMMON_SEC_H
#define HERALD_COMMON_SEC_H

#include <stddef.h>

struct sec;

/* Returns a new secret holding a copy of len bytes of p (free with
 * sec_free()), or NULL on allocation failure. */
struct sec *sec_new(const char *p, size_t len);
struct sec *sec_dup(const struct sec *s);
const char *sec_data(const struct sec *s); /* NUL-terminated */
size_t      sec_len(const struct sec *s);
void        sec_free(struct sec *s); /* wipes; NULL is a no-op */

/* Constant-time comparison of a and b (lengths may differ); 1 if equal. */
int sec_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Wipes n bytes at p in a way the compiler cannot drop. */
void sec_wipe(void *p, size_t n);
/* Wipes and frees a string that may hold a secret. NULL is a no-op. */
void sec_free_str(char *s);

#endif
