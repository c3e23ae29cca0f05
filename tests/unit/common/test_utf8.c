/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_utf8.c: common/utf8.h accepts every well-formed
 * sequence length at its bounds and refuses, at the right offset, stray
 * continuation bytes, overlong forms, surrogates, code points above
 * U+10FFFF and sequences cut short by the end of the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/utf8.h"

static void
utf8_should_accept_well_formed_text(void **state)
{
    static const char *const ok[] = {
        "", "plain ASCII, with \t and \r\n", "caf\xc3\xa9", /* U+00E9 */
        "\xc2\x80\xdf\xbf",                                 /* U+0080, U+07FF */
        "\xe0\xa0\x80\xef\xbf\xbf",                         /* U+0800, U+FFFF */
        "\xed\x9f\xbf\xee\x80\x80",                         /* U+D7FF, U+E000 */
        "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", /* U+10000, U+10FFFF */
        "\xe2\x82\xac 5 \xf0\x9f\x93\xa7",  /* euro sign, envelope */
    };
    size_t bad = 99;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_int_equal(utf8_valid(ok[i], strlen(ok[i]), &bad), 1);
    assert_int_equal(bad, 99); /* untouched when valid */
    assert_int_equal(utf8_valid(NULL, 0, NULL), 1);
    /* a NUL byte is valid UTF-8; callers refuse it themselves */
    assert_int_equal(utf8_valid("a\0b", 3, NULL), 1);
}

static void
utf8_should_name_the_offset_of_the_first_bad_sequence(void **state)
{
    static const struct {
        const char *s;
        size_t      off;
    } bad[] = {
        { "a\xff"
          "b",
            1 },                   /* never in UTF-8 */
        { "\x80", 0 },             /* stray continuation byte */
        { "ab\xc3\xa9\xbf", 4 },   /* one continuation too many */
        { "\xc0\xaf", 0 },         /* overlong '/' */
        { "\xc1\xbf", 0 },         /* overlong U+007F */
        { "x\xe0\x9f\xbf", 1 },    /* overlong U+07FF */
        { "\xf0\x8f\xbf\xbf", 0 }, /* overlong U+FFFF */
        { "ok \xed\xa0\x80", 3 },  /* U+D800, a surrogate */
        { "\xed\xbf\xbf", 0 },     /* U+DFFF */
        { "\xf4\x90\x80\x80", 0 }, /* U+110000 */
        { "\xf5\x80\x80\x80", 0 }, /* lead byte F5 */
        { "\xc3", 0 },             /* cut short: 2 bytes */
        { "abc\xe2\x82", 3 },      /* cut short: 3 bytes */
        { "\xf0\x9f\x93", 0 },     /* cut short: 4 bytes */
        { "\xe2"
          "a\xac",
            0 },                    /* ASCII inside a sequence */
        { "latin-1 \xe9t\xe9", 8 }, /* ISO-8859-1 text */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t off = 999;

        assert_int_equal(utf8_valid(bad[i].s, strlen(bad[i].s), &off), 0);
        assert_int_equal(off, bad[i].off);
        assert_int_equal(utf8_valid(bad[i].s, strlen(bad[i].s), NULL), 0);
    }
}

static void
utf8_should_check_only_the_given_length(void **state)
{
    size_t off = 0;

    (void)state;
    /* "\xc3\xa9" cut to one byte by len is a short sequence */
    assert_int_equal(utf8_valid("\xc3\xa9", 1, &off), 0);
    assert_int_equal(off, 0);
    /* an invalid byte past len is not looked at */
    assert_int_equal(utf8_valid("ok\xff", 2, NULL), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_should_accept_well_formed_text),
        cmocka_unit_test(utf8_should_name_the_offset_of_the_first_bad_sequence),
        cmocka_unit_test(utf8_should_check_only_the_given_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
