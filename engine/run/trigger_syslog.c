/* SPDX-License-Identifier: MIT */
/*
 * engine/run/trigger_syslog.c: the syslog listener behind "event syslog
 * pattern". Parses RFC 3164 (BSD) and RFC 5424 messages and Cisco IOS's
 * remote format ("<189>45: R1: *Dec  2 10:00:00.123: %LINK-3-UPDOWN:
 * ..."), also inside an RFC 3164/5424 message, frames TCP
 * streams per RFC 6587 (octet counting or newline termination), and
 * evaluates the pattern/occurs/period/priority condition of each
 * registration. Garbage is rejected with a reason, counted and logged at
 * debug level; it never stops the listener.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "engine/run/runtime_int.h"

#define SYSLOG_MAX_MSG   65536
#define SYSLOG_MAX_CONNS 64

static const char *const sev_long[8] = { "emergencies", "alerts", "critical",
    "errors", "warnings", "notifications", "informational", "debugging" };
static const char *const sev_short[8] = { "emerg", "alert", "crit", "err",
    "warning", "notice", "info", "debug" };

int
eng_syslog_severity_parse(const char *s)
{
    int i;

    if (s == NULL || *s == '\0')
        return -1;
    if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
        return s[0] - '0';
    if (strcasecmp(s, "all") == 0)
        return 7;
    for (i = 0; i < 8; i++)
        if (strcasecmp(s, sev_long[i]) == 0 || strcasecmp(s, sev_short[i]) == 0)
            return i;
    if (strcasecmp(s, "error") == 0)
        return 3;
    if (strcasecmp(s, "warn") == 0)
        return 4;
    return -1;
}

/* ---- parsing ----------------------------------------------------------- */

/* Copies the next SP-delimited header field (printable ASCII) into dst. */
static int
sl_field(const char **pp, const char *end, char *dst, size_t n,
    const char *what, struct errbuf *eb)
{
    const char *p = *pp, *s = p;

    while (p < end && *p != ' ') {
        if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
            return err_set(eb, ERR_INVAL, "syslog_invalid",
                "RFC 5424 %s contains a non-printable byte 0x%02x", what,
                (unsigned char)*p);
        p++;
    }
    if (p == s)
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "RFC 5424 %s is empty (use \"-\" for none)", what);
    if ((size_t)(p - s) >= n)
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "RFC 5424 %s is longer than %zu bytes", what, n - 1);
    if (p >= end)
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "RFC 5424 header ends after %s; expected more fields", what);
    memcpy(dst, s, (size_t)(p - s));
    dst[p - s] = '\0';
    if (strcmp(dst, "-") == 0)
        dst[0] = '\0';
    *pp = p + 1;
    return 0;
}

static int
sl_parse_sd(const char **pp, const char *end, struct errbuf *eb)
{
    const char *p = *pp;

    if (p < end && *p == '-') {
        *pp = p + 1;
        return 0;
    }
    if (p >= end || *p != '[')
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "RFC 5424 structured data must be \"-\" or start with '['");
    while (p < end && *p == '[') {
        p++;
        if (p >= end || *p == ' ' || *p == ']')
            return err_set(eb, ERR_INVAL, "syslog_invalid",
                "RFC 5424 structured data element has no SD-ID");
        while (p < end && *p != ']') {
            if (*p == '"') {
                p++;
                while (p < end && *p != '"') {
                    if (*p == '\\' && p + 1 < end)
                        p++;
                    p++;
                }
                if (p >= end)
                    return err_set(eb, ERR_INVAL, "syslog_invalid",
                        "RFC 5424 structured data has an unterminated "
                        "quoted value");
            }
            p++;
        }
        if (p >= end)
            return err_set(eb, ERR_INVAL, "syslog_invalid",
                "RFC 5424 structured data element is missing ']'");
        p++;
    }
    *pp = p;
    return 0;
}

static const char *const months3[12] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* "Mmm dd hh:mm:ss" (RFC 3164 TIMESTAMP), dd may be space-padded. */
static int
sl_3164_ts(const char *p, const char *end)
{
    int i, ok = 0;

    if (end - p < 15)
        return 0;
    for (i = 0; i < 12; i++)
        if (memcmp(p, months3[i], 3) == 0)
            ok = 1;
    return ok && p[3] == ' ' && (p[4] == ' ' || isdigit((unsigned char)p[4]))
        && isdigit((unsigned char)p[5]) && p[6] == ' '
        && isdigit((unsigned char)p[7]) && isdigit((unsigned char)p[8])
        && p[9] == ':' && isdigit((unsigned char)p[10])
        && isdigit((unsigned char)p[11]) && p[12] == ':'
        && isdigit((unsigned char)p[13]) && isdigit((unsigned char)p[14]);
}

/* Cisco: a run of [A-Za-z0-9_] (facility, subfacility, mnemonic). */
static size_t
sl_word(const char *p, const char *end)
{
    const char *s = p;

    while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
        p++;
    return (size_t)(p - s);
}

static size_t
sl_digits(const char *p, const char *end, size_t max)
{
    size_t n = 0;

    while (p + n < end && n <= max && isdigit((unsigned char)p[n]))
        n++;
    return n;
}

/* "hh:mm:ss[.fff]" at p; returns its length or 0. */
static size_t
sl_clock(const char *p, const char *end)
{
    size_t n;

    if (end - p < 8 || !isdigit((unsigned char)p[0])
        || !isdigit((unsigned char)p[1]) || p[2] != ':'
        || !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4])
        || p[5] != ':' || !isdigit((unsigned char)p[6])
        || !isdigit((unsigned char)p[7]))
        return 0;
    n = 8;
    if (p + n < end && p[n] == '.' && sl_digits(p + n + 1, end, 6) > 0)
        n += 1 + sl_digits(p + n + 1, end, 6);
    return n;
}

/* A Cisco timestamp ending in ": " at p: ['*'|'.'] then "Mmm dd [yyyy ]
 * hh:mm:ss[.fff][ TZ]" or an uptime ("00:10:00[.fff]", "1d02h",
 * "2w3d"). Returns the length up to (not with) the ':', or 0. */
static size_t
sl_cisco_ts(const char *p, const char *end)
{
    const char *s = p;
    size_t      n;
    int         i, mon = 0;

    if (p < end && (*p == '*' || *p == '.'))
        p++;
    for (i = 0; i < 12 && end - p >= 4; i++)
        if (memcmp(p, months3[i], 3) == 0 && p[3] == ' ')
            mon = 1;
    if (mon) {
        p += 4;
        if (p < end && *p == ' ')
            p++;
        if ((n = sl_digits(p, end, 2)) == 0 || n > 2)
            return 0;
        p += n;
        if (p >= end || *p++ != ' ')
            return 0;
        if (sl_digits(p, end, 4) == 4 && p + 4 < end && p[4] == ' ')
            p += 5;
        if ((n = sl_clock(p, end)) == 0)
            return 0;
        p += n;
        if (p < end && *p == ' ') { /* time zone: UTC, CET, GMT+1 */
            const char *z = ++p;

            while (p < end && p - z < 12
                && (isalnum((unsigned char)*p) || *p == '+' || *p == '-'))
                p++;
            if (p == z)
                return 0;
        }
    } else if ((n = sl_clock(p, end)) > 0) {
        p += n;
    } else {
        /* uptime of a day or more: 1d02h, 2w3d */
        const char *u = p;

        while (p < end && p - u < 12
            && (isdigit((unsigned char)*p) || *p == 'w' || *p == 'd'
                || *p == 'h'))
            p++;
        if (p == u || !isdigit((unsigned char)*u)
            || !isalpha((unsigned char)p[-1]))
            return 0;
    }
    if (end - p < 2 || p[0] != ':' || p[1] != ' ')
        return 0;
    return (size_t)(p - s);
}

/* "%FAC[-SUB]-SEV-MNEMONIC:" at p: fills the Cisco fields of out and
 * returns 1, else 0 (out untouched). */
static int
sl_cisco_tag(const char *p, const char *end, struct eng_syslog_msg *out)
{
    const char *w[4];
    size_t      wl[4], n;
    int         k = 0, sev;

    if (p >= end || *p++ != '%')
        return 0;
    for (;;) {
        if (k == 4 || (n = sl_word(p, end)) == 0 || n >= sizeof(out->mnemonic))
            return 0;
        w[k] = p;
        wl[k++] = n;
        p += n;
        if (p < end && *p == ':')
            break;
        if (p >= end || *p++ != '-')
            return 0;
    }
    /* FAC-SEV-MNEM or FAC-SUB-SEV-MNEM, SEV one digit 0-7 */
    if (k < 3 || wl[k - 2] != 1 || w[k - 2][0] < '0' || w[k - 2][0] > '7'
        || (k == 4 && wl[1] == 1 && isdigit((unsigned char)w[1][0])))
        return 0;
    sev = w[k - 2][0] - '0';
    memcpy(out->cfacility, w[0], wl[0]);
    out->cfacility[wl[0]] = '\0';
    out->csubfacility[0] = '\0';
    if (k == 4) {
        memcpy(out->csubfacility, w[1], wl[1]);
        out->csubfacility[wl[1]] = '\0';
    }
    memcpy(out->mnemonic, w[k - 1], wl[k - 1]);
    out->mnemonic[wl[k - 1]] = '\0';
    out->csev = sev;
    out->cisco = 1;
    return 1;
}

/* Cisco IOS's remote syslog body at [p, end): "[SEQ: ][HOST: ][TS: ]%FAC
 * ...". On a match fills the Cisco fields (and host and timestamp when
 * they are there), points out->msg at the '%' and returns 1; else 0 and
 * out is as it was. */
static int
sl_cisco(const char *p, const char *end, struct eng_syslog_msg *out)
{
    struct eng_syslog_msg c = *out;
    size_t                n;

    c.seq[0] = '\0';
    /* SEQ: the router's message counter ("service sequence-numbers") */
    if ((n = sl_digits(p, end, 10)) > 0 && n <= 10 && end - p > (long)n + 1
        && p[n] == ':' && p[n + 1] == ' ') {
        memcpy(c.seq, p, n);
        c.seq[n] = '\0';
        p += n + 2;
    }
    /* HOST: "logging origin-id hostname|ip|string"; not a timestamp */
    for (n = 0; p + n < end && p[n] != ':' && p[n] != ' '; n++)
        ;
    if (sl_cisco_ts(p, end) == 0 && n > 0 && end - p > (long)n + 1
        && p[n] == ':' && p[n + 1] == ' ' && n < sizeof(c.host)) {
        size_t i;

        for (i = 0; i < n; i++)
            if (!isalnum((unsigned char)p[i]) && p[i] != '.' && p[i] != '-'
                && p[i] != '_')
                break;
        if (i == n) {
            memcpy(c.host, p, n);
            c.host[n] = '\0';
            p += n + 2;
        }
    }
    if ((n = sl_cisco_ts(p, end)) > 0) {
        if (n < sizeof(c.timestamp)) {
            memcpy(c.timestamp, p, n);
            c.timestamp[n] = '\0';
        }
        p += n + 2;
    }
    if (!sl_cisco_tag(p, end, &c))
        return 0;
    c.msg = p;
    c.msg_len = (size_t)(end - p);
    *out = c;
    return 1;
}

int
eng_syslog_parse(const char *p, size_t len, struct eng_syslog_msg *out,
    struct errbuf *eb)
{
    const char *end = p + len, *s;
    int         pri = 0, nd = 0, rc;

    memset(out, 0, sizeof(*out));
    while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    if (end == p)
        return err_set(eb, ERR_INVAL, "syslog_invalid", "empty message");
    if (memchr(p, '\0', (size_t)(end - p)) != NULL)
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "message contains a NUL byte");
    if (*p != '<')
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "missing <PRI> at the start (got 0x%02x); expected e.g. "
            "\"<13>\"",
            (unsigned char)*p);
    for (s = p + 1; s < end && isdigit((unsigned char)*s) && nd < 4; s++, nd++)
        pri = pri * 10 + (*s - '0');
    if (nd == 0 || s >= end || *s != '>')
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "malformed <PRI>: expected 1-3 digits and '>'");
    if (nd > 3 || pri > 191)
        return err_set(eb, ERR_INVAL, "syslog_invalid",
            "PRI %d out of range (0-191)", pri);
    out->pri = pri;
    out->facility = pri / 8;
    out->severity = pri % 8;
    s++;

    if (end - s >= 2 && s[0] >= '1' && s[0] <= '9' && s[1] == ' ') {
        /* RFC 5424 */
        out->version = s[0] - '0';
        s += 2;
        if ((rc = sl_field(&s, end, out->timestamp, sizeof(out->timestamp),
                 "TIMESTAMP", eb))
                != 0
            || (rc = sl_field(&s, end, out->host, sizeof(out->host), "HOSTNAME",
                    eb))
                != 0
            || (rc = sl_field(&s, end, out->app, 49, "APP-NAME", eb)) != 0
            || (rc = sl_field(&s, end, out->procid, 129, "PROCID", eb)) != 0
            || (rc = sl_field(&s, end, out->msgid, 33, "MSGID", eb)) != 0)
            return rc;
        if (out->timestamp[0] != '\0'
            && (!isdigit((unsigned char)out->timestamp[0])
                || strchr(out->timestamp, 'T') == NULL))
            return err_set(eb, ERR_INVAL, "syslog_invalid",
                "RFC 5424 TIMESTAMP \"%.40s\" is not an RFC 3339 time",
                out->timestamp);
        if ((rc = sl_parse_sd(&s, end, eb)) != 0)
            return rc;
        if (s < end) {
            if (*s != ' ')
                return err_set(eb, ERR_INVAL, "syslog_invalid",
                    "RFC 5424 structured data must be followed by a space");
            s++;
            if (end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
                s += 3;
        }
        out->msg = s;
        out->msg_len = (size_t)(end - s);
        (void)sl_cisco(s, end, out);
        return 0;
    }

    /* Cisco IOS: "<189>45: R1: *Dec  2 10:00:00.123: %LINK-3-UPDOWN: ..." */
    if (sl_cisco(s, end, out))
        return 0;

    /* RFC 3164: [TIMESTAMP SP HOSTNAME SP] MSG, MSG = [TAG[PID]: ]CONTENT */
    out->version = 0;
    if (sl_3164_ts(s, end)) {
        const char *h;

        memcpy(out->timestamp, s, 15);
        out->timestamp[15] = '\0';
        s += 15;
        if (s < end && *s == ' ')
            s++;
        h = s;
        while (s < end && *s != ' ')
            s++;
        if ((size_t)(s - h) < sizeof(out->host)) {
            memcpy(out->host, h, (size_t)(s - h));
            out->host[s - h] = '\0';
        }
        if (s < end)
            s++;
    }
    {
        const char *t = s;

        while (t < end && t - s < 48
            && (isalnum((unsigned char)*t) || *t == '_' || *t == '-'
                || *t == '.' || *t == '/'))
            t++;
        /* a tag starts with a letter: Cisco's "52: *Mar 1 ..." sequence
         * number is part of the message */
        if (t > s && t < end && isalpha((unsigned char)*s)
            && (*t == ':' || *t == '[')) {
            const char *q = t;

            if (*q == '[') {
                const char *pid = q + 1;

                while (q < end && *q != ']')
                    q++;
                if (q < end && (size_t)(q - pid) < sizeof(out->procid)) {
                    memcpy(out->procid, pid, (size_t)(q - pid));
                    out->procid[q - pid] = '\0';
                    q++;
                } else {
                    q = NULL;
                }
            }
            if (q != NULL && q < end && *q == ':') {
                memcpy(out->app, s, (size_t)(t - s));
                out->app[t - s] = '\0';
                s = q + 1;
                if (s < end && *s == ' ')
                    s++;
            } else {
                out->procid[0] = '\0';
            }
        }
    }
    out->msg = s;
    out->msg_len = (size_t)(end - s);
    (void)sl_cisco(s, end, out); /* an RFC 3164 header, then Cisco's */
    return 0;
}

int
eng_syslog_frame(const char *p, size_t len, size_t *off, size_t *flen,
    size_t *used, struct errbuf *eb)
{
    size_t i, n = 0;

    if (len == 0)
        return 0;
    if (isdigit((unsigned char)p[0])) {
        for (i = 0; i < len && isdigit((unsigned char)p[i]); i++) {
            n = n * 10 + (size_t)(p[i] - '0');
            if (n > SYSLOG_MAX_MSG || i > 6)
                return err_set(eb, ERR_PROTO, "syslog_frame",
                    "octet-counted frame longer than %d bytes", SYSLOG_MAX_MSG);
        }
        if (i == len)
            return 0;
        if (p[i] != ' ' || n == 0)
            return err_set(eb, ERR_PROTO, "syslog_frame",
                "octet-counting frame: expected \"LENGTH SP\" before the "
                "message");
        if (len - i - 1 < n)
            return 0;
        *off = i + 1;
        *flen = n;
        *used = i + 1 + n;
        return 1;
    }
    for (i = 0; i < len; i++)
        if (p[i] == '\n') {
            *off = 0;
            *flen = i;
            if (i > 0 && p[i - 1] == '\r')
                (*flen)--;
            *used = i + 1;
            return 1;
        }
    if (len > SYSLOG_MAX_MSG)
        return err_set(eb, ERR_PROTO, "syslog_frame",
            "no newline within %d bytes", SYSLOG_MAX_MSG);
    return 0;
}

/* ---- matching ---------------------------------------------------------- */

int
eng_syslog_match_init(struct eng_syslog_match *m, const char *pattern,
    unsigned occurs, double period, const char *priority, struct errbuf *eb)
{
    int  rc;
    char msg[256];

    memset(m, 0, sizeof(*m));
    m->occurs = occurs == 0 ? 1 : occurs;
    m->period = period < 0 ? 0 : period;
    m->max_severity = 7;
    if (priority != NULL && *priority != '\0') {
        if ((m->max_severity = eng_syslog_severity_parse(priority)) < 0)
            return err_set(eb, ERR_INVAL, "invalid_priority",
                "syslog priority \"%s\" is not a level (emergencies alerts "
                "critical errors warnings notifications informational "
                "debugging, or 0-7)",
                priority);
    }
    if (m->occurs > 10000)
        return err_set(eb, ERR_INVAL, "invalid_occurs",
            "occurs %u is too large (at most 10000)", m->occurs);
    if (pattern == NULL)
        return err_set(eb, ERR_INVAL, "invalid_pattern",
            "event syslog needs a pattern");
    if ((rc = regcomp(&m->re, pattern, REG_EXTENDED | REG_NOSUB)) != 0) {
        regerror(rc, &m->re, msg, sizeof(msg));
        return err_set(eb, ERR_INVAL, "invalid_pattern",
            "syslog pattern \"%s\" is not a POSIX extended regex: %s", pattern,
            msg);
    }
    m->re_ok = 1;
    if ((m->hits = calloc(m->occurs, sizeof(*m->hits))) == NULL) {
        eng_syslog_match_free(m);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    return 0;
}

int
eng_syslog_match_feed(struct eng_syslog_match *m,
    const struct eng_syslog_msg *msg, double now)
{
    char   stack[1024], *text = stack;
    size_t i, k;
    int    hit;

    if (!m->re_ok || msg->severity > m->max_severity)
        return 0;
    if (msg->msg_len >= sizeof(stack)
        && (text = malloc(msg->msg_len + 1)) == NULL)
        return 0;
    memcpy(text, msg->msg, msg->msg_len);
    text[msg->msg_len] = '\0';
    hit = regexec(&m->re, text, 0, NULL, 0) == 0;
    if (text != stack)
        free(text);
    if (!hit)
        return 0;
    /* drop hits older than the period, then add this one */
    if (m->period > 0) {
        for (i = 0, k = 0; i < m->nhits; i++)
            if (now - m->hits[i] <= m->period)
                m->hits[k++] = m->hits[i];
        m->nhits = k;
    }
    if (m->nhits == m->occurs) { /* no period: keep the newest */
        memmove(m->hits, m->hits + 1, (m->occurs - 1) * sizeof(*m->hits));
        m->nhits--;
    }
    m->hits[m->nhits++] = now;
    if (m->nhits >= m->occurs) {
        m->nhits = 0;
        return 1;
    }
    return 0;
}

void
eng_syslog_match_free(struct eng_syslog_match *m)
{
    if (m->re_ok)
        regfree(&m->re);
    m->re_ok = 0;
    free(m->hits);
    m->hits = NULL;
}

/* ---- the listener ------------------------------------------------------ */

struct sl_conn {
    int        fd;
    struct buf in;
    double     last;     /* clock_mono() of the last bytes (or the accept) */
    char       peer[48]; /* the sender's address */
};

struct eng_syslog_listener {
    int       udp, tcp, wake[2];
    unsigned  port;
    pthread_t thread;
    int       started;
    void (*on_msg)(void *, const struct eng_syslog_msg *);
    void          *ud;
    struct sl_conn conns[SYSLOG_MAX_CONNS];
    size_t         nconns;
    atomic_llong   received, rejected;
};

/* The numeric address of sa ("127.0.0.2", "::1"; an IPv4-mapped IPv6
 * address as IPv4) into out, or "". */
static void
sl_addr_text(const struct sockaddr_storage *sa, socklen_t len, char *out,
    size_t n)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

    out[0] = '\0';
    if (len == 0)
        return;
    if (sa->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
            (socklen_t)n);
    else if (sa->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
        inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out, (socklen_t)n);
    else if (sa->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &s6->sin6_addr, out, (socklen_t)n);
}

static void
sl_handle(struct eng_syslog_listener *l, const char *p, size_t len,
    const char *via, const char *from)
{
    struct eng_syslog_msg m;
    struct errbuf         eb;

    err_clear(&eb);
    if (eng_syslog_parse(p, len, &m, &eb) != 0) {
        atomic_fetch_add(&l->rejected, 1);
        log_debug("syslog",
            "event=reject via=%s from=%s len=%zu "
            "reason=\"%s\"",
            via, from, len, eb.msg);
        return;
    }
    snprintf(m.source_ip, sizeof(m.source_ip), "%s", from);
    atomic_fetch_add(&l->received, 1);
    l->on_msg(l->ud, &m);
}

static void
sl_conn_close(struct eng_syslog_listener *l, size_t i)
{
    close(l->conns[i].fd);
    buf_free(&l->conns[i].in);
    l->conns[i] = l->conns[--l->nconns];
}

/* All slots taken and a new sender connects: the connection that has been
 * silent longest makes room (a sender that reconnects gets a slot; one
 * that opens connections and sends nothing cannot lock the others out). */
static void
sl_evict_idlest(struct eng_syslog_listener *l)
{
    size_t i, old = 0;

    for (i = 1; i < l->nconns; i++)
        if (l->conns[i].last < l->conns[old].last)
            old = i;
    log_warn("syslog",
        "event=tcp-evict idle_s=%.0f reason=\"all %d "
        "connections taken; the one silent longest was closed\"",
        clock_mono() - l->conns[old].last, SYSLOG_MAX_CONNS);
    sl_conn_close(l, old);
}

static int
sl_conn_read(struct eng_syslog_listener *l, struct sl_conn *c)
{
    char          tmp[8192];
    ssize_t       n;
    size_t        off, flen, used, pos = 0;
    struct errbuf eb;
    int           rc;

    n = recv(c->fd, tmp, sizeof(tmp), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    c->last = clock_mono();
    if (buf_append(&c->in, tmp, (size_t)n) != 0)
        return -1;
    err_clear(&eb);
    while ((rc = eng_syslog_frame(c->in.p + pos, c->in.len - pos, &off, &flen,
                &used, &eb))
        == 1) {
        sl_handle(l, c->in.p + pos + off, flen, "tcp", c->peer);
        pos += used;
    }
    if (rc < 0) {
        atomic_fetch_add(&l->rejected, 1);
        log_info("syslog", "event=tcp-close reason=\"%s\"", eb.msg);
        return -1;
    }
    if (pos > 0) {
        memmove(c->in.p, c->in.p + pos, c->in.len - pos);
        c->in.len -= pos;
        c->in.p[c->in.len] = '\0';
    }
    return 0;
}

static void *
sl_main(void *arg)
{
    struct eng_syslog_listener *l = arg;
    struct pollfd               pf[3 + SYSLOG_MAX_CONNS];
    char                       *dgram;
    size_t                      i, n;

    if ((dgram = malloc(SYSLOG_MAX_MSG + 1)) == NULL)
        return NULL;
    for (;;) {
        pf[0] = (struct pollfd){ .fd = l->wake[0], .events = POLLIN };
        pf[1] = (struct pollfd){ .fd = l->udp, .events = POLLIN };
        pf[2] = (struct pollfd){ .fd = l->tcp, .events = POLLIN };
        for (i = 0; i < l->nconns; i++)
            pf[3 + i] =
                (struct pollfd){ .fd = l->conns[i].fd, .events = POLLIN };
        n = 3 + l->nconns;
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLIN) {
            struct sockaddr_storage from;
            socklen_t               fl = sizeof(from);
            char                    addr[48];
            ssize_t r = recvfrom(l->udp, dgram, SYSLOG_MAX_MSG, 0,
                (struct sockaddr *)&from, &fl);

            if (r > 0) {
                sl_addr_text(&from, fl, addr, sizeof(addr));
                sl_handle(l, dgram, (size_t)r, "udp", addr);
            }
        }
        /* connections first: accepting may reorder conns[] */
        for (i = n - 3; i-- > 0;)
            if (pf[3 + i].revents && sl_conn_read(l, &l->conns[i]) != 0)
                sl_conn_close(l, i);
        if (pf[2].revents & POLLIN) {
            struct sockaddr_storage from;
            socklen_t               fl = sizeof(from);
            int fd = accept(l->tcp, (struct sockaddr *)&from, &fl);

            if (fd >= 0) {
                if (l->nconns == SYSLOG_MAX_CONNS)
                    sl_evict_idlest(l);
                sl_addr_text(&from, fl, l->conns[l->nconns].peer,
                    sizeof(l->conns[l->nconns].peer));
                l->conns[l->nconns].fd = fd;
                l->conns[l->nconns].in = (struct buf)BUF_INIT;
                l->conns[l->nconns].last = clock_mono();
                l->nconns++;
            }
        }
    }
    free(dgram);
    return NULL;
}

static int
sl_split_addr(const char *addr, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon;
    size_t      len;

    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');

        if (rb == NULL || rb[1] != ':')
            return -1;
        len = (size_t)(rb - addr - 1);
        if (len == 0 || len >= hn)
            return -1;
        memcpy(host, addr + 1, len);
        host[len] = '\0';
        colon = rb + 1;
    } else {
        if ((colon = strrchr(addr, ':')) == NULL)
            return -1;
        len = (size_t)(colon - addr);
        if (len == 0 || len >= hn)
            return -1;
        memcpy(host, addr, len);
        host[len] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= pn
        || strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return -1;
    strcpy(port, colon + 1);
    return 0;
}

int
eng_syslog_listen(const char *addr,
    void (*on_msg)(void *ud, const struct eng_syslog_msg *m), void *ud,
    struct eng_syslog_listener **out, struct errbuf *eb)
{
    struct eng_syslog_listener *l;
    struct addrinfo             hints, *ai = NULL;
    struct sockaddr_storage     ss;
    socklen_t                   sl = sizeof(ss);
    char                        host[256], port[8];
    int                         one = 1, rc, g, e;

    *out = NULL;
    if (addr == NULL
        || sl_split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0)
        return err_set(eb, ERR_INVAL, "invalid_listen",
            "syslog listen address \"%s\" is not HOST:PORT or [V6]:PORT",
            addr ? addr : "");
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_DGRAM;
    if ((g = getaddrinfo(host, port, &hints, &ai)) != 0)
        return err_set(eb, ERR_INVAL, "invalid_listen",
            "syslog listen address \"%s\": %s", addr, gai_strerror(g));
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        freeaddrinfo(ai);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    l->udp = l->tcp = l->wake[0] = l->wake[1] = -1;
    l->on_msg = on_msg;
    l->ud = ud;
    rc = ERR_IO;
    /* TCP on the same port as UDP. With PORT 0 the port UDP was given may
     * be taken for TCP: then both try again with another one. */
    for (int tries = 0;; tries++) {
        if ((l->udp = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0
            || bind(l->udp, ai->ai_addr, ai->ai_addrlen) != 0) {
            err_set(eb, ERR_IO, "listen_failed",
                "cannot bind syslog UDP %s: %s", addr, strerror(errno));
            goto fail;
        }
        sl = sizeof(ss);
        if (getsockname(l->udp, (struct sockaddr *)&ss, &sl) == 0)
            l->port = ntohs(ss.ss_family == AF_INET6
                    ? ((struct sockaddr_in6 *)&ss)->sin6_port
                    : ((struct sockaddr_in *)&ss)->sin_port);
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(l->port);
        else
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(l->port);
        if ((l->tcp = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0
            && setsockopt(l->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))
                == 0
            && bind(l->tcp, ai->ai_addr, ai->ai_addrlen) == 0
            && listen(l->tcp, 16) == 0)
            break;
        e = errno;
        err_set(eb, ERR_IO, "listen_failed",
            "cannot listen on syslog TCP %s (port %u): %s", addr, l->port,
            strerror(e));
        if (strcmp(port, "0") != 0 || e != EADDRINUSE || tries == 15)
            goto fail;
        close(l->tcp);
        close(l->udp);
        l->tcp = l->udp = -1;
        if (ss.ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = 0;
        else
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = 0;
    }
    if (pipe(l->wake) != 0) {
        err_set(eb, ERR_IO, "pipe", "pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&l->thread, NULL, sl_main, l) != 0) {
        err_set(eb, ERR_INTERNAL, "thread", "cannot start syslog thread");
        rc = ERR_INTERNAL;
        goto fail;
    }
    pthread_setname_np(l->thread, "herald-syslog");
    l->started = 1;
    freeaddrinfo(ai);
    log_info("syslog", "event=listen addr=%s port=%u proto=udp,tcp", host,
        l->port);
    *out = l;
    return 0;
fail:
    freeaddrinfo(ai);
    eng_syslog_stop(l);
    return rc;
}

unsigned
eng_syslog_port(const struct eng_syslog_listener *l)
{
    return l->port;
}

void
eng_syslog_counts(const struct eng_syslog_listener *l, long long *received,
    long long *rejected)
{
    struct eng_syslog_listener *m = (struct eng_syslog_listener *)l;

    if (received != NULL)
        *received = l ? atomic_load(&m->received) : 0;
    if (rejected != NULL)
        *rejected = l ? atomic_load(&m->rejected) : 0;
}

void
eng_syslog_stop(struct eng_syslog_listener *l)
{
    if (l == NULL)
        return;
    if (l->started) {
        (void)!write(l->wake[1], "x", 1);
        pthread_join(l->thread, NULL);
    }
    while (l->nconns > 0)
        sl_conn_close(l, 0);
    if (l->udp >= 0)
        close(l->udp);
    if (l->tcp >= 0)
        close(l->tcp);
    if (l->wake[0] >= 0)
        close(l->wake[0]);
    if (l->wake[1] >= 0)
        close(l->wake[1]);
    free(l);
}
