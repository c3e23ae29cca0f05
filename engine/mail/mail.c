/* SPDX-License-Identifier: MIT */
/*
 * engine/mail/mail.c: the mail test and the chain probe (the server's one-off
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
#include "engine/mail/mail.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redact.h"
#include "common/sec.h"
#include "engine/oauth/oauth.h"
#include "engine/store/store.h"
#include "pki/pki.h"

struct eng_trustcache {
    pthread_mutex_t         mu;
    struct eng_store       *st;    /* borrowed */
    struct pki_trust       *trust; /* NULL until first built */
    uint64_t                gen;
    struct eng_oauth_cache *oauth; /* owned; the process's tokens */
};

/* The token cache's rotate callback: stores a refresh token the endpoint
 * rotated (the old one may no longer work). */
static void
mail_oauth_rotate(void *ctx, const char *name, const struct sec *rt)
{
    struct eng_trustcache *tc = ctx;
    struct errbuf          eb = { 0 };

    if (tc->st == NULL)
        return;
    if (eng_store_cred_rotate(tc->st, name, sec_data(rt), &eb) != 0)
        log_err("mail",
            "event=oauth-rotate-failed credential=%s error=\"%s\" "
            "note=\"the endpoint rotated the refresh token and herald could "
            "not store the new one; set it again with PUT "
            "/api/v1/credentials/%s\"",
            name, eb.msg, name);
    else
        log_info("mail", "event=oauth-refresh-token-rotated credential=%s",
            name);
}

int
eng_trustcache_new(struct eng_store *st, struct eng_trustcache **out,
    struct errbuf *eb)
{
    struct eng_trustcache *tc;

    *out = NULL;
    if ((tc = calloc(1, sizeof(*tc))) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    if (eng_oauth_cache_new(mail_oauth_rotate, tc, &tc->oauth) != 0) {
        free(tc);
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    }
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
    eng_oauth_cache_free(tc->oauth);
    pki_trust_unref(tc->trust);
    pthread_mutex_destroy(&tc->mu);
    free(tc);
}

struct eng_oauth_cache *
eng_trustcache_oauth(struct eng_trustcache *tc)
{
    return tc != NULL ? tc->oauth : NULL;
}

/* Builds a new pki_trust from the store's trustpoints and settings. */
static int
eng_trust_build(struct eng_store *st, struct pki_trust **out, struct errbuf *eb)
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
        if (eng_store_setting_get(st, "trustpool", &pool, NULL) == 0
            && pool != NULL && strcasecmp(pool, "on") == 0)
            flags |= PKI_TRUST_SYSTEM_POOL;
        free(pool);
    }
    if (n > 0
        && ((tps = calloc(n, sizeof(*tps))) == NULL
            || (certs = calloc(n, sizeof(*certs))) == NULL)) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int cv = pki_chain_validation_parse(
            recs[i].chain_validation ? recs[i].chain_validation : "continue");
        int rv = pki_revocation_parse(
            recs[i].revocation_check ? recs[i].revocation_check : "none");

        tps[i].name = recs[i].name;
        tps[i].chain_validation = cv < 0 ? PKI_CHAIN_CONTINUE : cv;
        tps[i].revocation = rv < 0 ? PKI_REV_NONE : rv;
        if (recs[i].cert_der != NULL && recs[i].cert_len > 0
            && (rc = pki_cert_from_der(recs[i].cert_der, recs[i].cert_len,
                    &certs[i], eb))
                != 0) {
            char msg[sizeof(eb->msg)];

            if (eb != NULL) {
                snprintf(msg, sizeof(msg), "%s", eb->msg);
                err_set(eb, rc, "invalid_certificate",
                    "trustpoint %s holds a certificate that cannot be read: "
                    "%s",
                    recs[i].name, msg);
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
            "first byte) or \"none\", not '%.32s'",
            s);
    return v;
}

/* Fills res for a request that was not sent because of rc (not 0) and
 * returns rc: ERR_NOMEM is an internal failure that a retry may not meet
 * (not permanent); any other rc is the request's own fault, invalid_request
 * and permanent, with eb's message and field (eb may be NULL). */
static int
mail_unsent(struct smtp_result *res, const struct errbuf *eb, int rc)
{
    memset(res, 0, sizeof(*res));
    res->rc = rc;
    if (rc == ERR_NOMEM) {
        snprintf(res->klass, sizeof(res->klass), "internal");
        snprintf(res->message, sizeof(res->message), "out of memory");
        return rc;
    }
    snprintf(res->klass, sizeof(res->klass), "invalid_request");
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
    log_ios(LOG_ERR,
        "%%HA_EM-3-FMPD_SMTP: Error occurred when sending mail "
        "to SMTP server: %s : %s (%s: %s)%s",
        masked, eng_mail_ios_reason(res->klass), res->klass, res->message,
        insecure ? " [certificate verification was OFF]" : "");
    log_err("mail",
        "event=send-failed server=%s reason=%s permanent=%d "
        "code=%d%s advice=\"%s\"",
        masked, res->klass, res->permanent, res->code,
        insecure ? " verify=OFF" : "", res->advice);
}

/* Where and as whom a mail test connects: the server string split, with
 * the separate fields overriding its parts. Strings borrowed from req or
 * owned by srv; masked is the server as logs and traces show it. */
struct mail_target {
    struct smtp_server srv;
    struct smtp_params p;
    struct sec        *pass;
    char              *masked;
};

static void
mail_target_clear(struct mail_target *t)
{
    free(t->masked);
    sec_free(t->pass);
    smtp_server_clear(&t->srv);
}

/* Errors: ERR_INVAL naming the field, ERR_NOMEM. */
static int
mail_target(const struct eng_mail_req *req, struct mail_target *t,
    struct errbuf *eb)
{
    struct smtp_params *p = &t->p;
    int                 rc;

    if (req->server != NULL && *req->server != '\0'
        && (rc = smtp_server_parse(req->server, &t->srv, eb)) != 0)
        return rc;
    p->host = req->host && *req->host ? req->host : t->srv.host;
    p->user = req->username && *req->username ? req->username : t->srv.user;
    if (p->host == NULL)
        return err_field(eb, ERR_INVAL, "server", "missing_field",
            "no SMTP server given (server or host)");
    if (strpbrk(p->host, "\r\n \t") != NULL
        || (p->user != NULL && strpbrk(p->user, "\r\n") != NULL)
        || (req->password != NULL && strpbrk(req->password, "\r\n") != NULL))
        return err_field(eb, ERR_INVAL,
            strpbrk(p->host, "\r\n \t")               ? "host"
                : p->user && strpbrk(p->user, "\r\n") ? "username"
                                                      : "password",
            "invalid_field", "CR, LF or space where none is allowed");
    if (req->password != NULL && *req->password != '\0') {
        if ((t->pass = sec_new(req->password, strlen(req->password))) == NULL)
            return ERR_NOMEM;
    } else if (t->srv.pass != NULL
        && (t->pass = sec_dup(t->srv.pass)) == NULL) {
        return ERR_NOMEM;
    }
    if ((p->secure = eng_mail_secure_parse(req->secure, "none", eb)) < 0)
        return p->secure;
    if (req->port > 65535)
        return err_field(eb, ERR_INVAL, "port", "invalid_field",
            "port must be between 1 and 65535");
    p->port = req->port ? req->port : t->srv.port ? t->srv.port : 25;
    p->pass = t->pass;
    p->allow_plain_auth = req->allow_plain_auth;
    p->tls_name = req->tls_name && *req->tls_name ? req->tls_name : NULL;
    p->verify = req->insecure_skip_verify ? PKI_VERIFY_NONE : PKI_VERIFY_FULL;
    p->source_address = req->source_address && *req->source_address
        ? req->source_address
        : NULL;
    p->source_interface = req->source_interface && *req->source_interface
        ? req->source_interface
        : NULL;
    return 0;
}

/* The message and its envelope. */
struct mail_msg {
    struct buf text;
    char     **from, **to, **cc, **rcpt; /* rcpt borrows to's and cc's */
    size_t     nfrom, nto, ncc;
};

static void
mail_msg_clear(struct mail_msg *m)
{
    free(m->rcpt);
    smtp_addrs_free(m->to, m->nto);
    smtp_addrs_free(m->cc, m->ncc);
    smtp_addrs_free(m->from, m->nfrom);
    buf_free(&m->text);
}

/* Errors: ERR_INVAL naming the field, ERR_NOMEM. */
static int
mail_msg(const struct eng_mail_req *req, struct mail_msg *mm, struct errbuf *eb)
{
    struct smtp_message m = { 0 };
    int                 rc;

    m.from = req->from;
    m.to = req->to;
    m.cc = req->cc;
    m.subject = req->subject ? req->subject : "";
    m.body = req->body ? req->body : "";
    if (req->from == NULL || *req->from == '\0')
        return err_field(eb, ERR_INVAL, "from", "missing_field",
            "from is required");
    if ((rc = smtp_message_build(&m, &mm->text, eb)) != 0)
        return rc;
    /* the builder checked them; parse again to get the RCPT list */
    if ((rc = smtp_addrs_parse(req->from, &mm->from, &mm->nfrom, eb)) != 0
        || (rc = smtp_addrs_parse(req->to, &mm->to, &mm->nto, eb)) != 0
        || (rc = smtp_addrs_parse(req->cc, &mm->cc, &mm->ncc, eb)) != 0)
        return rc;
    if ((mm->rcpt = calloc(mm->nto + mm->ncc, sizeof(*mm->rcpt))) == NULL)
        return ERR_NOMEM;
    memcpy(mm->rcpt, mm->to, mm->nto * sizeof(*mm->rcpt));
    if (mm->ncc > 0)
        memcpy(mm->rcpt + mm->nto, mm->cc, mm->ncc * sizeof(*mm->rcpt));
    return 0;
}

/* The trust for a TLS send: a reference in *out (NULL for plain SMTP, or
 * when verification is off and the trustpoints cannot be loaded). Fills
 * res when the trustpoints cannot be loaded. Errors: ERR_TLS. */
static int
mail_trust(struct eng_trustcache *tc, const struct mail_target *t, int insecure,
    struct pki_trust **out, struct smtp_result *res)
{
    struct errbuf teb = { 0 };

    *out = NULL;
    if (t->p.secure == SMTP_SECURE_NONE)
        return 0;
    if (tc != NULL && (*out = eng_trustcache_get(tc, &teb)) != NULL)
        return 0;
    if (insecure)
        return 0;
    snprintf(res->klass, sizeof(res->klass), "certificate_untrusted");
    res->rc = ERR_TLS;
    res->permanent = 1;
    snprintf(res->message, sizeof(res->message),
        "the trustpoints could not be loaded: %.700s",
        tc != NULL ? teb.msg : "no trust store");
    snprintf(res->advice, sizeof(res->advice),
        "Fix or remove the trustpoint "
        "named in the message (revocation-check must be none).");
    return ERR_TLS;
}

struct eng_mail_sess {
    struct mail_target  t;
    struct smtp_client *c;
    struct pki_trust   *trust;
    int                 insecure; /* TLS without verification */
    struct sec         *token;    /* the OAuth access token, or NULL */
};

/* A credential loaded for one session: the record and its secrets as
 * struct sec, and the view the token client takes. */
struct mail_cred {
    struct eng_cred_rec   rec;
    struct sec           *secret, *refresh;
    struct eng_oauth_cred oc;
    int                   mech; /* enum smtp_oauth_mech */
};

static void
mail_cred_clear(struct mail_cred *mc)
{
    sec_free(mc->secret);
    sec_free(mc->refresh);
    eng_cred_rec_clear(&mc->rec);
    memset(mc, 0, sizeof(*mc));
}

/* Loads credential name for the session's user. Errors: ERR_INVAL naming
 * the field (no such credential, a password given too, no user),
 * ERR_NOMEM, ERR_DB. */
static int
mail_cred_load(struct eng_trustcache *tc, const char *name,
    const struct mail_target *t, struct mail_cred *mc, struct errbuf *eb)
{
    struct errbuf geb = { 0 };
    int           rc;

    memset(mc, 0, sizeof(*mc));
    if (t->pass != NULL)
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "with credential %.64s the server is user@host without a "
            "password: the credential's access token replaces it",
            name);
    if (t->p.user == NULL || *t->p.user == '\0')
        return err_field(eb, ERR_INVAL, "server", "invalid_field",
            "with credential %.64s the server must name the mailbox to "
            "log in as: user@host",
            name);
    if (tc == NULL || tc->st == NULL || tc->oauth == NULL)
        return err_field(eb, ERR_INVAL, "credential", "invalid_field",
            "credential %.64s cannot be used here: no credential store", name);
    rc = eng_store_cred_get(tc->st, name, &mc->rec, &geb);
    if (rc == ERR_NOTFOUND)
        return err_field(eb, ERR_INVAL, "credential", "unknown_credential",
            "credential %.64s does not exist: create it with PUT "
            "/api/v1/credentials/%.64s",
            name, name);
    if (rc != 0) {
        if (eb != NULL)
            *eb = geb;
        return rc;
    }
    if ((mc->rec.client_secret != NULL
            && (mc->secret = sec_new(mc->rec.client_secret,
                    strlen(mc->rec.client_secret)))
                == NULL)
        || (mc->rec.refresh_token != NULL
            && (mc->refresh = sec_new(mc->rec.refresh_token,
                    strlen(mc->rec.refresh_token)))
                == NULL))
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    mc->oc.name = mc->rec.name;
    mc->oc.generation = mc->rec.generation;
    mc->oc.grant = eng_oauth_grant_parse(mc->rec.grant);
    mc->oc.token_url = mc->rec.token_url;
    mc->oc.client_id = mc->rec.client_id;
    mc->oc.client_secret = mc->secret;
    mc->oc.refresh_token = mc->refresh;
    mc->oc.scope = mc->rec.scope;
    mc->mech = smtp_oauth_mech_parse(mc->rec.mechanism);
    if (mc->mech <= 0)
        mc->mech = SMTP_OAUTH_XOAUTH2;
    return 0;
}

/* The token endpoint is always TLS: its trust, whatever the mail server's
 * secure mode. Fills res when the trustpoints cannot be loaded. */
static int
mail_oauth_trust(struct eng_trustcache *tc, struct pki_trust **out,
    struct smtp_result *res)
{
    struct errbuf teb = { 0 };

    if ((*out = eng_trustcache_get(tc, &teb)) != NULL)
        return 0;
    snprintf(res->klass, sizeof(res->klass), "certificate_untrusted");
    res->rc = ERR_TLS;
    res->permanent = 1;
    snprintf(res->message, sizeof(res->message),
        "the trustpoints could not be loaded to verify the token endpoint: "
        "%.680s",
        teb.msg);
    snprintf(res->advice, sizeof(res->advice),
        "Fix or remove the trustpoint "
        "named in the message (revocation-check must be none).");
    return ERR_TLS;
}

/* Before a second open: the refused attempt's dialogue is kept apart, the
 * rest of its trace goes (the second open writes it again). */
static void
mail_trace_retry(cJSON *trace)
{
    cJSON *d;

    if (trace == NULL)
        return;
    if ((d = cJSON_DetachItemFromObjectCaseSensitive(trace, "dialogue"))
        != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(trace, "refused_dialogue");
        cJSON_AddItemToObject(trace, "refused_dialogue", d);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(trace, "capabilities");
    cJSON_DeleteItemFromObjectCaseSensitive(trace, "tls");
}

/* Opens s's SMTP session with an access token of credential name: fetch
 * (or take the cached one), open; when the server refuses the token,
 * discard it, fetch once more and open once more. */
static int
mail_open_oauth(struct eng_trustcache *tc, struct eng_mail_sess *s,
    const char *name, cJSON *trace, struct smtp_result *res, struct errbuf *eb)
{
    struct mail_cred  mc;
    struct pki_trust *otrust = NULL;
    struct sec       *stale = NULL;
    int               rc;

    if ((rc = mail_cred_load(tc, name, &s->t, &mc, eb)) != 0) {
        if (rc == ERR_INVAL)
            mail_unsent(res, eb, rc);
        goto out;
    }
    if ((rc = mail_oauth_trust(tc, &otrust, res)) != 0)
        goto out;
    if ((rc = eng_oauth_token(tc->oauth, &mc.oc, otrust, NULL, &s->token, trace,
             res))
        != 0) {
        if (strcmp(res->klass, "invalid_request") == 0)
            err_field(eb, rc, "credential", "invalid_field", "%s",
                res->message);
        goto out;
    }
    s->t.p.oauth_token = s->token;
    s->t.p.oauth_mech = mc.mech;
    if ((rc = smtp_open(&s->t.p, &s->c, trace, res)) == 0
        || !res->token_refused)
        goto out;
    /* refused: one fresh token (shared with every sender that holds the
     * same stale one), one more try */
    log_info("mail",
        "event=oauth-token-refused credential=%s note=\"fetching "
        "a new token and trying once more\"",
        name);
    smtp_close(s->c);
    s->c = NULL;
    stale = s->token;
    s->token = NULL;
    s->t.p.oauth_token = NULL;
    mail_trace_retry(trace);
    memset(res, 0, sizeof(*res));
    if ((rc = eng_oauth_token(tc->oauth, &mc.oc, otrust, stale, &s->token,
             trace, res))
        != 0)
        goto out;
    s->t.p.oauth_token = s->token;
    rc = smtp_open(&s->t.p, &s->c, trace, res);
out:
    sec_free(stale);
    pki_trust_unref(otrust);
    mail_cred_clear(&mc);
    return rc;
}

/* The server as logs and traces show it. */
static const char *
mail_shown(const struct eng_mail_sess *s)
{
    return s->t.masked ? s->t.masked : s->t.p.host ? s->t.p.host : "";
}

int
eng_mail_open(struct eng_trustcache *tc, const struct eng_mail_req *req,
    struct eng_mail_sess **out, struct cJSON *trace, struct smtp_result *res,
    struct errbuf *eb)
{
    struct eng_mail_sess *s;
    struct errbuf         leb;
    int                   rc;

    if (eb == NULL)
        eb = &leb;
    err_clear(eb);
    memset(res, 0, sizeof(*res));
    *out = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return mail_unsent(res, NULL, ERR_NOMEM);
    if ((rc = mail_target(req, &s->t, eb)) != 0) {
        mail_unsent(res, eb, rc);
        goto fail;
    }
    s->insecure =
        req->insecure_skip_verify && s->t.p.secure != SMTP_SECURE_NONE;
    /* the masked server, rebuilt from the parts actually used */
    s->t.masked = redact_server_parts(s->t.p.user, s->t.pass != NULL,
        s->t.p.host, s->t.p.port);
    if (trace != NULL) {
        cJSON_AddStringToObject(trace, "server", mail_shown(s));
        cJSON_AddStringToObject(trace, "secure",
            smtp_secure_name(s->t.p.secure));
        if (s->insecure)
            cJSON_AddStringToObject(trace, "verification", "OFF");
    }
    if ((rc = mail_trust(tc, &s->t, req->insecure_skip_verify, &s->trust, res))
        != 0)
        goto fail;
    if (s->insecure)
        log_warn("mail",
            "event=insecure server=%s verify=OFF note=\"TLS "
            "certificate verification is OFF for this session "
            "(insecure_skip_verify)\"",
            mail_shown(s));
    s->t.p.trust = s->trust;
    if (req->credential != NULL && *req->credential != '\0') {
        if ((rc = mail_open_oauth(tc, s, req->credential, trace, res, eb)) != 0)
            goto fail;
    } else if ((rc = smtp_open(&s->t.p, &s->c, trace, res)) != 0) {
        goto fail;
    }
    redact_json(trace);
    *out = s;
    return 0;
fail:
    if (res->rc == 0)
        res->rc = rc;
    if (res->klass[0] == '\0')
        snprintf(res->klass, sizeof(res->klass), "connect");
    if (res->message[0] == '\0')
        snprintf(res->message, sizeof(res->message),
            "cannot open the SMTP session (%s)", err_name(rc));
    redact_json(trace);
    eng_mail_close(s);
    return rc;
}

int
eng_mail_deliver(struct eng_mail_sess *s, const struct eng_mail_req *req,
    struct cJSON *trace, struct smtp_result *res, struct errbuf *eb)
{
    struct mail_msg mm = { .text = BUF_INIT };
    struct errbuf   leb;
    int             rc;

    if (eb == NULL)
        eb = &leb;
    err_clear(eb);
    memset(res, 0, sizeof(*res));
    if ((rc = mail_msg(req, &mm, eb)) != 0) {
        mail_unsent(res, eb, rc);
        goto out;
    }
    rc = smtp_send(s->c, mm.from[0], mm.rcpt, mm.nto + mm.ncc,
        buf_str(&mm.text), mm.text.len, trace, res);
out:
    redact_json(trace);
    mail_msg_clear(&mm);
    return rc;
}

/* eng_mail_deliver_batch's arrays share one allocation, in this order: a
 * start aligned for the first serves the others. */
_Static_assert(_Alignof(struct mail_msg) <= _Alignof(struct smtp_batch_msg)
        && _Alignof(struct smtp_result) <= _Alignof(struct mail_msg),
    "the batch arrays are not in decreasing order of alignment");

size_t
eng_mail_deliver_batch(struct eng_mail_sess *s,
    const struct eng_mail_req *const *reqs, size_t n,
    struct cJSON *const *traces, struct smtp_result *res)
{
    const size_t each = sizeof(struct smtp_batch_msg) + sizeof(struct mail_msg)
        + sizeof(struct smtp_result);
    struct smtp_batch_msg *bm = NULL; /* the requests built, in order */
    struct mail_msg       *mm = NULL; /* each request's message */
    struct smtp_result    *br = NULL; /* bm's results */
    size_t                 i, j, k = 0, done, tried = n;

    if (n == 0)
        return 0;
    if ((bm = calloc(n, each)) != NULL) {
        mm = (struct mail_msg *)(bm + n);
        br = (struct smtp_result *)(mm + n);
    }
    /* the requests that can be built go to the SMTP client together; the
     * others (all of them when out of memory) get their result here */
    for (i = 0; i < n; i++) {
        struct errbuf eb;
        int           rc = ERR_NOMEM;

        err_clear(&eb);
        if (mm != NULL) {
            mm[i].text = (struct buf)BUF_INIT;
            rc = mail_msg(reqs[i], &mm[i], &eb);
        }
        if (rc != 0) {
            mail_unsent(&res[i], &eb, rc);
            continue;
        }
        memset(&res[i], 0, sizeof(res[i]));
        bm[k].from = mm[i].from[0];
        bm[k].rcpts = mm[i].rcpt;
        bm[k].nrcpts = mm[i].nto + mm[i].ncc;
        bm[k].msg = buf_str(&mm[i].text);
        bm[k].len = mm[i].text.len;
        bm[k].trace = traces != NULL ? traces[i] : NULL;
        k++;
    }
    if (bm != NULL) {
        done = smtp_send_batch(s->c, bm, k, br);
        /* each result to its request (those built have rc 0 so far); the
         * count dealt with ends at the first one not sent, as a prefix: a
         * request after it that cannot be built is left out too */
        for (i = 0, j = 0; i < n && j < k; i++) {
            if (res[i].rc != 0)
                continue;
            if (j == done)
                tried = i;
            res[i] = br[j++];
        }
    } else {
        tried = 0; /* out of memory: none was tried, each result says so */
    }
    for (i = 0; i < n; i++) {
        if (traces != NULL)
            redact_json(traces[i]);
        if (mm != NULL)
            mail_msg_clear(&mm[i]);
    }
    free(bm);
    return tried;
}

int
eng_mail_usable(const struct eng_mail_sess *s)
{
    return s != NULL && s->c != NULL && smtp_usable(s->c);
}

void
eng_mail_close(struct eng_mail_sess *s)
{
    if (s == NULL)
        return;
    smtp_close(s->c);
    pki_trust_unref(s->trust);
    sec_free(s->token);
    mail_target_clear(&s->t);
    free(s);
}

int
eng_mail_send(struct eng_trustcache *tc, const struct eng_mail_req *req,
    struct cJSON *trace, struct smtp_result *res, struct errbuf *eb)
{
    struct eng_mail_sess *s = NULL;
    struct mail_msg       mm = { .text = BUF_INIT };
    char                 *shown = NULL;
    int                   rc, insecure = 0;

    /* a message that cannot be built is refused before any connection */
    memset(res, 0, sizeof(*res));
    err_clear(eb);
    rc = mail_msg(req, &mm, eb);
    mail_msg_clear(&mm);
    if (rc != 0)
        return rc == ERR_NOMEM ? rc : mail_unsent(res, eb, rc);
    if ((rc = eng_mail_open(tc, req, &s, trace, res, eb)) == 0) {
        insecure = s->insecure;
        rc = eng_mail_deliver(s, req, trace, res, eb);
    }
    if (rc != ERR_INVAL && rc != ERR_NOMEM) {
        /* the server as the session showed it, or as the request gave it */
        shown = s != NULL
            ? strdup(mail_shown(s))
            : redact_server(req->server ? req->server : req->host);
        metrics_delivery("mail_test", rc == 0 ? "sent" : "failed",
            rc == 0 ? NULL : res->klass);
        if (rc != 0)
            eng_mail_log_failure(shown ? shown : "", res, insecure);
        else
            log_info("mail", "event=sent server=%s%s", shown ? shown : "",
                insecure ? " verify=OFF" : "");
    }
    free(shown);
    eng_mail_close(s);
    return rc;
}

/* ---- the chain probe ---------------------------------------------------- */

#define MAIL_PROBE_REPLY_MS 10000

/* Counts a probe by its outcome: "sent" when the server was reached and
 * its chain verified, else "failed" with the class, the verdict's (e.g.
 * hostname_mismatch) when it was reached, as the mail test and the outbox
 * count the same failure. */
static void
mail_probe_count(int rc, const cJSON *report, const struct smtp_result *res)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(report, "verdict");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(v, "code");

    if (rc != 0)
        metrics_delivery("probe", "failed", res->klass);
    else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "ok")))
        metrics_delivery("probe", "sent", NULL);
    else
        metrics_delivery("probe", "failed",
            cJSON_IsString(code) && *code->valuestring ? code->valuestring
                                                       : "unknown");
}

/* A STARTTLS probe that got no greeting most likely reached a port that
 * speaks TLS from the first byte (it waits for our ClientHello while we
 * wait for its 220): say so, and what to use. */
static void
mail_probe_hint(int secure, unsigned port, struct smtp_result *res)
{
    if (secure == SMTP_SECURE_IMPLICIT || strcmp(res->klass, "timeout") != 0
        || strstr(res->message, "GREETING") == NULL)
        return;
    snprintf(res->advice, sizeof(res->advice),
        "No SMTP greeting within %d "
        "s: port %u seems to speak implicit TLS (TLS from the first byte%s). "
        "Probe it, and send to it, with secure implicit",
        MAIL_PROBE_REPLY_MS / 1000, port,
        port == 465 ? ", as port 465 does" : "");
}

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
    if (req->host == NULL || *req->host == '\0'
        || strpbrk(req->host, "\r\n /") != NULL)
        return err_field(eb, ERR_INVAL, "host", "invalid_field",
            "host must be a host name or IP address");
    p.host = req->host;
    p.port = req->port                   ? req->port
        : secure == SMTP_SECURE_IMPLICIT ? 465
        : secure == SMTP_SECURE_TLS      ? 587
                                         : 25;
    p.secure = secure;
    p.tls_name = req->tls_name;
    p.verify = PKI_VERIFY_FULL;
    /* a probe is interactive: a greeting later than this is news too */
    p.reply_timeout_ms = MAIL_PROBE_REPLY_MS;
    if ((trust = eng_trustcache_get(tc, eb)) == NULL)
        return eb != NULL && eb->code[0] ? ERR_UNSUPPORTED : ERR_INTERNAL;
    p.trust = trust;
    log_info("http", "event=probe host=%s port=%u secure=%s", p.host, p.port,
        smtp_secure_name(secure));
    if ((*report = smtp_probe(&p, res)) != NULL) {
        redact_json(*report);
        rc = 0;
    } else {
        mail_probe_hint(secure, p.port, res);
        err_set(eb, ERR_CONNECT, res->klass[0] ? res->klass : "connect",
            "%s%s%s",
            res->message[0] ? res->message : "the server could not be reached",
            res->advice[0] ? ". " : "", res->advice);
        rc = ERR_CONNECT;
    }
    mail_probe_count(rc, *report, res);
    pki_trust_unref(trust);
    return rc;
}
