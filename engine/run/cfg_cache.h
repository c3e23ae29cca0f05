/* SPDX-License-Identifier: MIT */
/*
 * engine/run/cfg_cache.h: what triggers and runs read of the configuration,
 * kept in memory between changes: parsed applets (with the webhook
 * credentials stored beside them) and environment variables.
 *
 * Why: a webhook read its applet from the store and parsed it twice, and
 * every run read its variables one by one; each read is a round trip
 * through the store's lock (contended by the HTTP threads, workers and
 * senders) and a SELECT. The configuration changes rarely.
 *
 * Validity: the cache holds what was read for one configuration
 * generation. eng_cfg_cache_invalidate moves the generation; the runtime
 * calls it from the store's watch callback (eng_store_watch), which the
 * store calls inside every write of applets or environment on its
 * connection, after a transaction that ended without committing, and, on
 * PostgreSQL, for the changes of other instances eng_store_tick finds
 * (within a second). An entry is filled only for the generation read
 * before the store read that filled it, so a read that raced a write is
 * never served after that write. Until eng_cfg_cache_enable(c, 1) (that
 * is, while nothing tells the cache about changes) every lookup reads the
 * store and nothing is kept.
 *
 * Entries are bounded (ENG_CFG_CACHE_MAX per kind: beyond, the kind is
 * emptied). Not-found variables are remembered (a run may ask for one that
 * is unset); not-found or unparsable applets are not (webhook URLs name
 * them: a flood of made-up names must not fill memory).
 *
 * Secrets: values, webhook token hashes and signing secrets are wiped
 * (sec_wipe) when an entry is dropped. Callers get copies: free those with
 * sec_free_str (common/sec.h).
 *
 * Threads: every function is thread-safe. The cache's lock is a leaf: it
 * is never held around a store call, so eng_cfg_cache_invalidate may be
 * called with the store locked (from the watch callback).
 */
#ifndef HERALD_ENGINE_CFG_CACHE_H
#define HERALD_ENGINE_CFG_CACHE_H

#include "common/err.h"

struct eng_store;
struct eng_applet;

#define ENG_CFG_CACHE_MAX 1024

struct eng_cfg_cache;

/* A cache over st (borrowed: it must outlive the cache), disabled.
 * Errors: ERR_NOMEM. */
int eng_cfg_cache_new(struct eng_store *st, struct eng_cfg_cache **out);
/* Drops (and wipes) every entry. NULL: no-op. */
void eng_cfg_cache_free(struct eng_cfg_cache *c);

/* on 1: the caller now calls eng_cfg_cache_invalidate for every change
 * (call it after installing the watch callback); on 0: it is about to stop
 * (call it before removing the callback): the entries are dropped and
 * lookups read the store again. */
void eng_cfg_cache_enable(struct eng_cfg_cache *c, int on);
/* The configuration changed: the next lookups read the store. Drops (and
 * wipes) the entries. Never touches the store. */
void eng_cfg_cache_invalidate(struct eng_cfg_cache *c);

/* The applet name, parsed. *applet gets a reference (drop it with
 * eng_applet_free; the applet is shared: read only). token_sha256 and
 * secret, if not NULL, get copies of the stored webhook credentials
 * (NULL when unset; free with sec_free_str). On error nothing is returned.
 * Errors: ERR_NOTFOUND (no such applet; eb code "not_found"), ERR_INVAL
 * (the stored text does not parse; eb has the parser's message and
 * position), the store's errors (ERR_UNAVAILABLE, ERR_DB), ERR_NOMEM. */
int eng_cfg_cache_applet(struct eng_cfg_cache *c, const char *name,
    struct eng_applet **applet, char **token_sha256, char **secret,
    struct errbuf *eb);

/* The environment variable name: *value a copy (free with sec_free_str)
 * and *secret its flag. Errors: ERR_NOTFOUND (unset), the store's errors
 * (ERR_UNAVAILABLE, ERR_DB), ERR_NOMEM. */
int eng_cfg_cache_env(struct eng_cfg_cache *c, const char *name, char **value,
    int *secret, struct errbuf *eb);

/* Lookups answered from memory and from the store since the start (for
 * tests and the profile: not a correctness signal). Either may be NULL. */
void eng_cfg_cache_counts(struct eng_cfg_cache *c, long long *hits,
    long long *misses);

#endif
