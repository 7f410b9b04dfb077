/* serve.c -- the engine's request endpoint (--rep): status, replay of the
 * journal's signals and the indicator values of a symbol's bars. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "msg_ind.h"
#include "msg_replay.h"
#include "msg_status.h"
#include "util.h"

/* The reply to {ver:1, type:"status"} (DESIGN.md). */
void engine_pack_status(engine_t *self, msgpack_packer *pk)
{
    msg_status_pack_head(pk, 15 + (uint32_t)engine_ncounters, ENGINE_PROG);
    mp_kstr(pk, "id", self->id);
    mp_kuint(pk, "pub", self->pub.instance);
    mp_kint(pk, "started", self->started_ms);
    mp_kuint(pk, "seq0", self->seq0);
    mp_kstr(pk, "strategy", strategy_name(engine_strat(self)));
    mp_kint(pk, "lookback", self->lb);
    mp_kuint(pk, "signals", self->sig_seq);
    mp_kstr(pk, "journal", self->journal ? self->journal_path : "");
    mp_kuint(pk, "journal_first", self->journal ?
             journal_first_seq(self->journal) : 0);
    mp_kint(pk, "stale", self->stale_now);
    mp_kint(pk, "ind_subs", self->pub.side_subs);
    counters_pack(pk, engine_counters, engine_ncounters, self);
    mp_pack_str(pk, "symbols");
    msgpack_pack_array(pk, (size_t)self->nsym);
    for (int k = 0; k < self->nsym; k++) {
        struct sym *y = &self->syms[k];
        msgpack_pack_map(pk, 11);
        mp_kstr(pk, "sym", y->run->sym);
        mp_kuint(pk, "bars", y->run->bars);
        mp_kint(pk, "first_t", y->run->first_t);
        mp_kint(pk, "last_t", y->run->last_t);
        mp_pack_str(pk, "live");
        if (y->live)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        mp_kint(pk, "warm_bars", y->warm_bars);
        mp_kint(pk, "first_live_t", y->first_live_t);
        mp_kuint(pk, "signals", y->published);
        mp_kstr(pk, "error", y->run->failed ? y->run->error : "");
        mp_kint(pk, "silent_ms", mono_ms() - y->last_rx);
        mp_pack_str(pk, "stale");
        if (y->stale)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
}

/* {ver:1, type:"replay", after:S[, n:N]} -> {ver:1, type:"replay",
 * eng:ID, first:F, last:L, signals:[...]}: the journal's signals after S
 * (at most N, JOURNAL_REPLAY_MAX), oldest first, each as published. F and
 * L are the oldest and newest sequence numbers the journal holds. With
 * since_ts:T instead of after, the signals published at T or later. */
static void s_pack_replay(engine_t *self, msgpack_packer *pk,
                          msgpack_sbuffer *sb, const msgpack_object *o)
{
    char err[ERR_LEN];
    struct replay_req r;
    uint64_t after;
    size_t count;

    if (!self->journal) {
        history_pack_error(pk, "this engine keeps no journal (--journal "
                           "\"\")");
        return;
    }
    if (msg_replay_req_parse(o, JOURNAL_REPLAY_MAX, &r, err)) {
        log_limited(&self->lim_replay, LL_WARN, "bad replay request; "
                    "answered with an error");
        history_pack_error(pk, err);
        return;
    }
    after = r.since_ts >= 0 ?
            journal_seq_before(self->journal, r.since_ts) : r.after;
    self->replays++;
    msg_replay_pack_reply_head(pk, self->id,
                               journal_first_seq(self->journal),
                               journal_last_seq(self->journal));
    if (journal_replay(self->journal, after, (size_t)r.n, sb, &count) != 0)
        msgpack_pack_array(pk, 0);
}

/* {ver:1, type:"indicators", sym:S, n:N} -> {ver:1, type:"indicators",
 * eng, sym, points:[{t, ind}, ...]}: the indicator values of the last N
 * bars held for S (at most IND_MSG_REQ_MAX), oldest first, as they were
 * computed (the strategy's own arrays). */
static void s_pack_indicators(engine_t *self, msgpack_packer *pk,
                              const msgpack_object *o)
{
    char err[ERR_LEN], sym[SYM_MAX];
    const struct runner *r;
    struct ind_point p;
    size_t len, first;
    int64_t n;
    int k;

    if (msg_ind_req_parse(o, sym, &n, err)) {
        log_limited(&self->lim_request_ind, LL_WARN, "bad indicators "
                    "request; answered with an error");
        history_pack_error(pk, err);
        return;
    }
    k = engine_find(self, sym);
    if (k < 0) {
        snprintf(err, sizeof err, "unknown symbol '%s'", sym);
        history_pack_error(pk, err);
        return;
    }
    r = self->syms[k].run;
    len = r->data.time.len;
    first = len > (size_t)n ? len - (size_t)n : 0;
    if (first < r->data.time.off)
        first = r->data.time.off;      /* the bars held (--keep-bars) */
    msg_ind_pack_reply_head(pk, self->id, sym, len - first);
    for (size_t i = first; i < len; i++) {
        p.t = (int64_t)SERIES_AT(&r->data.time, i);
        p.n = runner_ind_at(r, i, p.v);
        msg_ind_pack_point(pk, &p);
    }
}

/* The request endpoint is readable (a loop_io_fn; arg: the engine). */
void engine_on_request(loop_t *loop, void *sock, int fd, void *arg)
{
    engine_t *self = arg;
    zmq_msg_t id, body;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    (void)loop; (void)fd;

    /* At most BUS_REQ_BATCH requests a wake-up: the loop polls again,
     * so bars keep flowing under a flood of requests. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int k = 0; k < BUS_REQ_BATCH &&
                    bus_router_recv(sock, &id, &body) >= 0; k++) {
        const msgpack_object *o = mp_body_decode(&self->body,
                                                 zmq_msg_data(&body),
                                                 zmq_msg_size(&body));
        const msgpack_object *type = mp_get(o, "type");
        self->requests++;
        msgpack_sbuffer_clear(&sb);
        if (mp_is(type, "status")) {
            engine_pack_status(self, &pk);
        } else if (mp_is(type, "replay")) {
            s_pack_replay(self, &pk, &sb, o);
        } else if (mp_is(type, "indicators")) {
            s_pack_indicators(self, &pk, o);
        } else {
            log_limited(&self->lim_request, LL_WARN, "bad request (%s); "
                        "answered with an error", o ? "unknown type" :
                        "not a msgpack map");
            history_pack_error(&pk, o ? "unknown request type (expected "
                               "status, replay or indicators)" : "request "
                               "is not a msgpack map");
        }
        if (bus_router_reply(sock, &id, &sb) != 0) {
            self->replies_dropped++;
            log_limited(&self->lim_request, LL_WARN, "reply dropped (%s): "
                        "the client has not read its earlier ones, or is "
                        "gone; %llu so far", zmq_strerror(zmq_errno()),
                        (unsigned long long)self->replies_dropped);
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    msgpack_sbuffer_destroy(&sb);
}


