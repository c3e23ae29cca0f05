/* SPDX-License-Identifier: MIT */
/* engine/store/pg_runs.c: the PostgreSQL backend's runtime tables
 * (engine/store/pg_int.h). Being written. */
#include "engine/store/pg_int.h"

const char pg_runs_schema[] = "";

const struct store_run_ops pg_run_ops = { 0 };

int
pg_runs_renew(struct eng_store *st, long long now_ms, struct errbuf *eb)
{
    (void)st;
    (void)now_ms;
    (void)eb;
    return 0;
}

int
pg_runs_adopt(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb)
{
    (void)db;
    (void)now_ms;
    (void)requeue;
    (void)ud;
    (void)eb;
    return 0;
}
