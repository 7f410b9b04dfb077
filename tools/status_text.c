/* status_text.c -- a status reply as text (status_text.h). */
#include "status_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "history.h"
#include "mp.h"
#include "msg_status.h"
#include "util.h"

#define STALE_NAMES 12              /* stale symbols named in the text */

/* {==================== text ================================ */

static int64_t s_int(const msgpack_object *o, const char *key, int64_t dflt)
{
    int64_t v;
    uint64_t u;

    if (mp_int(o, key, &v) == 0)
        return v;
    if (mp_uint(o, key, &u) == 0)
        return (int64_t)u;
    return dflt;
}

/* The string at key, cut to fit out[n], control characters as '?';
 * "" when absent. */
static void s_str(const msgpack_object *o, const char *key, char *out,
                  size_t n)
{
    const msgpack_object *v = mp_get(o, key);
    size_t k = 0;

    if (v && v->type == MSGPACK_OBJECT_STR)
        for (uint32_t i = 0; i < v->via.str.size && k + 1 < n; i++) {
            unsigned char c = (unsigned char)v->via.str.ptr[i];
            out[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    out[k] = '\0';
}

static void s_time(char *buf, size_t n, int64_t ms)
{
    if (ms < 0 || utc_text(buf, n, ms, UTC_PLAIN))     /* < 0: none yet */
        snprintf(buf, n, "-");
}

static void s_age(char *buf, size_t n, int64_t ms)
{
    if (ms < 0)
        snprintf(buf, n, "-");
    else if (ms < 60000)
        snprintf(buf, n, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, n, "%lldm%02llds", (long long)(ms / 60000),
                 (long long)(ms / 1000 % 60));
    else
        snprintf(buf, n, "%lldh%02lldm", (long long)(ms / 3600000),
                 (long long)(ms / 60000 % 60));
}

static int s_has_int(const msgpack_object *o, const char *key)
{
    const msgpack_object *v = mp_get(o, key);

    return v && (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                 v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
}

/* Prints "key value" for each key present, on one indented line. An
 * engine's "published" (the signals of this run) is shown as
 * "signals_published N (journal seq S)", S being its "signals" (the
 * journal's sequence number, which counts earlier runs too); "signals"
 * alone only from an engine that does not send "published". */
static void s_counters(const msgpack_object *o, const char *const *keys)
{
    int any = 0;

    for (int i = 0; keys[i]; i++) {
        if (!s_has_int(o, keys[i]))
            continue;
        if (strcmp(keys[i], "published") == 0) {
            printf("%ssignals_published %lld", any ? "  " : "    ",
                   (long long)s_int(o, "published", 0));
            if (s_has_int(o, "signals"))
                printf(" (journal seq %lld)",
                       (long long)s_int(o, "signals", 0));
            any = 1;
            continue;
        }
        if (strcmp(keys[i], "signals") == 0 && s_has_int(o, "published"))
            continue;
        printf("%s%s %lld", any ? "  " : "    ", keys[i],
               (long long)s_int(o, keys[i], 0));
        any = 1;
    }
    if (any)
        printf("\n");
}

/* A polygon feeder's history progress, from its counters:
 * "history 3,200/11,000 symbols, 29%, about 40 s left (2 failed)". */
static void s_history(const msgpack_object *o)
{
    int64_t total = s_int(o, "history_symbols_now", 0);
    int64_t done = s_int(o, "history_done", 0);
    int64_t failed = s_int(o, "history_failed", 0);
    int64_t left = s_int(o, "history_left_s_now", 0);
    char line[160];

    if (total <= 0 || done < 0 || done > total)
        return;
    history_progress(line, sizeof line, (uint64_t)done, (uint64_t)total,
                     left > 0 ? left * 1000 : -1);
    if (failed > 0)
        printf("    %s (%lld failed)\n", line, (long long)failed);
    else
        printf("    %s\n", line);
}

/* The symbol table: a status reply's "symbols". */
static void s_symbols(const msgpack_object *arr, int64_t rows)
{
    char names[STALE_NAMES * (SYM_MAX + 2) + 32] = "";
    size_t off = 0;
    uint32_t n = arr->via.array.size, stale = 0;

    printf("    %-12s %-19s %9s %8s %8s  %s\n", "SYMBOL", "LAST BAR (UTC)",
           "ARRIVED", "BARS", "SIGNALS", "STATE");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *y = &arr->via.array.ptr[i];
        const msgpack_object *live = mp_get(y, "live");
        const msgpack_object *st = mp_get(y, "stale");
        char sym[SYM_MAX], when[32], ago[32], err[80], state[128];
        char sigs[24] = "-";
        int is_stale = st && st->type == MSGPACK_OBJECT_BOOLEAN &&
                       st->via.boolean;
        if (y->type != MSGPACK_OBJECT_MAP)
            continue;
        s_str(y, "sym", sym, sizeof sym);
        s_str(y, "error", err, sizeof err);
        if (is_stale) {
            stale++;
            if (stale <= STALE_NAMES && off < sizeof names)
                off += (size_t)snprintf(names + off, sizeof names - off,
                                        "%s%s", stale > 1 ? ", " : "", sym);
        }
        if (i >= (uint32_t)rows)
            continue;
        s_time(when, sizeof when, s_int(y, "last_t", -1));
        s_age(ago, sizeof ago, s_int(y, "silent_ms", -1));
        snprintf(state, sizeof state, "%s%s%s%s",
                 is_stale ? "STALE" :
                 live && live->type == MSGPACK_OBJECT_BOOLEAN ?
                 (live->via.boolean ? "live" : "warming") : "ok",
                 err[0] ? " (strategy error: " : "", err,
                 err[0] ? ")" : "");
        if (mp_get(y, "signals"))
            snprintf(sigs, sizeof sigs, "%lld",
                     (long long)s_int(y, "signals", 0));
        printf("    %-12s %-19s %9s %8lld %8s  %s\n", sym, when, ago,
               (long long)s_int(y, "bars", s_int(y, "live", -1)), sigs,
               state);
    }
    if (n > (uint32_t)rows)
        printf("    ... %u more symbol(s) (--rows N shows more)\n",
               n - (uint32_t)rows);
    if (stale)
        printf("    stale: %s%s (%u)\n", names,
               stale > STALE_NAMES ? ", ..." : "", stale);
}

void status_text(const char *ep, const msgpack_object *o, int64_t rows)
{
    static const char *const feeder_keys[] = {
        "known", "bars_published", "dropped", "requests", "bad_requests",
        "live_bars", "reconnects", "silences", "silent_now", NULL
    };
    static const char *const engine_keys[] = {
        "bars_in", "published", "signals", "gaps", "dropped", "bad", "old",
        "journal_errors", "reloads", "stale", NULL
    };
    char prog[64], id[128], type[32], msg[160];
    const msgpack_object *syms;

    s_str(o, "type", type, sizeof type);
    if (strcmp(type, "status") != 0) {
        s_str(o, "error", msg, sizeof msg);
        printf("%-44s up    answered, but not with a status%s%s\n", ep,
               msg[0] ? ": " : "", msg);
        return;
    }
    s_str(o, "prog", prog, sizeof prog);
    s_str(o, "id", id, sizeof id);
    if (!id[0])
        s_str(o, "source", id, sizeof id);
    printf("%-44s up    %s %s", ep, prog[0] ? prog : "?", id);
    if (mp_get(o, "strategy")) {
        char strat[64];
        s_str(o, "strategy", strat, sizeof strat);
        printf(" (strategy %s)", strat);
    }
    printf("  instance %" PRIx64 "\n", (uint64_t)s_int(o, "pub", 0));
    s_counters(o, strstr(prog, "engine") ? engine_keys : feeder_keys);
    if (!strstr(prog, "engine"))
        s_history(o);
    syms = msg_status_symbols(o);
    if (syms)
        s_symbols(syms, rows);
}

/* }========================================================== */
