/* SPDX-License-Identifier: MIT */
/*
 * engine/store/store.c: the public functions of engine/store/store.h,
 * dispatched to the backend the handle was opened with (its ops table,
 * engine/store/store_int.h). Nothing else lives here.
 */
#include "engine/store/store_int.h"

#include <string.h>

int
eng_store_open(const char *dir, struct eng_store **out, struct errbuf *eb)
{
    return sqlite_open(dir, out, eb);
}

int
eng_store_open_url(const char *dir, const char *url, struct eng_store **out,
    struct errbuf *eb)
{
    if (url == NULL || *url == '\0')
        return sqlite_open(dir, out, eb);
    return pg_open(dir, url, out, eb);
}

void
eng_store_close(struct eng_store *st)
{
    if (st != NULL)
        st->ops->close(st);
}

const char *
eng_store_backend(const struct eng_store *st)
{
    return st->ops->name;
}

int
eng_store_shared(const struct eng_store *st)
{
    return st->ops->cluster != NULL;
}

const char *
eng_store_dir(const struct eng_store *st)
{
    return st->dir;
}

/* ---- several instances: trivial with one ---------------------------- */

int
eng_store_tick(struct eng_store *st, long long now_ms, struct errbuf *eb)
{
    return st->ops->cluster ? st->ops->cluster->tick(st, now_ms, eb) : 0;
}

int
eng_store_ready(struct eng_store *st, struct errbuf *eb)
{
    return st->ops->cluster ? st->ops->cluster->ready(st, eb) : 1;
}

const char *
eng_store_instance(const struct eng_store *st)
{
    return st->ops->cluster ? st->ops->cluster->instance(st) : "";
}

int
eng_store_leader(struct eng_store *st)
{
    return st->ops->cluster ? st->ops->cluster->leader(st) : 1;
}

int
eng_store_runs_adopt(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb)
{
    if (db->ops->cluster == NULL)
        return 0;
    return db->ops->cluster->runs_adopt(db, now_ms, requeue, ud, eb);
}

/* ---- everything else: the backend's --------------------------------- */

void
eng_store_release_memory(struct eng_store *st)
{
    st->ops->cfg->release_memory(st);
}

int
eng_store_begin(struct eng_store *st, struct errbuf *eb)
{
    return st->ops->cfg->begin(st, eb);
}

/* A transaction ended without committing: the watch callback saw its
 * writes of applets and environment (a cache may have been filled from
 * them by the thread inside it), and is told again that the configuration
 * moved, back to what it was. Called inside the transaction (lock held). */
static void
store_tx_reverted(struct eng_store *st)
{
    if (st->watch_cb != NULL) {
        st->watch_cb(st->watch_ud, "applets");
        st->watch_cb(st->watch_ud, "environment");
    }
}

int
eng_store_commit(struct eng_store *st, struct errbuf *eb)
{
    int rc;

    store_lock(st);
    if ((rc = st->ops->cfg->commit(st, eb)) != 0) /* rolled back */
        store_tx_reverted(st);
    store_unlock(st);
    return rc;
}

void
eng_store_rollback(struct eng_store *st)
{
    store_lock(st);
    st->ops->cfg->rollback(st);
    store_tx_reverted(st);
    store_unlock(st);
}

int
eng_store_env_put(struct eng_store *st, const char *name, const char *value,
    int secret, int *created, struct errbuf *eb)
{
    return st->ops->cfg->env_put(st, name, value, secret, created, eb);
}

int
eng_store_env_get(struct eng_store *st, const char *name,
    struct eng_env_var *out, struct errbuf *eb)
{
    return st->ops->cfg->env_get(st, name, out, eb);
}

int
eng_store_env_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return st->ops->cfg->env_del(st, name, eb);
}

int
eng_store_env_list(struct eng_store *st, struct eng_env_var **out, size_t *n,
    struct errbuf *eb)
{
    return st->ops->cfg->env_list(st, out, n, eb);
}

int
eng_store_applet_put(struct eng_store *st, const char *name, const char *text,
    int *created, struct errbuf *eb)
{
    return st->ops->cfg->applet_put(st, name, text, created, eb);
}

int
eng_store_applet_get(struct eng_store *st, const char *name,
    struct eng_applet_rec *out, struct errbuf *eb)
{
    return st->ops->cfg->applet_get(st, name, out, eb);
}

int
eng_store_applet_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return st->ops->cfg->applet_del(st, name, eb);
}

int
eng_store_applet_list(struct eng_store *st, struct eng_applet_rec **out,
    size_t *n, struct errbuf *eb)
{
    return st->ops->cfg->applet_list(st, out, n, eb);
}

int
eng_store_tp_put(struct eng_store *st, const struct eng_tp_rec *r, int *created,
    struct errbuf *eb)
{
    return st->ops->cfg->tp_put(st, r, created, eb);
}

int
eng_store_tp_set_cert(struct eng_store *st, const char *name,
    const unsigned char *der, size_t len, struct errbuf *eb)
{
    return st->ops->cfg->tp_set_cert(st, name, der, len, eb);
}

int
eng_store_tp_get(struct eng_store *st, const char *name, struct eng_tp_rec *out,
    struct errbuf *eb)
{
    return st->ops->cfg->tp_get(st, name, out, eb);
}

int
eng_store_tp_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return st->ops->cfg->tp_del(st, name, eb);
}

int
eng_store_tp_list(struct eng_store *st, struct eng_tp_rec **out, size_t *n,
    struct errbuf *eb)
{
    return st->ops->cfg->tp_list(st, out, n, eb);
}

uint64_t
eng_store_trust_generation(struct eng_store *st)
{
    return st->ops->cfg->trust_generation(st);
}

int
eng_store_setting_get(struct eng_store *st, const char *key, char **value,
    struct errbuf *eb)
{
    return st->ops->cfg->setting_get(st, key, value, eb);
}

int
eng_store_setting_put(struct eng_store *st, const char *key, const char *value,
    struct errbuf *eb)
{
    return st->ops->cfg->setting_put(st, key, value, eb);
}

int
eng_store_cred_put(struct eng_store *st, const struct eng_cred_rec *r,
    int *created, struct errbuf *eb)
{
    return st->ops->cfg->cred_put(st, r, created, eb);
}

int
eng_store_cred_rotate(struct eng_store *st, const char *name,
    const char *refresh_token, struct errbuf *eb)
{
    return st->ops->cfg->cred_rotate(st, name, refresh_token, eb);
}

int
eng_store_cred_get(struct eng_store *st, const char *name,
    struct eng_cred_rec *out, struct errbuf *eb)
{
    return st->ops->cfg->cred_get(st, name, out, eb);
}

int
eng_store_cred_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return st->ops->cfg->cred_del(st, name, eb);
}

int
eng_store_cred_list(struct eng_store *st, struct eng_cred_rec **out, size_t *n,
    struct errbuf *eb)
{
    return st->ops->cfg->cred_list(st, out, n, eb);
}

long long
eng_store_mark(struct eng_store *db)
{
    return db->ops->run->mark(db);
}

int
eng_store_durable(struct eng_store *db, long long seq, struct errbuf *eb)
{
    return db->ops->run->durable(db, seq, eb);
}

int
eng_store_run_insert(struct eng_store *db, const char *applet,
    const char *trigger, const char *trigger_data, const char *replay,
    const char *status, long long now_ms, long long *id, struct errbuf *eb)
{
    return db->ops->run->run_insert(db, applet, trigger, trigger_data, replay,
        status, now_ms, id, eb);
}

int
eng_store_run_delete(struct eng_store *db, long long id)
{
    return db->ops->run->run_delete(db, id);
}

int
eng_store_run_start(struct eng_store *db, long long id, long long now_ms,
    struct errbuf *eb)
{
    return db->ops->run->run_start(db, id, now_ms, eb);
}

int
eng_store_run_finish(struct eng_store *db, long long id,
    const struct eng_run_end *e, struct errbuf *eb)
{
    return db->ops->run->run_finish(db, id, e, eb);
}

int
eng_store_runs_list(struct eng_store *db, const struct eng_run_filter *f,
    struct cJSON **out, struct errbuf *eb)
{
    return db->ops->run->runs_list(db, f, out, eb);
}

int
eng_store_run_get(struct eng_store *db, long long id, struct cJSON **out,
    struct errbuf *eb)
{
    return db->ops->run->run_get(db, id, out, eb);
}

int
eng_store_runs_prune(struct eng_store *db, long long before_ms,
    struct errbuf *eb)
{
    return db->ops->run->runs_prune(db, before_ms, eb);
}

int
eng_store_runs_recover(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb)
{
    return db->ops->run->runs_recover(db, now_ms, requeue, ud, eb);
}

int
eng_store_idem_get(struct eng_store *db, const char *applet, const char *key,
    long long since_ms, long long *run_id)
{
    return db->ops->run->idem_get(db, applet, key, since_ms, run_id);
}

int
eng_store_idem_put(struct eng_store *db, const char *applet, const char *key,
    long long run_id, long long now_ms)
{
    return db->ops->run->idem_put(db, applet, key, run_id, now_ms);
}

int
eng_store_ctx_save(struct eng_store *db, const char *key, const char *json)
{
    return db->ops->run->ctx_save(db, key, json);
}

char *
eng_store_ctx_get(struct eng_store *db, const char *key)
{
    return db->ops->run->ctx_get(db, key);
}

void
eng_store_watch(struct eng_store *db, void (*cb)(void *ud, const char *table),
    void                         *ud)
{
    db->ops->run->watch(db, cb, ud);
}

int
eng_store_token_set(struct eng_store *db, const char *applet,
    const char *token_sha256, const char *secret, struct errbuf *eb)
{
    return db->ops->run->token_set(db, applet, token_sha256, secret, eb);
}

int
eng_store_ob_put(struct eng_store *db, const struct eng_ob_new *m,
    long long *id, struct errbuf *eb)
{
    return db->ops->ob->ob_put(db, m, id, eb);
}

int
eng_store_ob_claim_held(struct eng_store *db, long long id, long long now_ms,
    struct eng_ob_row *out)
{
    return db->ops->ob->ob_claim_held(db, id, now_ms, out);
}

unsigned
eng_store_ob_claim_due(struct eng_store *db, const char *skey, long long now_ms,
    unsigned max, struct eng_ob_row *out)
{
    return db->ops->ob->ob_claim_due(db, skey, now_ms, max, out);
}

unsigned
eng_store_ob_due_keys(struct eng_store *db, long long now_ms, unsigned max,
    char **keys)
{
    return db->ops->ob->ob_due_keys(db, now_ms, max, keys);
}

int
eng_store_ob_req(struct eng_store *db, long long id, char **req)
{
    return db->ops->ob->ob_req(db, id, req);
}

void
eng_store_ob_release(struct eng_store *db, const long long *ids, unsigned n)
{
    db->ops->ob->ob_release(db, ids, n);
}

void
eng_store_ob_record(struct eng_store *db, const struct eng_ob_outcome *o,
    unsigned n)
{
    db->ops->ob->ob_record(db, o, n);
}

long long
eng_store_ob_earliest(struct eng_store *db)
{
    return db->ops->ob->ob_earliest(db);
}

int
eng_store_ob_resume(struct eng_store *db)
{
    return db->ops->ob->ob_resume(db);
}

int
eng_store_ob_list(struct eng_store *db, const char *state,
    struct eng_ob_item **out, size_t *n, struct errbuf *eb)
{
    return db->ops->ob->ob_list(db, state, out, n, eb);
}

int
eng_store_ob_get(struct eng_store *db, long long id, struct eng_ob_item *out,
    struct errbuf *eb)
{
    return db->ops->ob->ob_get(db, id, out, eb);
}

int
eng_store_ob_attempts(struct eng_store *db, long long id, int last,
    struct eng_ob_attempt **out, size_t *n, struct errbuf *eb)
{
    return db->ops->ob->ob_attempts(db, id, last, out, n, eb);
}

int
eng_store_ob_requeue(struct eng_store *db, long long id, long long now_ms,
    long long expires_ms, const char *req, const char *skey, struct errbuf *eb)
{
    return db->ops->ob->ob_requeue(db, id, now_ms, expires_ms, req, skey, eb);
}

int
eng_store_ob_state(struct eng_store *db, long long id, char *state, size_t n,
    unsigned *attempts, long long *next_ms)
{
    return db->ops->ob->ob_state(db, id, state, n, attempts, next_ms);
}

long long
eng_store_ob_pending(struct eng_store *db)
{
    return db->ops->ob->ob_pending(db);
}

int
eng_store_ob_census(struct eng_store *db, struct eng_ob_census *out,
    struct errbuf *eb)
{
    return db->ops->ob->ob_census(db, out, eb);
}
