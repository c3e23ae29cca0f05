/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_config.c: router-style configuration import
 * (eng_config_import, engine/config/config.h) into a real SQLite store in a
 * temporary directory.
 *
 * engine/config/config.h promises all or nothing: on error nothing changed. So the
 * running-config exported before a failed import must equal the one
 * exported after it, and the errbuf must say what was wrong. An import that
 * succeeds must leave a store whose exported configuration imports again
 * and exports the same text (herald must accept what it prints). After a
 * successful import the store is put back to the baseline below, so that
 * every input starts from the same state.
 */
#include <dirent.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "engine/config/config.h"
#include "engine/store/store.h"
#include "fuzz.h"
#include "pki/pki.h"

static const char baseline[] =
    "event manager environment _email_from alerts@example.com\n"
    "event manager environment _email_to noc@example.com\n"
    "event manager environment _email_server "
    "relay@corp.example:app-password@smtp.example.com\n"
    "event manager applet Baseline\n"
    " event none\n"
    " action 0010 syslog msg \"baseline $_email_to\"\n"
    " action 0020 puts \"done\"\n"
    "crypto pki trustpoint CA-Baseline\n"
    " enrollment terminal\n"
    " revocation-check none\n"
    " chain-validation stop\n";

static struct eng_store *store;
static char              store_dir[256];

static void
remove_store(void)
{
    struct dirent *de;
    DIR           *d;
    char           path[512];

    eng_store_close(store);
    store = NULL;
    if (store_dir[0] == '\0' || (d = opendir(store_dir)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", store_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(store_dir);
}

static void
export_to(struct buf *out)
{
    struct errbuf eb;
    int           rc;

    memset(&eb, 0, sizeof(eb));
    buf_reset(out);
    rc = eng_config_export(store, out, &eb);
    fuzz_check(rc == 0, "eng_config_export failed: %s: %s", err_name(rc),
        eb.msg);
}

/* Deletes everything, then imports the baseline. */
static void
reset_store(void)
{
    struct eng_env_var    *vars = NULL;
    struct eng_applet_rec *apps = NULL;
    struct eng_tp_rec     *tps = NULL;
    struct errbuf          eb;
    size_t                 n = 0, i;
    int                    rc;

    memset(&eb, 0, sizeof(eb));
    if (eng_store_env_list(store, &vars, &n, &eb) == 0) {
        for (i = 0; i < n; i++)
            eng_store_env_del(store, vars[i].name, &eb);
        eng_env_vars_free(vars, n);
    }
    if (eng_store_applet_list(store, &apps, &n, &eb) == 0) {
        for (i = 0; i < n; i++)
            eng_store_applet_del(store, apps[i].name, &eb);
        eng_applet_recs_free(apps, n);
    }
    if (eng_store_tp_list(store, &tps, &n, &eb) == 0) {
        for (i = 0; i < n; i++)
            eng_store_tp_del(store, tps[i].name, &eb);
        eng_tp_recs_free(tps, n);
    }
    memset(&eb, 0, sizeof(eb));
    rc = eng_config_import(store, baseline, sizeof(baseline) - 1, NULL, &eb);
    fuzz_check(rc == 0, "baseline configuration refused: %s: %s (line %d)",
        err_name(rc), eb.msg, eb.line);
}

static void
setup(void)
{
    struct errbuf eb;
    const char   *base;
    int           rc;

    fuzz_quiet_logs();
    pki_init();
    base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(store_dir, sizeof(store_dir), "%s/herald-fuzz-config.XXXXXX",
        base);
    fuzz_check(mkdtemp(store_dir) != NULL, "mkdtemp %s failed", store_dir);
    memset(&eb, 0, sizeof(eb));
    rc = eng_store_open(store_dir, &store, &eb);
    fuzz_check(rc == 0, "eng_store_open %s: %s", store_dir, eb.msg);
    atexit(remove_store);
    reset_store();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf    before = BUF_INIT, after = BUF_INIT, again = BUF_INIT;
    struct errbuf eb;
    cJSON        *summary = NULL;
    int           rc;

    if (store == NULL)
        setup();
    export_to(&before);

    memset(&eb, 0, sizeof(eb));
    rc = eng_config_import(store, (const char *)data, size, &summary, &eb);
    fuzz_check_err("eng_config_import", rc, &eb);
    export_to(&after);
    if (rc != 0) {
        fuzz_check(summary == NULL, "failed import returned a summary");
        fuzz_check(before.len == after.len
                && memcmp(buf_str(&before), buf_str(&after), before.len) == 0,
            "failed import (%s: %s, line %d) changed the store:\n"
            "--- before\n%s--- after\n%s",
            err_name(rc), eb.msg, eb.line, buf_str(&before), buf_str(&after));
        goto out;
    }
    fuzz_check(summary != NULL && cJSON_IsObject(summary),
        "successful import gave no summary object");

    /* what herald prints, herald must accept, and print the same */
    cJSON_Delete(summary);
    summary = NULL;
    memset(&eb, 0, sizeof(eb));
    rc = eng_config_import(store, buf_str(&after), after.len, &summary, &eb);
    fuzz_check(rc == 0,
        "exported configuration is refused by import "
        "(%s: %s, line %d):\n%s",
        err_name(rc), eb.msg, eb.line, buf_str(&after));
    export_to(&again);
    fuzz_check(after.len == again.len
            && memcmp(buf_str(&after), buf_str(&again), after.len) == 0,
        "export -> import -> export changes the configuration:\n"
        "--- first\n%s--- second\n%s",
        buf_str(&after), buf_str(&again));
    reset_store();
out:
    cJSON_Delete(summary);
    buf_free(&before);
    buf_free(&after);
    buf_free(&again);
    return 0;
}
