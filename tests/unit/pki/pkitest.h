/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/pki/pkitest.h: helpers shared by the pki unit tests: a fresh
 * test PKI from tests/lib/mkpki.sh in a temporary directory, file and
 * command output reading, and an "openssl s_server" on an ephemeral loopback
 * port that the test starts and stops by PID.
 */
#ifndef HERALD_TESTS_PKITEST_H
#define HERALD_TESTS_PKITEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char pki_dir[256];

static __attribute__((unused)) int
pkitest_make(void)
{
    char cmd[512];

    snprintf(pki_dir, sizeof(pki_dir), "/tmp/herald-pkitest.XXXXXX");
    if (mkdtemp(pki_dir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd), "sh %s/lib/mkpki.sh %s", TEST_SRC_DIR, pki_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static __attribute__((unused)) void
pkitest_remove(void)
{
    char cmd[512];

    if (pki_dir[0] == '\0')
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pki_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", pki_dir);
}

static __attribute__((unused)) char *
pkitest_path(const char *name)
{
    static char p[4][512];
    static int  i;

    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", pki_dir, name);
    return p[i];
}

/* Whole file (NUL-terminated), or NULL. */
static __attribute__((unused)) char *
pkitest_read(const char *name, size_t *len)
{
    FILE *f = fopen(pkitest_path(name), "rb");
    char *buf;
    long  n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static __attribute__((unused)) int
pkitest_write(const char *name, const char *data, size_t len)
{
    FILE *f = fopen(pkitest_path(name), "wb");
    int   ok;

    if (f == NULL)
        return -1;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Output of a shell command, trailing newline stripped (new string). */
static __attribute__((unused)) char *pkitest_cmd(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static __attribute__((unused)) char *
pkitest_cmd(const char *fmt, ...)
{
    char    cmd[1024], *out = calloc(1, 65536);
    size_t  n = 0, r;
    va_list ap;
    FILE   *p;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (out == NULL || (p = popen(cmd, "r")) == NULL)
        return out;
    while ((r = fread(out + n, 1, 65535 - n, p)) > 0)
        n += r;
    pclose(p);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return out;
}

struct pkitest_server {
    pid_t pid;
    int   port;
};

/* Servers still running: a failed assertion leaves its test early, so the
 * group teardown stops whatever is left (pkitest_server_stop_all). */
static pid_t pkitest_pids[16];

static __attribute__((unused)) int
pkitest_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t          sl = sizeof(sa);
    int                fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
        && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static __attribute__((unused)) int
pkitest_connect(int port)
{
    struct sockaddr_in sa;
    int                fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Starts "openssl s_server -www" presenting cert (+ chain file, may be
 * NULL) with key; extra: more options or NULL. */
static __attribute__((unused)) int
pkitest_server_start(struct pkitest_server *s, const char *cert,
    const char *chain, const char *key, const char *extra)
{
    char        port[16], cp[512], kp[512], chp[512];
    int         i, fd;
    const char *argv[24];
    int         a = 0;

    s->pid = -1;
    if ((s->port = pkitest_free_port()) < 0)
        return -1;
    snprintf(port, sizeof(port), "127.0.0.1:%d", s->port);
    snprintf(cp, sizeof(cp), "%s", pkitest_path(cert));
    snprintf(kp, sizeof(kp), "%s", pkitest_path(key));
    argv[a++] = "openssl";
    argv[a++] = "s_server";
    argv[a++] = "-quiet";
    argv[a++] = "-accept";
    argv[a++] = port;
    argv[a++] = "-cert";
    argv[a++] = cp;
    argv[a++] = "-key";
    argv[a++] = kp;
    if (chain != NULL) {
        snprintf(chp, sizeof(chp), "%s", pkitest_path(chain));
        argv[a++] = "-cert_chain";
        argv[a++] = chp;
    }
    if (extra != NULL)
        argv[a++] = extra;
    argv[a++] = "-www";
    argv[a] = NULL;
    if ((s->pid = fork()) < 0)
        return -1;
    if (s->pid == 0) {
        int dn;
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* dies with the test */
        dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) {
            dup2(dn, 1);
            dup2(dn, 2);
        }
        execvp("openssl", (char *const *)argv);
        _exit(127);
    }
    for (i = 0; i < 16; i++) {
        if (pkitest_pids[i] == 0) {
            pkitest_pids[i] = s->pid;
            break;
        }
    }
    for (i = 0; i < 100; i++) { /* up to 5 s */
        struct timespec ts = { 0, 50 * 1000 * 1000 };
        if ((fd = pkitest_connect(s->port)) >= 0) {
            close(fd);
            return 0;
        }
        nanosleep(&ts, NULL);
    }
    return -1;
}

static __attribute__((unused)) void
pkitest_server_stop(struct pkitest_server *s)
{
    int st;

    int i;

    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, &st, 0);
        for (i = 0; i < 16; i++)
            if (pkitest_pids[i] == s->pid)
                pkitest_pids[i] = 0;
        s->pid = -1;
    }
}

static __attribute__((unused)) void
pkitest_server_stop_all(void)
{
    struct pkitest_server s;
    int                   i;

    for (i = 0; i < 16; i++) {
        if (pkitest_pids[i] > 0) {
            s.pid = pkitest_pids[i];
            pkitest_server_stop(&s);
        }
    }
}

#endif
