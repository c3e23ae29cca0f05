/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/config/test_env.c: environment variable rules
 * (engine/config/env.h): names and values the API and the applets accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine/config/env.h"

static void
names_should_start_with_a_letter_or_underscore(void **state)
{
    static const char *const good[] = { "_email_to", "a", "X9_y", NULL };
    static const char *const bad[] = { "", "9a", "a-b", "a b", "é", NULL };
    struct errbuf            eb;
    char                     longname[ENG_ENV_NAME_MAX + 2];

    (void)state;
    for (size_t i = 0; good[i]; i++)
        assert_int_equal(eng_env_name_check(good[i], NULL), 0);
    for (size_t i = 0; bad[i]; i++) {
        memset(&eb, 0, sizeof(eb));
        assert_int_equal(eng_env_name_check(bad[i], &eb), ERR_INVAL);
        assert_string_equal(eb.field, "name");
    }
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(eng_env_name_check(longname, NULL), ERR_INVAL);
    longname[ENG_ENV_NAME_MAX] = '\0';
    assert_int_equal(eng_env_name_check(longname, NULL), 0);
}

static void
values_should_refuse_line_breaks_and_excess(void **state)
{
    static char   big[ENG_ENV_VALUE_MAX + 2];
    struct errbuf eb = { 0 };

    (void)state;
    assert_int_equal(eng_env_value_check("u:p@smtp.example", NULL), 0);
    assert_int_equal(eng_env_value_check("a\r\nRCPT TO:<x@y>", &eb), ERR_INVAL);
    assert_string_equal(eb.field, "value");
    memset(big, 'v', sizeof(big) - 1);
    assert_int_equal(eng_env_value_check(big, NULL), ERR_INVAL);
    big[ENG_ENV_VALUE_MAX] = '\0';
    assert_int_equal(eng_env_value_check(big, NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_should_start_with_a_letter_or_underscore),
        cmocka_unit_test(values_should_refuse_line_breaks_and_excess),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
