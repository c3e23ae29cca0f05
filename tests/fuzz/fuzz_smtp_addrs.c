/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_smtp_addrs.c: to/cc address lists (smtp_addrs_parse,
 * engine/smtp/smtp.h), split on ',' ';' and whitespace.
 *
 * Bad lists are refused with a message naming the address; every address
 * of an accepted list is what smtp.h promises: no CR/LF, no space, exactly
 * one '@', at most 254 bytes, and not empty. Each becomes a RCPT TO, so a
 * CR or LF here would be SMTP command injection.
 */
#include "engine/smtp/smtp.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf eb;
    char        **v = NULL, *s;
    const char   *at;
    size_t        n = 0, i;
    int           rc;

    fuzz_quiet_logs();
    s = fuzz_strndup(data, size);
    memset(&eb, 0, sizeof(eb));
    rc = smtp_addrs_parse(s, &v, &n, &eb);
    fuzz_check_err("smtp_addrs_parse", rc, &eb);
    if (rc == 0) {
        fuzz_check(n == 0 || v != NULL, "%zu addresses but no array", n);
        for (i = 0; i < n; i++) {
            fuzz_check(v[i] != NULL && v[i][0] != '\0',
                "address %zu of \"%s\" is empty", i, s);
            fuzz_check(strpbrk(v[i], "\r\n \t") == NULL,
                "address \"%s\" holds CR, LF or white space", v[i]);
            at = strchr(v[i], '@');
            fuzz_check(at != NULL && strchr(at + 1, '@') == NULL,
                "address \"%s\" does not have exactly one '@'", v[i]);
            fuzz_check(strlen(v[i]) <= 254, "address of %zu bytes accepted",
                strlen(v[i]));
            fuzz_check(strpbrk(v[i], ",;") == NULL,
                "address \"%s\" still holds a list separator", v[i]);
        }
        smtp_addrs_free(v, n);
    }
    free(s);
    return 0;
}
