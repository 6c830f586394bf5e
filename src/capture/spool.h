/*
 * spool.h — the log writer's append-only overflow on disk: records that could not be written to their org's
 * log database (the store is down, busy or full) are appended here, already redacted and encrypted exactly as
 * they would have been stored, and replayed into the store when it is back. Never a silent drop: a record is
 * lost only if the disk refuses the append too (counted by the caller).
 *
 * Files: <dir>/spool-<unix ms>-<pid>-<n>.log, mode 0600 in a 0700 directory. A file is a sequence of frames
 *     "IGS1" | u32 LE payload length | 8 bytes = first 8 of SHA-256(payload) | payload
 * and a payload is the org id and one ig_logrec_t, fields in a fixed order (integers little-endian, texts and
 * blobs as u32 length + bytes, 0xFFFFFFFF for NULL). A torn or corrupt frame ends the file (what follows is
 * not trusted); frames before it are replayed. Replay inserts by record id, which the log store skips when
 * already stored, so a file replayed twice (a crash between the insert and the unlink) is harmless.
 *
 * One spool per writer thread; not thread-safe.
 */
#ifndef IG_CAPTURE_SPOOL_H
#define IG_CAPTURE_SPOOL_H

#include "core/common.h"
#include "store/logstore.h"

#define IG_SPOOL_FILE_MAX  (64u * 1024 * 1024) /* a file is closed (and becomes replayable) past this size */
#define IG_SPOOL_FRAME_MAX (64u * 1024 * 1024) /* larger frames are corrupt by definition */

typedef struct ig_spool ig_spool_t;

/* Creates dir (0700) if needed. NULL on failure (err set). */
ig_spool_t *ig_spool_open(const char *dir, int *err);
/* Closes the current file (it becomes replayable) and frees. */
void ig_spool_close(ig_spool_t *sp);
/* Appends one record of org_id and pushes it to the kernel (survives a crash of the process, not of the
 * machine). IG_EIO when the disk refuses (full, read-only): the caller counts the record as dropped. */
int ig_spool_append(ig_spool_t *sp, const char *org_id, const ig_logrec_t *r);
/* Closes the current file so that ig_spool_replay sees it. */
void ig_spool_seal(ig_spool_t *sp);
/* Bytes and files waiting in dir (metrics). */
void ig_spool_usage(const char *dir, uint64_t *bytes, uint64_t *files);

/* Called with up to 256 records of ONE org at a time; returns IG_OK when they are stored. */
typedef int (*ig_spool_sink_fn)(void *ctx, const char *org_id, const ig_logrec_t *recs, size_t n);
/* Replays every closed file in dir, oldest first, and deletes each once all its records were accepted.
 * Stops at the first sink failure (the file stays for the next attempt). *records = how many were handed to
 * the sink successfully. IG_OK when the directory is now empty of closed files. */
int ig_spool_replay(ig_spool_t *sp, ig_spool_sink_fn sink, void *ctx, uint64_t *records);

#endif
