/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_cron.c: "event timer cron cron-entry" entries
 * (eng_cron_parse and eng_cron_next, engine/run/runtime_int.h).
 *
 * A bad entry is refused with a message naming the field; an accepted one
 * has at least one value in every field, and its next fire time is a
 * whole minute strictly after the start that matches the entry, or -1.
 */
#include "engine/run/runtime_int.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eng_cron c;
    struct errbuf   eb;
    const time_t    start = (time_t)1795000000; /* 2026-11-18 */
    time_t          next;
    struct tm       tm;
    char           *s;
    int             rc;

    fuzz_quiet_logs();
    if (size > 256)
        return 0;
    s = fuzz_strndup(data, size);
    memset(&c, 0, sizeof(c));
    memset(&eb, 0, sizeof(eb));
    rc = eng_cron_parse(s, &c, &eb);
    fuzz_check_err("eng_cron_parse", rc, &eb);
    if (rc == 0) {
        fuzz_check(c.minute != 0 && c.hour != 0 && c.dom != 0 && c.month != 0
                && c.dow != 0,
            "accepted cron entry \"%s\" has an empty field", s);
        next = eng_cron_next(&c, start);
        if (next != (time_t)-1) {
            fuzz_check(next > start && next % 60 == 0,
                "next fire %lld is not a whole minute after %lld",
                (long long)next, (long long)start);
            localtime_r(&next, &tm);
            fuzz_check((c.minute >> tm.tm_min) & 1 && (c.hour >> tm.tm_hour) & 1
                    && (c.month >> (tm.tm_mon + 1)) & 1,
                "next fire time %lld does not match \"%s\"", (long long)next,
                s);
        }
    }
    free(s);
    return 0;
}
