/* replay.c -- what a sink missed, from the engines' journals: their
 * status (id, instance, where the run began) and replay pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mp.h"
#include "sink_int.h"

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
void sink_discover(sink_t *self)
{
    for (int i = 0; i < self->neps; i++)
        if (!self->eps[i].eng[0] && mono_ms() >= self->eps[i].next_try)
            s_ask(self, &self->eps[i]);
}

/* 1 if signal `seq` of engine `eng`'s instance `pub` was already read
 * from its journal: a replay that went past signals queued live. */
int sink_taken(const sink_t *self, const char *eng, uint64_t pub,
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
            sink_discover(self);
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
        if (sink_process(self, &s, 1) != ERR_OK) {
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

int sink_replay(sink_t *self, const char *eng, uint64_t after,
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
int sink_replay_new(sink_t *self, const char *eng, uint64_t pub,
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
