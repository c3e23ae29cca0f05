/* SPDX-License-Identifier: MIT */
/*
 * common/metrics.h: labelled counters, and their text for GET /metrics
 * (the Prometheus text exposition format, version 0.0.4).
 *
 * A family is one counter name with a fixed list of label names; each
 * distinct list of label values is one series. Increments are thread-safe
 * (one mutex per family; finding a series is one hash probe). The number
 * of series is bounded: once a family holds max_series of them, a new list
 * of values is counted with its first label set to "_other" (at most
 * METRICS_OTHER_MAX such series more); past that the increment is lost
 * and metrics_family_lost() counts it. A label value that is not valid
 * UTF-8 is counted as "_invalid".
 *
 *   struct metrics_family *f;
 *   static const char *const labels[] = { "applet", "status" };
 *   metrics_family_new("herald_runs_total", "Runs ended.", labels, 2,
 *       1000, &f);
 *   metrics_add(f, (const char *const[]){ "Backup", "success" }, 1);
 *   metrics_family_write(f, &buf);
 *
 * herald's own counters are one process-wide set, created at their first
 * use: metrics_delivery(), metrics_run(), metrics_webhook(),
 * metrics_http(), written by metrics_write_counters().
 */
#ifndef HERALD_COMMON_METRICS_H
#define HERALD_COMMON_METRICS_H

#include <stddef.h>

struct buf;

#define METRICS_MAX_LABELS 4
#define METRICS_OTHER_MAX  16

struct metrics_family; /* opaque; defined in metrics.c */

/* Creates a counter family. name, help and labels[0..nlabels) are
 * borrowed: static strings that outlive the family. name must end in
 * "_total". Returns 0 and a new family in *out (free with
 * metrics_family_free()), ERR_INVAL for a bad metric or label name, no
 * label, more than METRICS_MAX_LABELS, or max_series 0, or ERR_NOMEM. */
int  metrics_family_new(const char *name, const char *help,
     const char *const *labels, size_t nlabels, size_t max_series,
     struct metrics_family **out);
void metrics_family_free(struct metrics_family *f); /* NULL is a no-op */

/* Adds n to the series of values[0..nlabels) (copied; NULL counts as "").
 * Never fails: what cannot be counted (no memory, every "_other" slot
 * taken) is added to metrics_family_lost(). f NULL is a no-op. */
void metrics_add(struct metrics_family *f, const char *const *values,
    unsigned long long n);
/* The count of the series of values (0 if it does not exist). */
unsigned long long metrics_value(struct metrics_family *f,
    const char *const                                  *values);
size_t             metrics_family_size(struct metrics_family *f);
unsigned long long metrics_family_lost(struct metrics_family *f);

/* Appends the family's # HELP and # TYPE lines and one line per series
 * (in the order the series were created) to out. Returns 0 or
 * ERR_NOMEM. */
int metrics_family_write(struct metrics_family *f, struct buf *out);

/* ---- text helpers, for values read at scrape time (gauges) ------------- */

/* Appends "# HELP name help" and "# TYPE name type" (help escaped). */
int metrics_write_head(struct buf *b, const char *name, const char *type,
    const char *help);
/* Appends one sample: name{labels[i]="values[i]",...} v. n may be 0. v is
 * written as an integer when it is one. */
int metrics_write_sample(struct buf *b, const char *name,
    const char *const *labels, const char *const *values, size_t n, double v);
/* Appends s escaped as a label value: backslash, double quote and line
 * feed become \\, \" and \n. */
int metrics_escape(struct buf *b, const char *s);

/* ---- herald's counters ------------------------------------------------- */

/* herald_deliveries_total{outcome,klass,source}: one mail delivery attempt
 * ended. source "outbox", "mail_test" or "probe"; outcome "sent",
 * "deferred" (retried later), "dead" or "failed" (not retried); klass the
 * error class, NULL or "" for "none". */
void metrics_delivery(const char *source, const char *outcome,
    const char *klass);
/* herald_runs_total{applet,status}: a run ended (at most 1000 applets,
 * then "_other"). */
void metrics_run(const char *applet, const char *status);
/* herald_webhooks_total{code}: POST /hooks/{applet} answered code. */
void metrics_webhook(int code);
/* herald_http_requests_total{code}: any request answered code. */
void metrics_http(int code);
/* Appends the four families (also those still without a series). Returns
 * 0 or ERR_NOMEM. */
int metrics_write_counters(struct buf *out);

#endif
