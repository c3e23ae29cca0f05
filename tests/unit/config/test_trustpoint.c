/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/config/test_trustpoint.c: the trustpoint rules that the REST
 * API and the config import share (engine/config/trustpoint.h): names, the
 * reserved "import-chain", and the policies herald supports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine/config/trustpoint.h"

static void
names_should_be_short_plain_and_not_reserved(void **state)
{
    static const char *const good[] = { "CA-GTS-Root-R1", "a", "x.y_z",
        "import-chain2", NULL };
    static const char *const bad[] = { "", "bad name!", "import-chain", "a/b",
        "\xc3\xa9", NULL };
    struct errbuf            eb;
    char                     longname[ENG_TP_NAME_MAX + 2];

    (void)state;
    for (size_t i = 0; good[i]; i++)
        assert_int_equal(eng_tp_name_check(good[i], NULL), 0);
    for (size_t i = 0; bad[i]; i++) {
        memset(&eb, 0, sizeof(eb));
        assert_int_equal(eng_tp_name_check(bad[i], &eb), ERR_INVAL);
        assert_string_equal(eb.field, "name");
    }
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_tp_name_check("import-chain", &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "reserved"));
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(eng_tp_name_check(longname, NULL), ERR_INVAL);
    longname[ENG_TP_NAME_MAX] = '\0';
    assert_int_equal(eng_tp_name_check(longname, NULL), 0);
}

static void
policies_should_name_the_field_and_what_is_supported(void **state)
{
    struct errbuf eb = { 0 };

    (void)state;
    assert_int_equal(eng_tp_policy_check(NULL, NULL, NULL, NULL), 0);
    assert_int_equal(eng_tp_policy_check("none", "stop", "terminal", NULL), 0);
    assert_int_equal(eng_tp_policy_check("none", "continue", NULL, NULL), 0);
    assert_int_equal(eng_tp_policy_check("crl", NULL, NULL, &eb),
        ERR_UNSUPPORTED);
    assert_string_equal(eb.field, "revocation_check");
    assert_non_null(strstr(eb.msg, "crl"));
    assert_int_equal(eng_tp_policy_check("maybe", NULL, NULL, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "revocation_check");
    assert_int_equal(eng_tp_policy_check(NULL, "maybe", NULL, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "chain_validation");
    assert_int_equal(eng_tp_policy_check(NULL, NULL, "url", &eb),
        ERR_UNSUPPORTED);
    assert_string_equal(eb.field, "enrollment");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_should_be_short_plain_and_not_reserved),
        cmocka_unit_test(policies_should_name_the_field_and_what_is_supported),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
