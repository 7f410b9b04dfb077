/* journal.h -- the engine's signal journal: an append-only record of every
 * signal the engine publishes (and of how far each symbol got), from which
 * sinks get what they missed: "everything after sequence S".
 *
 *   journal_t *j = journal_open(&cfg, on_record, arg, err);
 *   journal_append(j, JOURNAL_SIGNAL, seq, map, len);   before publishing
 *   journal_tick(j, now);                               from a timer
 *   journal_replay(j, after, max, &sb, &count);         for a request
 *   journal_close(&j);
 *
 * Files: DIR/signals-<first sequence number, 20 digits>.jnl, segments of
 * about seg_bytes; the next starts when one is full. The oldest segments
 * are deleted while the journal is larger than max_bytes, or older (by
 * its newest record) than max_age_ms; the newest one always stays.
 *
 * Record: u32 payload length, u32 CRC-32 of the payload (both little-
 * endian), then the payload: one kind byte ('S' a signal, 'M' a mark) and
 * one msgpack map (a signal exactly as published; a mark as the engine
 * writes it).
 *
 * Durability: each record goes to the file in one write() before the
 * signal is published, so a killed engine loses nothing it published.
 * fsync policy for a machine that fails: JOURNAL_FSYNC_ALWAYS syncs after
 * every record; JOURNAL_FSYNC_EVERYSEC (the default) once a second, so at
 * most the last second can be lost; JOURNAL_FSYNC_NO leaves it to the OS.
 *
 * Recovery: at open every segment is read through. A record cut short or
 * failing its checksum ends its segment: the file is cut back to the last
 * good record, with one WARN line naming the file, the offset, the bytes
 * dropped and the last good sequence number. */
#ifndef LT_ENGINE_JOURNAL_H
#define LT_ENGINE_JOURNAL_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

enum { JOURNAL_SIGNAL = 'S', JOURNAL_MARK = 'M' };
enum { JOURNAL_FSYNC_NO, JOURNAL_FSYNC_EVERYSEC, JOURNAL_FSYNC_ALWAYS };

#define JOURNAL_RECORD_MAX (1u << 20)   /* largest payload */
#define JOURNAL_REPLAY_MAX 10000        /* signals in one replay reply */

/* Each good record at open, oldest first: kind and its decoded map. */
typedef void (journal_record_fn)(void *arg, int kind,
                                 const msgpack_object *o);
/* A new segment was started (write what must be in every segment). */
typedef void (journal_segment_fn)(void *arg);

struct journal_cfg {
    const char *dir;                /* created if missing */
    int fsync;                      /* JOURNAL_FSYNC_* */
    int64_t max_bytes;              /* all segments together */
    int64_t seg_bytes;              /* one segment, about */
    int64_t max_age_ms;             /* 0: no age limit */
    journal_segment_fn *on_segment;
    void *arg;                      /* for on_segment */
};

typedef struct journal journal_t;

/* Opens (or creates) the journal in cfg->dir, reading every record through
 * fn (may be NULL). NULL with a reason in err[ERR_LEN]. */
journal_t *journal_open(const struct journal_cfg *cfg, journal_record_fn *fn,
                        void *arg, char *err);
/* Syncs and closes; sets *self_p to NULL. Idempotent. */
void journal_close(journal_t **self_p);

/* Appends one record: a packed map of `len` bytes; `seq` for signals
 * (increasing). 0, or ERR_IO / ERR_TOO_LARGE with errno set. */
int journal_append(journal_t *self, int kind, uint64_t seq,
                   const void *map, size_t len);
/* The fsync policy and the age limit, from a timer (about once a second). */
void journal_tick(journal_t *self, int64_t now_ms);

/* Sequence numbers held: the oldest and the newest signal (0 and 0 when
 * the journal holds none; newest is kept even when it is empty after
 * a rotation deleted everything older). */
uint64_t journal_first_seq(const journal_t *self);
uint64_t journal_last_seq(const journal_t *self);

/* The sequence number of the newest signal published before ts_ms (its
 * "ts"), looking back at most JOURNAL_SCAN_MAX signals; 0 if none. */
uint64_t journal_seq_before(journal_t *self, int64_t ts_ms);
#define JOURNAL_SCAN_MAX 100000

/* Packs into sb an array of the signals after `after` (at most max, in
 * order), each the map as published. 0 with the number in *count, or
 * ERR_IO if a segment could not be read (sb then unchanged). */
int journal_replay(journal_t *self, uint64_t after, size_t max,
                   msgpack_sbuffer *sb, size_t *count);

#endif
