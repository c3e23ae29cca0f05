/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_applet_text.c: the EEM applet text parser
 * (eng_applet_parse, engine/lang/applet.h).
 *
 * Bad text must be rejected with a message. Accepted text must survive the
 * round trips engine/lang/applet.h promises: the canonical text parses again and
 * prints the same text, and the JSON form builds an applet that prints that
 * same text. The accessors and save-time warnings must work on whatever the
 * parser accepted.
 */
#include <cjson/cJSON.h>

#include "engine/lang/applet.h"
#include "fuzz.h"

static int
no_env_defined(void *ctx, const char *name)
{
    (void)ctx;
    return name != NULL && strcmp(name, "_email_server") == 0;
}

/* Walks every accessor, so that a model the parser built inconsistently
 * shows up under ASan. */
static void
touch_model(const struct eng_applet *a)
{
    static const char *params[] = { "server", "to", "msg", "var", "value",
        "left", "op", "right", "pattern", "string", "text", "type", "key",
        "name", "nocase", "bogus" };
    size_t             i, j;

    fuzz_check(eng_applet_name(a) != NULL && eng_applet_name(a)[0] != '\0',
        "accepted applet has no name");
    (void)eng_applet_description(a);
    (void)eng_applet_correlate(a);
    for (i = 0; i < eng_applet_event_count(a); i++) {
        const struct eng_event *ev = eng_applet_event(a, i);

        fuzz_check(ev != NULL, "event %zu of %zu is NULL", i,
            eng_applet_event_count(a));
        if (ev->pattern != NULL)
            (void)strlen(ev->pattern);
        if (ev->cron_entry != NULL)
            (void)strlen(ev->cron_entry);
    }
    for (i = 0; i < eng_applet_action_count(a); i++) {
        const struct eng_action *ac = eng_applet_action(a, i);

        fuzz_check(ac != NULL && ac->label != NULL && ac->verb != NULL,
            "action %zu has no label or verb", i);
        if (i > 0) {
            const struct eng_action *prev = eng_applet_action(a, i - 1);

            fuzz_check(strcmp(prev->label, ac->label) < 0,
                "actions not in strictly ascending byte order: \"%s\" "
                "then \"%s\"",
                prev->label, ac->label);
        }
        for (j = 0; j < sizeof(params) / sizeof(params[0]); j++) {
            const char *v = eng_action_arg(a, i, params[j]);

            if (v != NULL)
                (void)strlen(v);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eng_applet *a = NULL, *a2 = NULL, *a3 = NULL;
    struct errbuf      eb;
    cJSON             *j = NULL, *w = NULL;
    char              *t1 = NULL, *t2 = NULL, *t3 = NULL, *jtxt = NULL;
    int                rc;

    fuzz_quiet_logs();
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_parse((const char *)data, size, 1, &a, &eb);
    fuzz_check_err("eng_applet_parse", rc, &eb);
    if (rc != 0) {
        fuzz_check(a == NULL, "eng_applet_parse failed but set *out");
        return 0;
    }
    fuzz_check(a != NULL, "eng_applet_parse returned 0 and no applet");
    touch_model(a);
    w = eng_applet_warnings(a, no_env_defined, NULL);
    fuzz_check(w != NULL && cJSON_IsArray(w), "warnings are not an array");

    /* text -> model -> text -> model -> same text */
    t1 = eng_applet_to_text(a);
    fuzz_check(t1 != NULL, "eng_applet_to_text returned NULL");
    fuzz_check(t1[0] != '\0' && t1[strlen(t1) - 1] == '\n',
        "canonical text does not end in a newline");
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_parse(t1, strlen(t1), 1, &a2, &eb);
    fuzz_check(rc == 0,
        "canonical text does not parse again (%s: %s, "
        "line %d col %d):\n%s",
        err_name(rc), eb.msg, eb.line, eb.col, t1);
    t2 = eng_applet_to_text(a2);
    fuzz_check(t2 != NULL && strcmp(t1, t2) == 0,
        "canonical text changes when re-parsed:\n--- first\n%s--- second\n%s",
        t1, t2 ? t2 : "(null)");

    /* model -> JSON -> model -> same text */
    j = eng_applet_to_json(a);
    fuzz_check(j != NULL, "eng_applet_to_json returned NULL");
    memset(&eb, 0, sizeof(eb));
    rc = eng_applet_from_json(j, NULL, &a3, &eb);
    jtxt = cJSON_PrintUnformatted(j);
    fuzz_check(rc == 0,
        "JSON form of an accepted applet is refused (%s: "
        "%s, field %s):\n%s",
        err_name(rc), eb.msg, eb.field, jtxt ? jtxt : "?");
    t3 = eng_applet_to_text(a3);
    fuzz_check(t3 != NULL && strcmp(t1, t3) == 0,
        "JSON round trip changes the applet:\n--- text\n%s--- via JSON\n%s"
        "--- JSON\n%s",
        t1, t3 ? t3 : "(null)", jtxt ? jtxt : "?");

    free(jtxt);
    free(t1);
    free(t2);
    free(t3);
    cJSON_Delete(j);
    cJSON_Delete(w);
    eng_applet_free(a);
    eng_applet_free(a2);
    eng_applet_free(a3);
    return 0;
}
