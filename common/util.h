/* util.h -- small helpers shared by every livetrade program: clocks,
 * hashing, strict number parsing, symbol names, list splitting, retry
 * backoff, UTC text, array growth. */
#ifndef LT_UTIL_H
#define LT_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define SYM_MAX 32          /* longest symbol name + 1 */

int64_t wall_ms(void);      /* epoch milliseconds, UTC */
int64_t mono_ms(void);      /* monotonic milliseconds */
double mono_sec(void);      /* monotonic seconds, sub-microsecond */

/* 64-bit FNV-1a over `len` bytes, continuing from `h` (start: HASH_INIT). */
#define HASH_INIT 0xcbf29ce484222325ULL
uint64_t hash64(uint64_t h, const void *data, size_t len);
uint64_t hash_str(uint64_t h, const char *s);      /* includes the NUL */
uint64_t mix64(uint64_t x);                        /* splitmix64 finaliser */

/* CRC-32 (IEEE 802.3, as zlib's crc32) over len bytes, continuing from
 * crc (start: 0). */
uint32_t crc32_ieee(uint32_t crc, const void *data, size_t len);

/* A random 64-bit value from the OS (publisher instance ids). */
uint64_t random_u64(void);

/* Strict parsers: the whole string must be the number. 0 or -1. */
int parse_double(const char *s, double *out);
int parse_int64(const char *s, int64_t *out);

/* 1 if `s` is a valid symbol: 1..SYM_MAX-1 chars of [A-Za-z0-9.:/_-]. */
int symbol_valid(const char *s);

/* 1 if `s` is a valid engine id: 1..ENG_ID_MAX-1 chars of
 * [A-Za-z0-9._-], and not "." or "..". An id names a directory (the
 * journal's), so it can never reach outside its parent. */
#define ENG_ID_MAX 64
int eng_id_valid(const char *s);

/* The shard of symbol `sym` among n: FNV-1a 64 of its bytes (no NUL),
 * modulo n. Stable across hosts and versions (engines' --shard). */
int symbol_shard(const char *sym, int n);

/* Splits a comma-separated list in place; returns the number of items, or
 * -1 if there are more than `max`. Empty items are skipped. */
int split_list(char *s, char **items, int max);

/* livetrade's directory of a kind, "cache" ($XDG_CACHE_HOME/livetrade,
 * else ~/.cache/livetrade) or "state" ($XDG_STATE_HOME/livetrade, else
 * ~/.local/state/livetrade), in out[n]; NULL if neither variable nor HOME
 * is set (or it does not fit). Not created. */
char *xdg_dir(const char *kind, char *out, size_t n);

/* Creates dir and its parents (mode 0700) as needed. 0, or -1 with a
 * reason in err[ERR_LEN]. */
int mkdir_p(const char *dir, char *err);

/* Opens `path` with `flags` plus O_CLOEXEC and O_NOFOLLOW, mode 0600 if
 * created: files holding signals, state and spools are private to their
 * user and never written through a symbolic link. fd, or -1 with errno
 * (ELOOP for a link). */
int open_private(const char *path, int flags);

/* Creates a private temporary file beside `path` (PATH.XXXXXX, mode 0600,
 * mkstemp: a fresh name, never an existing file or link), its name in
 * tmp[n], opened for writing. NULL with errno. */
FILE *tmp_private(const char *path, char *tmp, size_t n);

/* snprintf that reports truncation as -1 instead of a length. */
int strfmt(char *buf, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Next value of the splitmix64 sequence kept in *state (seed it from
 * random_u64() or a fixed value for a repeatable run). */
uint64_t rand_next(uint64_t *state);

/* Backoff before retry number `attempt` (1: the first retry): base *
 * 2^(attempt-1), at least 1 ms, capped at `max`; then "equal jitter", so
 * clients that failed together spread out: ceil(d/2) plus rnd modulo
 * (floor(d/2) + 1), i.e. within [d/2, d]. Never overflows. */
int64_t backoff_ms(int64_t base, int64_t max, int attempt, uint64_t rnd);

/* Epoch milliseconds `ms` as UTC text in buf[n], in one of three styles:
 *   UTC_ISO     2026-01-02T15:04:05Z
 *   UTC_ISO_MS  2026-01-02T15:04:05.678Z
 *   UTC_PLAIN   2026-01-02 15:04:05
 * Seconds are rounded down, negative times too: -1 ms is
 * 1969-12-31T23:59:59.999Z. 0, or -1 if the time is out of the range of
 * the calendar or the text does not fit (then buf[0] is '\0' if n > 0). */
enum { UTC_ISO, UTC_ISO_MS, UTC_PLAIN };
int utc_text(char *buf, size_t n, int64_t ms, int style);

/* Makes room for `need` elements of `size` bytes in the array *p of *cap
 * elements (*p may be NULL with *cap 0). If need > *cap, *p is
 * reallocated to the first of 16, 32, ... (or *cap * 2, * 4, ...) that
 * holds need, but no more than `max` elements (SIZE_MAX: no limit).
 * 0, then *cap >= need; ERR_TOO_LARGE if need > max or the bytes would
 * overflow size_t; ERR_NOMEM. On failure *p and *cap are unchanged. */
#define GROW_MIN 16
int grow(void **p, size_t *cap, size_t need, size_t size, size_t max);

#endif
