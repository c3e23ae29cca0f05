/* SPDX-License-Identifier: MIT */
/*
 * pki/verdict.c: what happened to a server's certificate, in words a person
 * can act on. The class comes from the handshake error (wolfSSL 5.5.4 with
 * WOLFSSL_ALT_CERT_CHAINS reports every chain problem at the leaf, and one
 * error hides another), and the detail from herald's own walk of the chain
 * the server presented against the trustpoints, as IOS does: at each
 * certificate, look up its issuer among the trustpoints, else among the
 * certificates presented. The walk names the certificate whose issuer no
 * trustpoint holds and the certificate to import to fix it.
 */
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "common/log.h"
#include "pki/trust_int.h"

#define MAX_CHAIN 16

const char *
pki_verdict_code(int klass)
{
    switch (klass) {
    case PKI_OK:
        return "";
    case PKI_UNTRUSTED:
        return "certificate_untrusted";
    case PKI_HOSTNAME_MISMATCH:
        return "hostname_mismatch";
    case PKI_EXPIRED:
        return "certificate_expired";
    default:
        return "tls_handshake";
    }
}

struct walk {
    int anchor_tp;   /* index into t->tps, or -1 */
    int anchor_self; /* the anchor is a presented cert itself (pinned) */
    int top;         /* last presented certificate reached */
    int unloaded_tp; /* a trustpoint holding an issuer, but not in use */
};

static void
chain_walk(const struct pki_trust *t, struct pki_cert **ch, int n,
    struct walk *w)
{
    int    used[MAX_CHAIN] = { 0 };
    int    cur = 0, step, j;
    size_t i;

    w->anchor_tp = w->unloaded_tp = -1;
    w->anchor_self = 0;
    w->top = 0;
    if (n == 0 || t == NULL)
        return;
    used[0] = 1;
    for (step = 0; step < MAX_CHAIN; step++) {
        w->top = cur;
        for (i = 0; i < t->ntps; i++) {
            const struct trust_tp *tp = &t->tps[i];
            if (tp->cert == NULL)
                continue;
            if (pki_cert_same(ch[cur], tp->cert)
                || (tp->cert->is_ca && pki_cert_issued_by(ch[cur], tp->cert))) {
                if (tp->loaded) {
                    w->anchor_tp = (int)i;
                    w->anchor_self = pki_cert_same(ch[cur], tp->cert);
                    return;
                }
                if (w->unloaded_tp < 0)
                    w->unloaded_tp = (int)i;
            }
        }
        if (ch[cur]->self_signed)
            return;
        for (j = 0; j < n; j++) {
            if (!used[j] && pki_cert_issued_by(ch[cur], ch[j]))
                break;
        }
        if (j == n)
            return;
        used[j] = 1;
        cur = j;
    }
}

static int
ip_equal(const char *a, const char *b)
{
    unsigned char x[16], y[16];

    if (inet_pton(AF_INET, a, x) == 1)
        return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1)
        return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
    return 0;
}

static int
dns_match(const char *pat, const char *name)
{
    const char *dot;

    if (strcasecmp(pat, name) == 0)
        return 1;
    if (strncmp(pat, "*.", 2) != 0 || (dot = strchr(name, '.')) == NULL)
        return 0;
    return dot != name && strcasecmp(pat + 1, dot) == 0;
}

/* herald's own host name check, for the trace (wolfSSL's is the one that
 * decides). 1 match, 0 no match. */
static int
host_matches(const struct pki_cert *leaf, const char *name)
{
    cJSON        *sans = pki_cert_sans_json(leaf), *it;
    int           ok = 0, isip, any = 0;
    unsigned char tmp[16];

    isip = inet_pton(AF_INET, name, tmp) == 1
        || inet_pton(AF_INET6, name, tmp) == 1;
    cJSON_ArrayForEach(it, sans)
    {
        const char *s = it->valuestring;
        if (strncmp(s, "DNS:", 4) == 0) {
            any = 1;
            if (!isip && dns_match(s + 4, name))
                ok = 1;
        } else if (strncmp(s, "IP:", 3) == 0) {
            any = 1;
            if (isip && ip_equal(s + 3, name))
                ok = 1;
        }
    }
    cJSON_Delete(sans);
    if (!any && !isip) { /* no SANs: the CN (legacy) */
        const char *cn = strstr(leaf->subject, "CN=");
        if (cn != NULL) {
            char   buf[256];
            size_t k = 0;
            for (cn += 3; *cn && *cn != ',' && k + 1 < sizeof(buf); cn++)
                buf[k++] = *cn;
            buf[k] = '\0';
            ok = dns_match(buf, name);
        }
    }
    return ok;
}

static void fmt(char *dst, size_t sz, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void
fmt(char *dst, size_t sz, const char *f, ...)
{
    va_list ap;
    size_t  l = strlen(dst);

    if (l >= sz)
        return;
    va_start(ap, f);
    vsnprintf(dst + l, sz - l, f, ap);
    va_end(ap);
}

/* Says where the chain stops and what to import: message, advice and
 * missing_issuer (appended). */
static void
describe_untrusted(struct pki_verdict *v, const struct pki_trust *t,
    struct pki_cert *const *ch, const struct walk *w)
{
    const struct pki_cert *top = ch[w->top];

    if (top->self_signed && w->top == 0) {
        fmt(v->message, sizeof(v->message),
            "the server's certificate '%s' is self-signed, and no "
            "trustpoint holds it",
            top->subject);
    } else if (top->self_signed) {
        fmt(v->message, sizeof(v->message),
            "the server's chain ends at the self-signed '%s' (chain[%d]), "
            "which no trustpoint holds",
            top->subject, w->top);
    } else {
        snprintf(v->missing_issuer, sizeof(v->missing_issuer), "%s",
            top->issuer);
        fmt(v->message, sizeof(v->message),
            "the server's chain ends at '%s' issued by '%s', which no "
            "trustpoint holds",
            top->subject, top->issuer);
    }
    if (w->unloaded_tp >= 0)
        fmt(v->message, sizeof(v->message),
            "; trustpoint '%s' holds '%s' but is not used "
            "(chain-validation continue without its root: set "
            "chain-validation stop or import its issuer)",
            t->tps[w->unloaded_tp].name, t->tps[w->unloaded_tp].cert->subject);
    fmt(v->advice, sizeof(v->advice),
        "import the certificate '%s' (chain[%d], SHA-256 %s) as a "
        "trustpoint%s, e.g. with POST /api/v1/trustpoints/import-chain",
        top->subject, w->top, top->sha256,
        top->self_signed ? "" : " with chain-validation stop");
    if (!top->self_signed)
        fmt(v->advice, sizeof(v->advice), "; or import its issuer '%s'",
            top->issuer);
}

static void
set_item(cJSON *o, const char *key, cJSON *item)
{
    if (cJSON_GetObjectItem(o, key) != NULL)
        cJSON_ReplaceItemInObject(o, key, item);
    else
        cJSON_AddItemToObject(o, key, item);
}

static cJSON *
chain_json(struct pki_cert *const *ch, int n)
{
    cJSON *arr = cJSON_CreateArray();
    int    i;

    for (i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject(), *d = pki_cert_details(ch[i]);
        cJSON *fp = cJSON_GetObjectItem(d, "fingerprints");
        char  *pem = pki_cert_pem(ch[i]);
        cJSON_AddNumberToObject(o, "depth", i);
        cJSON_AddStringToObject(o, "subject", ch[i]->subject);
        cJSON_AddStringToObject(o, "issuer", ch[i]->issuer);
        cJSON_AddStringToObject(o, "serial",
            cJSON_GetStringValue(cJSON_GetObjectItem(d, "serial")));
        cJSON_AddStringToObject(o, "not_before",
            cJSON_GetStringValue(cJSON_GetObjectItem(d, "not_before")));
        cJSON_AddStringToObject(o, "not_after",
            cJSON_GetStringValue(cJSON_GetObjectItem(d, "not_after")));
        cJSON_AddStringToObject(o, "sha256", ch[i]->sha256);
        cJSON_AddStringToObject(o, "sha1",
            cJSON_GetStringValue(cJSON_GetObjectItem(fp, "sha1")));
        cJSON_AddBoolToObject(o, "ca", ch[i]->is_ca);
        cJSON_AddBoolToObject(o, "self_signed", ch[i]->self_signed);
        cJSON_AddStringToObject(o, "pem", pem ? pem : "");
        free(pem);
        cJSON_Delete(d);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static int
classify(int rc, long vr)
{
    switch (rc) {
    case 0:
        return PKI_OK;
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
        return PKI_HOSTNAME_MISMATCH;
    case ASN_AFTER_DATE_E:
    case ASN_BEFORE_DATE_E:
        return PKI_EXPIRED;
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
        return PKI_UNTRUSTED;
    default:
        break;
    }
    switch (vr) { /* X509_V_ERR_* */
    case 2:
    case 18:
    case 19:
    case 20:
    case 21:
        return PKI_UNTRUSTED;
    case 9:
    case 10:
        return PKI_EXPIRED;
    case 62:
        return PKI_HOSTNAME_MISMATCH;
    default:
        return PKI_HANDSHAKE;
    }
}

/* The presented chain as certs (new, into ch); returns how many. */
static int
peer_chain(WOLFSSL *ssl, struct pki_cert **ch)
{
    WOLFSSL_X509_CHAIN *pc = ssl != NULL ? wolfSSL_get_peer_chain(ssl) : NULL;
    int                 n = 0, i, cnt;

    if (pc == NULL)
        return 0;
    cnt = wolfSSL_get_chain_count(pc);
    for (i = 0; i < cnt && n < MAX_CHAIN; i++) {
        const unsigned char *der = wolfSSL_get_chain_cert(pc, i);
        int                  len = wolfSSL_get_chain_length(pc, i);
        if (der != NULL && len > 0
            && pki_cert_from_der(der, (size_t)len, &ch[n], NULL) == 0)
            n++;
    }
    return n;
}

void
trust_proof_fill(struct pki_trust *t, WOLFSSL *ssl, const char *name,
    struct trust_proof *p)
{
    struct pki_cert *ch[MAX_CHAIN];
    struct walk      w;
    int              n = peer_chain(ssl, ch), i;

    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    chain_walk(t, ch, n, &w);
    if (w.anchor_tp >= 0)
        snprintf(p->anchor, sizeof(p->anchor), "%s", t->tps[w.anchor_tp].name);
    if (n > 0) {
        snprintf(p->leaf_subject, sizeof(p->leaf_subject), "%s",
            ch[0]->subject);
        snprintf(p->leaf_sha256, sizeof(p->leaf_sha256), "%s", ch[0]->sha256);
    }
    for (i = 0; i < n; i++)
        pki_cert_free(ch[i]);
}

/* What a handshake left behind, gathered once: the chain, herald's walk of
 * it, the error codes and the verify callback's record. verdict_classify()
 * reads it into v->klass; the verdict_word_*() functions put it in words;
 * verdict_trace() lays it out as JSON. */
struct facts {
    struct pki_trust      *t;
    WOLFSSL               *ssl;
    const char            *verify_name;
    struct pki_cert       *ch[MAX_CHAIN];
    int                    n;
    struct walk            w;
    int                    rc;      /* wolfSSL error, 0 on success */
    long                   vr;      /* X509_V_ERR_* */
    int                    host_ok; /* 1, 0, or -1 not checked */
    int                    resumed;
    int                    have_vrec;
    struct trust_vrec      vrec;
    int                    chain_untrusted;
    const struct pki_cert *top; /* last presented cert reached */
    time_t                 now;
};

static void
facts_gather(struct facts *f, struct pki_trust *t, WOLFSSL *ssl,
    int handshake_rc, const char *verify_name)
{
    memset(f, 0, sizeof(*f));
    f->t = t;
    f->ssl = ssl;
    f->verify_name = verify_name;
    f->rc = handshake_rc;
    f->host_ok = -1;
    f->now = time(NULL);
    if (ssl != NULL) {
        if (f->rc == WOLFSSL_FATAL_ERROR)
            f->rc = wolfSSL_get_error(ssl, f->rc);
        f->vr = wolfSSL_get_verify_result(ssl);
        f->resumed = f->rc == 0 && wolfSSL_session_reused(ssl);
    }
    if (t != NULL && ssl != NULL)
        f->have_vrec = trust_vrec_get(t, ssl, &f->vrec) == 0;
    f->n = peer_chain(ssl, f->ch);
    chain_walk(t, f->ch, f->n, &f->w);
    if (f->n > 0 && verify_name != NULL && verify_name[0] != '\0')
        f->host_ok = host_matches(f->ch[0], verify_name);
    f->top = f->n > 0 ? f->ch[f->w.top] : NULL;
    f->chain_untrusted =
        f->n > 0 && f->w.anchor_tp < 0 && !(t != NULL && t->system_pool);
}

/* Sets v's class, code, anchor and resume_failed from f (and drops a cached
 * session whose resumption failed). */
static void
verdict_classify(struct pki_verdict *v, struct facts *f)
{
    const char   *name = f->verify_name;
    unsigned char ip[16];
    size_t        iplen = 0;

    v->klass = classify(f->rc, f->vr);
    if (!v->insecure && name != NULL) {
        if (inet_pton(AF_INET, name, ip) == 1)
            iplen = 4;
        else if (inet_pton(AF_INET6, name, ip) == 1)
            iplen = 16;
    }
    if (iplen > 0 && v->klass != PKI_EXPIRED
        && ((f->have_vrec && f->vrec.ip_mismatch)
            || (f->rc == 0 && !f->resumed && f->n > 0
                && !pki_cert_has_ip(f->ch[0], ip, iplen)))) {
        /* herald's own IP check (verify_cb) failed the handshake; or, as a
         * second line, the leaf of a finished handshake lacks the IP */
        v->klass = PKI_HOSTNAME_MISMATCH;
        f->host_ok = 0;
    }
    if (f->rc != 0 && f->have_vrec && f->vrec.offered) {
        /* never let a bad or stale cached session fail sends for good */
        trust_sess_drop(f->t, f->vrec.key);
        v->resume_failed = 1;
    }
    snprintf(v->code, sizeof(v->code), "%s", pki_verdict_code(v->klass));
    if (f->w.anchor_tp >= 0)
        snprintf(v->anchor, sizeof(v->anchor), "%s",
            f->t->tps[f->w.anchor_tp].name);
}

static void
verdict_word_ok(struct pki_verdict *v, const struct facts *f)
{
    const char *name = f->verify_name ? f->verify_name : "";

    if (v->insecure) {
        fmt(v->message, sizeof(v->message),
            "certificate verification was turned off (insecure): the "
            "server's chain and host name were not checked");
        fmt(v->advice, sizeof(v->advice),
            "import the server's CA as a trustpoint and turn "
            "verification back on");
        v->anchor[0] = '\0';
    } else if (f->resumed) {
        char at[32] = "an unknown time";
        if (f->have_vrec && f->vrec.offered && f->vrec.offered_proof.at != 0)
            pki_time_str(f->vrec.offered_proof.at, at, sizeof(at));
        fmt(v->message, sizeof(v->message),
            "resumed a TLS session: no certificate check runs on "
            "resumption; the chain and the name '%s' were verified on "
            "the first connection at %s",
            name, at);
        if (f->have_vrec && f->vrec.offered && f->vrec.offered_proof.anchor[0])
            fmt(v->message, sizeof(v->message), ", anchored at trustpoint '%s'",
                f->vrec.offered_proof.anchor);
    } else if (f->w.anchor_tp >= 0) {
        const struct trust_tp *tp = &f->t->tps[f->w.anchor_tp];
        fmt(v->message, sizeof(v->message),
            "the server's certificate '%s' verified for '%s', anchored "
            "at trustpoint '%s' ('%s')%s",
            f->n ? f->ch[0]->subject : "", name, tp->name, tp->cert->subject,
            f->w.anchor_self ? " (pinned certificate)" : "");
    } else {
        fmt(v->message, sizeof(v->message),
            "the server's certificate '%s' verified for '%s'%s",
            f->n ? f->ch[0]->subject : "", name,
            f->t != NULL && f->t->system_pool ? " against the system CA pool"
                                              : "");
    }
}

/* "; also, <where the chain stops>" when the chain is untrusted as well. */
static void
verdict_word_also_untrusted(struct pki_verdict *v, const struct facts *f)
{
    if (!f->chain_untrusted)
        return;
    fmt(v->message, sizeof(v->message), "; also, ");
    fmt(v->advice, sizeof(v->advice), "; then ");
    describe_untrusted(v, f->t, f->ch, &f->w);
}

static void
verdict_word_hostname(struct pki_verdict *v, const struct facts *f)
{
    const char *name = f->verify_name ? f->verify_name : "";
    char       *sans = f->n ? pki_cert_sans_str(f->ch[0]) : NULL;

    fmt(v->message, sizeof(v->message),
        "the server's certificate '%s' is not valid for '%s': it names "
        "%s",
        f->n ? f->ch[0]->subject : "?", name,
        sans && sans[0] ? sans : "no subject alternative names");
    fmt(v->advice, sizeof(v->advice),
        "connect with a name the certificate holds (server host or "
        "tls_name), or have it reissued for '%s'",
        name);
    free(sans);
    verdict_word_also_untrusted(v, f);
}

static void
verdict_word_expired(struct pki_verdict *v, const struct facts *f)
{
    char date[32];
    int  bad = -1, i, before;

    for (i = 0; i < f->n; i++) {
        if (f->now > f->ch[i]->not_after || f->now < f->ch[i]->not_before) {
            bad = i;
            break;
        }
    }
    if (bad >= 0) {
        before = f->now < f->ch[bad]->not_before;
        pki_time_str(before ? f->ch[bad]->not_before : f->ch[bad]->not_after,
            date, sizeof(date));
        fmt(v->message, sizeof(v->message),
            "the certificate '%s' (chain[%d]) %s %s", f->ch[bad]->subject, bad,
            before ? "is not valid before" : "expired on", date);
    } else {
        fmt(v->message, sizeof(v->message),
            "a certificate in the chain is expired or not yet valid "
            "(check this machine's clock)");
    }
    fmt(v->advice, sizeof(v->advice),
        "the server's administrator must renew the certificate; "
        "if the dates look wrong, check this machine's clock");
    verdict_word_also_untrusted(v, f);
}

static void
verdict_word_untrusted(struct pki_verdict *v, const struct facts *f)
{
    char date[32];
    int  i;

    if (f->n == 0 || f->top == NULL) {
        fmt(v->message, sizeof(v->message),
            "the server's certificate is not trusted (it sent no "
            "certificate chain that herald could read)");
        fmt(v->advice, sizeof(v->advice),
            "fetch the server's chain with POST /api/v1/probe and "
            "import its CA as a trustpoint");
        return;
    }
    describe_untrusted(v, f->t, f->ch, &f->w);
    for (i = 0; i < f->n; i++) {
        if (f->now > f->ch[i]->not_after) {
            pki_time_str(f->ch[i]->not_after, date, sizeof(date));
            fmt(v->message, sizeof(v->message),
                "; also, '%s' (chain[%d]) expired on %s", f->ch[i]->subject, i,
                date);
            break;
        }
    }
    if (f->host_ok == 0)
        fmt(v->message, sizeof(v->message),
            "; also, the certificate is not valid for '%s'", f->verify_name);
}

static void
verdict_word_handshake(struct pki_verdict *v, const struct facts *f)
{
    char es[160];

    wolfSSL_ERR_error_string_n((unsigned long)(f->rc < 0 ? -f->rc : f->rc), es,
        sizeof(es));
    fmt(v->message, sizeof(v->message),
        "the TLS handshake failed: %s (wolfSSL error %d)", es, f->rc);
    fmt(v->advice, sizeof(v->advice),
        "check that the port speaks TLS as configured (STARTTLS on "
        "587/25, implicit TLS on 465) and supports TLS 1.2 or later");
}

/* Writes v's message and advice for its class. */
static void
verdict_word(struct pki_verdict *v, const struct facts *f)
{
    switch (v->klass) {
    case PKI_OK:
        verdict_word_ok(v, f);
        break;
    case PKI_HOSTNAME_MISMATCH:
        verdict_word_hostname(v, f);
        break;
    case PKI_EXPIRED:
        verdict_word_expired(v, f);
        break;
    case PKI_UNTRUSTED:
        verdict_word_untrusted(v, f);
        break;
    default:
        verdict_word_handshake(v, f);
        break;
    }
    if (v->resume_failed) {
        fmt(v->message, sizeof(v->message),
            " (herald had offered a cached TLS session for resumption; it "
            "is dropped, and the next connection does a full handshake)");
        fmt(v->advice, sizeof(v->advice),
            "%sretry: a new connection does not resume",
            v->advice[0] ? "; " : "");
    }
}

/* trace.resumed_verification: what the full handshake of this session
 * verified. */
static void
trace_resumed(cJSON *trace, const struct facts *f)
{
    const struct trust_proof *p = &f->vrec.offered_proof;
    char                      at[32] = "";
    cJSON                    *o = cJSON_CreateObject();

    if (p->at != 0)
        pki_time_str(p->at, at, sizeof(at));
    cJSON_AddStringToObject(o, "verified_at", at);
    cJSON_AddStringToObject(o, "name", p->name);
    cJSON_AddStringToObject(o, "anchor", p->anchor);
    cJSON_AddStringToObject(o, "leaf_subject", p->leaf_subject);
    cJSON_AddStringToObject(o, "leaf_sha256", p->leaf_sha256);
    cJSON_AddStringToObject(o, "note",
        "resumed: no certificate "
        "check runs on resumption; verification was done on the "
        "first connection at verified_at, for the same name, "
        "trustpoints and verify mode");
    set_item(trace, "resumed_verification", o);
}

/* trace.fix: the presented certificate to import, or null. */
static void
trace_fix(cJSON *trace, const struct pki_verdict *v, const struct facts *f)
{
    cJSON *o, *c, *arr;
    char   imp[32];

    if (f->top == NULL
        || !(v->klass == PKI_UNTRUSTED
            || (v->klass != PKI_OK && f->chain_untrusted))) {
        set_item(trace, "fix", cJSON_CreateNull());
        return;
    }
    c = cJSON_CreateObject();
    o = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(o, "trustpoint_candidates");
    cJSON_AddNumberToObject(c, "chain_index", f->w.top);
    cJSON_AddStringToObject(c, "subject", f->top->subject);
    cJSON_AddStringToObject(c, "sha256", f->top->sha256);
    cJSON_AddStringToObject(c, "chain_validation",
        f->top->self_signed ? "continue" : "stop");
    cJSON_AddItemToArray(arr, c);
    snprintf(imp, sizeof(imp), "import chain[%d]", f->w.top);
    cJSON_AddStringToObject(o, "action", imp);
    set_item(trace, "fix", o);
}

/* trace.hostname: the name checked, the leaf's SANs and the result. */
static void
trace_hostname(cJSON *trace, const struct pki_verdict *v, const struct facts *f)
{
    cJSON *o = cJSON_CreateObject();
    char   at[32];

    cJSON_AddStringToObject(o, "checked",
        f->verify_name && !v->insecure ? f->verify_name : "");
    cJSON_AddItemToObject(o, "sans",
        f->n ? pki_cert_sans_json(f->ch[0]) : cJSON_CreateArray());
    cJSON_AddStringToObject(o, "result",
        v->insecure                             ? "not_checked"
            : v->klass == PKI_HOSTNAME_MISMATCH ? "mismatch"
            : v->klass == PKI_OK                ? "ok"
            : f->host_ok == 1                   ? "ok"
            : f->host_ok == 0                   ? "mismatch"
                                                : "unknown");
    if (f->resumed && !v->insecure && f->have_vrec && f->vrec.offered
        && f->vrec.offered_proof.at != 0) {
        pki_time_str(f->vrec.offered_proof.at, at, sizeof(at));
        cJSON_AddStringToObject(o, "checked_at", at);
    }
    set_item(trace, "hostname", o);
}

static void
trace_verify_errors(cJSON *trace, const struct facts *f)
{
    cJSON *o = cJSON_CreateArray(), *e;
    int    i;

    for (i = 0; f->have_vrec && i < f->vrec.nerr; i++) {
        e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "depth", f->vrec.e[i].depth);
        cJSON_AddNumberToObject(e, "error", f->vrec.e[i].err);
        cJSON_AddStringToObject(e, "message",
            trust_verify_error_str(f->vrec.e[i].err));
        cJSON_AddItemToArray(o, e);
    }
    set_item(trace, "verify_errors", o);
}

/* Lays the verdict and its facts out in trace (see pki.h). */
static void
verdict_trace(cJSON *trace, const struct pki_verdict *v, const struct facts *f)
{
    WOLFSSL *ssl = f->ssl;
    cJSON   *o;

    set_item(trace, "tls_version",
        cJSON_CreateString(ssl ? wolfSSL_get_version(ssl) : ""));
    set_item(trace, "cipher",
        cJSON_CreateString(ssl && wolfSSL_get_cipher_name(ssl)
                ? wolfSSL_get_cipher_name(ssl)
                : ""));
    set_item(trace, "resumed", cJSON_CreateBool(f->resumed));
    if (f->resumed && f->have_vrec && f->vrec.offered)
        trace_resumed(trace, f);
    if (v->resume_failed)
        set_item(trace, "resume_failed", cJSON_CreateTrue());
    set_item(trace, "chain", chain_json(f->ch, f->n));
    if (f->w.anchor_tp >= 0 && !v->insecure) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "trustpoint",
            f->t->tps[f->w.anchor_tp].name);
        cJSON_AddStringToObject(o, "subject",
            f->t->tps[f->w.anchor_tp].cert->subject);
        set_item(trace, "anchor", o);
    } else {
        set_item(trace, "anchor", cJSON_CreateNull());
    }
    set_item(trace, "missing_issuer",
        v->missing_issuer[0] ? cJSON_CreateString(v->missing_issuer)
                             : cJSON_CreateNull());
    trace_fix(trace, v, f);
    trace_hostname(trace, v, f);
    if (f->n > 0)
        set_item(trace, "expires_in_days",
            cJSON_CreateNumber(
                (double)((f->ch[0]->not_after - f->now) / 86400)));
    else
        set_item(trace, "expires_in_days", cJSON_CreateNull());
    set_item(trace, "insecure", cJSON_CreateBool(v->insecure));
    trace_verify_errors(trace, f);
}

void
pki_tls_verdict(struct pki_trust *t, struct WOLFSSL *ssl, int handshake_rc,
    const char *verify_name, int verify_mode, struct pki_verdict *v,
    struct cJSON *trace)
{
    struct facts f;
    int          i;

    memset(v, 0, sizeof(*v));
    v->insecure = verify_mode == PKI_VERIFY_NONE;
    facts_gather(&f, t, ssl, handshake_rc, verify_name);
    verdict_classify(v, &f);
    verdict_word(v, &f);
    log_info("pki",
        "event=tls-verdict code=%s anchor=%s chain_len=%d "
        "leaf_sha256=%s insecure=%d rc=%d",
        v->code[0] ? v->code : "ok", v->anchor[0] ? v->anchor : "-", f.n,
        f.n ? f.ch[0]->sha256 : "-", v->insecure, f.rc);
    if (trace != NULL)
        verdict_trace(trace, v, &f);
    if (f.have_vrec)
        trust_vrec_done(t, ssl, 1, v->klass != PKI_OK || f.rc != 0);
    for (i = 0; i < f.n; i++)
        pki_cert_free(f.ch[i]);
}
