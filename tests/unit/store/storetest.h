/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/storetest.h: helpers shared by the store's unit tests:
 * a fresh temporary data directory, its removal, and a store opened in it
 * (a failed open fails the test with the store's message). Include after
 * cmocka.h.
 */
#ifndef HERALD_TESTS_STORETEST_H
#define HERALD_TESTS_STORETEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/store/store.h"

/* A new directory /tmp/herald-store-XXXXXX (free with tmpdir_free). */
static inline char *
tmpdir_new(void)
{
    char  tmpl[] = "/tmp/herald-store-XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    return strdup(d);
}

/* Removes d and everything in it, and frees the string. */
static inline void
tmpdir_free(char *d)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

static inline struct eng_store *
open_ok(const char *dir)
{
    struct eng_store *st = NULL;
    struct errbuf     eb = { 0 };

    if (eng_store_open(dir, &st, &eb) != 0)
        fail_msg("open %s: %s", dir, eb.msg);
    return st;
}

#endif
