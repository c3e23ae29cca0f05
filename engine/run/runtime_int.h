/* SPDX-License-Identifier: MIT */
/*
 * engine/run/runtime_int.h: the runtime's internal pieces, shared between its
 * files (runtime.c, pool.c, trigger_*.c, hook_auth.c, outbox.c)
 * and their unit tests. Not for use outside engine/.
 */
#ifndef HERALD_ENGINE_RUNTIME_INT_H
#define HERALD_ENGINE_RUNTIME_INT_H

#include <pthread.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/clock.h" /* clock_now_ms, clock_mono, clock_time_fmt */
#include "engine/run/interp.h"
#include "engine/outbox/outbox.h"
#include "engine/store/store.h"

struct cJSON;
struct eng_mail_req;
struct eng_trigger_drops; /* runtime.h */
struct smtp_result;

/* ---- pool.c: worker threads over a bounded FIFO ------------------------ */

struct eng_pool;
/* Up to workers threads: none from the start, more while jobs queue up;
 * a worker ends after 10 s without a job, the last one too (an idle pool
 * has no thread).
 * Errors: ERR_INVAL (0 workers or queue size), ERR_NOMEM. */
int eng_pool_new(unsigned workers, unsigned qsize, struct eng_pool **out,
    struct errbuf *eb);
/* How long a worker waits for a job before it ends (10 s; tests shorten
 * it). */
void eng_pool_idle_exit(struct eng_pool *p, double seconds);
/* Worker threads running now (0 .. workers). */
unsigned eng_pool_workers(struct eng_pool *p);
/* Once a second (eng_runtime_tick): joins workers that ended, so that the
 * last one's stack goes back although no worker is left to join it, and
 * starts one if jobs wait with none running (its start failed when they
 * were queued). */
void eng_pool_tick(struct eng_pool *p);
/* Queues run(arg). drop(arg), if not NULL, is called instead of run for a
 * job discarded by eng_pool_drain. Returns 0, or ERR_BUSY when the queue
 * is full or the pool is draining (arg is then still the caller's). */
int eng_pool_submit(struct eng_pool *p, void (*run)(void *arg),
    void (*drop)(void *arg), void *arg);
/* Stops accepting jobs, waits up to timeout_s for the queue to empty and
 * the workers to go idle, then drops what is still queued. Returns the
 * number of jobs dropped plus those still running. */
int eng_pool_drain(struct eng_pool *p, double timeout_s);
/* Joins the workers (they finish their current job first). NULL: no-op. */
void eng_pool_free(struct eng_pool *p);
void eng_pool_counts(struct eng_pool *p, unsigned *depth, unsigned *running);

/* ---- commit.c: acknowledgements that wait for the disk ----------------- */

/*
 * A trigger is acknowledged once its queued run is on disk. A caller that
 * may not block for that (an HTTP thread: its other connections would wait
 * too) hands the run to the committer instead: one thread that syncs the
 * store once for every item queued meanwhile, then completes each in the
 * order they came. The thread is elastic like the pool's workers: started
 * by the first item, ended after 10 s without one (an idle committer has
 * no thread). Not for a caller that must see its run on disk itself:
 * eng_store_durable is for that.
 */
struct rt_commit_item {
    struct rt_commit_item *next; /* the committer's */
    long long              seq;  /* eng_store_mark after the item's commit */
    /* Called once: rc 0 (on disk up to seq) or the sync's error (eb). On
     * the committer's thread; on the caller's (from rt_committer_add) when
     * no thread could be started. */
    void (*done)(struct rt_commit_item *it, int rc, const struct errbuf *eb);
};

struct rt_committer;
/* Errors: ERR_NOMEM. st is borrowed: it must outlive the committer. */
int rt_committer_new(struct eng_store *st, struct rt_committer **out,
    struct errbuf *eb);
/* Queues it (the caller's until it->done is called; it->seq set). */
void rt_committer_add(struct rt_committer *c, struct rt_commit_item *it);
/* Waits until every item added before the call is done. NULL: no-op. */
void rt_committer_flush(struct rt_committer *c);
/* Once a second: joins the thread once it ended (its stack goes back).
 * NULL: no-op. */
void rt_committer_tick(struct rt_committer *c);
/* How long the thread waits for an item before it ends (tests shorten
 * it). */
void rt_committer_idle_exit(struct rt_committer *c, double seconds);
/* 1 while the committer's thread runs. */
int rt_committer_live(struct rt_committer *c);
/* Completes what is queued and joins the thread; no add may follow.
 * NULL: no-op. */
void rt_committer_free(struct rt_committer *c);

#include "engine/lang/cron.h" /* struct eng_cron, eng_cron_parse/_next */

/* ---- trigger_timer.c: watchdog, countdown, absolute, cron -------------- */

struct eng_timer_def { /* plain data, copied by eng_timers_set */
    const char *applet;
    size_t      event; /* index of the event in the applet */
    int         type;  /* ENG_EV_TIMER_* */
    double      time;  /* seconds (watchdog/countdown) or epoch */
    const char *cron_entry;
    const char *identity; /* applet text: unchanged -> keep state */
};
struct eng_timer_fire { /* passed to the fire callback */
    const char *applet;
    size_t      event;
    int         type;
    time_t      when;   /* scheduled time */
    double      remain; /* seconds to the next fire, 0 if none */
};
struct eng_timers;
/* No thread runs until there is a timer or a kick. */
int eng_timers_new(void (*fire)(void *ud, const struct eng_timer_fire *f),
    void (*kicked)(void *ud), void *ud, struct eng_timers **out,
    struct errbuf *eb);
/* Replaces the registrations. A definition whose applet, event and
 * identity are unchanged keeps its schedule (a countdown is not restarted).
 * Errors: ERR_INVAL (bad cron entry; eb names the applet), ERR_NOMEM. */
int  eng_timers_set(struct eng_timers *t, const struct eng_timer_def *d,
     size_t n, struct errbuf *eb);
void eng_timers_free(struct eng_timers *t); /* stops the thread */
/* Makes the thread call the kicked callback now, starting it if it had
 * ended (thread-safe, no I/O). */
void eng_timers_kick(struct eng_timers *t);
/* Joins the thread if it ended for want of timers and kicks, so that its
 * stack goes back now, and starts it if there is work for it but it could
 * not be started (eng_runtime_tick, once a second). */
void eng_timers_reap(struct eng_timers *t);
/* First fire time of a definition registered at `now` (epoch seconds);
 * -1 when it never fires (absolute time in the past). */
time_t eng_timer_first(const struct eng_timer_def *d,
    const struct eng_cron *cron, time_t now);

/* ---- trigger_syslog.c: RFC 3164/5424/Cisco parser, framing, listener -- */

struct eng_syslog_msg {
    int  pri;           /* facility * 8 + severity */
    int  facility;      /* PRI / 8 */
    int  severity;      /* PRI % 8: 0 emergencies .. 7 debugging */
    int  version;       /* 0: RFC 3164, 1: RFC 5424 */
    char timestamp[64]; /* as sent ("*Dec  2 10:00:00.123" with
                                    its '*' or '.'), or "" */
    char host[256];     /* HOSTNAME field, or "" */
    char app[64];
    char procid[132];
    char msgid[36];
    /* a Cisco "%FAC[-SUBFAC]-SEV-MNEMONIC: text" message (cisco = 1) */
    int         cisco;
    char        seq[24];          /* "45" of "45: ", or "" */
    char        cfacility[64];    /* "LINK" */
    char        csubfacility[64]; /* "" when none */
    char        mnemonic[64];     /* "UPDOWN" */
    int         csev;             /* its SEV 0..7 (routers send PRI's) */
    char        source_ip[48];    /* sender (set by the listener), or "" */
    const char *msg;              /* borrowed from the input; not NUL-ended;
                                    a Cisco line's starts at its '%' */
    size_t      msg_len;
};
/* Parses one message: RFC 5424, RFC 3164, or Cisco IOS's remote format
 * "<PRI>[SEQ: ][HOST: ][*|.]TIMESTAMP: %FAC[-SUB]-SEV-MNEMONIC: text"
 * (also after an RFC 3164 or 5424 header). Errors: ERR_INVAL with a
 * message naming what is wrong ("missing <PRI>", "PRI 999 out of range",
 * ...). */
int eng_syslog_parse(const char *p, size_t len, struct eng_syslog_msg *out,
    struct errbuf *eb);
/* Level name (emergencies alerts critical errors warnings notifications
 * informational debugging, or emerg alert crit err warning notice info
 * debug, or a digit) -> 0..7; "all" -> 7; -1 if unknown. */
int eng_syslog_severity_parse(const char *s);
/* TCP framing (RFC 6587): octet counting ("LEN SP MSG") when the data
 * starts with a digit, else newline (LF, optional CR) termination. Returns
 * 1 with *off and *flen the frame and *used the bytes consumed, 0 if more data
 * is needed, ERR_PROTO for an impossible length. */
int eng_syslog_frame(const char *p, size_t len, size_t *off, size_t *flen,
    size_t *used, struct errbuf *eb);

/* One "event syslog pattern" registration: regex, occurs within period,
 * priority filter. */
struct eng_syslog_match {
    regex_t  re;
    int      re_ok;
    unsigned occurs;       /* >= 1 */
    double   period;       /* seconds, 0 = no window */
    int      max_severity; /* match severity <= this; 7 = any */
    double  *hits;         /* ring of match times */
    size_t   nhits;
};
int eng_syslog_match_init(struct eng_syslog_match *m, const char *pattern,
    unsigned occurs, double period, const char *priority, struct errbuf *eb);
/* 1 when this message completes the occurs/period condition (the window is
 * then reset), else 0. */
int  eng_syslog_match_feed(struct eng_syslog_match *m,
     const struct eng_syslog_msg *msg, double now);
void eng_syslog_match_free(struct eng_syslog_match *m);

struct eng_syslog_listener;
/* Listens on addr ("127.0.0.1:PORT", "[::1]:PORT"; PORT 0 picks one) for
 * UDP and TCP. on_msg runs on the listener thread for each parsed
 * message, with m->source_ip the sender's address (the datagram's, or the
 * TCP peer's; an IPv4-mapped IPv6 address as plain IPv4). Errors: ERR_INVAL (bad address), ERR_IO (bind/listen). */
int      eng_syslog_listen(const char *addr,
         void (*on_msg)(void *ud, const struct eng_syslog_msg *m), void *ud,
         struct eng_syslog_listener **out, struct errbuf *eb);
unsigned eng_syslog_port(const struct eng_syslog_listener *l);
void eng_syslog_counts(const struct eng_syslog_listener *l, long long *received,
    long long *rejected);
void eng_syslog_stop(struct eng_syslog_listener *l); /* NULL: no-op */

/* ---- trigger_bound.c: queued runs per applet, dropped triggers -------- */

/* Every queued (not yet started) run holds a slot of its applet; syslog
 * and timer triggers find no slot when the applet already has `bound`
 * runs queued and are dropped without a run record. Drops are counted per
 * applet and in total, and reported (for the log) at most once per
 * interval per applet. Thread-safe. */
enum {
    ENG_DROP_NONE = -1,
    ENG_DROP_SYSLOG = 0,
    ENG_DROP_TIMER,
    ENG_DROP_APPLICATION,
    ENG_DROP_NSRC
};
enum { ENG_DROP_QUEUE_FULL = 0, ENG_DROP_RATELIMIT, ENG_DROP_NWHY };

struct eng_drop_report { /* one log line's worth */
    int       due;       /* 0: nothing to report */
    char      applet[128];
    long long n[ENG_DROP_NSRC][ENG_DROP_NWHY]; /* drops in the window */
    double    seconds;       /* from the window's first drop to now */
    unsigned  queued, bound; /* the applet's queued runs now */
};

struct eng_tbound;
/* interval_s: the least time between two reports of one applet. Errors:
 * ERR_INVAL (bound 0), ERR_NOMEM. */
int  eng_tbound_new(unsigned bound, double interval_s, long long now_ms,
     struct eng_tbound **out, struct errbuf *eb);
void eng_tbound_free(struct eng_tbound *tb); /* NULL: no-op */
/* Takes a queue slot for one run of applet. src ENG_DROP_NONE (a manual,
 * webhook or policy run, a run re-queued at start) always gets it;
 * ENG_DROP_SYSLOG and ENG_DROP_TIMER do not when `bound` runs of the
 * applet are queued: the drop is counted as ENG_DROP_QUEUE_FULL. Returns
 * 1 (taken: give it back with eng_tbound_give when the run starts or is
 * not queued after all), 0 (dropped) or ERR_NOMEM (nothing counted).
 * rep->due says that a report of the applet's drops is due. */
int  eng_tbound_take(struct eng_tbound *tb, const char *applet, int src,
     long long now_ms, struct eng_drop_report *rep);
void eng_tbound_give(struct eng_tbound *tb, const char *applet);
/* Counts a trigger dropped for another reason (why: ENG_DROP_RATELIMIT). */
void eng_tbound_drop(struct eng_tbound *tb, const char *applet, int src,
    int why, long long now_ms, struct eng_drop_report *rep);
/* Fills reps (at most max) for the applets whose drops were not reported
 * and whose last report is an interval old; returns how many. */
size_t eng_tbound_flush(struct eng_tbound *tb, long long now_ms,
    struct eng_drop_report *reps, size_t max);
/* The counts of applet, or the totals for applet NULL (queued: all). */
void eng_tbound_get(struct eng_tbound *tb, const char *applet,
    struct eng_trigger_drops *out);
/* Forgets the counts of the applets not in keep that have nothing queued
 * (deleted applets). */
void eng_tbound_forget(struct eng_tbound *tb, const char *const *keep,
    size_t n);

/* ---- hook_auth.c: webhook authentication and payload variables --------- */

/* A signed webhook's X-Herald-Timestamp must be within this many seconds
 * of herald's clock. */
#define ENG_HOOK_SKEW_S 300
/* Verified signatures remembered per applet (40 bytes each), for as long
 * as their timestamp is in the window: at most 640 KiB per applet, and
 * about 54 signed deliveries a second per applet, sustained over the
 * window; beyond that a signed delivery is refused with ERR_BUSY rather
 * than a signature forgotten. Memory only: a restart forgets them. */
#define ENG_HOOK_SEEN_MAX 16384

enum { ENG_HOOK_BEARER = 1, ENG_HOOK_SIGNED = 2 };

struct eng_hook_auth {         /* the credentials a request presents */
    int           mode;        /* ENG_HOOK_BEARER or ENG_HOOK_SIGNED */
    unsigned char digest[32];  /* bearer: SHA-256 of the token */
    unsigned char sig[32];     /* signed: the HMAC sent */
    long long     ts;          /* signed: X-Herald-Timestamp */
    char          ts_text[20]; /* as sent (the HMAC input) */
};

/* Reads the credentials from the headers (values or NULL; never logged)
 * into *out: a bearer token (hashed at once), or a signature with its
 * timestamp, which must be within ENG_HOOK_SKEW_S of now (unix seconds).
 * Looks at the request alone, so its messages may be shown to anyone.
 * Errors: ERR_AUTH, code "unauthorized": missing or malformed credentials,
 * a signature without X-Herald-Timestamp (the old body-only scheme), a
 * timestamp out of the window (the message gives the skew). */
int eng_hook_parse(const char *authorization, const char *timestamp,
    const char *signature, long long now, struct eng_hook_auth *out,
    struct errbuf *eb);
/* Compares parsed credentials with an applet's stored ones in constant
 * time: token_sha256 (hex) for a bearer token, the signing secret for a
 * signature over "<timestamp>.<body>". have_body 0: only checks that a
 * secret exists (the body is not read yet). Errors: ERR_AUTH, code
 * "denied", with the reason for the log only (answer every denial
 * alike). */
int eng_hook_verify(const struct eng_hook_auth *a, const char *token_sha256,
    const char *secret, const void *body, size_t len, int have_body,
    struct errbuf *eb);

/* Verified signatures per applet, until their timestamp leaves the
 * window (see ENG_HOOK_SEEN_MAX). Thread-safe. */
struct eng_hook_seen;
int  eng_hook_seen_new(struct eng_hook_seen **out); /* ERR_NOMEM */
void eng_hook_seen_free(struct eng_hook_seen *c);   /* NULL: no-op */
/* Records sig (timestamp ts) for applet. Returns 0 if it is new, 1 if it
 * was already recorded (a replay), ERR_BUSY if the applet has
 * ENG_HOOK_SEEN_MAX signatures in the window, ERR_NOMEM. */
int eng_hook_seen_add(struct eng_hook_seen *c, const char *applet,
    const unsigned char sig[32], long long ts, long long now);

/* A growable list of owned name/value pairs with an eng_kv view. */
struct eng_vars {
    struct eng_kv *v; /* strings owned by the list */
    size_t         n, cap;
};
int eng_vars_add(struct eng_vars *vs, const char *name, const char *value);
int eng_vars_addn(struct eng_vars *vs, const char *name, const char *value,
    size_t vlen);
const char *eng_vars_get(const struct eng_vars *vs, const char *name);
void        eng_vars_free(struct eng_vars *vs);
/* Adds $_webhook_body and the per-field variables for a body (see
 * runtime.h). Errors: ERR_INVAL (invalid JSON; eb->line/col and offset). */
int eng_webhook_vars(const char *body, size_t len, const char *content_type,
    struct eng_vars *out, struct errbuf *eb);

#endif
