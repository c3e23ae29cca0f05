/* SPDX-License-Identifier: MIT */
/*
 * engine/mask.c: the "user:password@host" masker, moved verbatim out of
 * engine/store_runs.c (the store is data access only). Declared in
 * engine/runtime_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/runtime_int.h"

char *
eng_mask_server(const char *s)
{
    const char *at, *colon;
    char       *r;
    size_t      ulen;

    if (s == NULL)
        return NULL;
    at = strrchr(s, '@');
    colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
    if (at == NULL || colon == NULL)
        return strdup(s);
    ulen = (size_t)(colon - s);
    if ((r = malloc(ulen + 6 + strlen(at) + 1)) == NULL)
        return NULL;
    memcpy(r, s, ulen);
    memcpy(r + ulen, ":*****", 6);
    strcpy(r + ulen + 6, at);
    return r;
}
