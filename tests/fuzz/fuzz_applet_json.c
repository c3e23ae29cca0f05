/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_applet_json.c: the JSON form of an applet
 * (cJSON_ParseWithOpts + eng_applet_from_json, engine/lang/applet.h), as the
 * REST API receives it.
 *
 * Any JSON value must be either refused with a message (eb->field naming
 * the bad field where there is one) or turned into an applet whose
 * canonical text parses again to the same text and whose JSON form builds
 * the same applet.
 */
#include <cjson/cJSON.h>

#include "engine/lang/applet.h"
#include "fuzz.h"

static void
check_applet(struct eng_applet *a)
{
    struct eng_applet *a2 = NULL, *a3 = NULL;
    struct errbuf      eb;
    cJSON             *j;
    char              *t1, *t2 = NULL, *t3 = NULL;
    int                rc;

    t1 = eng_applet_to_text(a);
    fuzz_check(t1 != NULL, "eng_applet_to_text returned NULL");
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_parse(t1, strlen(t1), 1, &a2, &eb);
    fuzz_check(rc == 0,
        "text of an applet built from JSON does not parse "
        "(%s: %s, line %d col %d):\n%s",
        err_name(rc), eb.msg, eb.line, eb.col, t1);
    t2 = eng_applet_to_text(a2);
    fuzz_check(t2 != NULL && strcmp(t1, t2) == 0,
        "canonical text changes when re-parsed:\n--- first\n%s--- second\n%s",
        t1, t2 ? t2 : "(null)");

    j = eng_applet_to_json(a);
    fuzz_check(j != NULL, "eng_applet_to_json returned NULL");
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_from_json(j, NULL, &a3, &eb);
    fuzz_check(rc == 0,
        "to_json output is refused by from_json (%s: %s, "
        "field %s)",
        err_name(rc), eb.msg, eb.field);
    t3 = eng_applet_to_text(a3);
    fuzz_check(t3 != NULL && strcmp(t1, t3) == 0,
        "to_json -> from_json changes the applet:\n--- before\n%s"
        "--- after\n%s",
        t1, t3 ? t3 : "(null)");

    cJSON_Delete(j);
    free(t1);
    free(t2);
    free(t3);
    eng_applet_free(a2);
    eng_applet_free(a3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb;
    const char        *end = NULL;
    cJSON             *j;
    char              *s;
    int                rc;

    fuzz_quiet_logs();
    s = fuzz_strndup(data, size);
    j = cJSON_ParseWithOpts(s, &end, 0);
    if (j == NULL) {
        free(s);
        return 0;
    }

    /* as POST /api/v1/applets: the name comes from the body */
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_from_json(j, NULL, &a, &eb);
    fuzz_check_err("eng_applet_from_json", rc, &eb);
    if (rc == 0) {
        fuzz_check(a != NULL, "eng_applet_from_json returned 0, no applet");
        check_applet(a);
        eng_applet_free(a);
        a = NULL;
    }

    /* as PUT /api/v1/applets/{name}: the path's name wins */
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_from_json(j, "FuzzPathName", &a, &eb);
    fuzz_check_err("eng_applet_from_json(name)", rc, &eb);
    if (rc == 0) {
        fuzz_check(strcmp(eng_applet_name(a), "FuzzPathName") == 0,
            "the name argument did not win: got \"%s\"", eng_applet_name(a));
        check_applet(a);
        eng_applet_free(a);
    }

    cJSON_Delete(j);
    free(s);
    return 0;
}
