/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_webhook.c: webhook bodies (eng_webhook_vars,
 * engine/run/runtime_int.h), as POST /hooks/{applet} hands them to the engine.
 * The first input byte picks the Content-Type (JSON, text/plain, none).
 *
 * Invalid JSON is refused with a message giving its position; an accepted
 * body gives $_webhook_body equal to the body, byte for byte, and only
 * variable names an applet can write (letters, digits, '_'; the field part
 * cut at 64 bytes), so that every field can be used in an applet.
 */
#include "engine/run/runtime_int.h"
#include "fuzz.h"

/* Letters, digits and '_', at most "_webhook_" + 64 bytes (the field name
 * is cut at 64, runtime.h). */
static int
name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
                || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return i > 0 && i <= 9 + 64;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *ctypes[] = { "application/json", "text/plain", NULL,
        "text/plain; charset=utf-8", "application/x-www-form-urlencoded" };
    struct eng_vars    vs;
    struct errbuf      eb;
    const char        *ct, *body;
    size_t             i, n = 0;
    int                rc;

    fuzz_quiet_logs();
    if (size == 0)
        return 0;
    ct = ctypes[data[0] % (sizeof(ctypes) / sizeof(ctypes[0]))];
    body = (const char *)data + 1;
    n = size - 1;
    memset(&vs, 0, sizeof(vs));
    memset(&eb, 0, sizeof(eb));
    rc = eng_webhook_vars(body, n, ct, &vs, &eb);
    fuzz_check_err("eng_webhook_vars", rc, &eb);
    if (rc == 0) {
        const char *b = eng_vars_get(&vs, "_webhook_body");

        fuzz_check(b != NULL, "accepted body gave no $_webhook_body");
        fuzz_check(strlen(b) == n && memcmp(b, body, n) == 0,
            "$_webhook_body differs from the body");
        for (i = 0; i < vs.n; i++) {
            fuzz_check(vs.v[i].name != NULL && name_ok(vs.v[i].name),
                "webhook variable with an invalid name \"%s\"",
                vs.v[i].name ? vs.v[i].name : "(null)");
            fuzz_check(vs.v[i].value != NULL, "variable %s has no value",
                vs.v[i].name);
            fuzz_check(strncmp(vs.v[i].name, "_webhook_", 9) == 0,
                "webhook variable \"%s\" outside the _webhook_ prefix",
                vs.v[i].name);
        }
        if (ct != NULL && strncmp(ct, "text/plain", 10) == 0)
            fuzz_check(vs.n == 1, "a text/plain body gave %zu variables", vs.n);
    }
    eng_vars_free(&vs);
    return 0;
}
