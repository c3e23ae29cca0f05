/* SPDX-License-Identifier: MIT */
/*
 * engine/store/sqlite_vfs.h: the store's SQLite VFS, the default one with
 * one change: a transaction's WAL frames go to the file in one write.
 *
 * SQLite writes each WAL frame as its 24-byte header and then the page,
 * two pwrite() calls at adjacent offsets, and a run's transactions change
 * two to four pages each. On a loaded herald those writes were the most
 * frequent system call (about 17 per message). This VFS holds the frames
 * of a transaction back and writes them in one call when the frame that
 * commits arrives (in pieces of at most 128 KB, what the unix VFS writes
 * at once); anything else on the file first writes what is held. So
 * nothing of a committed transaction is held once its commit returns, and
 * a crash loses no more than with the default VFS (frames of a
 * transaction that never committed, which WAL recovery ignores).
 */
#ifndef HERALD_ENGINE_STORE_VFS_H
#define HERALD_ENGINE_STORE_VFS_H

#define STORE_VFS_NAME "herald"

/* Registers the VFS (once per process; not the default). Returns an
 * SQLite result code. Thread-safe. */
int store_vfs_register(void);

#endif
