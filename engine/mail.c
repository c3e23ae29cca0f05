/* SPDX-License-Identifier: MIT */
/*
 * engine/mail.c: the mail test and the chain probe (the server's one-off
 * SMTP requests), and the trust cache they share with the runtime.
 *
 * eng_mail_send() turns the parameters of POST /api/v1/mail/test into one
 * delivery: the server string is split
 * at its last '@' (CSCwe75439), separate host/username/password fields
 * override its parts, addresses are checked, the RFC 5322 message is built,
 * trust comes from the trust cache, and the SMTP session runs. A failure logs
 * the line IOS users know,
 *   %HA_EM-3-FMPD_SMTP: Error occurred when sending mail to SMTP server:
 *   <server, password masked> : <reason>
 * followed by a key=value line with the classified reason and the advice.
 * eng_mail_probe() connects and reports the chain the server presents.
 *
 * The trust cache holds one pki_trust built from the stored trustpoints and
 * rebuilds it when eng_store_trust_generation() moves, so that cached TLS
 * sessions (which skip verification on resumption) never outlive a change.
 */
#include "engine/mail.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/sec.h"
#include "engine/store.h"
#include "pki/pki.h"

struct eng_trustcache {
    pthread_mutex_t   mu;
    struct eng_store *st;    /* borrowed */
    struct pki_trust *trust; /* NULL until first built */
    uint64_t          gen;
};

int
eng_trustcache_new(struct eng_store *st, struct eng_trustcache **out,
    struct errbuf *eb)
{
    struct eng_trustcache *tc;

    *out = NULL;
    if ((tc = calloc(1, sizeof(*tc))) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    pthread_mutex_init(&tc->mu, NULL);
    tc->st = st;
    *out = tc;
    return 0;
}

void
eng_trustcache_free(struct eng_trustcache *tc)
{
    if (tc == NULL)
        return;
    pki_trust_unref(tc->trust);
    pthread_mutex_destroy(&tc->mu);
    free(tc);
}

/* Builds a new pki_trust from the store's trustpoints and settings. */
static int
eng_trust_build(struct eng_store *st, struct pki_trust **out,
    struct errbuf *eb)
{
    struct eng_tp_rec     *recs = NULL;
    struct pki_trustpoint *tps = NULL;
    struct pki_cert      **certs = NULL;
    size_t                 n = 0;
    unsigned               flags = 0;
    char                  *pool = NULL;
    int                    rc;

    if (st != NULL) {
        if ((rc = eng_store_tp_list(st, &recs, &n, eb)) != 0)
            return rc;
        if (eng_store_setting_get(st, "trustpool", &pool, NULL) == 0 &&
            pool != NULL && strcasecmp(pool, "on") == 0)
            flags |= PKI_TRUST_SYSTEM_POOL;
        free(pool);
    }
    if (n > 0 && ((tps = calloc(n, sizeof(*tps))) == NULL ||
        (certs = calloc(n, sizeof(*certs))) == NULL)) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int cv = pki_chain_validation_parse(recs[i].chain_validation
            ? recs[i].chain_validation : "continue");
        int rv = pki_revocation_parse(recs[i].revocation_check
            ? recs[i].revocation_check : "none");

        tps[i].name = recs[i].name;
        tps[i].chain_validation = cv < 0 ? PKI_CHAIN_CONTINUE : cv;
        tps[i].revocation = rv < 0 ? PKI_REV_NONE : rv;
        if (recs[i].cert_der != NULL && recs[i].cert_len > 0 &&
            (rc = pki_cert_from_der(recs[i].cert_der, recs[i].cert_len,
                 &certs[i], eb)) != 0) {
            char msg[sizeof(eb->msg)];

            if (eb != NULL) {
                snprintf(msg, sizeof(msg), "%s", eb->msg);
                err_set(eb, rc, "invalid_certificate",
                    "trustpoint %s holds a certificate that cannot be read: "
                    "%s", recs[i].name, msg);
            }
            goto out;
        }
        tps[i].cert = certs[i];
    }
    rc = pki_trust_new(tps, n, flags, out, eb);
out:
    for (size_t i = 0; certs != NULL && i < n; i++)
        pki_cert_free(certs[i]);
    free(certs);
    free(tps);
    eng_tp_recs_free(recs, n);
    return rc;
}

struct pki_trust *
eng_trustcache_get(struct eng_trustcache *tc, struct errbuf *eb)
{
    struct pki_trust *t = NULL;
    uint64_t          gen;

    if (tc == NULL) {
        err_set(eb, ERR_INTERNAL, "internal", "no trust cache");
        return NULL;
    }
    pthread_mutex_lock(&tc->mu);
    gen = tc->st ? eng_store_trust_generation(tc->st) : 0;
    if (tc->trust == NULL || gen != tc->gen) {
        struct pki_trust *nt = NULL;

        if (eng_trust_build(tc->st, &nt, eb) == 0) {
            pki_trust_unref(tc->trust);
            tc->trust = nt;
            tc->gen = gen;
            log_info("mail", "event=trust-rebuilt generation=%llu",
                (unsigned long long)gen);
        } else {
            /* keep no stale trust: a change was made that we cannot load */
            pki_trust_unref(tc->trust);
            tc->trust = NULL;
        }
    }
    if (tc->trust != NULL)
        t = pki_trust_ref(tc->trust);
    pthread_mutex_unlock(&tc->mu);
    return t;
}

/* ---- sending ----------------------------------------------------------- */

int
eng_mail_secure_parse(const char *s, const char *dflt, struct errbuf *eb)
{
    int v;

    if (s == NULL)
        s = dflt;
    if ((v = smtp_secure_parse(s)) < 0)
        return err_field(eb, ERR_INVAL, "secure", "invalid_field",
            "secure must be \"tls\" (STARTTLS), \"implicit\" (TLS from the "
            "first byte) or \"none\", not '%.32s'", s);
    return v;
}

static int
eng_mail_invalid(struct smtp_result *res, struct errbuf *eb, int rc)
{
    snprintf(res->klass, sizeof(res->klass), "invalid_request");
    res->rc = rc;
    res->permanent = 1;
    snprintf(res->message, sizeof(res->message), "%s", eb ? eb->msg : "");
    snprintf(res->advice, sizeof(res->advice), "Fix the %s field.",
        eb && eb->field[0] ? eb->field : "request");
    return rc;
}

/* The reason in IOS wording first, then herald's plain words. */
static const char *
eng_mail_ios_reason(const char *klass)
{
    if (strcmp(klass, "timeout") == 0)
        return "timeout error";
    if (strcmp(klass, "dns") == 0 || strcmp(klass, "connect") == 0)
        return "error in connecting to SMTP server";
    return "error in SMTP session";
}

static void
eng_mail_log_failure(const char *masked, const struct smtp_result *res,
    int insecure)
{
    log_ios(LOG_ERR, "%%HA_EM-3-FMPD_SMTP: Error occurred when sending mail "
        "to SMTP server: %s : %s (%s: %s)%s", masked,
        eng_mail_ios_reason(res->klass), res->klass, res->message,
        insecure ? " [certificate verification was OFF]" : "");
    log_err("mail", "event=send-failed server=%s reason=%s permanent=%d "
        "code=%d%s advice=\"%s\"", masked, res->klass, res->permanent,
        res->code, insecure ? " verify=OFF" : "", res->advice);
}

int
eng_mail_send(struct eng_trustcache *tc, const struct eng_mail_req *req,
    struct cJSON *trace, struct smtp_result *res, struct errbuf *eb)
{
    struct smtp_server  srv = { 0 };
    struct smtp_params  p = { 0 };
    struct smtp_message m = { 0 };
    struct smtp_client *c = NULL;
    struct pki_trust   *trust = NULL;
    struct sec         *pass = NULL;
    struct buf          msg = BUF_INIT;
    char              **to = NULL, **cc = NULL, **all = NULL, *masked = NULL;
    char              **fromv = NULL;
    size_t              nto = 0, ncc = 0, nfrom = 0;
    const char         *host, *user;
    int                 rc, secure, insecure = req->insecure_skip_verify;

    err_clear(eb);
    memset(res, 0, sizeof(*res));
    if (req->server != NULL && *req->server != '\0' &&
        (rc = smtp_server_parse(req->server, &srv, eb)) != 0)
        return eng_mail_invalid(res, eb, rc);
    host = req->host && *req->host ? req->host : srv.host;
    user = req->username && *req->username ? req->username : srv.user;
    if (host == NULL) {
        rc = err_field(eb, ERR_INVAL, "server", "missing_field",
            "no SMTP server given (server or host)");
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    if (strpbrk(host, "\r\n \t") != NULL ||
        (user != NULL && strpbrk(user, "\r\n") != NULL) ||
        (req->password != NULL && strpbrk(req->password, "\r\n") != NULL)) {
        rc = err_field(eb, ERR_INVAL, strpbrk(host, "\r\n \t") ? "host"
            : user && strpbrk(user, "\r\n") ? "username" : "password",
            "invalid_field", "CR, LF or space where none is allowed");
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    if (req->password != NULL && *req->password != '\0') {
        if ((pass = sec_new(req->password, strlen(req->password))) == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
    } else if (srv.pass != NULL && (pass = sec_dup(srv.pass)) == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    if ((secure = eng_mail_secure_parse(req->secure, "none", eb)) < 0) {
        rc = secure;
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    if (req->port > 65535) {
        rc = err_field(eb, ERR_INVAL, "port", "invalid_field",
            "port must be between 1 and 65535");
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    m.from = req->from;
    m.to = req->to;
    m.cc = req->cc;
    m.subject = req->subject ? req->subject : "";
    m.body = req->body ? req->body : "";
    if (req->from == NULL || *req->from == '\0') {
        rc = err_field(eb, ERR_INVAL, "from", "missing_field",
            "from is required");
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    if ((rc = smtp_message_build(&m, &msg, eb)) != 0) {
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    /* the builder checked them; parse again to get the RCPT list */
    if ((rc = smtp_addrs_parse(req->from, &fromv, &nfrom, eb)) != 0 ||
        (rc = smtp_addrs_parse(req->to, &to, &nto, eb)) != 0 ||
        (rc = smtp_addrs_parse(req->cc, &cc, &ncc, eb)) != 0) {
        eng_mail_invalid(res, eb, rc);
        goto out;
    }
    if ((all = calloc(nto + ncc, sizeof(*all))) == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    memcpy(all, to, nto * sizeof(*all));
    if (ncc > 0)
        memcpy(all + nto, cc, ncc * sizeof(*all));

    /* the masked server, rebuilt from the parts actually used */
    masked = redact_server_parts(user, pass != NULL, host,
        req->port ? req->port : srv.port ? srv.port : 25);
    if (secure != SMTP_SECURE_NONE) {
        struct errbuf teb = { 0 };

        trust = eng_trustcache_get(tc, &teb);
        if (trust == NULL && !insecure) {
            snprintf(res->klass, sizeof(res->klass), "certificate_untrusted");
            res->rc = rc = ERR_TLS;
            res->permanent = 1;
            snprintf(res->message, sizeof(res->message),
                "the trustpoints could not be loaded: %.700s", teb.msg);
            snprintf(res->advice, sizeof(res->advice), "Fix or remove the "
                "trustpoint named in the message (revocation-check must be "
                "none).");
            eng_mail_log_failure(masked ? masked : host, res, 0);
            goto out;
        }
    }
    if (trace != NULL) {
        cJSON_AddStringToObject(trace, "server", masked ? masked : host);
        cJSON_AddStringToObject(trace, "secure", smtp_secure_name(secure));
        if (insecure && secure != SMTP_SECURE_NONE)
            cJSON_AddStringToObject(trace, "verification", "OFF");
    }
    if (insecure && secure != SMTP_SECURE_NONE)
        log_warn("mail", "event=insecure server=%s verify=OFF note=\"TLS "
            "certificate verification is OFF for this send "
            "(insecure_skip_verify)\"", masked ? masked : host);
    p.host = host;
    p.port = req->port ? req->port : srv.port ? srv.port : 25;
    p.secure = secure;
    p.user = user;
    p.pass = pass;
    p.allow_plain_auth = req->allow_plain_auth;
    p.tls_name = req->tls_name && *req->tls_name ? req->tls_name : NULL;
    p.verify = insecure ? PKI_VERIFY_NONE : PKI_VERIFY_FULL;
    p.source_address = req->source_address && *req->source_address
        ? req->source_address : NULL;
    p.source_interface = req->source_interface && *req->source_interface
        ? req->source_interface : NULL;
    p.trust = trust;
    if ((rc = smtp_open(&p, &c, trace, res)) == 0)
        rc = smtp_send(c, fromv[0], all, nto + ncc,
            buf_str(&msg), msg.len, NULL, res);
    if (rc != 0)
        eng_mail_log_failure(masked ? masked : host, res,
            insecure && secure != SMTP_SECURE_NONE);
    else
        log_info("mail", "event=sent server=%s recipients=%zu%s",
            masked ? masked : host, nto + ncc,
            insecure && secure != SMTP_SECURE_NONE ? " verify=OFF" : "");
out:
    redact_json(trace);
    smtp_close(c);
    pki_trust_unref(trust);
    free(all);
    smtp_addrs_free(to, nto);
    smtp_addrs_free(cc, ncc);
    smtp_addrs_free(fromv, nfrom);
    free(masked);
    buf_free(&msg);
    sec_free(pass);
    smtp_server_clear(&srv);
    return rc;
}

/* ---- the chain probe ---------------------------------------------------- */

int
eng_mail_probe(struct eng_trustcache *tc, const struct eng_probe_req *req,
    struct cJSON **report, struct smtp_result *res, struct errbuf *eb)
{
    struct smtp_params p = { 0 };
    struct pki_trust  *trust = NULL;
    int                rc, secure;

    *report = NULL;
    memset(res, 0, sizeof(*res));
    if ((secure = eng_mail_secure_parse(req->secure, "tls", eb)) < 0)
        return secure;
    if (req->host == NULL || *req->host == '\0' ||
        strpbrk(req->host, "\r\n /") != NULL)
        return err_field(eb, ERR_INVAL, "host", "invalid_field",
            "host must be a host name or IP address");
    p.host = req->host;
    p.port = req->port ? req->port : secure == SMTP_SECURE_IMPLICIT ? 465
        : secure == SMTP_SECURE_TLS ? 587 : 25;
    p.secure = secure;
    p.tls_name = req->tls_name;
    p.verify = PKI_VERIFY_FULL;
    if ((trust = eng_trustcache_get(tc, eb)) == NULL)
        return eb != NULL && eb->code[0] ? ERR_UNSUPPORTED : ERR_INTERNAL;
    p.trust = trust;
    log_info("http", "event=probe host=%s port=%u secure=%s", p.host, p.port,
        smtp_secure_name(secure));
    if ((*report = smtp_probe(&p, res)) != NULL) {
        redact_json(*report);
        rc = 0;
    } else {
        err_set(eb, ERR_CONNECT, res->klass[0] ? res->klass : "connect",
            "%s", res->message[0] ? res->message
                                  : "the server could not be reached");
        rc = ERR_CONNECT;
    }
    pki_trust_unref(trust);
    return rc;
}
