/* sink.c -- the pipeline between the bus and an output: checks topics
 * and bodies, drops bad input and duplicate ids, tracks sequence numbers
 * and engine restarts, and writes what is left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "dedup.h"
#include "history.h"
#include "err.h"
#include "log.h"
#include "mp.h"
#include "sink.h"
#include "state.h"

#define REPLAY_TIMEOUT_MS 5000      /* one replay request */
#define STATUS_TIMEOUT_MS 2000      /* one status request (engine id) */
#define RETRY_MS 30000              /* an endpoint that did not answer */
#define REPLAY_PAGES 10000          /* pages in one catch-up, at most */
#define ENDPOINTS_MAX 64

/* An engine's request endpoint and, once it answered, its id. */
struct endpoint {
    char ep[256];
    char eng[64];                   /* "" until known */
    int64_t next_try;               /* mono ms: after no answer, wait */
    int has_run;                    /* the status said pub, seq0, signals */
    uint64_t pub;                   /* the instance that answered */
    uint64_t seq0;                  /* its signals are seq0+1, seq0+2... */
    uint64_t last;                  /* its newest signal then */
    uint64_t taken;                 /* newest seq read from its journal
                                       since it answered as `pub` */
};

/* --since (sink_since) */
enum { SINCE_RUN, SINCE_START, SINCE_ALL, SINCE_TS };

struct sink {
    const struct sink_ops *ops;     /* the output */
    void *state;                    /* its state (borrowed) */
    int track_gaps;                 /* 0: restarts only (symbol filter) */
    struct mp_body body;            /* reused decoder */
    struct bus_track track;         /* per engine id: instance, seq */
    dedup_t *seen;                  /* recent signal ids */
    struct sink_stats st;           /* counters */
    /* One rate limit per kind of bad input, so one does not hide another. */
    struct log_limit lim_frame, lim_topic, lim_msgpack, lim_signal, lim_sym,
        lim_hb, lim_write, lim_replay;
    sink_state_t *state_file;       /* NULL: none */
    struct endpoint *eps;           /* replay endpoints */
    int neps;
    char *const *syms;              /* --symbols (borrowed), nsyms 0: all */
    int nsyms;
    int64_t start_ms;               /* wall time this sink started */
    int since;                      /* SINCE_*: engines without state */
    int64_t since_ts;               /* SINCE_TS: wall ms */
    int quiet_flat;                 /* leave flat closes out */
};

sink_t *sink_new(const struct sink_ops *ops, void *state, int track_gaps)
{
    static const struct log_limit lim = LOG_LIMIT_INIT;
    sink_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->seen = dedup_new(SINK_DEDUP_IDS);
    if (!self->seen) {
        free(self);
        return NULL;
    }
    self->ops = ops;
    self->state = state;
    self->track_gaps = track_gaps;
    mp_body_init(&self->body);
    bus_track_init(&self->track);
    self->lim_frame = self->lim_topic = self->lim_msgpack = lim;
    self->lim_signal = self->lim_sym = self->lim_hb = self->lim_write = lim;
    self->lim_replay = lim;
    self->start_ms = wall_ms();
    self->since = SINCE_RUN;
    self->quiet_flat = ops->quiet_flat_closes;
    return self;
}

void sink_destroy(sink_t **self_p)
{
    sink_t *self = *self_p;
    if (self) {
        mp_body_free(&self->body);
        bus_track_free(&self->track);
        dedup_destroy(&self->seen);
        sink_state_free(&self->state_file);
        free(self->eps);
        free(self);
        *self_p = NULL;
    }
}

const struct sink_stats *sink_stats(const sink_t *self)
{
    return &self->st;
}

/* Copies a string from the bus for a log line, control bytes as '?'. */
static const char *s_printable(char *out, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[i] = '\0';
    return out;
}

/* 1 if `s` is valid UTF-8 (JSON output needs it: jansson refuses
 * anything else). Overlongs, surrogates and > U+10FFFF are invalid. */
static int s_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p, len, cp, min;
        if (c < 0x80) {
            p++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            len = 2;
        else if ((c & 0xf0) == 0xe0)
            len = 3;
        else if ((c & 0xf8) == 0xf0)
            len = 4;
        else
            return 0;               /* continuation or invalid lead byte */
        cp = c & (0x7fu >> len);
        min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        for (unsigned i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += len;
    }
    return 1;
}

/* The name of the first string field of `s` that is not UTF-8, or NULL. */
static const char *s_bad_utf8(const struct signal *s)
{
    if (!s_utf8(s->id))
        return "id";
    if (!s_utf8(s->eng))
        return "eng";
    if (!s_utf8(s->strat))
        return "strat";
    if (!s_utf8(s->tag))
        return "tag";
    for (int i = 0; i < s->nind; i++)
        if (!s_utf8(s->ind[i].name))
            return "ind";
    return NULL;
}

static void s_sync_track(sink_t *self)
{
    self->st.gaps = self->track.gaps;
    self->st.missed = self->track.missed;
    self->st.restarts = self->track.restarts;
    self->st.old = self->track.old;
}

/* The tracking entry for `key`, or NULL if none yet. bus_track has no
 * lookup of its own; its table is small (one entry per engine). */
static const struct bus_track_entry *s_track_find(const struct bus_track *t,
                                                  const char *key)
{
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].key[0] && strcmp(t->e[i].key, key) == 0)
            return &t->e[i];
    return NULL;
}

static int s_process(sink_t *self, const struct signal *s, int replayed);

/* {==================== replay ====================== */

/* Asks endpoint e for its engine's status: its id, and where the
 * engine's current instance began (pub, seq0) and stands (signals).
 * 0, or -1 (no answer: logged, asked again in RETRY_MS at the earliest). */
static int s_ask(sink_t *self, struct endpoint *e)
{
    char err[ERR_LEN], *reply = NULL;
    size_t len = 0;
    msgpack_unpacked u;

    if (bus_request_status(e->ep, BUS_ENGINE, STATUS_TIMEOUT_MS, &reply,
                           &len, err)) {
        e->next_try = mono_ms() + RETRY_MS;
        log_limited(&self->lim_replay, LL_WARN, "replay endpoint %s: %s "
                    "(asked again in %d s at the earliest)", e->ep, err,
                    RETRY_MS / 1000);
        return -1;
    }
    msgpack_unpacked_init(&u);
    e->eng[0] = '\0';
    e->has_run = 0;
    e->taken = 0;
    if (msgpack_unpack_next(&u, reply, len, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        mp_str(&u.data, "id", e->eng, sizeof e->eng) == 0) {
        log_msg(LL_INFO, "replay endpoint %s: engine %s", e->ep, e->eng);
        /* Engines that do not say where their run began are asked for
         * what they published since this sink started instead. */
        e->has_run = mp_uint(&u.data, "pub", &e->pub) == 0 &&
                     mp_uint(&u.data, "seq0", &e->seq0) == 0 &&
                     mp_uint(&u.data, "signals", &e->last) == 0;
    } else {
        e->eng[0] = '\0';
    }
    msgpack_unpacked_destroy(&u);
    free(reply);
    return 0;
}

/* Asks every endpoint whose engine is not known yet for its id. */
static void s_discover(sink_t *self)
{
    for (int i = 0; i < self->neps; i++)
        if (!self->eps[i].eng[0] && mono_ms() >= self->eps[i].next_try)
            s_ask(self, &self->eps[i]);
}

/* 1 if signal `seq` of engine `eng`'s instance `pub` was already read
 * from its journal: a replay that went past signals queued live. */
static int s_taken(const sink_t *self, const char *eng, uint64_t pub,
                   uint64_t seq)
{
    for (int i = 0; i < self->neps; i++)
        if (strcmp(self->eps[i].eng, eng) == 0)
            return self->eps[i].has_run && self->eps[i].pub == pub &&
                   seq <= self->eps[i].taken;
    return 0;
}

static struct endpoint *s_endpoint_of(sink_t *self, const char *eng)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < self->neps; i++)
            if (strcmp(self->eps[i].eng, eng) == 0)
                return &self->eps[i];
        if (pass == 0)
            s_discover(self);
    }
    return NULL;
}

/* One page: the signals of engine `eng` after *after (or, with since_ts
 * >= 0, published at since_ts or later) from ep, processed up to `upto`.
 * With since_ts, *after also moves up to where the answer begins: the
 * signals before it are older than wanted. `whole`: after 0 means the
 * journal's start, so none before it counts as lost. Returns how many the
 * reply held (0: nothing more), or -1 on an error (logged). */
static long s_replay_page(sink_t *self, const char *ep, const char *eng,
                          uint64_t *after, int64_t since_ts, uint64_t upto,
                          int whole, int *stop)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char err[ERR_LEN], *reply = NULL;
    size_t len = 0;
    const msgpack_object *sigs;
    uint64_t first = 0, last = 0;
    long n = -1;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "type", "replay");
    if (since_ts >= 0)
        mp_kint(&pk, "since_ts", since_ts);
    else
        mp_kuint(&pk, "after", *after);
    rc = bus_request(ep, BUS_ENGINE, &sb, REPLAY_TIMEOUT_MS, &reply, &len,
                     err);
    msgpack_sbuffer_destroy(&sb);
    if (rc) {
        log_limited(&self->lim_replay, LL_WARN, "replay from %s (%s): %s",
                    ep, eng, err);
        return -1;
    }
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, reply, len, NULL) != MSGPACK_UNPACK_SUCCESS
        || !mp_is(mp_get(&u.data, "type"), "replay") ||
        !(sigs = mp_get(&u.data, "signals")) ||
        sigs->type != MSGPACK_OBJECT_ARRAY) {
        char why[128] = "not a replay reply";
        mp_str(&u.data, "error", why, sizeof why);
        log_limited(&self->lim_replay, LL_WARN, "replay from %s (%s): %s",
                    ep, eng, why);
        goto out;
    }
    self->st.replays++;
    mp_uint(&u.data, "first", &first);
    mp_uint(&u.data, "last", &last);
    if (since_ts < 0 && first > *after + 1 && (*after || !whole)) {
        uint64_t gone = (upto < first ? upto + 1 : first) - (*after + 1);
        self->st.lost += gone;
        log_msg(LL_WARN, "replay from %s: engine %s's journal starts at "
                "seq %llu; %llu signal(s) after %llu are no longer there",
                ep, eng, (unsigned long long)first,
                (unsigned long long)gone, (unsigned long long)*after);
    }
    n = (long)sigs->via.array.size;
    if (since_ts >= 0) {
        uint64_t cut = last;
        if (n > 0 && mp_uint(&sigs->via.array.ptr[0], "seq", &cut) == 0 &&
            cut > 0)
            cut--;
        if (cut > upto)
            cut = upto;
        if (cut > *after)
            *after = cut;
    }
    for (uint32_t i = 0; i < sigs->via.array.size && !*stop; i++) {
        struct signal s;
        if (signal_unpack(&sigs->via.array.ptr[i], &s, err) != ERR_OK ||
            !s.id[0] || !symbol_valid(s.sym) || s.seq <= *after) {
            self->st.bad++;
            log_limited(&self->lim_replay, LL_WARN, "replay from %s: a bad "
                        "signal skipped: %s", ep, err);
            continue;
        }
        if (s.seq > upto) {
            *stop = 1;
            break;
        }
        *after = s.seq;
        self->st.replayed++;
        if (s_process(self, &s, 1) != ERR_OK) {
            *stop = 2;
            break;
        }
    }
out:
    msgpack_unpacked_destroy(&u);
    free(reply);
    return n;
}

/* Brings engine `eng` from *after (or, with since_ts >= 0, from its first
 * signal published at since_ts or later) up to `upto` (inclusive)
 * through its journal; *after ends where the sink now stands. `whole`:
 * see s_replay_page. Returns ERR_OK if the engine answered, ERR_TIMEOUT
 * if not (none to ask, or no answer), ERR_IO if the output is gone for
 * good. */
static int s_replay_from(sink_t *self, const char *eng, uint64_t *after,
                         int64_t since_ts, uint64_t upto, int whole)
{
    struct endpoint *e = self->neps ? s_endpoint_of(self, eng) : NULL;
    uint64_t from = *after, n0 = self->st.replayed;
    int stop = 0, answered = 0;

    if (!e) {
        if (upto != UINT64_MAX && upto > *after) {
            self->st.lost += upto - *after;
            log_limited(&self->lim_replay, LL_WARN, "%llu signal(s) of "
                        "engine %s after seq %llu missed and no replay "
                        "endpoint answers for it (--replay)",
                        (unsigned long long)(upto - *after), eng,
                        (unsigned long long)*after);
        }
        return ERR_TIMEOUT;
    }
    for (int page = 0; page < REPLAY_PAGES && !stop && *after < upto;
         page++) {
        long n = s_replay_page(self, e->ep, eng, after, page ? -1 : since_ts,
                               upto, whole, &stop);
        if (n >= 0)
            answered = 1;
        if (n <= 0)
            break;
    }
    if (self->st.replayed > n0 && *after > e->taken)
        e->taken = *after;
    if (self->st.replayed > n0 && since_ts >= 0)
        log_msg(LL_INFO, "replayed engine %s's signals published since %s, "
                "up to %llu, from %s", eng,
                since_ts == self->start_ms ? "this sink started" : "--since",
                (unsigned long long)*after, e->ep);
    else if (self->st.replayed > n0)
        log_msg(LL_INFO, "replayed engine %s's signals %llu..%llu from %s",
                eng, (unsigned long long)from + 1,
                (unsigned long long)*after, e->ep);
    if (stop == 2)
        return ERR_IO;
    return answered || from >= upto ? ERR_OK : ERR_TIMEOUT;
}

static int s_replay(sink_t *self, const char *eng, uint64_t after,
                    uint64_t upto)
{
    int rc = s_replay_from(self, eng, &after, -1, upto, 0);
    return rc == ERR_IO ? ERR_IO : ERR_OK;
}

/* An engine this sink holds no state for, whose instance `pub` (0: not
 * known) it has just heard of: the signals --since asks for, up to
 * `upto`. Once the engine answered, it is in the state (at the last
 * signal taken, or where --since began), so from then on it is resumed
 * like any other. `fresh`: a new instance, for which endpoints that did
 * not answer before are asked again. ERR_IO if the output is gone for
 * good. */
static int s_replay_new(sink_t *self, const char *eng, uint64_t pub,
                        uint64_t upto, int fresh)
{
    struct endpoint *e;
    uint64_t after = 0;
    int64_t since_ts = -1;
    int rc;

    if (upto == 0) {                /* its first signal: nothing before */
        if (self->state_file)
            sink_state_set(self->state_file, eng, 0, 0);
        return ERR_OK;
    }
    /* Endpoints that did not answer before may be this engine, just
     * started: asked again, once per new engine instance. */
    for (int i = 0; fresh && i < self->neps; i++)
        if (!self->eps[i].eng[0])
            self->eps[i].next_try = 0;
    e = s_endpoint_of(self, eng);
    if (!e) {
        /* How many that is depends on --since and the engine's run:
         * unknown, so not counted as lost. */
        log_limited(&self->lim_replay, LL_WARN, "engine %s: no replay "
                    "endpoint answers for it (--replay); what it published "
                    "before this sink heard from it is not fetched", eng);
        return ERR_OK;
    }
    if (pub && e->pub != pub)
        s_ask(self, e);             /* restarted since: its new seq0 */
    switch (self->since) {
    case SINCE_RUN:
        if (e->has_run && (!pub || e->pub == pub))
            after = e->seq0;
        else
            since_ts = self->start_ms;
        break;
    case SINCE_ALL:
        break;
    case SINCE_START:
        since_ts = self->start_ms;
        break;
    default:
        since_ts = self->since_ts;
        break;
    }
    if (since_ts < 0 && e->has_run && (!pub || e->pub == pub) &&
        after >= e->last && upto == UINT64_MAX) {
        rc = ERR_OK;                /* nothing published since: no need */
        after = e->last;
    } else {
        rc = s_replay_from(self, eng, &after, since_ts, upto,
                           self->since == SINCE_ALL);
    }
    if (rc == ERR_OK && self->state_file)
        sink_state_set(self->state_file, eng, after, 0);
    return rc == ERR_IO ? ERR_IO : ERR_OK;
}

/* }==================================================== */

/* Heartbeats {ver, type:"hb", src, pub, seq, ts}: an engine restarted
 * (new instance id) while it had nothing to publish, or the signals up to
 * `seq` did not all arrive (fetched from its journal). */
static int s_heartbeat(sink_t *self, const void *body, size_t len)
{
    const msgpack_object *o = mp_body_decode(&self->body, body, len);
    const struct bus_track_entry *e;
    char src[64];
    int64_t ver, ts;
    uint64_t pub, seq, missing, last;
    const msgpack_object *type;
    int first, has;

    if (!o) {
        self->st.bad++;
        log_limited(&self->lim_hb, LL_WARN, "dropped a heartbeat: body is "
                    "not one msgpack object");
        return ERR_OK;
    }
    type = mp_get(o, "type");
    if (mp_int(o, "ver", &ver) || ver != 1 || !mp_is(type, "hb") ||
        mp_str(o, "src", src, sizeof src) || mp_uint(o, "pub", &pub) ||
        mp_uint(o, "seq", &seq) || mp_int(o, "ts", &ts)) {
        self->st.bad++;
        log_limited(&self->lim_hb, LL_WARN, "dropped a heartbeat: not a map "
                    "with ver 1, type \"hb\", src, pub, seq and ts of the "
                    "right types");
        return ERR_OK;
    }
    self->st.heartbeats++;
    e = s_track_find(&self->track, src);
    first = !e || e->pub != pub;
    has = self->state_file && sink_state_has(self->state_file, src);
    /* A new engine instance: recorded (with --replay, a first one too, so
     * that it is asked once), and asked at once for what the sink lacks,
     * not at its next signal, which may be long in coming. */
    if (first && (e || self->neps)) {
        bus_track_see(&self->track, src, pub, seq, &missing);
        s_sync_track(self);
    }
    if (first && !has && self->neps)
        return s_replay_new(self, src, pub, seq, 1);
    /* Behind an engine's last signal: missed ones (without a symbol
     * filter, where every seq is ours; with one, once per instance). */
    last = has ? sink_state_get(self->state_file, src) : 0;
    if (has && seq > last && (self->track_gaps || first))
        return s_replay(self, src, last, seq);
    return ERR_OK;
}

/* Decodes and checks a signal from the bus. 0, or -1 (counted, logged). */
static int s_decode(sink_t *self, const char *tsym, size_t tlen,
                    const void *body, size_t len, struct signal *s)
{
    const msgpack_object *o = mp_body_decode(&self->body, body, len);
    char err[ERR_LEN], p1[SYM_MAX], p2[SYM_MAX + 8];
    const char *field;
    int rc;

    snprintf(p1, sizeof p1, "%.*s", (int)tlen, tsym);
    s_printable(p2, sizeof p2, p1);
    if (!o) {
        self->st.bad++;
        log_limited(&self->lim_msgpack, LL_WARN, "dropped a signal for %s: "
                    "body is not one msgpack object", p2);
        return -1;
    }
    rc = signal_unpack(o, s, err);
    if (rc == ERR_OK && !s->id[0]) {
        snprintf(err, ERR_LEN, "signal %s: empty 'id'", s->sym);
        rc = ERR_INVALID;
    }
    field = rc == ERR_OK ? s_bad_utf8(s) : NULL;
    if (field) {
        snprintf(err, ERR_LEN, "signal %s: '%s' is not UTF-8", s->sym, field);
        rc = ERR_INVALID;
    }
    if (rc != ERR_OK) {
        char clean[ERR_LEN];
        self->st.bad++;
        log_limited(&self->lim_signal, LL_WARN, "dropped a bad signal on "
                    "topic sig|%s|: %s", p2,
                    s_printable(clean, sizeof clean, err));
        return -1;
    }
    if (strlen(s->sym) != tlen || memcmp(s->sym, tsym, tlen) != 0 ||
        !symbol_valid(s->sym)) {
        char clean[SYM_MAX];
        self->st.bad++;
        log_limited(&self->lim_sym, LL_WARN, "dropped a signal: symbol '%s' "
                    "does not match its topic sig|%s|",
                    s_printable(clean, sizeof clean, s->sym), p2);
        return -1;
    }
    return 0;
}

static int s_wanted(const sink_t *self, const char *sym)
{
    if (!self->nsyms)
        return 1;
    for (int i = 0; i < self->nsyms; i++)
        if (strcmp(self->syms[i], sym) == 0)
            return 1;
    return 0;
}

/* Writes one signal (live or replayed) unless it is a duplicate; records
 * it in the state. Returns ERR_OK, or ERR_IO if the output is gone. */
static int s_process(sink_t *self, const struct signal *s, int replayed)
{
    int rc;

    if (replayed && !s_wanted(self, s->sym))
        goto done;                  /* another symbol: only the seq counts */
    if (dedup_has(self->seen, s->id)) {
        self->st.duplicates++;
        log_msg(LL_DEBUG, "duplicate signal %s (%s %s seq %llu) dropped",
                s->id, s->sym, signal_action_name(s->act),
                (unsigned long long)s->seq);
        goto done;
    }
    if (self->quiet_flat && signal_is_flat_close(s)) {
        /* Skipped, not lost: remembered and recorded like one written. */
        dedup_add(self->seen, s->id);
        self->st.flat_closes++;
        log_msg(LL_DEBUG, "signal %s (%s close seq %llu) changed nothing: "
                "left out", s->id, s->sym, (unsigned long long)s->seq);
        goto done;
    }
    errno = 0;
    rc = self->ops->write(self->state, s);
    if (rc != ERR_OK) {
        int e = errno;
        self->st.failed++;
        if (e == EPIPE) {
            log_msg(LL_ERROR, "%s: output closed by its reader; stopping",
                    self->ops->name);
            return ERR_IO;
        }
        log_limited(&self->lim_write, LL_ERROR, "%s: cannot write signal %s "
                    "(%s): %s; %llu failed so far", self->ops->name, s->id,
                    s->sym, e ? strerror(e) : err_str(rc),
                    (unsigned long long)self->st.failed);
        goto done;
    }
    dedup_add(self->seen, s->id);
    self->st.written++;
    log_msg(LL_DEBUG, "signal %s %s %s seq %llu from %s written%s", s->id,
            s->sym, signal_action_name(s->act), (unsigned long long)s->seq,
            s->eng, replayed ? " (replayed)" : "");
done:
    if (self->state_file) {
        sink_state_set(self->state_file, s->eng, s->seq, 0);
        /* An output that cannot tell what it already holds (no `seen`)
         * has the state on disk at once: a SIGKILL right after this
         * signal does not bring it out again after the restart. */
        if (!self->ops->seen)
            sink_state_write(self->state_file);
    }
    return ERR_OK;
}

/* Returns ERR_OK, or ERR_IO if the output is gone for good. */
static int s_signal(sink_t *self, const char *tsym, size_t tlen,
                    const void *body, size_t len)
{
    struct signal s;
    uint64_t missing, last;
    int kind, rc, has, first;

    if (s_decode(self, tsym, tlen, body, len, &s))
        return ERR_OK;
    self->st.signals++;
    /* With a symbol filter the engine's seq skips the other symbols'
     * signals: only an instance change means something then. */
    if (self->track_gaps) {
        kind = bus_track_see(&self->track, s.eng, s.pub, s.seq, &missing);
    } else {
        const struct bus_track_entry *e = s_track_find(&self->track, s.eng);
        kind = TRACK_OK;
        if (!e || e->pub != s.pub)
            kind = bus_track_see(&self->track, s.eng, s.pub, s.seq,
                                 &missing);
    }
    s_sync_track(self);
    has = self->state_file && sink_state_has(self->state_file, s.eng);
    last = has ? sink_state_get(self->state_file, s.eng) : 0;
    first = kind == TRACK_FIRST || kind == TRACK_RESTART;
    if (!has && (first || kind == TRACK_GAP) && self->neps) {
        /* An engine this sink holds nothing of: what --since asks for,
         * up to this signal (those before it went out before the
         * subscription reached the engine). */
        rc = s_replay_new(self, s.eng, s.pub, s.seq - 1, first);
        if (rc != ERR_OK)
            return rc;
    } else if (has && s.seq > last + 1 && (self->track_gaps || first)) {
        /* Missed signals (a gap, or an engine restart with its journal;
         * with a symbol filter, at an instance's first signal only):
         * fetched first, so the output sees them in order. */
        rc = s_replay(self, s.eng, last, s.seq - 1);
        if (rc != ERR_OK)
            return rc;
    } else if (s_taken(self, s.eng, s.pub, s.seq)) {
        /* Already read from the journal: a replay that went past the
         * signals queued live meanwhile (at start, say). The id set holds
         * only the last SINK_DEDUP_IDS, so the seq decides. */
        self->st.duplicates++;
        log_msg(LL_DEBUG, "signal %s (%s seq %llu) already taken from the "
                "journal: dropped", s.id, s.sym, (unsigned long long)s.seq);
        return ERR_OK;
    } else if (last && s.seq <= last && kind == TRACK_RESTART) {
        log_msg(LL_WARN, "engine %s restarted numbering its signals anew "
                "(seq %llu after %llu): its journal was lost or replaced",
                s.eng, (unsigned long long)s.seq, (unsigned long long)last);
        sink_state_set(self->state_file, s.eng, s.seq - 1, 1);
    }
    return s_process(self, &s, 0);
}

static void s_seen(void *arg, const char *eng, const char *id, uint64_t seq)
{
    sink_t *self = arg;

    dedup_add(self->seen, id);
    if (self->state_file && eng[0])
        sink_state_set(self->state_file, eng, seq, 0);
}

int sink_resume(sink_t *self, const char *state_path, const char *replay_eps,
                char *const *syms, int nsyms, char *err)
{
    self->syms = syms;
    self->nsyms = nsyms;
    /* Without a file the state is kept in memory: gaps are still
     * replayed, only a restart starts afresh. */
    self->state_file = sink_state_load(state_path ? state_path : "", err);
    if (!self->state_file)
        return ERR_IO;
    if (replay_eps && *replay_eps) {
        char list[4096], *items[ENDPOINTS_MAX];
        int n;
        if (strfmt(list, sizeof list, "%s", replay_eps) < 0 ||
            (n = split_list(list, items, ENDPOINTS_MAX)) < 0) {
            snprintf(err, ERR_LEN, "--replay: too long or more than %d "
                     "endpoints", ENDPOINTS_MAX);
            return ERR_USAGE;
        }
        self->eps = calloc((size_t)(n ? n : 1), sizeof *self->eps);
        if (!self->eps) {
            snprintf(err, ERR_LEN, "out of memory");
            return ERR_NOMEM;
        }
        for (int i = 0; i < n; i++)
            snprintf(self->eps[i].ep, sizeof self->eps[i].ep, "%s",
                     items[i]);
        self->neps = n;
    }
    if (self->ops->seen)
        self->ops->seen(self->state, s_seen, self);
    return ERR_OK;
}

void sink_catch_up(sink_t *self)
{
    if (!self->state_file || !self->neps)
        return;
    s_discover(self);
    for (int i = 0; i < self->neps; i++) {
        const struct endpoint *e = &self->eps[i];
        int rc;
        if (!e->eng[0])
            continue;               /* asked again when it is heard of */
        if (sink_state_has(self->state_file, e->eng))
            rc = s_replay(self, e->eng,
                          sink_state_get(self->state_file, e->eng),
                          UINT64_MAX);
        else if (self->since == SINCE_RUN && !e->has_run)
            rc = ERR_OK;            /* no seq0: at its first message */
        else
            rc = s_replay_new(self, e->eng, e->pub, UINT64_MAX, 0);
        if (rc != ERR_OK)
            return;
    }
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t s_days(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* "YYYY-MM-DD[T| ]HH:MM[:SS][Z]" (UTC) as epoch ms; 0, or -1. */
static int s_parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec = 0, n = 0;
    char sep;

    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi,
               &n) != 6 || (sep != 'T' && sep != ' '))
        return -1;
    s += n;
    if (*s == ':') {
        if (sscanf(s, ":%2d%n", &sec, &n) != 1)
            return -1;
        s += n;
    }
    if (*s == 'Z')
        s++;
    if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60 || h < 0 || mi < 0 || sec < 0)
        return -1;
    *out = ((s_days(y, mo, d) * 24 + h) * 60 + mi) * 60000 +
           (int64_t)sec * 1000;
    return 0;
}

int sink_since(sink_t *self, const char *spec, char *err)
{
    static const struct { char unit; int64_t ms; } units[] = {
        { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 },
    };
    size_t len = strlen(spec);
    int64_t v;

    if (strcmp(spec, "run") == 0 || strcmp(spec, "start") == 0 ||
        strcmp(spec, "all") == 0) {
        self->since = spec[0] == 'r' ? SINCE_RUN :
                      spec[0] == 's' ? SINCE_START : SINCE_ALL;
        return ERR_OK;
    }
    for (size_t i = 0; len > 1 && i < sizeof units / sizeof *units; i++) {
        char num[32];
        if (spec[len - 1] != units[i].unit || len > sizeof num)
            continue;
        memcpy(num, spec, len - 1);
        num[len - 1] = '\0';
        if (parse_int64(num, &v) || v < 0 || v > INT64_MAX / units[i].ms ||
            v * units[i].ms > self->start_ms)
            break;
        self->since = SINCE_TS;
        self->since_ts = self->start_ms - v * units[i].ms;
        return ERR_OK;
    }
    if ((parse_int64(spec, &v) == 0 && v >= 100000000000) ||
        (s_parse_time(spec, &v) == 0 && v >= 0)) {
        self->since = SINCE_TS;
        self->since_ts = v;
        return ERR_OK;
    }
    snprintf(err, ERR_LEN, "bad value '%.64s' for --since: expected run, "
             "start, all, a duration (30s, 15m, 2h, 1d) or a UTC time "
             "(2026-11-25T15:20:00Z, or epoch ms)", spec);
    return ERR_USAGE;
}

void sink_show_flat_closes(sink_t *self, int show)
{
    self->quiet_flat = self->ops->quiet_flat_closes && !show;
}

void sink_save(sink_t *self)
{
    if (self->state_file)
        sink_state_save(self->state_file);
}

int sink_handle(sink_t *self, const char *topic, const void *body,
                size_t len)
{
    char clean[BUS_TOPIC_MAX];

    self->st.received++;
    if (strcmp(topic, "hb|") == 0)
        return s_heartbeat(self, body, len);
    if (strncmp(topic, "sig|", 4) == 0) {
        const char *sym = topic + 4, *bar = strchr(sym, '|');
        if (bar && bar > sym && bar[1] == '\0')
            return s_signal(self, sym, (size_t)(bar - sym), body, len);
    }
    self->st.bad++;
    log_limited(&self->lim_topic, LL_WARN, "dropped a message with topic "
                "'%s': expected sig|SYMBOL| or hb|",
                s_printable(clean, sizeof clean, topic));
    return ERR_OK;
}

void sink_bad_frame(sink_t *self)
{
    self->st.received++;
    self->st.bad++;
    log_limited(&self->lim_frame, LL_WARN, "dropped a message that is not "
                "two frames (topic, body) or whose topic is too long");
}

int sink_write_json(FILE *f, const struct signal *s)
{
    json_t *j = signal_to_json(s);
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int e;

    json_decref(j);
    if (!line) {
        errno = ENOMEM;
        return ERR_NOMEM;
    }
    fputs(line, f);
    fputc('\n', f);
    free(line);
    if (fflush(f) == 0 && !ferror(f))
        return ERR_OK;
    e = errno;
    clearerr(f);
    errno = e;
    return ERR_IO;
}
