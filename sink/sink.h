/* sink.h -- livetrade-sink: outputs as const vtables, and the pipeline
 * that turns bus messages into signals for them.
 *
 * An output is one file and one `struct sink_ops` (console.c, file.c);
 * main.c lists them in a table, so adding one is one file + one entry.
 *
 * The pipeline (sink.c) takes each message off the bus, checks its topic
 * and body, drops bad input and duplicate signal ids, tracks sequence
 * numbers per engine and hands every new signal to the output:
 *
 *   sink_t *k = sink_new(&sink_console, out_state, 1);
 *   sink_handle(k, topic, body, len);     for each message
 *   sink_destroy(&k);
 */
#ifndef LT_SINK_H
#define LT_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "counters.h"
#include "loop.h"
#include "msg_bar.h"
#include "msg_ind.h"
#include "msg_signal.h"

struct opt;

struct sink_ops {
    const char *name;               /* subcommand, e.g. "console" */
    const char *summary;            /* one line for livetrade-sink --help */
    const char *usage;              /* its flags, for the usage line */
    /* The output's own flags (config.h), ending with { 0 }; their values
     * go to the output's static settings, read by open(). main.c adds
     * the common flags (--sub, --symbols, --verbose). */
    const struct opt *opts;
    /* Opens the output; 0 with *state set and a short description for
     * the start-up log line in info[ERR_LEN], or ERR_USAGE (bad flag
     * value), ERR_IO or ERR_NOMEM with a reason in err[ERR_LEN]. */
    int (*open)(void **state, char *info, char *err);
    /* Writes one signal. 0, or ERR_IO / ERR_NOMEM with errno set: the
     * signal is counted as failed; EPIPE (reader gone) stops the sink. */
    int (*write)(void *state, const struct signal *s);
    /* Flushes and releases the output; sets *state to NULL. Idempotent. */
    void (*close)(void **state);
    /* Optional (NULL: none). Called once after open with the sink's event
     * loop, for outputs that serve or poll (timers, descriptors, sockets).
     * 0, or an ERR_* code with a reason in err[ERR_LEN]. */
    int (*attach)(void *state, loop_t *loop, char *err);
    /* Optional: bars as well. When set, livetrade-sink also subscribes to
     * bars on --bars (default tcp://127.0.0.1:5555, the feeder) for the
     * same --symbols and hands each well-formed bar here. */
    void (*bar)(void *state, const struct bar *b);
    /* Optional: the engines' indicator values per bar as well. When set,
     * livetrade-sink also subscribes to ind| on --sub for the same
     * --symbols and hands each well-formed message here (they are not
     * signals: no sequence numbers, no replay). */
    void (*ind)(void *state, const struct ind_msg *m);
    /* Optional: the signals the output already holds (the end of its
     * file), each through fn, so that signals replayed after a crash are
     * not written twice. */
    void (*seen)(void *state, void (*fn)(void *arg, const char *eng,
                                         const char *id, uint64_t seq),
                 void *arg);
    /* Optional: the default state file for this output (e.g. next to its
     * file) in out[n]; 0, or -1 for the common default. */
    int (*state_path)(void *state, char *out, size_t n);
    /* 1: closes that changed nothing (msg_signal_is_flat_close) are left out
     * and counted, unless --flat-closes (main.c adds the flag). */
    int quiet_flat_closes;
};

extern const struct sink_ops sink_console;
extern const struct sink_ops sink_file;
extern const struct sink_ops sink_alert;
extern const struct sink_ops sink_lua;
extern const struct sink_ops sink_exec;
extern const struct sink_ops sink_web;

/* The console's colours (ANSI SGR): the action's, the indicators' and
 * the reset after each. */
#define CONSOLE_BUY "\033[32m"
#define CONSOLE_SELL "\033[31m"
#define CONSOLE_CLOSE "\033[33m"
#define CONSOLE_DIM "\033[2m"
#define CONSOLE_OFF "\033[0m"

/* Formats `s` as one console line (no newline) into buf[n]: running
 * `number`, bar time (UTC), symbol, action, price, confidence, the
 * position found (closes, and buys or sells that found one), order
 * fields when given, indicators. `color` adds ANSI escapes. Returns the
 * line's length, or -1 if it did not fit (buf then holds what fitted,
 * NUL-terminated). */
int console_format(const struct signal *s, unsigned long long number,
                   int color, char *buf, size_t n);

/* Writes `s` as one compact JSON object and a newline to `f`, then
 * flushes. 0, or ERR_NOMEM / ERR_IO (errno set). Used by console --json
 * and by the file output, so both write the same lines. */
int sink_write_json(FILE *f, const struct signal *s);

/* {==================== pipeline ====================== */

typedef struct sink sink_t;

struct sink_stats {
    uint64_t received;              /* messages taken off the bus */
    uint64_t signals;               /* well-formed signals among them */
    uint64_t heartbeats;            /* well-formed heartbeats */
    uint64_t written;               /* signals the output accepted */
    uint64_t duplicates;            /* signals dropped: already taken */
    uint64_t bad;                   /* messages dropped: bad input */
    uint64_t failed;                /* signals the output refused */
    uint64_t gaps, missed;          /* sequence gaps, signals in them */
    uint64_t restarts;              /* engine instance changes */
    uint64_t old;                   /* signals with an older seq */
    uint64_t replays;               /* replay requests answered */
    uint64_t replayed;              /* signals received through them */
    uint64_t lost;                  /* missed and no longer in a journal,
                                       or no engine to ask */
    uint64_t flat_closes;           /* closes that changed nothing, left
                                       out (sink_ops.quiet_flat_closes) */
};

#define SINK_DEDUP_IDS 4096         /* signal ids remembered */

/* Creates a pipeline writing to `ops` with its opened `state` (borrowed:
 * the caller closes it after sink_destroy). `track_gaps` 0 skips gap
 * tracking (a symbol filter makes gaps normal) but still detects engine
 * restarts. NULL on allocation failure. */
sink_t *sink_new(const struct sink_ops *ops, void *state, int track_gaps);
void sink_destroy(sink_t **self_p);

/* Resuming after a stop, a gap or an engine restart. state_path: the
 * state file (NULL or "": none); replay_eps: the engines' request
 * endpoints, comma-separated (NULL or "": no replay); syms/nsyms: the
 * --symbols filter (0: all), applied to replayed signals. Loads the state
 * and what the output already holds (sink_ops.seen). 0, or ERR_IO with a
 * reason in err[ERR_LEN]. */
int sink_resume(sink_t *self, const char *state_path, const char *replay_eps,
                char *const *syms, int nsyms, char *err);
/* --since: what the sink asks of an engine it holds no state for (a
 * first start, or an engine new to it). `spec` is "run" (every signal of
 * the engine's current instance, the default), "start" (published since
 * this sink started), "all" (the whole journal), a duration back from
 * now (30s, 15m, 2h, 1d) or a time (UTC: 2026-11-25T15:20[:00][Z], or
 * epoch ms). 0, or ERR_USAGE with a reason in err[ERR_LEN]. */
int sink_since(sink_t *self, const char *spec, char *err);
/* Outputs with quiet_flat_closes: 1 shows closes that changed nothing
 * after all (--flat-closes). */
void sink_show_flat_closes(sink_t *self, int show);
/* Gives the pipeline its event loop (borrowed; destroy the sink first),
 * where its requests to the engines (replay, status) wait for their
 * answers. After sink_resume. 0, or an ERR_* with a reason in
 * err[ERR_LEN]. */
int sink_attach(sink_t *self, loop_t *loop, char *err);
/* Asks each engine (replay endpoints) for what the sink lacks: the
 * signals after the state file's last ones, or for an engine without
 * state what --since says. At start, before the first live message; the
 * answers come in the loop, and each engine's live signals wait for its
 * own (others' do not). */
void sink_catch_up(sink_t *self);
/* 1 once the output is gone for good (a replay found it so, in the loop,
 * which it then stopped): exit 1. */
int sink_failed(const sink_t *self);
/* Saves the state file if it changed: now and then, and at exit. */
void sink_save(sink_t *self);

/* Handles one message: topic (NUL-terminated) and msgpack body. Returns
 * 0, or ERR_IO if the output is gone for good (stop the sink). Bad input
 * is counted and logged, never returned. */
int sink_handle(sink_t *self, const char *topic, const void *body,
                size_t len);
/* Counts and logs a message bus_recv() rejected (wrong frame count). */
void sink_bad_frame(sink_t *self);

const struct sink_stats *sink_stats(const sink_t *self);
/* The counters of struct sink_stats, described once (counters.h). */
extern const struct counter sink_counters[];
extern const size_t sink_ncounters;

/* }==================================================== */

#endif
