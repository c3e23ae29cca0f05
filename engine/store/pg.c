/* SPDX-License-Identifier: MIT */
/* engine/store/pg.c: the PostgreSQL backend (engine/store/pg_int.h). */
#include "engine/store/pg_int.h"

int
pg_open(const char *dir, const char *url, struct eng_store **out,
    struct errbuf *eb)
{
    (void)dir;
    (void)url;
    *out = NULL;
    return err_set(eb, ERR_UNSUPPORTED, "database_url",
        "PostgreSQL is not built in yet");
}
