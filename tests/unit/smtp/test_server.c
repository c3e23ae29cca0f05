/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/smtp/test_server.c: the mail action's server string
 * (smtp_server_parse; its masking is in tests/unit/common) and address lists
 * (smtp_addrs_parse). The server string table includes Cisco bug
 * CSCwe75439: a user name holding '@' must survive the split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/sec.h"
#include "engine/smtp/smtp.h"

struct good_case {
    const char *in;
    const char *user; /* NULL: none */
    const char *pass; /* NULL: none */
    const char *host;
    unsigned    port;
};

static void
server_string_should_split_at_the_last_at_sign(void **state)
{
    static const struct good_case cases[] = {
        { "smtp.example.com", NULL, NULL, "smtp.example.com", 0 },
        { "smtp.example.com:587", NULL, NULL, "smtp.example.com", 587 },
        { "alerts@example.com@smtp.gmail.com", "alerts@example.com", NULL,
            "smtp.gmail.com", 0 },
        { "alerts@example.com:app-password@smtp.gmail.com",
            "alerts@example.com", "app-password", "smtp.gmail.com", 0 },
        /* CSCwe75439: '@' in user and in password */
        { "relay@corp.example:p@ss@smtp-relay.example", "relay@corp.example",
            "p@ss", "smtp-relay.example", 0 },
        { "relay@corp.example:pass@smtp-relay.gmail.com:587",
            "relay@corp.example", "pass", "smtp-relay.gmail.com", 587 },
        /* password holding ':' — only the first ':' splits */
        { "u:pa:ss@h.example", "u", "pa:ss", "h.example", 0 },
        /* escapes */
        { "relay%40corp.example:p%3Ass%40x@mx.example:2525",
            "relay@corp.example", "p:ss@x", "mx.example", 2525 },
        { "user%3aname:pw@mx.example", "user:name", "pw", "mx.example", 0 },
        /* other % sequences stay as they are */
        { "u:100%25@mx.example", "u", "100%25", "mx.example", 0 },
        /* IP literals */
        { "192.0.2.10:25", NULL, NULL, "192.0.2.10", 25 },
        { "[2001:db8::1]:587", NULL, NULL, "2001:db8::1", 587 },
        { "[::1]", NULL, NULL, "::1", 0 },
        { "u:p@[::1]:465", "u", "p", "::1", 465 },
        { "2001:db8::25", NULL, NULL, "2001:db8::25", 0 },
        { "mx.example:65535", NULL, NULL, "mx.example", 65535 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct good_case *c = &cases[i];
        struct smtp_server      s;
        struct errbuf           eb = { 0 };
        int                     rc = smtp_server_parse(c->in, &s, &eb);

        if (rc != 0)
            fail_msg("\"%s\": rc %d: %s", c->in, rc, eb.msg);
        assert_string_equal(s.host, c->host);
        assert_int_equal(s.port, c->port);
        if (c->user == NULL)
            assert_null(s.user);
        else
            assert_string_equal(s.user, c->user);
        if (c->pass == NULL)
            assert_null(s.pass);
        else {
            assert_non_null(s.pass);
            assert_string_equal(sec_data(s.pass), c->pass);
        }
        smtp_server_clear(&s);
    }
}

static void
server_string_should_refuse_bad_input_naming_the_problem(void **state)
{
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        { "", "empty server string" },
        { "mx.example\r\nRCPT TO:<x@y>", "CR or LF" },
        { "u:p@mx.example\n", "CR or LF" },
        { "@mx.example", "empty user name" },
        { ":pw@mx.example", "empty user name" },
        { "u:@mx.example", "empty password" },
        { "u:p@", "empty host" },
        { "u:p@:25", "empty host" },
        { "mx.example:0", "between 1 and 65535" },
        { "mx.example:65536", "between 1 and 65535" },
        { "mx.example:25x", "between 1 and 65535" },
        { "mx.example:", "between 1 and 65535" },
        { "mx.example:-1", "between 1 and 65535" },
        { "[2001:db8::1", "closing ']'" },
        { "[not-v6]:25", "is not an IPv6 address" },
        { "[::1]x", "after ']'" },
        { "2001:db8::1:zz", "[address]:port" },
        { "mx exa.mple", "space" },
        { "mx/example", "contains '/'" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct smtp_server s;
        struct errbuf      eb = { 0 };

        if (smtp_server_parse(bad[i].in, &s, &eb) != ERR_INVAL)
            fail_msg("\"%s\" was accepted", bad[i].in);
        if (strstr(eb.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].in, eb.msg,
                bad[i].why);
        assert_string_equal(eb.field, "server");
        assert_null(s.host);
        assert_null(s.user);
        assert_null(s.pass);
    }
}

static void
secure_names_should_round_trip(void **state)
{
    (void)state;
    assert_int_equal(smtp_secure_parse("tls"), SMTP_SECURE_TLS);
    assert_int_equal(smtp_secure_parse("implicit"), SMTP_SECURE_IMPLICIT);
    assert_int_equal(smtp_secure_parse("none"), SMTP_SECURE_NONE);
    assert_int_equal(smtp_secure_parse("ssl"), -1);
    assert_string_equal(smtp_secure_name(SMTP_SECURE_TLS), "tls");
}

static void
oauth_mechanism_names_should_round_trip(void **state)
{
    (void)state;
    assert_int_equal(smtp_oauth_mech_parse("xoauth2"), SMTP_OAUTH_XOAUTH2);
    assert_int_equal(smtp_oauth_mech_parse("OAUTHBEARER"),
        SMTP_OAUTH_OAUTHBEARER);
    assert_int_equal(smtp_oauth_mech_parse("plain"), -1);
    assert_int_equal(smtp_oauth_mech_parse(""), -1);
    assert_int_equal(smtp_oauth_mech_parse(NULL), -1);
    assert_string_equal(smtp_oauth_mech_name(SMTP_OAUTH_XOAUTH2), "xoauth2");
    assert_string_equal(smtp_oauth_mech_name(SMTP_OAUTH_OAUTHBEARER),
        "oauthbearer");
    assert_string_equal(smtp_oauth_mech_name(SMTP_OAUTH_NONE), "none");
}

static void
address_list_should_split_on_commas_semicolons_and_spaces(void **state)
{
    char        **v = NULL;
    size_t        n = 0;
    struct errbuf eb = { 0 };

    (void)state;
    assert_int_equal(smtp_addrs_parse(" noc@example.com, ops@example.com;"
                                      "  <lead@example.org>\tx@y.example ,",
                         &v, &n, &eb),
        0);
    assert_int_equal(n, 4);
    assert_string_equal(v[0], "noc@example.com");
    assert_string_equal(v[1], "ops@example.com");
    assert_string_equal(v[2], "lead@example.org");
    assert_string_equal(v[3], "x@y.example");
    smtp_addrs_free(v, n);

    assert_int_equal(smtp_addrs_parse("", &v, &n, &eb), 0);
    assert_int_equal(n, 0);
    assert_int_equal(smtp_addrs_parse(NULL, &v, &n, &eb), 0);
    assert_int_equal(n, 0);
}

static void
address_list_should_refuse_bad_addresses_naming_them(void **state)
{
    static const struct {
        const char *in, *why;
    } bad[] = {
        { "noc@example.com\r\nDATA", "CR or LF" },
        { "noc@example.com, ops.example.com", "\"ops.example.com\" is not" },
        { "a@b@c.example", "more than one '@'" },
        { "@example.com", "empty local part" },
        { "noc@", "empty domain part" },
        { "no<c@example.com", "not allowed" },
        { "\"q\"@example.com", "not allowed" },
    };
    char long_addr[300];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char        **v = (char **)1;
        size_t        n = 7;
        struct errbuf eb = { 0 };

        assert_int_equal(smtp_addrs_parse(bad[i].in, &v, &n, &eb), ERR_INVAL);
        if (strstr(eb.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].in, eb.msg,
                bad[i].why);
        assert_null(v);
        assert_int_equal(n, 0);
    }
    memset(long_addr, 'a', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    long_addr[10] = '@';
    {
        char        **v;
        size_t        n;
        struct errbuf eb = { 0 };

        assert_int_equal(smtp_addrs_parse(long_addr, &v, &n, &eb), ERR_INVAL);
        assert_non_null(strstr(eb.msg, "longer than 254"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(server_string_should_split_at_the_last_at_sign),
        cmocka_unit_test(
            server_string_should_refuse_bad_input_naming_the_problem),
        cmocka_unit_test(secure_names_should_round_trip),
        cmocka_unit_test(oauth_mechanism_names_should_round_trip),
        cmocka_unit_test(
            address_list_should_split_on_commas_semicolons_and_spaces),
        cmocka_unit_test(address_list_should_refuse_bad_addresses_naming_them),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
