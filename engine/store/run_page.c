/* SPDX-License-Identifier: MIT */
/*
 * engine/store/run_page.c: what both backends' eng_store_runs_list share:
 * the filter's checks and the page around the rows (store_int.h).
 */
#include "engine/store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const run_statuses[] = { "queued", "running", "success",
    "abort", "timeout", "cancelled", "ratelimited", NULL };

static const char *const run_deliveries[] = { "none", "pending", "delivered",
    "failed", NULL };

static int
one_of(const char *const *names, const char *s)
{
    for (; *names != NULL; names++)
        if (strcmp(*names, s) == 0)
            return 1;
    return 0;
}

int
store_run_page_begin(const struct eng_run_filter *f, struct store_run_page *p,
    struct errbuf *eb)
{
    memset(p, 0, sizeof(*p));
    p->limit = f && f->limit ? f->limit : 50;
    if (p->limit > 500)
        p->limit = 500;
    if (f && f->status && *f->status && !one_of(run_statuses, f->status))
        return err_field(eb, ERR_INVAL, "status", "invalid_field",
            "status \"%s\" is not one of queued, running, success, "
            "abort, timeout, cancelled, ratelimited",
            f->status);
    if (f && f->delivery && *f->delivery) {
        if (!one_of(run_deliveries, f->delivery))
            return err_field(eb, ERR_INVAL, "delivery", "invalid_field",
                "delivery \"%s\" is not one of none, pending, delivered, "
                "failed",
                f->delivery);
        p->delivery = f->delivery;
        p->failed = strcmp(f->delivery, "failed") == 0;
    }
    if (f && f->cursor && *f->cursor) {
        char *end;

        errno = 0;
        p->cursor = strtoll(f->cursor, &end, 10);
        if (*end != '\0' || p->cursor <= 0 || errno != 0)
            return err_field(eb, ERR_INVAL, "cursor", "invalid_field",
                "cursor \"%s\" is not a next_cursor value from a previous "
                "page",
                f->cursor);
    }
    if ((p->page = cJSON_CreateObject()) == NULL
        || (p->items = cJSON_AddArrayToObject(p->page, "items")) == NULL) {
        cJSON_Delete(p->page);
        p->page = NULL;
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    return 0;
}

int
store_run_page_end(struct store_run_page *p, int rc, int more, long long last,
    cJSON **out)
{
    char c[32];

    if (rc != 0) {
        cJSON_Delete(p->page);
        p->page = NULL;
        return rc;
    }
    if (more) {
        snprintf(c, sizeof(c), "%lld", last);
        cJSON_AddStringToObject(p->page, "next_cursor", c);
    } else {
        cJSON_AddNullToObject(p->page, "next_cursor");
    }
    *out = p->page;
    p->page = NULL;
    return 0;
}
