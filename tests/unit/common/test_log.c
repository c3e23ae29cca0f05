/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_log.c: a flood of identical log lines is one line
 * and a count. Lines that differ only in their time fold; the count comes
 * before the next different line, or from log_flush(); a different line
 * starts over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Everything written to the log since the last call (new string). */
static char *
drain(FILE *f)
{
    static long at;
    long        end;
    char       *s;

    fflush(f);
    fseek(f, 0, SEEK_END);
    end = ftell(f);
    s = calloc(1, (size_t)(end - at) + 1);
    fseek(f, at, SEEK_SET);
    assert_int_equal(fread(s, 1, (size_t)(end - at), f), (size_t)(end - at));
    at = end;
    return s;
}

static int
count(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void
a_flood_of_identical_lines_should_be_one_line_and_a_count(void **state)
{
    FILE *f = tmpfile();
    char *out;

    (void)state;
    assert_non_null(f);
    log_set_fd(fileno(f));
    log_set_level(LOG_INFO);
    for (int i = 0; i < 1000; i++)
        log_warn("smtp", "event=connect-failed host=%s", "mx.example");
    out = drain(f);
    assert_int_equal(count(out, "\n"), 1); /* the first, and no count yet */
    assert_int_equal(count(out, "event=connect-failed host=mx.example"), 1);
    free(out);

    /* a different line: the count first, then the line */
    log_info("runtime", "event=run-end run=%d", 7);
    out = drain(f);
    assert_int_equal(count(out, "\n"), 2);
    assert_non_null(strstr(out,
        "level=warn sub=log event=repeated count=999 line=\"level=warn "
        "sub=smtp event=connect-failed host=mx.example\""));
    assert_true(strstr(out, "event=repeated") < strstr(out, "run=7"));
    free(out);

    /* lines that differ are all written */
    for (int i = 0; i < 5; i++)
        log_info("runtime", "event=run-end run=%d", 100 + i);
    out = drain(f);
    assert_int_equal(count(out, "event=run-end"), 5);
    assert_int_equal(count(out, "event=repeated"), 0);
    free(out);

    /* a fold that nothing follows is written by log_flush */
    for (int i = 0; i < 3; i++)
        log_ios(LOG_ERR,
            "%%HA_EM-3-FMPD_SMTP: Error occurred when sending "
            "mail to SMTP server: %s : %s",
            "mx.example", "timeout");
    log_flush(0); /* younger than a second: kept */
    out = drain(f);
    assert_int_equal(count(out, "%HA_EM-3-FMPD_SMTP"), 1);
    assert_int_equal(count(out, "event=repeated"), 0);
    free(out);
    log_flush(1);
    out = drain(f);
    assert_non_null(strstr(out, "event=repeated count=2 line=\"%HA_EM-3"));
    free(out);

    /* after a count the same line is written again, and folds anew */
    log_ios(LOG_ERR,
        "%%HA_EM-3-FMPD_SMTP: Error occurred when sending "
        "mail to SMTP server: %s : %s",
        "mx.example", "timeout");
    out = drain(f);
    assert_int_equal(count(out, "%HA_EM-3-FMPD_SMTP"), 1);
    free(out);
    log_set_fd(2);
    fclose(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            a_flood_of_identical_lines_should_be_one_line_and_a_count),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
