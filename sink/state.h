/* state.h -- a sink's state file: the last sequence number it processed
 * from each engine, so that after a restart it asks each engine's journal
 * for exactly what it missed.
 *
 *   sink_state_t *st = sink_state_load("file.state", err);
 *   uint64_t last = sink_state_get(st, "sma_cross-1a2b3c4d");
 *   sink_state_set(st, "sma_cross-1a2b3c4d", 42, 0);
 *   sink_state_write(st);          after each signal (no fsync)
 *   sink_state_save(st);           when dirty, now and then and at exit
 *   sink_state_free(&st);
 *
 * The file is text, one line per engine after a header:
 *   livetrade-sink-state 1
 *   <engine id> <seq> <crc32 of "<engine id> <seq>", 8 hex digits>
 * It is replaced whole (a temporary file, fsync, rename), so a crash
 * leaves the old file or the new one. A damaged line (bad checksum, cut
 * short) ends the file: the lines before it are used, with one WARN line
 * naming the file and the line. */
#ifndef LT_SINK_STATE_H
#define LT_SINK_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sink_state sink_state_t;

/* Reads path (a missing file is an empty state; "": kept in memory only,
 * never saved). NULL with a reason in
 * err[ERR_LEN] only on a path that cannot be used at all. */
sink_state_t *sink_state_load(const char *path, char *err);
void sink_state_free(sink_state_t **self_p);

/* The last sequence number processed from engine `eng`; 0 if none. */
uint64_t sink_state_get(const sink_state_t *self, const char *eng);
/* 1 if engine `eng` is recorded (at 0 too: known, nothing to take). */
int sink_state_has(const sink_state_t *self, const char *eng);
/* Records seq for eng if it is newer (or always, with force); a new
 * engine is recorded even at 0. */
void sink_state_set(sink_state_t *self, const char *eng, uint64_t seq,
                    int force);
/* Writes the file if anything changed since the last save. 0, or -1 (one
 * rate-limited WARN line; the next save tries again). */
int sink_state_save(sink_state_t *self);
/* The same without the fsync: a killed process leaves the new file (the
 * page cache outlives it), a power cut may not. Cheap enough to call
 * after every signal; the next sink_state_save() syncs it. */
int sink_state_write(sink_state_t *self);
/* Engines recorded. */
size_t sink_state_count(const sink_state_t *self);

#endif
