/* history.c -- history requests and replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "err.h"
#include "history.h"
#include "mp.h"

int history_req_parse(const msgpack_object *o, struct history_req *r,
                      char *err)
{
    memset(r, 0, sizeof *r);
    r->since = -1;
    if (mp_str(o, "sym", r->sym, sizeof r->sym) || !symbol_valid(r->sym)) {
        snprintf(err, ERR_LEN, "history request: 'sym' missing or invalid");
        return ERR_PARSE;
    }
    if (mp_int(o, "n", &r->n) || r->n < 1) {
        snprintf(err, ERR_LEN, "history request for %s: 'n' missing or not "
                 "a positive integer", r->sym);
        return ERR_PARSE;
    }
    if (r->n > HISTORY_MAX)
        r->n = HISTORY_MAX;
    if (mp_get(o, "since") && mp_int(o, "since", &r->since)) {
        snprintf(err, ERR_LEN, "history request for %s: 'since' is not an "
                 "integer", r->sym);
        return ERR_PARSE;
    }
    return ERR_OK;
}

void history_pack_request(msgpack_packer *pk, const char *sym, int64_t n,
                          int64_t since)
{
    msgpack_pack_map(pk, since >= 0 ? 5 : 4);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "history");
    mp_kstr(pk, "sym", sym);
    mp_kint(pk, "n", n);
    if (since >= 0)
        mp_kint(pk, "since", since);
}

static void s_pack_head(msgpack_packer *pk, const char *sym, uint64_t seq,
                        size_t nbars, int cut)
{
    msgpack_pack_map(pk, cut ? 6 : 5);
    if (cut) {
        mp_pack_str(pk, "more");
        msgpack_pack_true(pk);
    }
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "history");
    mp_kstr(pk, "sym", sym);
    mp_kuint(pk, "seq", seq);
    mp_pack_str(pk, "bars");
    msgpack_pack_array(pk, nbars);
}

void history_pack_reply_head(msgpack_packer *pk, const char *sym,
                             uint64_t seq, size_t nbars)
{
    s_pack_head(pk, sym, seq, nbars, 0);
}

void history_pack_reply_cut(msgpack_packer *pk, const char *sym,
                            uint64_t seq, size_t nbars)
{
    s_pack_head(pk, sym, seq, nbars, 1);
}

void history_pack_error(msgpack_packer *pk, const char *msg)
{
    msgpack_pack_map(pk, 3);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "error");
    mp_kstr(pk, "error", msg);
}

void history_pack_busy(msgpack_packer *pk, const char *msg)
{
    msgpack_pack_map(pk, 4);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "error");
    mp_kstr(pk, "error", msg);
    mp_pack_str(pk, "busy");
    msgpack_pack_true(pk);
}

/* Reads one history reply (`len` bytes) to request r from `endpoint`:
 * appends its valid bars to *bars (capacity *cap) and says in *more
 * whether it was cut. */
static int s_page_parse(const char *endpoint, const struct history_req *r,
                        const void *reply, size_t len, struct bar **bars,
                        size_t *nbars, size_t *cap, uint64_t *seq,
                        size_t *bad, int *more, char *err)
{
    struct mp_body body;
    const msgpack_object *o, *arr, *m;
    char why[ERR_LEN];
    int rc;

    *more = 0;
    mp_body_init(&body);
    o = mp_body_decode(&body, reply, len);
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, ERR_LEN, "history reply from %s is not a msgpack map",
                 endpoint);
        rc = ERR_PARSE;
        goto out;
    }
    if (mp_is(mp_get(o, "type"), "error")) {
        char msg[200] = "?";
        const msgpack_object *busy = mp_get(o, "busy");
        mp_str(o, "error", msg, sizeof msg);
        snprintf(err, ERR_LEN, "history for %s from %s: %s", r->sym,
                 endpoint, msg);
        /* busy: not yet there, ask again later */
        rc = busy && busy->type == MSGPACK_OBJECT_BOOLEAN &&
             busy->via.boolean ? ERR_TIMEOUT : ERR_NOTFOUND;
        goto out;
    }
    arr = mp_get(o, "bars");
    if (!mp_is(mp_get(o, "type"), "history") || mp_uint(o, "seq", seq) ||
        !arr || arr->type != MSGPACK_OBJECT_ARRAY) {
        snprintf(err, ERR_LEN, "history reply from %s lacks type, seq or "
                 "bars", endpoint);
        rc = ERR_PARSE;
        goto out;
    }
    m = mp_get(o, "more");
    *more = m && m->type == MSGPACK_OBJECT_BOOLEAN && m->via.boolean &&
            arr->via.array.size > 0;
    if (*nbars + arr->via.array.size > *cap) {
        size_t c = *nbars + arr->via.array.size;
        struct bar *nb = realloc(*bars, (c ? c : 1) * sizeof **bars);
        if (!nb) {
            snprintf(err, ERR_LEN, "out of memory for %zu bars", c);
            rc = ERR_NOMEM;
            goto out;
        }
        *bars = nb;
        *cap = c;
    }
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        struct bar *b = &(*bars)[*nbars];
        if (msg_bar_unpack(&arr->via.array.ptr[i], b, why) != ERR_OK ||
            strcmp(b->sym, r->sym) != 0 ||
            (*nbars && b->t <= (*bars)[*nbars - 1].t)) {
            (*bad)++;
            continue;
        }
        (*nbars)++;
    }
    rc = ERR_OK;
out:
    mp_body_free(&body);
    return rc;
}

/* One reply of history_fetch(), waited for. */
static int s_fetch_page(const char *endpoint, const struct history_req *r,
                        int timeout_ms, struct bar **bars, size_t *nbars,
                        size_t *cap, uint64_t *seq, size_t *bad, int *more,
                        char *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char *reply = NULL;
    size_t len = 0;
    int rc;

    *more = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    history_pack_request(&pk, r->sym, r->n, r->since);
    rc = bus_request(endpoint, BUS_FEEDER, &sb, timeout_ms, &reply, &len,
                     err);
    msgpack_sbuffer_destroy(&sb);
    if (rc)
        return rc;
    rc = s_page_parse(endpoint, r, reply, len, bars, nbars, cap, seq, bad,
                      more, err);
    free(reply);
    return rc;
}

/* The request for the page after the bars already had, or 0 when none
 * is wanted: a cut reply asks on from the last bar's time, for as many
 * as are still wanted. */
static int s_next_page(const struct history_req *r, struct history_req *q,
                       const struct bar *bars, size_t nbars, int more)
{
    if (!more || !nbars || nbars >= (size_t)r->n)
        return 0;
    q->since = bars[nbars - 1].t;
    q->n = r->n - (int64_t)nbars;
    return 1;
}

int history_fetch(const char *endpoint, const struct history_req *r,
                  int timeout_ms, struct bar **bars, size_t *nbars,
                  uint64_t *seq, size_t *bad, char *err)
{
    struct history_req q = *r;
    size_t cap = 0;
    int rc, more = 1;

    *bars = NULL;
    *nbars = 0;
    *seq = 0;
    *bad = 0;
    for (int page = 0; more && page < HISTORY_PAGES_MAX; page++) {
        rc = s_fetch_page(endpoint, &q, timeout_ms, bars, nbars, &cap, seq,
                          bad, &more, err);
        if (rc) {
            free(*bars);
            *bars = NULL;
            *nbars = 0;
            return rc;
        }
        if (!s_next_page(r, &q, *bars, *nbars, more))
            break;
    }
    if (!*bars) {
        *bars = malloc(sizeof **bars);
        if (!*bars) {
            snprintf(err, ERR_LEN, "out of memory");
            return ERR_NOMEM;
        }
    }
    return ERR_OK;
}

/* {==================== asynchronous ========================= */

static int s_call_send(struct history_call *c, char *err);

/* A page's reply (or failure) on the client: the next page is asked
 * from here; the last one ends the call. */
static void s_call_reply(request_t *rq, int ep, int rc, const void *reply,
                         size_t len, const char *err, void *arg)
{
    struct history_call *c = arg;
    char why[ERR_LEN];
    struct bar *bars;
    int more = 0;
    (void)rq;

    if (rc) {
        snprintf(why, sizeof why, "%s", err);
    } else {
        rc = s_page_parse(request_name(c->rq, ep), &c->q, reply, len,
                          &c->bars, &c->n, &c->cap, &c->seq, &c->bad,
                          &more, why);
        if (rc == ERR_OK && ++c->pages < HISTORY_PAGES_MAX &&
            s_next_page(&c->r, &c->q, c->bars, c->n, more)) {
            rc = s_call_send(c, why);
            if (rc == ERR_OK)
                return;             /* the next page is on its way */
        }
    }
    if (rc) {
        free(c->bars);
        c->bars = NULL;
        c->n = 0;
    } else if (!c->bars && !(c->bars = malloc(sizeof *c->bars))) {
        snprintf(why, sizeof why, "out of memory");
        rc = ERR_NOMEM;
    }
    bars = c->bars;
    c->bars = NULL;
    c->busy = 0;
    c->fn(c, rc, bars, c->n, c->seq, c->bad, rc ? why : NULL, c->arg);
}

static int s_call_send(struct history_call *c, char *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    history_pack_request(&pk, c->q.sym, c->q.n, c->q.since);
    rc = request_send(c->rq, c->ep, sb.data, sb.size, c->timeout_ms,
                      s_call_reply, c, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int history_call_start(struct history_call *c, request_t *rq, int ep,
                       const struct history_req *r, int timeout_ms,
                       history_fn *fn, void *arg, char *err)
{
    int rc;

    if (c->busy) {
        snprintf(err, ERR_LEN, "history request to %s: one is already in "
                 "flight", request_name(rq, ep));
        return ERR_IO;
    }
    free(c->bars);
    memset(c, 0, sizeof *c);
    c->rq = rq;
    c->ep = ep;
    c->r = c->q = *r;
    c->timeout_ms = timeout_ms;
    c->fn = fn;
    c->arg = arg;
    rc = s_call_send(c, err);
    c->busy = rc == ERR_OK;
    return rc;
}

void history_call_free(struct history_call *c)
{
    free(c->bars);
    memset(c, 0, sizeof *c);
}

/* }========================================================== */

/* v with a comma every three digits. */
static const char *s_num(char *out, size_t n, uint64_t v)
{
    char d[32];
    int len = snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    size_t o = 0;

    for (int k = 0; k < len && o + 1 < n; k++) {
        if (k && (len - k) % 3 == 0 && o + 2 < n)
            out[o++] = ',';
        out[o++] = d[k];
    }
    out[o] = '\0';
    return out;
}

char *history_progress(char *out, size_t n, uint64_t done, uint64_t total,
                       int64_t eta_ms)
{
    char a[32], b[32], left[48];
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;

    if (done >= total)
        snprintf(left, sizeof left, "done");
    else if (eta_ms < 0)
        snprintf(left, sizeof left, "time left unknown");
    else if (eta_ms < 120000)
        snprintf(left, sizeof left, "about %lld s left",
                 (long long)(eta_ms + 999) / 1000);
    else
        snprintf(left, sizeof left, "about %lld min left",
                 (long long)(eta_ms + 59999) / 60000);
    snprintf(out, n, "history %s/%s symbols, %u%%, %s",
             s_num(a, sizeof a, done), s_num(b, sizeof b, total), pct,
             left);
    return out;
}
