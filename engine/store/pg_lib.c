/* SPDX-License-Identifier: MIT */
/*
 * engine/store/pg_lib.c: libpq loaded at run time (engine/store/pg_lib.h).
 */
#define PG_LIB_DEFINE
#include "engine/store/pg_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define PG_LIB_POINTER(f) __typeof__(&f) pg_lib_##f;
PG_LIB_FUNCS(PG_LIB_POINTER)
#undef PG_LIB_POINTER

static pthread_once_t pg_lib_once = PTHREAD_ONCE_INIT;
static int            pg_lib_ok;         /* all found */
static char           pg_lib_error[256]; /* why not */

static void
pg_lib_open(void)
{
    void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);

    if (h == NULL) {
        snprintf(pg_lib_error, sizeof(pg_lib_error), "%s", dlerror());
        return;
    }
#define PG_LIB_LOOKUP(f)                                                       \
    if ((*(void **)&pg_lib_##f = dlsym(h, #f)) == NULL) {                      \
        snprintf(pg_lib_error, sizeof(pg_lib_error), "libpq.so.5 has no %s",   \
            #f);                                                               \
        return;                                                                \
    }
    PG_LIB_FUNCS(PG_LIB_LOOKUP)
#undef PG_LIB_LOOKUP
    pg_lib_ok = 1;
}

int
pg_lib_load(struct errbuf *eb)
{
    pthread_once(&pg_lib_once, pg_lib_open);
    if (pg_lib_ok)
        return 0;
    return err_set(eb, ERR_UNSUPPORTED, "database_url",
        "PostgreSQL needs libpq, which cannot be loaded (%s); install it "
        "(Debian: apt-get install libpq5)",
        pg_lib_error);
}
