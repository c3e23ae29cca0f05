/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp_args.c: parsing of the mail action's arguments, not an
 * SMTP server: the "user:password@host[:port]" server string, the secure
 * mode names and the address lists. (Masking the string for logs is
 * redact_server(), common/redact.h.)
 *
 * "user:password@host[:port]" is split at the LAST '@', so that relay
 * accounts whose user name holds an '@' work (IOS splits at the first one:
 * Cisco bug CSCwe75439). The first ':' before that '@' separates user and
 * password; "%40" and "%3A" may stand for '@' and ':' in either. Hosts are
 * names, IPv4 literals, or IPv6 literals in brackets ("[2001:db8::1]:587").
 * CR and LF are refused everywhere (command injection, OpenSMTPD c1ab227c).
 */
#include "engine/smtp/smtp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/sec.h"

int
smtp_secure_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcasecmp(s, "none") == 0)
        return SMTP_SECURE_NONE;
    if (strcasecmp(s, "tls") == 0)
        return SMTP_SECURE_TLS;
    if (strcasecmp(s, "implicit") == 0)
        return SMTP_SECURE_IMPLICIT;
    return -1;
}

const char *
smtp_secure_name(int secure)
{
    switch (secure) {
    case SMTP_SECURE_NONE:
        return "none";
    case SMTP_SECURE_TLS:
        return "tls";
    case SMTP_SECURE_IMPLICIT:
        return "implicit";
    default:
        return "unknown";
    }
}

int
smtp_oauth_mech_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcasecmp(s, "xoauth2") == 0)
        return SMTP_OAUTH_XOAUTH2;
    if (strcasecmp(s, "oauthbearer") == 0)
        return SMTP_OAUTH_OAUTHBEARER;
    return -1;
}

const char *
smtp_oauth_mech_name(int mech)
{
    switch (mech) {
    case SMTP_OAUTH_XOAUTH2:
        return "xoauth2";
    case SMTP_OAUTH_OAUTHBEARER:
        return "oauthbearer";
    case SMTP_OAUTH_NONE:
        return "none";
    default:
        return "unknown";
    }
}

static int
smtp_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* New copy of n bytes of s with %40 and %3A decoded, or NULL. */
static char *
smtp_unescape(const char *s, size_t n)
{
    char  *out = malloc(n + 1), *o = out;
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && smtp_hexval(s[i + 1]) >= 0
            && smtp_hexval(s[i + 2]) >= 0) {
            int v = smtp_hexval(s[i + 1]) * 16 + smtp_hexval(s[i + 2]);

            if (v == '@' || v == ':') {
                *o++ = (char)v;
                i += 2;
                continue;
            }
        }
        *o++ = s[i];
    }
    *o = '\0';
    return out;
}

/* Checks a host name or IPv4 literal. */
static int
smtp_host_check(const char *h, struct errbuf *eb)
{
    size_t n = strlen(h);

    if (n == 0)
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "empty host in server string");
    if (n > 253)
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "host name is longer than 253 bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)h[i];

        if (!isalnum(ch) && ch != '.' && ch != '-' && ch != '_')
            return err_field(eb, ERR_INVAL, "server", "invalid_field",
                "host \"%.64s\" contains '%c'; a host is a name, an IPv4 "
                "address or an IPv6 address in brackets",
                h, isprint(ch) ? ch : '?');
    }
    return 0;
}

static int
smtp_port_parse(const char *p, unsigned *port, struct errbuf *eb)
{
    unsigned long v = 0;
    size_t        n = strlen(p);

    if (n == 0 || n > 5)
        goto bad;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            goto bad;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v < 1 || v > 65535)
        goto bad;
    *port = (unsigned)v;
    return 0;
bad:
    return err_field(eb, ERR_INVAL, "server", "invalid_field",
        "port \"%.16s\" is not a number between 1 and 65535", p);
}

int
smtp_server_parse(const char *s, struct smtp_server *out, struct errbuf *eb)
{
    const char *at, *hp, *colon;
    char       *hostport = NULL, *pw = NULL;
    int         rc = 0;

    memset(out, 0, sizeof(*out));
    if (s == NULL || *s == '\0')
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "empty server string; expected user:password@host[:port] or "
            "host[:port]");
    if (strpbrk(s, "\r\n") != NULL)
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "CR or LF in server string");
    if (strpbrk(s, " \t") != NULL)
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "space in server string; expected user:password@host[:port]");
    at = strrchr(s, '@');
    hp = at ? at + 1 : s;
    if (at != NULL) {
        size_t ulen;

        colon = memchr(s, ':', (size_t)(at - s));
        ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
        if (ulen == 0) {
            rc = err_field(eb, ERR_INVAL, "server", "invalid_field",
                "empty user name before '@' in server string");
            goto out;
        }
        if ((out->user = smtp_unescape(s, ulen)) == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        if (colon != NULL) {
            size_t plen = (size_t)(at - colon - 1);

            if (plen == 0) {
                rc = err_field(eb, ERR_INVAL, "server", "invalid_field",
                    "empty password after ':' in server string");
                goto out;
            }
            if ((pw = smtp_unescape(colon + 1, plen)) == NULL
                || (out->pass = sec_new(pw, strlen(pw))) == NULL) {
                rc = ERR_NOMEM;
                goto out;
            }
        }
    }
    if ((hostport = strdup(hp)) == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    if (hostport[0] == '[') {
        char           *end = strchr(hostport, ']');
        struct in6_addr a6;

        if (end == NULL) {
            rc = err_field(eb, ERR_INVAL, "server", "invalid_field",
                "IPv6 address in server string lacks its closing ']'");
            goto out;
        }
        *end = '\0';
        if (inet_pton(AF_INET6, hostport + 1, &a6) != 1) {
            rc = err_field(eb, ERR_INVAL, "server", "invalid_field",
                "\"%.64s\" is not an IPv6 address", hostport + 1);
            goto out;
        }
        if (end[1] == ':') {
            if ((rc = smtp_port_parse(end + 2, &out->port, eb)) != 0)
                goto out;
        } else if (end[1] != '\0') {
            rc = err_field(eb, ERR_INVAL, "server", "invalid_field",
                "unexpected \"%.16s\" after ']' in server string", end + 1);
            goto out;
        }
        out->host = strdup(hostport + 1);
    } else {
        char           *c1 = strchr(hostport, ':');
        struct in6_addr a6;

        if (c1 != NULL && strchr(c1 + 1, ':') != NULL) {
            /* a bare IPv6 literal: no port possible */
            if (inet_pton(AF_INET6, hostport, &a6) != 1) {
                rc = err_field(eb, ERR_INVAL, "server", "invalid_field",
                    "\"%.64s\" is not host[:port]; write an IPv6 address "
                    "with a port as [address]:port",
                    hostport);
                goto out;
            }
        } else if (c1 != NULL) {
            *c1 = '\0';
            if ((rc = smtp_port_parse(c1 + 1, &out->port, eb)) != 0)
                goto out;
            if ((rc = smtp_host_check(hostport, eb)) != 0)
                goto out;
        } else if ((rc = smtp_host_check(hostport, eb)) != 0)
            goto out;
        out->host = strdup(hostport);
    }
    if (out->host == NULL)
        rc = ERR_NOMEM;
out:
    if (pw != NULL) {
        sec_wipe(pw, strlen(pw));
        free(pw);
    }
    free(hostport);
    if (rc != 0)
        smtp_server_clear(out);
    return rc;
}

void
smtp_server_clear(struct smtp_server *s)
{
    if (s == NULL)
        return;
    free(s->user);
    sec_free(s->pass);
    free(s->host);
    memset(s, 0, sizeof(*s));
}

/* ---- address lists ----------------------------------------------------- */

/* Checks one address; returns 0 or ERR_INVAL naming it. */
static int
smtp_addr_check(const char *a, size_t n, struct errbuf *eb)
{
    const char *at = NULL;

    if (n > 254)
        return err_set(eb, ERR_INVAL, "invalid_address",
            "address \"%.64s...\" is longer than 254 bytes", a);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];

        if (ch == '@') {
            if (at != NULL)
                return err_set(eb, ERR_INVAL, "invalid_address",
                    "address \"%.*s\" has more than one '@'", (int)n, a);
            at = a + i;
        } else if (ch < 0x20 || ch == 0x7f || strchr("<>()[],;:\"\\", ch))
            return err_set(eb, ERR_INVAL, "invalid_address",
                "address \"%.*s\" contains a character not allowed in an "
                "address ('%c')",
                (int)n, a, isprint(ch) ? ch : '?');
    }
    if (at == NULL)
        return err_set(eb, ERR_INVAL, "invalid_address",
            "\"%.*s\" is not an e-mail address (no '@')", (int)n, a);
    if (at == a || at == a + n - 1)
        return err_set(eb, ERR_INVAL, "invalid_address",
            "address \"%.*s\" has an empty %s part", (int)n, a,
            at == a ? "local" : "domain");
    return 0;
}

int
smtp_addrs_parse(const char *list, char ***out, size_t *n, struct errbuf *eb)
{
    char      **v = NULL;
    size_t      cnt = 0;
    const char *p = list ? list : "";
    int         rc = 0;

    *out = NULL;
    *n = 0;
    if (strpbrk(p, "\r\n") != NULL)
        return err_set(eb, ERR_INVAL, "invalid_address",
            "CR or LF in address list");
    while (*p != '\0') {
        const char *s;
        size_t      len;
        char      **nv;

        while (*p == ',' || *p == ';' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        s = p;
        while (
            *p != '\0' && *p != ',' && *p != ';' && !isspace((unsigned char)*p))
            p++;
        len = (size_t)(p - s);
        if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
            s++;
            len -= 2;
        }
        if ((rc = smtp_addr_check(s, len, eb)) != 0)
            goto out;
        if ((nv = realloc(v, (cnt + 1) * sizeof(*v))) == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        v = nv;
        if ((v[cnt] = strndup(s, len)) == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        cnt++;
    }
out:
    if (rc != 0) {
        smtp_addrs_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

void
smtp_addrs_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}
