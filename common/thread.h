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

#endif
