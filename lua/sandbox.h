/* sandbox.h -- the sandbox every Lua state of livetrade runs in: the
 * engine's strategies and the lua output of livetrade-sink (libsandbox.a).
 *
 * A sandboxed state has no io, os, debug, package, require or load (text
 * chunks only, no string.dump), print() goes to the log, setmetatable
 * refuses __gc, and the library functions that loop in C (string.rep,
 * the pattern functions, table.move/concat/insert/remove/sort) are
 * capped. Memory is counted against the state's own cap and a cap for
 * all the states of the process. Each call into Lua (sandbox_pcall) has
 * an instruction budget and a wall-clock time limit, which a watchdog
 * thread enforces; pcall and xpcall cannot swallow the error that ends a
 * call over its limits.
 *
 * Scripts use the heap form: sandbox_new() ... sandbox_close(). The
 * engine embeds struct sandbox as the first member of its strategy, sets
 * the limits and calls sandbox_open(); sandbox_self() then gives back the
 * struct from any state of the sandbox. */
#ifndef LT_SANDBOX_H
#define LT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SANDBOX_MEM_DEFAULT (64u << 20)     /* per state */
#define SANDBOX_MEM_TOTAL_DEFAULT ((size_t)2 << 30) /* all of a process's */
#define SANDBOX_BUDGET_DEFAULT 100000000LL  /* Lua instructions per call */
#define SANDBOX_TIME_MS_DEFAULT 5000        /* wall-clock limit per call */

struct lua_State;

/* One sandboxed state and its limits. The owner sets name, sym, mem_cap,
 * budget and time_ms before sandbox_open(); the rest is the sandbox's. */
struct sandbox {
    struct lua_State *L;            /* NULL until sandbox_open() */
    char name[64];                  /* strategy or script: log prefix */
    char sym[SYM_MAX];              /* the symbol of a strategy, or "" */
    size_t mem_used, mem_cap;       /* allocator accounting */
    long long budget, ticks;        /* instruction budget per call */
    int64_t time_ms;                /* wall-clock limit per call */
    int64_t deadline;               /* mono_ms() the call must end by */
    struct sandbox *wd_next;        /* in the watchdog's list of calls */
    int wd_poked;                   /* the watchdog set a hook of 1 */
};

/* {==================== scripts ============================== */

/* A sandboxed state for a script: a memory cap of `mem_cap` bytes (0:
 * SANDBOX_MEM_DEFAULT) and an instruction budget per sandbox_pcall (<= 0:
 * SANDBOX_BUDGET_DEFAULT); `name` prefixes print() lines and budget
 * errors. NULL if out of memory. */
struct lua_State *sandbox_new(const char *name, size_t mem_cap,
                              long long budget);
/* Closes a state of sandbox_new and sets *Lp to NULL; idempotent. */
void sandbox_close(struct lua_State **Lp);
/* The wall-clock limit of each sandbox_pcall, in ms (<= 0: the default
 * SANDBOX_TIME_MS_DEFAULT). */
void sandbox_set_time_limit(struct lua_State *L, int64_t ms);

/* }========================================================== */

/* {==================== any sandboxed state ================== */

/* A new Lua state in sb->L for sb (mem_cap, budget and time_ms set): the
 * sandbox's libraries with their caps and the limits; sb in its extra
 * space (sandbox_self). NULL if it cannot be created. The owner closes
 * sb->L with lua_close. */
struct lua_State *sandbox_open(struct sandbox *sb);
/* The sandbox a state was opened for. */
struct sandbox *sandbox_self(struct lua_State *L);
/* lua_pcall(L, nargs, nres) with the budget restarted and the time limit
 * running. ERR_OK, or ERR_LUA with the message ("file:line: ...") in
 * err[ERR_LEN] and the function and arguments gone. */
int sandbox_pcall(struct lua_State *L, int nargs, int nres, char *err);
/* The values on L's stack as print shows them (tostring, tab-separated),
 * pushed as one string, which is returned. */
const char *sandbox_join(struct lua_State *L);
/* Raises an error located at the Lua line that called the C function
 * (one line, at most 511 bytes of message). */
int sandbox_error(struct lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Raises the call's time-limit error once its deadline has passed (the
 * count hook and the capped library functions call it; so may any C
 * function that can take long). */
void sandbox_check_time(struct lua_State *L);
/* Hides every metatable registered as "livetrade.*" from getmetatable
 * and fixes it for setmetatable, so that no script adds a __gc to one
 * that later objects get; once they are all registered. */
void sandbox_lock(struct lua_State *L);

/* Memory for all the sandboxed states of the process together, in bytes
 * (0: SANDBOX_MEM_TOTAL_DEFAULT), and what it is. */
void sandbox_set_total_cap(size_t total);
size_t sandbox_total_cap(void);

/* A bound on the steps of matching a pattern of pl bytes against a
 * subject of n bytes, over every start position. */
double sandbox_pattern_cost(const char *p, size_t pl, size_t n);

/* }========================================================== */

/* {==================== hints (sandbox_hints.c) ============== */

/* Appends to an error message a hint for what a Python habit caused
 * (len(x), range, a method defined with a dot...), if one applies; the
 * message stays one line. */
void sandbox_hint(char *msg, size_t size);
/* Gives the global table a metatable whose __index raises an error that
 * names the Lua form of True, False and None (other unknown globals stay
 * nil). */
void sandbox_hints_globals(struct lua_State *L);

/* }========================================================== */

/* {==================== inside the sandbox =================== */

/* sandbox_limits.c, for sandbox.c: the count hook of the budget and the
 * pcall and xpcall that re-raise the error of a call over its limits. */
void sandbox_limits_open(struct lua_State *L);

/* }========================================================== */

#endif
