/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_buf.c: common/buf.h grows as text is appended,
 * and buf_json_str writes JSON string literals a JSON reader takes back
 * as the same bytes: quotes, backslashes and every control character
 * escaped, UTF-8 as it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static void
appends_should_grow_and_stay_nul_terminated(void **state)
{
    struct buf b = BUF_INIT;
    char      *s;

    (void)state;
    assert_string_equal(buf_str(&b), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_printf(&b, "%d,", i % 10), 0);
    assert_int_equal(b.len, 2000);
    assert_int_equal(strlen(buf_str(&b)), 2000);
    assert_memory_equal(b.p + 1990, "5,6,7,8,9,", 10);
    buf_reset(&b);
    assert_string_equal(buf_str(&b), "");
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(buf_putc(&b, 'c'), 0);
    s = buf_take(&b);
    assert_string_equal(s, "abc");
    assert_null(b.p);
    free(s);
}

static void
json_str_should_escape_what_json_requires(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "", "\"\"" }, { "plain", "\"plain\"" },
        { "say \"hi\"", "\"say \\\"hi\\\"\"" }, { "C:\\dir", "\"C:\\\\dir\"" },
        { "a\r\nb\tc", "\"a\\r\\nb\\tc\"" }, { "\b\f", "\"\\b\\f\"" },
        { "\x01\x1f", "\"\\u0001\\u001f\"" },
        { "\x7f", "\"\x7f\"" }, /* DEL is not a control in JSON */
        { "caf\xc3\xa9 /", "\"caf\xc3\xa9 /\"" }, /* UTF-8 and '/' kept */
    };
    struct buf b = BUF_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_reset(&b);
        assert_int_equal(buf_json_str(&b, cases[i].in), 0);
        assert_string_equal(buf_str(&b), cases[i].out);
        assert_int_equal(b.len, strlen(cases[i].out));
    }
    buf_free(&b);
}

static void
json_str_should_append_after_what_is_there(void **state)
{
    struct buf b = BUF_INIT;
    char       big[3000];

    (void)state;
    memset(big, '"', sizeof(big) - 1); /* each doubles: growth is reserved */
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(buf_puts(&b, "{\"k\":"), 0);
    assert_int_equal(buf_json_str(&b, big), 0);
    assert_int_equal(buf_putc(&b, '}'), 0);
    assert_int_equal(b.len, 5 + 2 + 2 * (sizeof(big) - 1) + 1);
    assert_memory_equal(b.p, "{\"k\":\"\\\"\\\"", 10);
    assert_memory_equal(b.p + b.len - 4, "\\\"\"}", 4);
    assert_int_equal(b.p[b.len], '\0');
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_should_grow_and_stay_nul_terminated),
        cmocka_unit_test(json_str_should_escape_what_json_requires),
        cmocka_unit_test(json_str_should_append_after_what_is_there),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
