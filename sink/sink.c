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

#include "sink_int.h"

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
        request_destroy(&self->rq);
        sink_pending_free(self);
        sink_state_free(&self->state_file);
        free(self->eps);
        free(self);
        *self_p = NULL;
    }
}

/* The pipeline's counters: its metrics and its counters: line at exit. */
#define C(f, metric, help) \
    COUNTER(struct sink_stats, f, #f, "livetrade_sink_" metric, help)
const struct counter sink_counters[] = {
    C(received, "messages_total", "Messages taken off the bus"),
    C(signals, "signals_total", "Well-formed signals received"),
    C(heartbeats, "heartbeats_total", "Engine heartbeats received"),
    C(written, "signals_written_total", "Signals the output accepted"),
    C(duplicates, "duplicates_total", "Signals dropped: already taken"),
    C(bad, "bad_total", "Messages dropped as bad input"),
    C(failed, "failed_total", "Signals the output refused"),
    C(gaps, "gaps_total", "Gaps in an engine's signal sequence numbers"),
    C(missed, "gap_signals_missed_total", "Signals missing in those gaps"),
    C(restarts, "engine_restarts_total",
      "Engine restarts seen (a new publisher instance)"),
    C(old, "out_of_order_total", "Signals with an older sequence number"),
    C(replays, "replays_total", "Replay requests answered by engines"),
    C(replayed, "replayed_signals_total",
      "Signals received through replays"),
    C(lost, "lost_total", "Signals missed that no journal could replay"),
    C(flat_closes, "flat_closes_total", "Closes that found no position, "
      "left out (console, alert; --flat-closes shows them)"),
};
#undef C
const size_t sink_ncounters = COUNTERS_N(sink_counters);

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

int sink_utf8_valid(const char *s)
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
    if (!sink_utf8_valid(s->id))
        return "id";
    if (!sink_utf8_valid(s->eng))
        return "eng";
    if (!sink_utf8_valid(s->strat))
        return "strat";
    if (!sink_utf8_valid(s->tag))
        return "tag";
    for (int i = 0; i < s->nind; i++)
        if (!sink_utf8_valid(s->ind[i].name))
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



int sink_heard(const sink_t *self, const char *eng)
{
    return s_track_find(&self->track, eng) != NULL;
}

/* Heartbeats {ver, type:"hb", src, pub, seq, ts}: an engine restarted
 * (new instance id) while it had nothing to publish, or the signals up to
 * `seq` did not all arrive (fetched from its journal): see sink_decide. */
static int s_heartbeat(sink_t *self, const void *body, size_t len)
{
    const msgpack_object *o = mp_body_decode(&self->body, body, len);
    const struct bus_track_entry *e;
    struct held h;
    struct bus_hb hb;
    uint64_t missing;

    if (!o) {
        self->st.bad++;
        log_limited(&self->lim_hb, LL_WARN, "dropped a heartbeat: body is "
                    "not one msgpack object");
        return ERR_OK;
    }
    h.kind = HELD_HB;
    if (bus_hb_parse(o, &hb)) {
        self->st.bad++;
        log_limited(&self->lim_hb, LL_WARN, "dropped a heartbeat: not a map "
                    "with ver 1, type \"hb\", src, pub, seq and ts of the "
                    "right types");
        return ERR_OK;
    }
    snprintf(h.src, sizeof h.src, "%s", hb.src);
    h.pub = hb.pub;
    h.seq = hb.seq;
    self->st.heartbeats++;
    e = s_track_find(&self->track, h.src);
    h.first = !e || e->pub != h.pub;
    /* A new engine instance: recorded (with --replay, a first one too, so
     * that it is asked once). */
    if (h.first && (e || self->neps)) {
        bus_track_see(&self->track, h.src, h.pub, h.seq, &missing);
        s_sync_track(self);
    }
    return sink_offer(self, h.src, &h);
}

/* A heartbeat, checked and tracked: a new instance is asked at once for
 * what the sink lacks, not at its next signal, which may be long in
 * coming. */
static int s_decide_hb(sink_t *self, const struct held *h)
{
    int has = self->state_file && sink_state_has(self->state_file, h->src);
    uint64_t last;

    if (h->first && !has && self->neps)
        return sink_replay_new(self, h->src, h->pub, h->seq, 1);
    /* Behind an engine's last signal: missed ones (without a symbol
     * filter, where every seq is ours; with one, once per instance). */
    last = has ? sink_state_get(self->state_file, h->src) : 0;
    if (has && h->seq > last && (self->track_gaps || h->first))
        return sink_replay(self, h->src, last, h->seq);
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
    rc = msg_signal_unpack(o, s, err);
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
int sink_process(sink_t *self, const struct signal *s, int replayed)
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
    if (self->quiet_flat && msg_signal_is_flat_close(s)) {
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
    struct held h;
    uint64_t missing;

    if (s_decode(self, tsym, tlen, body, len, &h.s))
        return ERR_OK;
    self->st.signals++;
    /* With a symbol filter the engine's seq skips the other symbols'
     * signals: only an instance change means something then. */
    if (self->track_gaps) {
        h.track = bus_track_see(&self->track, h.s.eng, h.s.pub, h.s.seq,
                                &missing);
    } else {
        const struct bus_track_entry *e = s_track_find(&self->track,
                                                       h.s.eng);
        h.track = TRACK_OK;
        if (!e || e->pub != h.s.pub)
            h.track = bus_track_see(&self->track, h.s.eng, h.s.pub,
                                    h.s.seq, &missing);
    }
    s_sync_track(self);
    h.kind = HELD_SIGNAL;
    h.first = h.track == TRACK_FIRST || h.track == TRACK_RESTART;
    return sink_offer(self, h.s.eng, &h);
}

/* After the replay h's decision started: h written, now, or once that
 * replay has ended (held first among its engine's messages). */
static int s_then_write(sink_t *self, const struct held *h)
{
    struct held w = *h;

    if (!sink_busy(self, h->s.eng))
        return sink_process(self, &h->s, 0);
    w.kind = HELD_WRITE;
    return sink_hold_first(self, h->s.eng, &w);
}

/* A signal, checked and tracked, once no replay of its engine runs. */
static int s_decide_signal(sink_t *self, const struct held *h)
{
    const struct signal *s = &h->s;
    uint64_t last;
    int rc, has;

    has = self->state_file && sink_state_has(self->state_file, s->eng);
    last = has ? sink_state_get(self->state_file, s->eng) : 0;
    if (!has && (h->first || h->track == TRACK_GAP) && self->neps) {
        /* An engine this sink holds nothing of: what --since asks for,
         * up to this signal (those before it went out before the
         * subscription reached the engine). */
        rc = sink_replay_new(self, s->eng, s->pub, s->seq - 1, h->first);
        return rc != ERR_OK ? rc : s_then_write(self, h);
    } else if (has && s->seq > last + 1 && (self->track_gaps || h->first)) {
        /* Missed signals (a gap, or an engine restart with its journal;
         * with a symbol filter, at an instance's first signal only):
         * fetched first, so the output sees them in order. */
        rc = sink_replay(self, s->eng, last, s->seq - 1);
        return rc != ERR_OK ? rc : s_then_write(self, h);
    } else if (sink_taken(self, s->eng, s->pub, s->seq)) {
        /* Already read from the journal: a replay that went past the
         * signals queued live meanwhile (at start, say). The id set holds
         * only the last SINK_DEDUP_IDS, so the seq decides. */
        self->st.duplicates++;
        log_msg(LL_DEBUG, "signal %s (%s seq %llu) already taken from the "
                "journal: dropped", s->id, s->sym,
                (unsigned long long)s->seq);
        return ERR_OK;
    } else if (last && s->seq <= last && h->track == TRACK_RESTART) {
        log_msg(LL_WARN, "engine %s restarted numbering its signals anew "
                "(seq %llu after %llu): its journal was lost or replaced",
                s->eng, (unsigned long long)s->seq,
                (unsigned long long)last);
        sink_state_set(self->state_file, s->eng, s->seq - 1, 1);
    }
    return sink_process(self, s, 0);
}

int sink_decide(sink_t *self, const struct held *h)
{
    if (self->fatal)
        return ERR_IO;
    switch (h->kind) {
    case HELD_HB:
        return s_decide_hb(self, h);
    case HELD_WRITE:
        return sink_process(self, &h->s, 0);
    default:
        return s_decide_signal(self, h);
    }
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

int sink_attach(sink_t *self, loop_t *loop, char *err)
{
    self->loop = loop;
    if (!self->neps)
        return ERR_OK;
    self->rq = request_new(loop, err);
    self->pend = calloc(PENDING_MAX, sizeof *self->pend);
    if (!self->rq || !self->pend) {
        if (self->rq)
            snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    for (int i = 0; i < self->neps; i++)
        if (request_endpoint(self->rq, self->eps[i].ep, BUS_ENGINE) != i) {
            snprintf(err, ERR_LEN, "--replay: endpoint '%.64s' is too "
                     "long", self->eps[i].ep);
            return ERR_USAGE;
        }
    return ERR_OK;
}

int sink_failed(const sink_t *self)
{
    return self->fatal;
}

void sink_catch_up(sink_t *self)
{
    if (!self->state_file || !self->neps)
        return;
    /* Those not known yet catch up when they answer (s_on_status). */
    for (int i = 0; i < self->neps; i++)
        self->eps[i].catch_up = !self->eps[i].eng[0];
    sink_discover(self);
    for (int i = 0; i < self->neps && !self->fatal; i++)
        if (self->eps[i].eng[0] && !self->eps[i].asking)
            sink_catch_up_endpoint(self, &self->eps[i]);
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
    struct bus_topic_of t;

    if (self->fatal)
        return ERR_IO;
    self->st.received++;
    if (bus_topic_parse(topic, &t) == 0) {
        if (t.kind == BUS_K_HB)
            return s_heartbeat(self, body, len);
        if (t.kind == BUS_K_SIG)
            return s_signal(self, t.sym, strlen(t.sym), body, len);
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
    json_t *j = msg_signal_to_json(s);
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
