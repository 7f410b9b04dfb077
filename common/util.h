/* util.h -- small helpers shared by every livetrade program: clocks,
 * hashing, strict number parsing, symbol names, list splitting. */
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

#endif
