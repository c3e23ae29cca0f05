/* SPDX-License-Identifier: MIT */
/*
 * common/metrics.c: labelled counters (common/metrics.h).
 *
 * A family keeps its series in an array, in creation order (the order they
 * are written), and an open-addressing hash table of indexes into it, at
 * most half full. Both start small and double as series are created (the
 * table is rebuilt from the array then), so a family costs what it holds,
 * not what it may hold: herald's four families would otherwise take
 * ~120 KB of an idle process for series that mostly never exist. A lookup
 * is one probe sequence under the family's mutex.
 */
#include "common/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/utf8.h"

#define SERIES_FIRST 8 /* series a family has room for at first */

struct metrics_series {
    unsigned long long v;
    char              *values[METRICS_MAX_LABELS]; /* owned */
};

struct metrics_family {
    const char            *name, *help;                /* borrowed */
    const char            *labels[METRICS_MAX_LABELS]; /* borrowed */
    size_t                 nlabels;
    size_t                 max_series; /* before "_other" */
    pthread_mutex_t        mu;
    struct metrics_series *series;       /* [cap] */
    size_t                 nseries, cap; /* cap <= max_series + OTHER_MAX */
    uint32_t              *slots;        /* series index + 1; 0: empty */
    size_t                 nslots;       /* a power of two, >= 2 * cap */
    unsigned long long     lost;
};

static int
metrics_name_ok(const char *s, int metric)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return 0;
    if (!metric && s[0] == '_' && s[1] == '_')
        return 0; /* reserved for Prometheus */
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
                || (*s >= '0' && *s <= '9') || *s == '_'
                || (metric && *s == ':')))
            return 0;
    return 1;
}

int
metrics_family_new(const char *name, const char *help,
    const char *const *labels, size_t nlabels, size_t max_series,
    struct metrics_family **out)
{
    struct metrics_family *f;
    size_t                 n = strlen(name != NULL ? name : "");

    *out = NULL;
    if (!metrics_name_ok(name, 1) || n < 6
        || strcmp(name + n - 6, "_total") != 0 || help == NULL || nlabels == 0
        || nlabels > METRICS_MAX_LABELS || max_series == 0
        || max_series > UINT32_MAX / 4)
        return ERR_INVAL;
    for (size_t i = 0; i < nlabels; i++)
        if (!metrics_name_ok(labels[i], 0))
            return ERR_INVAL;
    if ((f = calloc(1, sizeof(*f))) == NULL)
        return ERR_NOMEM;
    f->name = name;
    f->help = help;
    memcpy(f->labels, labels, nlabels * sizeof(labels[0]));
    f->nlabels = nlabels;
    f->max_series = max_series;
    f->cap = SERIES_FIRST;
    if (f->cap > max_series + METRICS_OTHER_MAX)
        f->cap = max_series + METRICS_OTHER_MAX;
    f->nslots = 2 * SERIES_FIRST;
    f->series = calloc(f->cap, sizeof(*f->series));
    f->slots = calloc(f->nslots, sizeof(*f->slots));
    if (f->series == NULL || f->slots == NULL) {
        free(f->series);
        free(f->slots);
        free(f);
        return ERR_NOMEM;
    }
    pthread_mutex_init(&f->mu, NULL);
    *out = f;
    return 0;
}

void
metrics_family_free(struct metrics_family *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        for (size_t k = 0; k < f->nlabels; k++)
            free(f->series[i].values[k]);
    pthread_mutex_destroy(&f->mu);
    free(f->series);
    free(f->slots);
    free(f);
}

/* values with NULL as "" and invalid UTF-8 as "_invalid", into v. */
static void
metrics_values(const struct metrics_family *f, const char *const *values,
    const char **v)
{
    for (size_t i = 0; i < f->nlabels; i++) {
        v[i] = values[i] != NULL ? values[i] : "";
        if (!utf8_valid(v[i], strlen(v[i]), NULL))
            v[i] = "_invalid";
    }
}

static uint32_t
metrics_hash(const struct metrics_family *f, const char *const *v)
{
    uint32_t h = 2166136261u; /* FNV-1a, each value with its NUL */

    for (size_t i = 0; i < f->nlabels; i++) {
        const unsigned char *p = (const unsigned char *)v[i];

        do {
            h ^= *p;
            h *= 16777619u;
        } while (*p++ != '\0');
    }
    return h;
}

/* The slot holding v's series, or the empty slot where it would go.
 * Under f->mu. */
static uint32_t *
metrics_slot(struct metrics_family *f, const char *const *v)
{
    size_t mask = f->nslots - 1, i = metrics_hash(f, v) & mask;

    for (;; i = (i + 1) & mask) {
        const struct metrics_series *s;
        size_t                       k;

        if (f->slots[i] == 0)
            return &f->slots[i];
        s = &f->series[f->slots[i] - 1];
        for (k = 0; k < f->nlabels; k++)
            if (strcmp(s->values[k], v[k]) != 0)
                break;
        if (k == f->nlabels)
            return &f->slots[i];
    }
}

/* Doubles the room for series (up to max_series + METRICS_OTHER_MAX) and
 * the hash table with it. 0 or ERR_NOMEM (nothing changed). Under f->mu. */
static int
metrics_grow(struct metrics_family *f)
{
    size_t                 cap = 2 * f->cap, nslots = 2 * f->nslots;
    struct metrics_series *series;
    uint32_t              *slots;

    if (cap > f->max_series + METRICS_OTHER_MAX)
        cap = f->max_series + METRICS_OTHER_MAX;
    while (nslots < 2 * cap)
        nslots *= 2;
    if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
        return ERR_NOMEM;
    if ((series = realloc(f->series, cap * sizeof(*series))) == NULL) {
        free(slots);
        return ERR_NOMEM;
    }
    f->series = series;
    f->cap = cap;
    free(f->slots);
    f->slots = slots;
    f->nslots = nslots;
    for (size_t i = 0; i < f->nseries; i++)
        *metrics_slot(f, (const char *const *)f->series[i].values) =
            (uint32_t)(i + 1);
    return 0;
}

/* Creates the series of v, to go in *slot (empty; the table may be
 * rebuilt first). Returns the series' slot, or NULL (no memory).
 * Under f->mu. */
static uint32_t *
metrics_series_new(struct metrics_family *f, const char *const *v,
    uint32_t *slot)
{
    struct metrics_series *s;

    if (f->nseries == f->cap) {
        if (metrics_grow(f) != 0)
            return NULL;
        slot = metrics_slot(f, v);
    }
    s = &f->series[f->nseries];

    for (size_t k = 0; k < f->nlabels; k++) {
        if ((s->values[k] = strdup(v[k])) == NULL) {
            while (k-- > 0) {
                free(s->values[k]);
                s->values[k] = NULL;
            }
            return NULL;
        }
    }
    s->v = 0;
    *slot = (uint32_t)++f->nseries;
    return slot;
}

void
metrics_add(struct metrics_family *f, const char *const *values,
    unsigned long long n)
{
    const char *v[METRICS_MAX_LABELS];
    uint32_t   *slot;

    if (f == NULL)
        return;
    metrics_values(f, values, v);
    pthread_mutex_lock(&f->mu);
    slot = metrics_slot(f, v);
    if (*slot == 0 && f->nseries >= f->max_series) {
        v[0] = "_other";
        slot = metrics_slot(f, v);
        if (*slot == 0 && f->nseries >= f->max_series + METRICS_OTHER_MAX)
            slot = NULL;
    }
    if (slot != NULL && *slot == 0)
        slot = metrics_series_new(f, v, slot);
    if (slot != NULL)
        f->series[*slot - 1].v += n;
    else
        f->lost += n;
    pthread_mutex_unlock(&f->mu);
}

unsigned long long
metrics_value(struct metrics_family *f, const char *const *values)
{
    const char        *v[METRICS_MAX_LABELS];
    uint32_t          *slot;
    unsigned long long n;

    if (f == NULL)
        return 0;
    metrics_values(f, values, v);
    pthread_mutex_lock(&f->mu);
    slot = metrics_slot(f, v);
    n = *slot != 0 ? f->series[*slot - 1].v : 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

size_t
metrics_family_size(struct metrics_family *f)
{
    size_t n;

    pthread_mutex_lock(&f->mu);
    n = f->nseries;
    pthread_mutex_unlock(&f->mu);
    return n;
}

unsigned long long
metrics_family_lost(struct metrics_family *f)
{
    unsigned long long n;

    pthread_mutex_lock(&f->mu);
    n = f->lost;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* ---- text --------------------------------------------------------------- */

int
metrics_escape(struct buf *b, const char *s)
{
    int rc = 0;

    for (; *s && rc == 0; s++) {
        if (*s == '\\')
            rc = buf_puts(b, "\\\\");
        else if (*s == '"')
            rc = buf_puts(b, "\\\"");
        else if (*s == '\n')
            rc = buf_puts(b, "\\n");
        else
            rc = buf_putc(b, *s);
    }
    return rc;
}

int
metrics_write_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
    int rc;

    /* HELP text escapes backslash and line feed only */
    if ((rc = buf_printf(b, "# HELP %s ", name)) != 0)
        return rc;
    for (; *help && rc == 0; help++)
        rc = *help == '\\'  ? buf_puts(b, "\\\\")
            : *help == '\n' ? buf_puts(b, "\\n")
                            : buf_putc(b, *help);
    if (rc == 0)
        rc = buf_printf(b, "\n# TYPE %s %s\n", name, type);
    return rc;
}

static int
metrics_labels(struct buf *b, const char *const *labels,
    const char *const *values, size_t n)
{
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = buf_printf(b, "%s%s=\"", i == 0 ? "{" : ",", labels[i]);
        if (rc == 0)
            rc = metrics_escape(b, values[i]);
        if (rc == 0)
            rc = buf_putc(b, '"');
    }
    if (rc == 0 && n > 0)
        rc = buf_putc(b, '}');
    return rc;
}

int
metrics_write_sample(struct buf *b, const char *name, const char *const *labels,
    const char *const *values, size_t n, double v)
{
    char num[32];
    int  rc;

    /* the shortest of %.15g and %.17g that reads back as v */
    snprintf(num, sizeof(num), "%.15g", v);
    if (strtod(num, NULL) != v)
        snprintf(num, sizeof(num), "%.17g", v);
    rc = buf_puts(b, name);
    if (rc == 0)
        rc = metrics_labels(b, labels, values, n);
    if (rc == 0)
        rc = buf_printf(b, " %s\n", num);
    return rc;
}

int
metrics_family_write(struct metrics_family *f, struct buf *out)
{
    int rc;

    if ((rc = metrics_write_head(out, f->name, "counter", f->help)) != 0)
        return rc;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nseries && rc == 0; i++) {
        const struct metrics_series *s = &f->series[i];

        rc = buf_puts(out, f->name);
        if (rc == 0)
            rc = metrics_labels(out, f->labels, (const char *const *)s->values,
                f->nlabels);
        if (rc == 0)
            rc = buf_printf(out, " %llu\n", s->v);
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* ---- herald's counters -------------------------------------------------- */

enum { M_DELIVERIES, M_RUNS, M_WEBHOOKS, M_HTTP, M_N };

static const char *const m_deliveries_labels[] = { "outcome", "klass",
    "source" };
static const char *const m_runs_labels[] = { "applet", "status" };
static const char *const m_code_labels[] = { "code" };

static const struct {
    const char        *name, *help;
    const char *const *labels;
    size_t             nlabels, max_series;
} m_defs[M_N] = {
    [M_DELIVERIES] = { "herald_deliveries_total",
        "Mail delivery attempts by outcome (sent, deferred, dead, failed), "
        "error class (none when sent) and source (outbox, mail_test, "
        "probe; a probe counts as sent when the server was reached).",
        m_deliveries_labels, 3, 1000 },
    [M_RUNS] = { "herald_runs_total",
        "Applet runs ended, by applet and status (applets past the "
        "1000th count as _other).",
        m_runs_labels, 2, 1000 },
    [M_WEBHOOKS] = { "herald_webhooks_total",
        "Answers to POST /hooks/{applet}, by HTTP status code.", m_code_labels,
        1, 200 },
    [M_HTTP] = { "herald_http_requests_total",
        "HTTP requests answered, by status code.", m_code_labels, 1, 200 },
};

static struct metrics_family *m_fam[M_N];
static pthread_once_t         m_once = PTHREAD_ONCE_INIT;

static void
metrics_init(void)
{
    /* a family that cannot be created (no memory at start) stays NULL:
     * its counts are dropped, nothing else fails */
    for (size_t i = 0; i < M_N; i++)
        metrics_family_new(m_defs[i].name, m_defs[i].help, m_defs[i].labels,
            m_defs[i].nlabels, m_defs[i].max_series, &m_fam[i]);
}

static struct metrics_family *
metrics_fam(int id)
{
    pthread_once(&m_once, metrics_init);
    return m_fam[id];
}

void
metrics_delivery(const char *source, const char *outcome, const char *klass)
{
    metrics_add(metrics_fam(M_DELIVERIES),
        (const char *const[]){ outcome,
            klass != NULL && *klass ? klass : "none", source },
        1);
}

void
metrics_run(const char *applet, const char *status)
{
    metrics_add(metrics_fam(M_RUNS), (const char *const[]){ applet, status },
        1);
}

static void
metrics_code(int id, int code)
{
    char c[16];

    snprintf(c, sizeof(c), "%d", code);
    metrics_add(metrics_fam(id), (const char *const[]){ c }, 1);
}

void
metrics_webhook(int code)
{
    metrics_code(M_WEBHOOKS, code);
}

void
metrics_http(int code)
{
    metrics_code(M_HTTP, code);
}

int
metrics_write_counters(struct buf *out)
{
    int rc = 0;

    for (size_t i = 0; i < M_N && rc == 0; i++)
        if (metrics_fam((int)i) != NULL)
            rc = metrics_family_write(m_fam[i], out);
    return rc;
}
