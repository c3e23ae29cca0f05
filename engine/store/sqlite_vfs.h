/* SPDX-License-Identifier: MIT */
/*
 * engine/store/sqlite_vfs.h: the store's SQLite VFS, the default one with
 * one change: a WAL frame goes to the file in one write, not two.
 *
 * SQLite writes each WAL frame as its 24-byte header and then the page,
 * two pwrite() calls at adjacent offsets. On a loaded herald those were
 * the most frequent system call (about 17 per message, half of them
 * frame headers). This VFS holds a frame header back and writes it
 * together with the page that follows; anything else on the file first
 * writes a held header alone. Nothing is held between two SQLite calls
 * that return to the store, so a crash loses no more than with the
 * default VFS (a torn frame, which WAL recovery ignores by its checksum).
 */
#ifndef HERALD_ENGINE_STORE_VFS_H
#define HERALD_ENGINE_STORE_VFS_H

#define STORE_VFS_NAME "herald"

/* Registers the VFS (once per process; not the default). Returns an
 * SQLite result code. Thread-safe. */
int store_vfs_register(void);

#endif
