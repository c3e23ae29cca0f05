/* SPDX-License-Identifier: MIT */
/*
 * server/srv_db.c: the database as the server sees it (docs/storage.md):
 * which backend to open (--database-url, HERALD_DATABASE_URL or
 * HERALD_DATABASE_URL_FILE: PostgreSQL, several instances sharing it;
 * none: SQLite under the data directory), the once-a-second cluster tick
 * of the main loop, and the database part of GET /healthz.
 *
 * The URL holds the password. It goes to the store, which keeps it for
 * reconnecting; the server keeps only the password itself (struct sec),
 * to scrub it from every message it prints, logs or answers that could
 * come from the database (start-up errors, the tick's log lines, the
 * reason in /healthz). The store's messages never carry it
 * (engine/store/store.h): this is the second lock on that door. A
 * password shorter than 3 characters is not scrubbed (it would mask
 * letters of every message; such a password protects nothing anyway).
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sec.h"
#include "engine/run/runtime.h"
#include "engine/store/store.h"

#define DB_SCRUB_MIN 3
/* while the database stays down, a reminder this often */
#define DB_DOWN_LOG_MS (60 * 1000LL)

int
srv_db_url_check(const char *url, struct errbuf *eb)
{
    const char *sep;
    size_t      n;

    if (url == NULL || *url == '\0')
        return err_set(eb, ERR_INVAL, "database_url",
            "the database URL is empty; use "
            "postgresql://USER:PASSWORD@HOST:PORT/DB");
    if (strncmp(url, "postgresql://", 13) == 0
        || strncmp(url, "postgres://", 11) == 0)
        return 0;
    if ((sep = strstr(url, "://")) != NULL) {
        /* name the scheme only if it looks like one: the rest may hold
         * the password */
        n = (size_t)(sep - url);
        if (n == 0 || n > 20
            || strspn(url,
                   "abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789+.-")
                < n)
            return err_set(eb, ERR_INVAL, "database_url",
                "the database URL is not a PostgreSQL URL; use "
                "postgresql://USER:PASSWORD@HOST:PORT/DB");
        return err_set(eb, ERR_INVAL, "database_url",
            "the database URL has the scheme '%.*s'; herald keeps its "
            "state in SQLite (no URL) or PostgreSQL: use "
            "postgresql://USER:PASSWORD@HOST:PORT/DB",
            (int)n, url);
    }
    if (strchr(url, '=') != NULL) /* libpq's "host=... dbname=..." */
        return 0;
    return err_set(eb, ERR_INVAL, "database_url",
        "the database URL is neither a PostgreSQL URL "
        "(postgresql://USER:PASSWORD@HOST:PORT/DB) nor a key=value "
        "connection string (host=H port=P dbname=D user=U)");
}

/* ---- the password, for scrubbing -------------------------------------- */

static int
db_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Keeps p[0..n) (and its percent-decoded form, if different) in the
 * first free slots of s->db_secret. */
static void
db_keep(struct srv *s, const char *p, size_t n)
{
    char  *dec;
    size_t i, k = 0, slot;

    if (n < DB_SCRUB_MIN)
        return;
    for (slot = 0; slot < SRV_DB_SECRETS && s->db_secret[slot] != NULL; slot++)
        ;
    if (slot < SRV_DB_SECRETS)
        s->db_secret[slot++] = sec_new(p, n);
    if (slot >= SRV_DB_SECRETS || memchr(p, '%', n) == NULL
        || (dec = malloc(n + 1)) == NULL)
        return;
    for (i = 0; i < n; i++) {
        if (p[i] == '%' && i + 2 < n && db_hex(p[i + 1]) >= 0
            && db_hex(p[i + 2]) >= 0) {
            dec[k++] = (char)(db_hex(p[i + 1]) * 16 + db_hex(p[i + 2]));
            i += 2;
        } else {
            dec[k++] = p[i];
        }
    }
    if (k >= DB_SCRUB_MIN)
        s->db_secret[slot] = sec_new(dec, k);
    sec_wipe(dec, n + 1);
    free(dec);
}

/* The password of url: a URI's user:PASSWORD@, and any password=VALUE
 * (a URI's query parameter, or libpq's key=value form, 'quoted' or
 * not). */
static void
db_password(struct srv *s, const char *url)
{
    const char *p, *start, *at, *colon, *v;
    size_t      n;

    if ((p = strstr(url, "://")) != NULL) {
        start = p + 3;
        at = strrchr(start, '@');
        colon = at != NULL ? memchr(start, ':', (size_t)(at - start)) : NULL;
        if (colon != NULL)
            db_keep(s, colon + 1, (size_t)(at - colon - 1));
    }
    for (p = strstr(url, "password"); p != NULL;
         p = strstr(p + 8, "password")) {
        v = p + 8;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\'') {
            for (n = 1; v[n] != '\0' && v[n] != '\''; n++)
                if (v[n] == '\\' && v[n + 1] != '\0')
                    n++;
            db_keep(s, v + 1, n - 1);
        } else {
            n = strcspn(v, " \t\r\n&");
            db_keep(s, v, n);
        }
    }
}

void
srv_db_scrub(const struct srv *s, char *msg, size_t sz)
{
    char   out[1024];
    size_t i;

    if (msg == NULL || sz == 0)
        return;
    for (i = 0; i < SRV_DB_SECRETS; i++) {
        const struct sec *pw = s->db_secret[i];
        const char       *from = msg, *hit;
        size_t            o = 0, len;

        if (pw == NULL || strstr(msg, sec_data(pw)) == NULL)
            continue;
        len = sec_len(pw);
        while ((hit = strstr(from, sec_data(pw))) != NULL) {
            o +=
                (size_t)snprintf(out + o, o < sizeof(out) ? sizeof(out) - o : 0,
                    "%.*s*****", (int)(hit - from), from);
            from = hit + len;
            if (o >= sizeof(out))
                break;
        }
        if (o < sizeof(out))
            snprintf(out + o, sizeof(out) - o, "%s", from);
        snprintf(msg, sz, "%s", out);
        sec_wipe(out, sizeof(out));
    }
}

/* ---- open, close -------------------------------------------------------- */

int
srv_db_open(struct srv *s, const char *url, struct errbuf *eb)
{
    int rc;

    if (url != NULL && *url != '\0') {
        if ((rc = srv_db_url_check(url, eb)) != 0)
            return rc;
        db_password(s, url);
    }
    if ((rc = eng_store_open_url(s->data_dir, url, &s->store, eb)) != 0) {
        if (eb != NULL)
            srv_db_scrub(s, eb->msg, sizeof(eb->msg));
        return rc;
    }
    s->db_up = 1;
    log_info("store", "event=database backend=%s shared=%d instance=%s",
        eng_store_backend(s->store), eng_store_shared(s->store),
        eng_store_shared(s->store) ? eng_store_instance(s->store) : "-");
    return 0;
}

void
srv_db_free(struct srv *s)
{
    size_t i;

    eng_store_close(s->store);
    s->store = NULL;
    for (i = 0; i < SRV_DB_SECRETS; i++) {
        sec_free(s->db_secret[i]);
        s->db_secret[i] = NULL;
    }
}

/* ---- health ------------------------------------------------------------- */

int
srv_db_health(struct srv *s, cJSON *obj)
{
    struct errbuf eb;
    cJSON        *d;
    int           ready;

    err_clear(&eb);
    ready = eng_store_ready(s->store, &eb) == 1;
    if ((d = cJSON_AddObjectToObject(obj, "database")) == NULL)
        return ready;
    cJSON_AddStringToObject(d, "backend", eng_store_backend(s->store));
    cJSON_AddBoolToObject(d, "ready", ready);
    cJSON_AddBoolToObject(d, "leader", eng_store_leader(s->store) == 1);
    cJSON_AddStringToObject(d, "instance", eng_store_instance(s->store));
    if (!ready) {
        srv_db_scrub(s, eb.msg, sizeof(eb.msg));
        cJSON_AddStringToObject(d, "error",
            eb.msg[0] != '\0' ? eb.msg : "the database cannot be reached");
    }
    return ready;
}

/* ---- the tick ----------------------------------------------------------- */

void
srv_tick(struct srv *s)
{
    struct errbuf eb;
    long long     now = clock_now_ms();
    int           rc;

    if (s == NULL || s->store == NULL)
        return;
    srv_slow_tick(s->slow);
    srv_reap(s);
    err_clear(&eb);
    if ((rc = eng_store_tick(s->store, now, &eb)) != 0) {
        /* the store logs the loss and the return; a reminder while the
         * database stays away */
        srv_db_scrub(s, eb.msg, sizeof(eb.msg));
        if (s->db_up)
            s->db_down_since_ms = s->db_down_logged_ms = now;
        else if (now - s->db_down_logged_ms >= DB_DOWN_LOG_MS) {
            log_warn("store",
                "event=database-still-down down_s=%lld reason=\"%s\" "
                "note=\"triggers and /healthz answer 503; accepted runs "
                "and messages wait for it\"",
                (now - s->db_down_since_ms) / 1000, eb.msg);
            s->db_down_logged_ms = now;
        }
        s->db_up = 0;
    } else {
        s->db_up = 1;
    }
    if (s->runtime == NULL)
        return;
    err_clear(&eb);
    if ((rc = eng_runtime_tick(s->runtime, now, &eb)) < 0
        && rc != ERR_UNAVAILABLE) {
        srv_db_scrub(s, eb.msg, sizeof(eb.msg));
        log_warn("runtime", "event=tick-failed reason=\"%s\"", eb.msg);
    }
}
