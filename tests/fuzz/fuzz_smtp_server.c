/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_smtp_server.c: the mail action's server string
 * (smtp_server_parse, engine/smtp/smtp.h, and redact_server, common/redact.h):
 * "user:password@host[:port]", split at the last '@' (CSCwe75439).
 *
 * Bad strings are refused with a message; an accepted one has a non-empty
 * host, and no part holds CR or LF (they would reach the SMTP dialogue).
 * The masked form used in logs must never contain the password.
 */
#include "common/redact.h"
#include "common/sec.h"
#include "engine/smtp/smtp.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_server srv;
    struct errbuf      eb;
    char              *s, *masked;
    int                rc;

    fuzz_quiet_logs();
    s = fuzz_strndup(data, size);
    memset(&srv, 0, sizeof(srv));
    memset(&eb, 0, sizeof(eb));
    rc = smtp_server_parse(s, &srv, &eb);
    fuzz_check_err("smtp_server_parse", rc, &eb);
    if (rc == 0) {
        fuzz_check(srv.host != NULL && srv.host[0] != '\0',
            "accepted server string \"%s\" has an empty host", s);
        fuzz_check(!fuzz_has_crlf(srv.host) && !fuzz_has_crlf(srv.user),
            "CR or LF in host or user of an accepted server string");
        fuzz_check(srv.pass == NULL || !fuzz_has_crlf(sec_data(srv.pass)),
            "CR or LF in the password of an accepted server string");
        fuzz_check(srv.port <= 65535, "port %u out of range", srv.port);
        /* a masked log line must not show a password of 3+ bytes,
         * unless the same bytes are in the parts that are shown: the raw
         * text before the first ':' and from the last '@' on */
        masked = redact_server(s);
        fuzz_check(masked != NULL, "redact_server returned NULL");
        if (srv.pass != NULL && sec_len(srv.pass) >= 3) {
            const char *at = strrchr(s, '@');
            const char *colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
            char        shown[4096];

            if (colon != NULL && strlen(s) < sizeof(shown) - 8) {
                snprintf(shown, sizeof(shown), "%.*s:*****%s", (int)(colon - s),
                    s, at);
                if (strstr(shown, sec_data(srv.pass)) == NULL)
                    fuzz_check(strstr(masked, sec_data(srv.pass)) == NULL,
                        "masked server string still shows the password: "
                        "%s",
                        masked);
            }
        }
        free(masked);
    }
    smtp_server_clear(&srv);
    free(s);
    return 0;
}
