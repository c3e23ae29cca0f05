/* SPDX-License-Identifier: MIT */
/*
 * engine/run/cfg_cache.c: the configuration cache (see cfg_cache.h).
 *
 * Two small chained hash tables (applets, variables) under one mutex, all
 * entries of one generation (tab_gen). The generation itself is an atomic
 * that eng_cfg_cache_invalidate moves before it empties the tables; a
 * lookup reads it first, and an entry filled from the store goes in only
 * if the tables are still of that generation. A write that happens
 * between the generation read and the store read moves the generation, so
 * the tables have moved past it (or will at the next lookup) and what was
 * read is handed out once but never kept. Entries are freed outside the
 * mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sec.h"
#include "engine/lang/applet.h"
#include "engine/run/cfg_cache.h"
#include "engine/store/store.h"

#define NBUCKET 64

struct ent {
    struct ent *next;
    char       *name;
    /* an applet */
    struct eng_applet *applet;
    char              *token, *secret; /* webhook credentials, or NULL */
    /* a variable */
    char *value; /* NULL: unset */
    int   is_secret;
};

struct table {
    struct ent *b[NBUCKET];
    size_t      n;
};

struct eng_cfg_cache {
    struct eng_store          *st;
    _Atomic unsigned long long gen;
    atomic_int                 enabled;
    pthread_mutex_t            mu;
    unsigned long long         tab_gen; /* of the entries; under mu */
    struct table               applets, env;
    atomic_llong               hits, misses;
};

static void
ent_free(struct ent *e)
{
    while (e != NULL) {
        struct ent *next = e->next;

        free(e->name);
        eng_applet_free(e->applet);
        sec_free_str(e->token);
        sec_free_str(e->secret);
        sec_free_str(e->value);
        free(e);
        e = next;
    }
}

/* Unlinks every entry of t into one list (freed by the caller, outside
 * the mutex). */
static struct ent *
table_take(struct table *t, struct ent *list)
{
    size_t i;

    for (i = 0; i < NBUCKET; i++) {
        while (t->b[i] != NULL) {
            struct ent *e = t->b[i];

            t->b[i] = e->next;
            e->next = list;
            list = e;
        }
    }
    t->n = 0;
    return list;
}

static size_t
bucket(const char *name)
{
    uint32_t h = 2166136261u;

    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return h % NBUCKET;
}

static struct ent *
table_find(struct table *t, const char *name)
{
    struct ent *e;

    for (e = t->b[bucket(name)]; e != NULL; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* Under mu: brings the tables to generation g if they are older (their
 * entries into *drop). 1 if they are of generation g now. */
static int
tab_sync(struct eng_cfg_cache *c, unsigned long long g, struct ent **drop)
{
    if (c->tab_gen < g) {
        *drop = table_take(&c->applets, *drop);
        *drop = table_take(&c->env, *drop);
        c->tab_gen = g;
    }
    return c->tab_gen == g;
}

/* Keeps e (filled from a store read made at generation g) unless the
 * configuration moved since, the cache was disabled or a concurrent
 * lookup got there first; else frees it. */
static void
tab_put(struct eng_cfg_cache *c, struct table *t, unsigned long long g,
    struct ent *e)
{
    struct ent *drop = NULL;

    pthread_mutex_lock(&c->mu);
    if (atomic_load(&c->enabled) && tab_sync(c, g, &drop)
        && table_find(t, e->name) == NULL) {
        if (t->n >= ENG_CFG_CACHE_MAX) /* bounded: start over */
            drop = table_take(t, drop);
        e->next = t->b[bucket(e->name)];
        t->b[bucket(e->name)] = e;
        t->n++;
        e = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    ent_free(e);
    ent_free(drop);
}

static int
dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return 0;
    return (*out = strdup(s)) == NULL ? ERR_NOMEM : 0;
}

int
eng_cfg_cache_new(struct eng_store *st, struct eng_cfg_cache **out)
{
    struct eng_cfg_cache *c;

    *out = NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return ERR_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return ERR_NOMEM;
    }
    c->st = st;
    atomic_init(&c->gen, 1);
    atomic_init(&c->enabled, 0);
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    *out = c;
    return 0;
}

void
eng_cfg_cache_free(struct eng_cfg_cache *c)
{
    if (c == NULL)
        return;
    ent_free(table_take(&c->applets, NULL));
    ent_free(table_take(&c->env, NULL));
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void
eng_cfg_cache_invalidate(struct eng_cfg_cache *c)
{
    struct ent        *drop = NULL;
    unsigned long long g;

    if (c == NULL)
        return;
    g = atomic_fetch_add(&c->gen, 1) + 1;
    pthread_mutex_lock(&c->mu);
    tab_sync(c, g, &drop);
    pthread_mutex_unlock(&c->mu);
    ent_free(drop);
}

void
eng_cfg_cache_enable(struct eng_cfg_cache *c, int on)
{
    if (c == NULL)
        return;
    atomic_store(&c->enabled, on ? 1 : 0);
    /* either way nothing filled before counts: entries read while changes
     * went untold, or kept past the end of the telling */
    eng_cfg_cache_invalidate(c);
}

int
eng_cfg_cache_applet(struct eng_cfg_cache *c, const char *name,
    struct eng_applet **applet, char **token_sha256, char **secret,
    struct errbuf *eb)
{
    struct eng_applet_rec rec;
    struct eng_applet    *a = NULL;
    struct ent           *e, *drop = NULL;
    char                 *tok = NULL, *sk = NULL;
    int                   on = atomic_load(&c->enabled), rc = 0;
    unsigned long long    g = atomic_load(&c->gen);

    if (applet != NULL)
        *applet = NULL;
    if (token_sha256 != NULL)
        *token_sha256 = NULL;
    if (secret != NULL)
        *secret = NULL;
    if (on) {
        pthread_mutex_lock(&c->mu);
        if (tab_sync(c, g, &drop) && (e = table_find(&c->applets, name))) {
            if (token_sha256 != NULL)
                rc |= dup_opt(e->token, &tok);
            if (secret != NULL)
                rc |= dup_opt(e->secret, &sk);
            if (rc == 0 && applet != NULL)
                a = eng_applet_ref(e->applet);
            pthread_mutex_unlock(&c->mu);
            ent_free(drop);
            if (rc != 0) {
                sec_free_str(tok);
                sec_free_str(sk);
                return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            }
            atomic_fetch_add(&c->hits, 1);
            goto give;
        }
        pthread_mutex_unlock(&c->mu);
        ent_free(drop);
    }
    atomic_fetch_add(&c->misses, 1);
    memset(&rec, 0, sizeof(rec));
    if ((rc = eng_store_applet_get(c->st, name, &rec, eb)) != 0) {
        if (rc == ERR_NOTFOUND)
            err_set(eb, rc, "not_found", "no applet named \"%.64s\"", name);
        return rc;
    }
    if ((rc = eng_applet_parse(rec.text, strlen(rec.text), 1, &a, eb)) != 0) {
        eng_applet_rec_clear(&rec);
        return rc == ERR_NOMEM ? rc : ERR_INVAL;
    }
    if ((token_sha256 != NULL && dup_opt(rec.webhook_token, &tok) != 0)
        || (secret != NULL && dup_opt(rec.webhook_secret, &sk) != 0)) {
        eng_applet_rec_clear(&rec);
        eng_applet_free(a);
        sec_free_str(tok);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    /* kept for the generation read before the store read (if memory is
     * short, simply not kept) */
    if (on && (e = calloc(1, sizeof(*e))) != NULL) {
        if ((e->name = strdup(name)) == NULL
            || dup_opt(rec.webhook_token, &e->token) != 0
            || dup_opt(rec.webhook_secret, &e->secret) != 0) {
            ent_free(e);
        } else {
            e->applet = eng_applet_ref(a);
            tab_put(c, &c->applets, g, e);
        }
    }
    eng_applet_rec_clear(&rec);
give:
    if (applet != NULL)
        *applet = a;
    else
        eng_applet_free(a);
    if (token_sha256 != NULL)
        *token_sha256 = tok;
    if (secret != NULL)
        *secret = sk;
    return 0;
}

int
eng_cfg_cache_env(struct eng_cfg_cache *c, const char *name, char **value,
    int *secret, struct errbuf *eb)
{
    struct eng_env_var v;
    struct ent        *e, *drop = NULL;
    int                on = atomic_load(&c->enabled), rc;
    unsigned long long g = atomic_load(&c->gen);

    *value = NULL;
    *secret = 0;
    if (on) {
        pthread_mutex_lock(&c->mu);
        if (tab_sync(c, g, &drop) && (e = table_find(&c->env, name))) {
            int found = e->value != NULL;

            *secret = e->is_secret;
            rc = dup_opt(e->value, value);
            pthread_mutex_unlock(&c->mu);
            ent_free(drop);
            atomic_fetch_add(&c->hits, 1);
            if (rc != 0)
                return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            if (!found)
                return err_set(eb, ERR_NOTFOUND, "not_found",
                    "no variable named \"%.64s\"", name);
            return 0;
        }
        pthread_mutex_unlock(&c->mu);
        ent_free(drop);
    }
    atomic_fetch_add(&c->misses, 1);
    memset(&v, 0, sizeof(v));
    rc = eng_store_env_get(c->st, name, &v, eb);
    if (rc != 0 && rc != ERR_NOTFOUND)
        return rc; /* not known either way: nothing kept */
    if (rc == 0 && (rc = dup_opt(v.value ? v.value : "", value)) != 0) {
        eng_env_var_clear(&v);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    *secret = rc == 0 ? v.secret : 0;
    if (on && (e = calloc(1, sizeof(*e))) != NULL) {
        if ((e->name = strdup(name)) == NULL
            || (rc == 0 && dup_opt(v.value ? v.value : "", &e->value) != 0)) {
            ent_free(e);
        } else {
            e->is_secret = *secret;
            tab_put(c, &c->env, g, e);
        }
    }
    eng_env_var_clear(&v);
    return rc;
}

void
eng_cfg_cache_counts(struct eng_cfg_cache *c, long long *hits,
    long long *misses)
{
    if (hits != NULL)
        *hits = atomic_load(&c->hits);
    if (misses != NULL)
        *misses = atomic_load(&c->misses);
}
