/* SPDX-License-Identifier: MIT */
/*
 * engine/outbox/outbox.h: the durable mail queue. A message is committed
 * to the store before a run goes on (eng_outbox_put), then sender threads
 * deliver it through a transport, grouped into one SMTP session per
 * server and account, with exponential backoff until it is sent or its
 * lifetime ends (dead letter). Every attempt is recorded with its result
 * and trace (the session's open when the attempt opened it, then the
 * transaction; secrets redacted by the SMTP client). Rows live in the
 * store (engine/store/sqlite_outbox.c, pg_outbox.c); the decisions (states, retry times,
 * what a sent message keeps, which failures will not heal by themselves)
 * are made here.
 */
#ifndef HERALD_ENGINE_OUTBOX_H
#define HERALD_ENGINE_OUTBOX_H

#include <stddef.h>

#include "common/err.h"

struct cJSON;
struct eng_mail_req;
struct eng_store;
struct smtp_result;

/* How a message is actually sent; the default (runtime.c) uses smtp.h,
 * tests use fakes. sess is the transport's session handle. */
struct eng_outbox_transport {
    int (*open)(void *ud, const struct eng_mail_req *req, void **sess,
        struct cJSON *trace, struct smtp_result *res);
    int (*send)(void *ud, void *sess, const struct eng_mail_req *req,
        struct cJSON *trace, struct smtp_result *res);
    int (*usable)(void *ud, void *sess);
    void (*close)(void *ud, void *sess);
    void *ud;
    /* The server string ("user:password@host") that source (a request's
     * server_source) gives in the current environment, as a new string
     * in *server; NULL: a message that lost its password cannot be re-sent.
     * Errors: ERR_EXISTS with eb saying why (source not from the
     * environment), ERR_NOMEM. */
    int (*credentials)(void *ud, const char *source, char **server,
        struct errbuf *eb);
    /* Optional (NULL: send for each message). Sends n messages of one
     * destination over sess, in order, as n sends would (res[i] and
     * traces[i] are message i's), in fewer round trips. Returns how many
     * were dealt with, res filled: n, unless sess broke (usable() is then
     * 0); the messages from the returned index on were not sent. */
    size_t (*send_batch)(void *ud, void *sess,
        const struct eng_mail_req *const *reqs, size_t n,
        struct cJSON *const *traces, struct smtp_result *res);
};
struct eng_outbox_opts {
    double   lifetime;      /* seconds until dead-letter */
    double   base_delay;    /* first retry delay, seconds (30) */
    double   max_delay;     /* cap (3600) */
    double   idle_close;    /* idle session close, seconds (10) */
    unsigned senders;       /* delivery threads at most; they start
                             * as mail comes and end when idle */
    unsigned dest_sessions; /* senders one destination (server and
                                  * account) may occupy at once; 0:
                                  * senders / 2, at least 1 */
};
struct eng_outbox;
int eng_outbox_new(struct eng_store *db, const struct eng_outbox_transport *t,
    const struct eng_outbox_opts *o, struct eng_outbox **out,
    struct errbuf *eb);
/* Resumes: messages left "sending" by a crash go back to "queued".
 * Readies the sender threads (o->senders may be 0 for tests), and starts
 * one if mail is due; puts and eng_outbox_tick start them later. */
int  eng_outbox_start(struct eng_outbox *ob, struct errbuf *eb);
void eng_outbox_free(struct eng_outbox *ob); /* stops the senders */
/* Commits the message (synchronous=FULL) and wakes a sender. With hold
 * the message is stored already claimed ("sending") for the caller's
 * eng_outbox_deliver_now, so no sender races it (a crash before that
 * attempt leaves it to the resume on start). */
int eng_outbox_put(struct eng_outbox *ob, long long run_id, const char *applet,
    const struct eng_mail_req *req, int hold, long long *id, struct errbuf *eb);
/* Makes one delivery attempt of message id, held by eng_outbox_put (or
 * claimed now if queued), on the calling thread; res holds the outcome
 * and trace (may be NULL) gets the attempt's trace, which is also stored
 * with the attempt. Returns 0 if sent. */
int eng_outbox_deliver_now(struct eng_outbox *ob, long long id,
    struct cJSON *trace, struct smtp_result *res);
/* Attempts every message due at now_ms on the calling thread, grouped
 * into sessions per server. Returns the number of attempts. */
int eng_outbox_run_due(struct eng_outbox *ob, long long now_ms);
/* Retry delay (seconds) before attempt number `attempt` + 1, for
 * attempt >= 1: base * 2^(attempt-1), capped at max, then scaled by
 * jitter01 in [0,1) into [0.8, 1.2) of that value. */
double eng_outbox_backoff(unsigned attempt, double base, double max,
    double jitter01);
int    eng_outbox_list(struct eng_outbox *ob, const char *state,
       struct cJSON **out, struct errbuf *eb);
/* Message id as a new Message (eng_outbox_list's fields) whose
 * "attempts" is the list of kept attempts, oldest first (the first and the
 * last ENG_OB_ATTEMPTS_LAST): [{n, at, ok, result: {klass|null, code,
 * message, advice|null, permanent}, trace|null}], with "attempt_count"
 * (attempts made) and "failed" (see eng_outbox_delivery). The password is
 * never in it. Errors: ERR_NOTFOUND, ERR_DB, ERR_NOMEM. */
int eng_outbox_get(struct eng_outbox *ob, long long id, struct cJSON **out,
    struct errbuf *eb);
/* Message id's fate, read live, as a new {outbox_id, state: queued |
 * sending | sent | retrying (queued after a failed attempt) | dead,
 * attempts, last_error: {klass, message, advice|null, permanent}|null,
 * failed, trace: the latest attempt's|null}. failed is 1 for a dead
 * message and for one retried after a failure that does not heal by
 * itself: permanent, a certificate, host name or TLS failure (certificate_
 * untrusted, certificate_expired, hostname_mismatch, starttls_unavailable,
 * tls_*) or a refused login (auth_failed, auth_unavailable); a resend
 * clears it. Errors: ERR_NOTFOUND, ERR_DB, ERR_NOMEM. */
int eng_outbox_delivery(struct eng_outbox *ob, long long id, struct cJSON **out,
    struct errbuf *eb);
/* Queues a dead or queued message again. A message that lost its password
 * (sent or dead rows keep none) takes the credentials again from the
 * current environment through t->credentials; *renewed (may be NULL) then
 * says so. Errors: ERR_NOTFOUND, ERR_INVAL (not dead or queued),
 * ERR_EXISTS (the credentials cannot be taken again), ERR_DB. */
int eng_outbox_resend(struct eng_outbox *ob, long long id, int *renewed,
    struct errbuf *eb);
/* Reads one message's state and attempts (for tests and traces). */
int eng_outbox_state(struct eng_outbox *ob, long long id, char *state, size_t n,
    unsigned *attempts, long long *next_ms);
void eng_outbox_counts(struct eng_outbox *ob, long long *sent,
    long long *deferred, long long *dead, long long *queued);
/* Sender threads running now: 0 from eng_outbox_start on (1 if mail was
 * due then), up to o->senders while mail comes faster than they send;
 * one that had nothing to do for idle_close seconds and sees no retry due
 * within idle_close ends, the last one too: 0 when idle. */
unsigned eng_outbox_senders(struct eng_outbox *ob);
/* Once a second (eng_runtime_tick): with no sender live, joins the last
 * one to end and starts one if a message is due at now_ms (a retry whose
 * time came, mail another instance queued, a start that failed). Takes
 * the outbox's lock and asks the store; NULL is a no-op. */
void eng_outbox_tick(struct eng_outbox *ob, long long now_ms);

#endif
