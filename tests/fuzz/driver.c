/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/driver.c: a main() that runs one fuzz target without
 * libFuzzer, so that the fuzz targets are also a ctest smoke test built by
 * any compiler (label "fuzz").
 *
 *   fuzz_NAME [CORPUS_DIR] [ITERATIONS] [SECONDS]
 *
 * It feeds every file of the seed corpus (tests/fuzz/corpus/NAME/, crash-*
 * reproducers included) to LLVMFuzzerTestOneInput, then ITERATIONS
 * (default 20000, or HERALD_FUZZ_ITERATIONS) inputs made by deterministic
 * mutations of the seeds: bit flips, byte changes, inserted and deleted
 * runs, bytes that parsers tend to get wrong (NUL, CR, LF, quote, '$',
 * backslash, braces), tokens, and splices between two seeds. The PRNG is
 * xorshift64* seeded from the target's name, so a run is reproducible. The
 * mutation phase stops after SECONDS (default 20). A broken property aborts;
 * the input that did it is then written to fuzz-NAME-crash.bin in the
 * current directory first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_NAME
#define FUZZ_NAME "unknown"
#endif
#ifndef FUZZ_CORPUS_DIR
#define FUZZ_CORPUS_DIR "."
#endif

#define FUZZ_MAX_INPUT (64 * 1024)

struct seed {
    uint8_t *p;
    size_t   n;
    char    *name;
};

static struct seed   *seeds;
static size_t         nseeds;
static const uint8_t *cur_data;
static size_t         cur_size;
static char           crash_path[256];
static uint64_t       rng;

static uint64_t
next_rand(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static size_t
below(size_t n)
{
    return n == 0 ? 0 : (size_t)(next_rand() % n);
}

/* Writes the current input out (async-signal-safe), then dies. */
static void
on_crash(int sig)
{
    int fd;

    if (cur_data != NULL
        && (fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0) {
        ssize_t w = write(fd, cur_data, cur_size);

        (void)w;
        close(fd);
        w = write(2, "fuzz: input saved to ", 21);
        w = write(2, crash_path, strlen(crash_path));
        w = write(2, "\n", 1);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
run_one(const uint8_t *p, size_t n)
{
    cur_data = p;
    cur_size = n;
    LLVMFuzzerTestOneInput(p, n);
    cur_data = NULL;
}

static int
cmp_seed(const void *a, const void *b)
{
    return strcmp(((const struct seed *)a)->name,
        ((const struct seed *)b)->name);
}

static int
load_corpus(const char *dir)
{
    struct dirent *de;
    struct stat    stb;
    DIR           *d;
    char           path[4096];
    FILE          *f;

    if ((d = opendir(dir)) == NULL) {
        fprintf(stderr, "fuzz_%s: cannot open corpus %s: %s\n", FUZZ_NAME, dir,
            strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL) {
        struct seed *s;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &stb) != 0 || !S_ISREG(stb.st_mode)
            || stb.st_size > FUZZ_MAX_INPUT)
            continue;
        if ((s = realloc(seeds, (nseeds + 1) * sizeof(*seeds))) == NULL)
            abort();
        seeds = s;
        s = &seeds[nseeds];
        s->n = (size_t)stb.st_size;
        s->p = malloc(s->n ? s->n : 1); /* exact: overreads show */
        s->name = strdup(de->d_name);
        if (s->p == NULL || s->name == NULL || (f = fopen(path, "rb")) == NULL)
            abort();
        if (fread(s->p, 1, s->n, f) != s->n)
            abort();
        fclose(f);
        nseeds++;
    }
    closedir(d);
    /* readdir order differs between file systems: sort for determinism */
    qsort(seeds, nseeds, sizeof(*seeds), cmp_seed);
    return 0;
}

static const char *const tokens[] = {
    "\0",
    "\r",
    "\n",
    "\r\n",
    "\"",
    "$",
    "\\",
    "{",
    "}",
    "${",
    "$_",
    "\\\"",
    "\\$",
    "@",
    ":",
    "%40",
    "%3A",
    ",",
    ";",
    " ",
    "\t",
    "!",
    "<",
    ">",
    "=",
    "\xff",
    "\xc3\xa9",
    "\xe2\x80\x8b",
    "-----BEGIN CERTIFICATE-----\n",
    "-----END CERTIFICATE-----\n",
    "quit\n",
    "\n\n",
    " action 9999 ",
    "event manager applet ",
    " event ",
    "0000",
    "99999999999999999999",
    "-1",
    "250-",
    "250 ",
    "5.7.8",
    "[::1]",
    "{\"",
    "\":",
    "[]",
    "null",
    "\\u0000",
    "crypto pki ",
    "..",
    "*/",
    "=?utf-8?",
};

/* Applies 1-4 random mutations to buf (len *n, capacity FUZZ_MAX_INPUT). */
static void
mutate(uint8_t *buf, size_t *n)
{
    int ops = 1 + (int)below(4), i;

    for (i = 0; i < ops; i++) {
        size_t len = *n, pos = below(len + 1), k;

        switch (below(9)) {
        case 0: /* bit flip */
            if (len > 0)
                buf[below(len)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* random byte */
            if (len > 0)
                buf[below(len)] = (uint8_t)next_rand();
            break;
        case 2: /* delete a run */
            if (len > 0) {
                k = 1 + below(len - pos < 16 ? len - pos + 1 : 16);
                if (pos + k > len)
                    k = len - pos;
                memmove(buf + pos, buf + pos + k, len - pos - k);
                *n -= k;
            }
            break;
        case 3: /* insert random bytes */
        case 4: /* insert a token */ {
            const char *t = NULL;
            size_t      tl;
            uint8_t     rnd[8];

            if (below(2) == 0) {
                size_t ti = below(sizeof(tokens) / sizeof(tokens[0]));

                t = tokens[ti];
                tl = ti == 0 ? 1 : strlen(t);
            } else {
                tl = 1 + below(sizeof(rnd));
                for (k = 0; k < tl; k++)
                    rnd[k] = (uint8_t)next_rand();
                t = (const char *)rnd;
            }
            if (len + tl > FUZZ_MAX_INPUT)
                break;
            memmove(buf + pos + tl, buf + pos, len - pos);
            memcpy(buf + pos, t, tl);
            *n += tl;
            break;
        }
        case 5: /* repeat a chunk (long lines, many repeats) */
            if (len > 0) {
                static uint8_t chunk[FUZZ_MAX_INPUT];
                size_t         from = below(len), cl = 1 + below(len - from);
                size_t         times = 1 + below(8);

                memcpy(chunk, buf + from, cl);
                while (times-- > 0 && *n + cl <= FUZZ_MAX_INPUT) {
                    memmove(buf + pos + cl, buf + pos, *n - pos);
                    memcpy(buf + pos, chunk, cl);
                    *n += cl;
                }
            }
            break;
        case 6: /* splice: our prefix + another seed's suffix */
            if (nseeds > 0) {
                const struct seed *o = &seeds[below(nseeds)];
                size_t             op = below(o->n + 1);

                if (pos + (o->n - op) <= FUZZ_MAX_INPUT) {
                    memcpy(buf + pos, o->p + op, o->n - op);
                    *n = pos + (o->n - op);
                }
            }
            break;
        case 7: /* interesting byte */ {
            static const uint8_t b[] = { 0, '\r', '\n', '"', '$', '\\', '{',
                '}', ' ', 0x7f, 0x80, 0xff, '0', '9', ':', '@', '<', '>' };

            if (len > 0)
                buf[below(len)] = b[below(sizeof(b))];
            break;
        }
        default: /* truncate */
            *n = pos;
            break;
        }
    }
}

int
main(int argc, char **argv)
{
    const char     *dir = argc > 1 ? argv[1] : FUZZ_CORPUS_DIR;
    const char     *env = getenv("HERALD_FUZZ_ITERATIONS");
    unsigned long   iters = 20000, i, done = 0;
    double          limit = 20.0, t0, now;
    struct timespec ts;
    uint8_t        *buf;
    size_t          n, s;
    const char     *p;

    if (env != NULL)
        iters = strtoul(env, NULL, 10);
    if (argc > 2)
        iters = strtoul(argv[2], NULL, 10);
    if (argc > 3)
        limit = strtod(argv[3], NULL);
    snprintf(crash_path, sizeof(crash_path), "fuzz-%s-crash.bin", FUZZ_NAME);
    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);

    if (load_corpus(dir) != 0)
        return 2;
    if (nseeds == 0) {
        fprintf(stderr, "fuzz_%s: no seeds in %s\n", FUZZ_NAME, dir);
        return 2;
    }
    for (s = 0; s < nseeds; s++)
        run_one(seeds[s].p, seeds[s].n);
    run_one((const uint8_t *)"", 0);

    /* FNV-1a of the name: each target gets its own, fixed sequence */
    rng = 0xcbf29ce484222325ULL;
    for (p = FUZZ_NAME; *p != '\0'; p++)
        rng = (rng ^ (uint8_t)*p) * 0x100000001b3ULL;
    if (rng == 0)
        rng = 1;

    if ((buf = malloc(FUZZ_MAX_INPUT)) == NULL)
        return 2;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    now = t0;
    for (i = 0; i < iters; i++) {
        const struct seed *sd = &seeds[below(nseeds)];
        uint8_t           *exact;

        n = sd->n;
        memcpy(buf, sd->p, n);
        mutate(buf, &n);
        /* an exact-size copy, so that a read past the end is caught by
         * ASan or valgrind as it is under libFuzzer */
        if ((exact = malloc(n ? n : 1)) == NULL)
            abort();
        memcpy(exact, buf, n);
        run_one(exact, n);
        free(exact);
        done++;
        if ((i & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
            if (now - t0 > limit)
                break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    printf("fuzz_%s: %zu seeds, %lu mutations in %.1f s, no property "
           "violated\n",
        FUZZ_NAME, nseeds, done, now - t0);
    free(buf);
    for (s = 0; s < nseeds; s++) {
        free(seeds[s].p);
        free(seeds[s].name);
    }
    free(seeds);
    return 0;
}
