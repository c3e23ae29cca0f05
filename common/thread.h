/* SPDX-License-Identifier: MIT */
/*
 * common/thread.h: threads whose memory goes back when they are joined.
 *
 * glibc keeps the stack of a joined thread in its stack cache (up to
 * 40 MB) for the next pthread_create, and only the part below the exit
 * frame is handed back: the thread's TLS (libwolfssl alone has a 49 KB
 * static TLS block that glibc zero-fills in every thread) and TCB stay
 * resident, about 60 KB per thread that ever ran. A thread started here
 * runs on a stack mapped for it (same size as pthread's default, a guard
 * page below it, only touched pages resident) that thr_join unmaps, so a
 * process whose idle threads exit gets that memory back.
 *
 * struct thr_set keeps an elastic set of such threads for a pool of
 * workers (engine/run/pool.c, engine/outbox/outbox.c): started on demand,
 * ended when idle, down to none.
 */
#ifndef HERALD_COMMON_THREAD_H
#define HERALD_COMMON_THREAD_H

#include <pthread.h>
#include <stddef.h>

/* A started thread. The fields are the implementation's; a zeroed struct
 * is "not started" (thr_started). */
struct thr {
    pthread_t id;
    void     *map; /* the stack mapping, guard page included */
    size_t    len;
    void *(*fn)(void *);
    void *arg;
    char  name[16]; /* set by the thread itself before fn runs */
};

/* Starts fn(arg) in *t, named name (15 characters at most shown by ps -L,
 * top, perf; may be NULL). *t must stay where it is until thr_join.
 * Returns 0, or an errno value (EAGAIN, ENOMEM) with *t left not
 * started. */
int thr_start(struct thr *t, const char *name, void *(*fn)(void *), void *arg);
/* Waits for the thread to end, unmaps its stack and marks *t not started.
 * Must be called exactly once per started thread, not by the thread
 * itself. */
void thr_join(struct thr *t);
/* 1 if *t was started and not joined yet. */
int thr_started(const struct thr *t);

/* Waits on cv (a CLOCK_REALTIME condition, the default) under mu for at
 * most secs seconds, or until woken: for a thread that looks for work
 * again either way (and ends once it has been idle long enough). */
void thr_cond_wait_s(pthread_cond_t *cv, pthread_mutex_t *mu, double secs);

/*
 * An elastic set of threads, all running fn(arg, slot) in slots 0..max-1:
 * started on demand up to max; a thread that has run out of work ends,
 * the last one too, so an idle set has none: the owner starts one when
 * work comes, and must make sure that work arriving while the last one
 * ends starts another (both under its mutex). An ended thread does not
 * join itself: it is
 * joined when its slot is reused (thr_set_start) or by thr_set_reap, or
 * thr_set_fini once the set is closed; until then its stack and TLS stay
 * resident, so an owner whose threads may all end calls thr_set_reap
 * from somewhere else too (a periodic tick).
 *
 * Locking: the set has no lock of its own. Every function but
 * thr_set_init and thr_set_fini is called under the owner's mutex (one
 * per set, the one the threads take to look for work), which also
 * guards whatever per-slot state the owner keeps beside the set, indexed
 * by slot. A thread ends by calling thr_set_leave under that mutex, and
 * then returns from fn without taking it again (whoever joins it may
 * hold it).
 *
 * Errors (errno values): EBUSY: max threads live already; ECANCELED: the
 * set is closed (thr_set_close); else what thr_start returns (EAGAIN,
 * ENOMEM).
 */
struct thr_set;

enum thr_slot_state {
    THR_FREE, /* no thread (never started, or joined) */
    THR_LIVE, /* its thread runs fn */
    THR_DONE  /* its thread left (thr_set_leave): to be joined */
};
struct thr_slot {
    struct thr_set     *set;
    unsigned            i;
    enum thr_slot_state state;
    struct thr          thr;
};
/* The fields are the implementation's (under the owner's mutex); the
 * struct stays where it is from thr_set_init to thr_set_fini. */
struct thr_set {
    struct thr_slot *slot; /* max of them */
    unsigned         max;
    unsigned         live;   /* in THR_LIVE */
    int              closed; /* thr_set_close was called */
    char             name[16];
    void (*fn)(void *arg, unsigned slot);
    void *arg;
};

/* Prepares *s for up to max (1 or more) threads running fn(arg, slot),
 * each named name (as for thr_start; may be NULL); none runs yet. arg is
 * borrowed: it must outlive the set. Returns 0, EINVAL (max is 0) or
 * ENOMEM. */
int thr_set_init(struct thr_set *s, unsigned max, const char *name,
    void (*fn)(void *arg, unsigned slot), void *arg);
/* Starts a thread in a free slot, joining an ended one first if that is
 * the only kind left, and puts its slot in *slot. The owner sets up its
 * per-slot state under the same mutex hold; the thread sees it once it
 * takes the mutex. Returns 0, EBUSY, ECANCELED, or EAGAIN/ENOMEM with
 * nothing started. Under the mutex. */
int thr_set_start(struct thr_set *s, unsigned *slot);
/* Makes sure a thread of the set looks for work: wakes the ones live
 * (broadcast on cv, the condition they wait on under the owner's mutex)
 * or, with none live, starts one. Returns 0, or thr_set_start's error
 * (ECANCELED once closed). Under the mutex. */
int thr_set_wake(struct thr_set *s, pthread_cond_t *cv);
/* Joins the threads that left, so that their stacks go back now rather
 * than when their slots are reused. Nothing once closed (thr_set_fini
 * joins them then). Under the mutex. */
void thr_set_reap(struct thr_set *s);
/* The thread in slot self ends, from fn, under the mutex: its slot is
 * THR_DONE and fn must return. Someone must join it: wake one that calls
 * thr_set_reap or thr_set_start, or leave it to the owner's tick when
 * none is live. */
void thr_set_leave(struct thr_set *s, unsigned self);
/* Threads in THR_LIVE (started and not left). Under the mutex. */
unsigned thr_set_live(const struct thr_set *s);
/* From now on no thread is started or joined but by thr_set_fini: start
 * fails with ECANCELED, reap does nothing.
 * Under the mutex, together with whatever tells the threads to end; fn
 * may then return without thr_set_leave. */
void thr_set_close(struct thr_set *s);
/* Joins every thread (waits for each to return from fn: the owner has
 * told them to, and does not hold the mutex) and frees the slots. The
 * set must be closed, or no thread ever started. A zeroed or finished
 * set is a no-op. */
void thr_set_fini(struct thr_set *s);

#endif
