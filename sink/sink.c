/* sink.c -- the pipeline between the bus and an output: checks topics
 * and bodies, drops bad input and duplicate ids, tracks sequence numbers
 * and engine restarts, and writes what is left. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "dedup.h"
#include "err.h"
#include "log.h"
#include "mp.h"
#include "sink.h"

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
        lim_hb, lim_write;
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
    return self;
}

void sink_destroy(sink_t **self_p)
{
    sink_t *self = *self_p;
    if (self) {
        mp_body_free(&self->body);
        bus_track_free(&self->track);
        dedup_destroy(&self->seen);
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

/* Heartbeats {ver, type:"hb", src, pub, seq, ts} serve one purpose here:
 * noticing that an engine restarted (new instance id) while it had
 * nothing to publish. Its next signals then continue from `seq`. */
static void s_heartbeat(sink_t *self, const void *body, size_t len)
{
    const msgpack_object *o = mp_body_decode(&self->body, body, len);
    const struct bus_track_entry *e;
    char src[64];
    int64_t ver, ts;
    uint64_t pub, seq, missing;
    const msgpack_object *type;

    if (!o) {
        self->st.bad++;
        log_limited(&self->lim_hb, LL_WARN, "dropped a heartbeat: body is "
                    "not one msgpack object");
        return;
    }
    type = mp_get(o, "type");
    if (mp_int(o, "ver", &ver) || ver != 1 || !mp_is(type, "hb") ||
        mp_str(o, "src", src, sizeof src) || mp_uint(o, "pub", &pub) ||
        mp_uint(o, "seq", &seq) || mp_int(o, "ts", &ts)) {
        self->st.bad++;
        log_limited(&self->lim_hb, LL_WARN, "dropped a heartbeat: not a map "
                    "with ver 1, type \"hb\", src, pub, seq and ts of the "
                    "right types");
        return;
    }
    self->st.heartbeats++;
    e = s_track_find(&self->track, src);
    if (e && e->pub != pub) {
        bus_track_see(&self->track, src, pub, seq, &missing);
        s_sync_track(self);
    }
}

/* Returns ERR_OK, or ERR_IO if the output is gone for good. */
static int s_signal(sink_t *self, const char *tsym, size_t tlen,
                    const void *body, size_t len)
{
    const msgpack_object *o = mp_body_decode(&self->body, body, len);
    char err[ERR_LEN], p1[SYM_MAX], p2[SYM_MAX + 8];
    const char *field;
    struct signal s;
    uint64_t missing;
    int rc;

    snprintf(p1, sizeof p1, "%.*s", (int)tlen, tsym);
    s_printable(p2, sizeof p2, p1);
    if (!o) {
        self->st.bad++;
        log_limited(&self->lim_msgpack, LL_WARN, "dropped a signal for %s: "
                    "body is not one msgpack object", p2);
        return ERR_OK;
    }
    rc = signal_unpack(o, &s, err);
    if (rc == ERR_OK && !s.id[0]) {
        snprintf(err, ERR_LEN, "signal %s: empty 'id'", s.sym);
        rc = ERR_INVALID;
    }
    field = rc == ERR_OK ? s_bad_utf8(&s) : NULL;
    if (field) {
        snprintf(err, ERR_LEN, "signal %s: '%s' is not UTF-8", s.sym, field);
        rc = ERR_INVALID;
    }
    if (rc != ERR_OK) {
        char clean[ERR_LEN];
        self->st.bad++;
        log_limited(&self->lim_signal, LL_WARN, "dropped a bad signal on "
                    "topic sig|%s|: %s", p2,
                    s_printable(clean, sizeof clean, err));
        return ERR_OK;
    }
    if (strlen(s.sym) != tlen || memcmp(s.sym, tsym, tlen) != 0 ||
        !symbol_valid(s.sym)) {
        char clean[SYM_MAX];
        self->st.bad++;
        log_limited(&self->lim_sym, LL_WARN, "dropped a signal: symbol '%s' "
                    "does not match its topic sig|%s|",
                    s_printable(clean, sizeof clean, s.sym), p2);
        return ERR_OK;
    }
    self->st.signals++;
    if (dedup_has(self->seen, s.id)) {
        self->st.duplicates++;
        log_msg(LL_DEBUG, "duplicate signal %s (%s %s seq %llu) dropped",
                s.id, s.sym, signal_action_name(s.act),
                (unsigned long long)s.seq);
        return ERR_OK;
    }
    /* With a symbol filter the engine's seq skips the other symbols'
     * signals: only an instance change means something then. */
    if (self->track_gaps) {
        bus_track_see(&self->track, s.eng, s.pub, s.seq, &missing);
    } else {
        const struct bus_track_entry *e = s_track_find(&self->track, s.eng);
        if (!e || e->pub != s.pub)
            bus_track_see(&self->track, s.eng, s.pub, s.seq, &missing);
    }
    s_sync_track(self);

    errno = 0;
    rc = self->ops->write(self->state, &s);
    if (rc != ERR_OK) {
        int e = errno;
        self->st.failed++;
        if (e == EPIPE) {
            log_msg(LL_ERROR, "%s: output closed by its reader; stopping",
                    self->ops->name);
            return ERR_IO;
        }
        log_limited(&self->lim_write, LL_ERROR, "%s: cannot write signal %s "
                    "(%s): %s; %llu failed so far", self->ops->name, s.id,
                    s.sym, e ? strerror(e) : err_str(rc),
                    (unsigned long long)self->st.failed);
        return ERR_OK;
    }
    /* Only a written signal counts as processed: a replay may retry the
     * others. */
    dedup_add(self->seen, s.id);
    self->st.written++;
    log_msg(LL_DEBUG, "signal %s %s %s seq %llu from %s written", s.id,
            s.sym, signal_action_name(s.act), (unsigned long long)s.seq,
            s.eng);
    return ERR_OK;
}

int sink_handle(sink_t *self, const char *topic, const void *body,
                size_t len)
{
    char clean[BUS_TOPIC_MAX];

    self->st.received++;
    if (strcmp(topic, "hb|") == 0) {
        s_heartbeat(self, body, len);
        return ERR_OK;
    }
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
