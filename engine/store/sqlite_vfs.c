/* SPDX-License-Identifier: MIT */
/*
 * engine/store/sqlite_vfs.c: the default VFS with a transaction's WAL frames
 * written in one call (engine/store/sqlite_vfs.h).
 *
 * A shim: every method forwards to the file of the default VFS, which
 * lives right after our struct in the same allocation (szOsFile is ours
 * plus its). Only a WAL file's xWrite differs: frames (a 24-byte header,
 * then its page at the next offset) are appended to a buffer as long as
 * each write starts where the held bytes end. The frame that commits (its
 * header's database size is not zero) writes the buffer out in one call;
 * so does any other write, or any other method on the file (a read, a
 * sync, a truncate, a close), before it goes on. A frame rewritten in
 * place (SQLite does that within a transaction) is such an other write.
 */
#include "engine/store/sqlite_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WAL_FRAME_HDR 24
#define PAGE_MIN      512
#define PAGE_MAX      65536
/* the unix VFS writes at most this much in one call (os_unix.c,
 * seekAndWrite): a larger transaction goes out in pieces */
#define WRITE_MAX 0x1ffff
/* a buffer grown past this for a large transaction (a migration, a big
 * upload) is freed once written out, not kept for the life of the
 * connection; the usual commits of a few pages reuse theirs */
#define KEEP_MAX 32768

struct vfs_file {
    sqlite3_file   base; /* our methods */
    sqlite3_file  *real; /* the default VFS's file, after this struct */
    int            wal;  /* a -wal file: frames are held */
    size_t         held; /* bytes in buf not yet written, from held_off */
    sqlite3_int64  held_off;
    size_t         hdr;  /* offset in buf of the last frame header held */
    int            page; /* the last write held was a header: a page next */
    unsigned char *buf;  /* a WAL file's; NULL until the first frame */
    size_t         cap;
};

static sqlite3_vfs *vfs_real;

/* Writes what is held, in one call. */
static int
vfs_flush(struct vfs_file *f)
{
    size_t n = f->held;
    int    rc;

    if (n == 0)
        return SQLITE_OK;
    f->held = 0;
    f->page = 0;
    rc = f->real->pMethods->xWrite(f->real, f->buf, (int)n, f->held_off);
    if (f->cap > KEEP_MAX) {
        free(f->buf);
        f->buf = NULL;
        f->cap = 0;
    }
    return rc;
}

#define REAL(f) (((struct vfs_file *)(f))->real)
#define FLUSH_OR_RETURN(f)                                                     \
    do {                                                                       \
        int frc_ = vfs_flush((struct vfs_file *)(f));                          \
        if (frc_ != SQLITE_OK)                                                 \
            return frc_;                                                       \
    } while (0)

static int
vfs_close(sqlite3_file *pf)
{
    struct vfs_file *f = (struct vfs_file *)pf;
    int              flush = vfs_flush(f);
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;

    free(f->buf);
    f->buf = NULL;
    return flush != SQLITE_OK ? flush : rc;
}

static int
vfs_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xRead(REAL(pf), p, n, off);
}

/* 1 if n bytes fit after what is held (growing buf), else 0. */
static int
vfs_room(struct vfs_file *f, size_t n)
{
    size_t         want = f->held + n, cap;
    unsigned char *b;

    if (want > WRITE_MAX)
        return 0;
    if (want <= f->cap)
        return 1;
    for (cap = f->cap ? f->cap : 8192; cap < want; cap *= 2)
        ;
    if ((b = realloc(f->buf, cap)) == NULL)
        return 0;
    f->buf = b;
    f->cap = cap;
    return 1;
}

/* The frame header at h commits a transaction: its "database size after
 * the commit" (bytes 4-7) is not zero. */
static int
vfs_commits(const unsigned char *h)
{
    return (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int
vfs_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off)
{
    struct vfs_file *f = (struct vfs_file *)pf;
    int              hdr = n == WAL_FRAME_HDR && !f->page;
    int              page = f->page && n >= PAGE_MIN && n <= PAGE_MAX;

    if (!f->wal || !(hdr || page))
        goto direct;
    if (f->held > 0 && off != f->held_off + (sqlite3_int64)f->held) {
        if (page)
            goto direct; /* not the page of the held header */
        FLUSH_OR_RETURN(f);
    }
    if (hdr && f->held + WAL_FRAME_HDR + PAGE_MAX > WRITE_MAX)
        FLUSH_OR_RETURN(f); /* its page might not fit */
    if (!vfs_room(f, (size_t)n))
        goto direct;
    if (f->held == 0)
        f->held_off = off;
    if (hdr)
        f->hdr = f->held;
    memcpy(f->buf + f->held, p, (size_t)n);
    f->held += (size_t)n;
    f->page = hdr;
    if (page && vfs_commits(f->buf + f->hdr))
        return vfs_flush(f);
    return SQLITE_OK;
direct:
    FLUSH_OR_RETURN(f);
    return f->real->pMethods->xWrite(f->real, p, n, off);
}

static int
vfs_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xTruncate(REAL(pf), size);
}

static int
vfs_sync(sqlite3_file *pf, int flags)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xSync(REAL(pf), flags);
}

static int
vfs_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xFileSize(REAL(pf), size);
}

static int
vfs_lock(sqlite3_file *pf, int lock)
{
    return REAL(pf)->pMethods->xLock(REAL(pf), lock);
}

static int
vfs_unlock(sqlite3_file *pf, int lock)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xUnlock(REAL(pf), lock);
}

static int
vfs_reserved(sqlite3_file *pf, int *out)
{
    return REAL(pf)->pMethods->xCheckReservedLock(REAL(pf), out);
}

static int
vfs_fcntl(sqlite3_file *pf, int op, void *arg)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xFileControl(REAL(pf), op, arg);
}

static int
vfs_sector(sqlite3_file *pf)
{
    return REAL(pf)->pMethods->xSectorSize(REAL(pf));
}

static int
vfs_devchar(sqlite3_file *pf)
{
    return REAL(pf)->pMethods->xDeviceCharacteristics(REAL(pf));
}

static int
vfs_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(pf)->pMethods->xShmMap(REAL(pf), pg, pgsz, extend, pp);
}

static int
vfs_shm_lock(sqlite3_file *pf, int off, int n, int flags)
{
    return REAL(pf)->pMethods->xShmLock(REAL(pf), off, n, flags);
}

static void
vfs_shm_barrier(sqlite3_file *pf)
{
    REAL(pf)->pMethods->xShmBarrier(REAL(pf));
}

static int
vfs_shm_unmap(sqlite3_file *pf, int del)
{
    return REAL(pf)->pMethods->xShmUnmap(REAL(pf), del);
}

static int
vfs_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **pp)
{
    FLUSH_OR_RETURN(pf);
    return REAL(pf)->pMethods->xFetch(REAL(pf), off, n, pp);
}

static int
vfs_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    return REAL(pf)->pMethods->xUnfetch(REAL(pf), off, p);
}

static const sqlite3_io_methods vfs_methods = {
    3,
    vfs_close,
    vfs_read,
    vfs_write,
    vfs_truncate,
    vfs_sync,
    vfs_size,
    vfs_lock,
    vfs_unlock,
    vfs_reserved,
    vfs_fcntl,
    vfs_sector,
    vfs_devchar,
    vfs_shm_map,
    vfs_shm_lock,
    vfs_shm_barrier,
    vfs_shm_unmap,
    vfs_fetch,
    vfs_unfetch,
};

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags,
    int *out_flags)
{
    struct vfs_file *f = (struct vfs_file *)pf;
    int              rc;

    (void)vfs;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    rc = vfs_real->xOpen(vfs_real, name, f->real, flags, out_flags);
    /* SQLite calls xClose after a failed xOpen only when pMethods is set */
    f->base.pMethods = f->real->pMethods != NULL ? &vfs_methods : NULL;
    return rc;
}

static int
vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return vfs_real->xDelete(vfs_real, name, sync_dir);
}

static int
vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return vfs_real->xAccess(vfs_real, name, flags, out);
}

static int
vfs_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return vfs_real->xFullPathname(vfs_real, name, n, out);
}

static void *
vfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return vfs_real->xDlOpen(vfs_real, name);
}

static void
vfs_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    vfs_real->xDlError(vfs_real, n, msg);
}

static void (*vfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return vfs_real->xDlSym(vfs_real, h, sym);
}

static void
vfs_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    vfs_real->xDlClose(vfs_real, h);
}

static int
vfs_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return vfs_real->xRandomness(vfs_real, n, out);
}

static int
vfs_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return vfs_real->xSleep(vfs_real, us);
}

static int
vfs_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return vfs_real->xCurrentTime(vfs_real, out);
}

static int
vfs_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return vfs_real->xGetLastError ? vfs_real->xGetLastError(vfs_real, n, out)
                                   : 0;
}

static int
vfs_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return vfs_real->xCurrentTimeInt64(vfs_real, out);
}

static sqlite3_vfs vfs_shim = {
    .iVersion = 2,
    .zName = STORE_VFS_NAME,
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_fullpath,
    .xDlOpen = vfs_dlopen,
    .xDlError = vfs_dlerror,
    .xDlSym = vfs_dlsym,
    .xDlClose = vfs_dlclose,
    .xRandomness = vfs_random,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_time,
    .xGetLastError = vfs_lasterr,
    .xCurrentTimeInt64 = vfs_time64,
};

static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;
static int            vfs_rc = SQLITE_ERROR;

static void
vfs_init(void)
{
    if ((vfs_real = sqlite3_vfs_find(NULL)) == NULL || vfs_real->iVersion < 2)
        return;
    vfs_shim.mxPathname = vfs_real->mxPathname;
    vfs_shim.szOsFile = (int)sizeof(struct vfs_file) + vfs_real->szOsFile;
    vfs_rc = sqlite3_vfs_register(&vfs_shim, 0);
}

int
store_vfs_register(void)
{
    pthread_once(&vfs_once, vfs_init);
    return vfs_rc;
}
