/* SPDX-License-Identifier: MIT */
/* engine/store/pg_outbox.c: the PostgreSQL backend's outbox rows
 * (engine/store/pg_int.h). Being written. */
#include "engine/store/pg_int.h"

const char pg_outbox_schema[] = "";

const struct store_ob_ops pg_ob_ops = { 0 };

int
pg_outbox_renew(struct eng_store *st, long long now_ms, struct errbuf *eb)
{
    (void)st;
    (void)now_ms;
    (void)eb;
    return 0;
}
