/* polygon_ws_parse.c -- Polygon.io live aggregates: the frame parser
 * (jansson), events to bars and status messages. See polygon_ws.h. */
#include "polygon_ws.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "err.h"
#include "util.h"

/* ==== Parser ============================================================ */

static const char *s_st_names[PWS_ST_KINDS] = {
    "other", "connected", "auth_success", "auth_failed", "auth_timeout",
    "auth_required", "subscribed", "unsubscribed", "success", "error",
    "max_connections", "force_disconnect", "slow_consumer"
};

static const char *s_bad_names[PWS_BAD_KINDS] = {
    "too_large", "json", "not_array", "not_object", "no_ev", "unknown_ev",
    "missing", "type", "value"
};

const char *polygon_ws_status_name(int kind)
{
    return kind >= 0 && kind < PWS_ST_KINDS ? s_st_names[kind] : "?";
}

const char *polygon_ws_bad_name(int kind)
{
    return kind >= 0 && kind < PWS_BAD_KINDS ? s_bad_names[kind] : "?";
}

static int s_prefix(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

/* Maps a status and its message to PWS_ST_*. "success" is overloaded by
 * the spec: connect, auth (2019 servers) and subscribe acks all use it. */
static int s_status_kind(const char *st, const char *msg)
{
    static const struct { const char *name; int kind; } map[] = {
        { "connected", PWS_ST_CONNECTED },
        { "auth_success", PWS_ST_AUTH_SUCCESS },
        { "auth_failed", PWS_ST_AUTH_FAILED },
        { "auth_timeout", PWS_ST_AUTH_TIMEOUT },
        { "auth_required", PWS_ST_AUTH_REQUIRED },
        { "error", PWS_ST_ERROR },
        { "max_connections", PWS_ST_MAX_CONNECTIONS },
        { "force_disconnect", PWS_ST_FORCE_DISCONNECT },
        { "slow_consumer", PWS_ST_SLOW_CONSUMER },
    };

    if (strcmp(st, "success") == 0) {
        if (strcasecmp(msg, "authenticated") == 0)
            return PWS_ST_AUTH_SUCCESS;
        if (s_prefix(msg, "connected"))
            return PWS_ST_CONNECTED;
        if (s_prefix(msg, "subscribed to"))
            return PWS_ST_SUBSCRIBED;
        if (s_prefix(msg, "unsubscribed to"))
            return PWS_ST_UNSUBSCRIBED;
        return PWS_ST_SUCCESS;
    }
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(st, map[i].name) == 0)
            return map[i].kind;
    return PWS_ST_OTHER;
}

static int s_status(json_t *ev, struct polygon_ws_status *out)
{
    json_t *st = json_object_get(ev, "status");
    json_t *msg = json_object_get(ev, "message");

    if (!st)
        return PWS_BAD_MISSING;
    if (!json_is_string(st) || (msg && !json_is_string(msg)
                                && !json_is_null(msg)))
        return PWS_BAD_TYPE;
    snprintf(out->status, sizeof out->status, "%s", json_string_value(st));
    snprintf(out->message, sizeof out->message, "%s",
             json_is_string(msg) ? json_string_value(msg) : "");
    out->kind = s_status_kind(out->status, out->message);
    return -1;
}

/* Reads the number `key` of `ev` into *out. 0 or a PWS_BAD_* kind. */
static int s_num(json_t *ev, const char *key, double *out)
{
    json_t *v = json_object_get(ev, key);

    if (!v)
        return PWS_BAD_MISSING;
    if (!json_is_number(v))
        return PWS_BAD_TYPE;
    *out = json_number_value(v);
    return 0;
}

/* Aggregate events and their bar length in seconds (POLYGON.md 3.4;
 * tests/polygon_mock/README.md, "Markets"): stocks and indices AM/A,
 * crypto XA/XAS, forex CA/CAS. */
static const struct { const char *ev; int64_t tf; } s_aggs[] = {
    { "AM", 60 }, { "A", 1 }, { "XA", 60 }, { "XAS", 1 },
    { "CA", 60 }, { "CAS", 1 }
};

static int64_t s_agg_tf(const char *ev)
{
    const char *ours = polygon_ws_agg(ev);

    for (size_t i = 0; ours && i < sizeof s_aggs / sizeof s_aggs[0]; i++)
        if (ours == s_aggs[i].ev)
            return s_aggs[i].tf;
    return 0;
}

const char *polygon_ws_agg(const char *ev)
{
    for (size_t i = 0; i < sizeof s_aggs / sizeof s_aggs[0]; i++)
        if (strcmp(ev, s_aggs[i].ev) == 0)
            return s_aggs[i].ev;
    return NULL;
}

int64_t polygon_ws_agg_tf(const char *ev)
{
    return s_agg_tf(ev);
}

/* An aggregate event to a bar: the symbol is "sym" (stocks, indices) or
 * "pair" (crypto, forex). Index values (sym "I:...") have no volume: 0.
 * -1 when good, else a PWS_BAD_* kind. */
static int s_bar(json_t *ev, int64_t tf, struct bar *b)
{
    static const char *keys[] = { "o", "h", "l", "c" };
    double *dst[] = { &b->o, &b->h, &b->l, &b->c };
    json_t *sym = json_object_get(ev, "sym");
    json_t *s = json_object_get(ev, "s");
    json_t *vw = json_object_get(ev, "vw");
    char err[ERR_LEN];
    int rc;

    memset(b, 0, sizeof *b);
    snprintf(b->src, sizeof b->src, "polygon");
    b->tf = tf;
    b->vw = NAN;
    b->n = -1;
    if (!sym)
        sym = json_object_get(ev, "pair");
    if (!sym || !s)
        return PWS_BAD_MISSING;
    if (!json_is_string(sym) || !json_is_integer(s))
        return PWS_BAD_TYPE;
    if (json_string_length(sym) >= SYM_MAX)
        return PWS_BAD_VALUE;
    memcpy(b->sym, json_string_value(sym), json_string_length(sym) + 1);
    b->t = json_integer_value(s);
    for (int i = 0; i < 4; i++) {
        rc = s_num(ev, keys[i], dst[i]);
        if (rc)
            return rc;
    }
    rc = s_num(ev, "v", &b->vol);
    if (rc == PWS_BAD_MISSING) {
        /* Decimal volume (string), newer servers; optional otherwise. */
        json_t *dv = json_object_get(ev, "dv");
        if (!dv && strncmp(b->sym, "I:", 2) == 0)
            b->vol = 0;
        else if (!json_is_string(dv)
                 || parse_double(json_string_value(dv), &b->vol) != 0)
            return PWS_BAD_MISSING;
        rc = 0;
    }
    if (rc)
        return rc;
    if (vw && json_is_number(vw))
        b->vw = json_number_value(vw);
    else if (vw && !json_is_null(vw))
        return PWS_BAD_TYPE;
    if (msg_bar_check(b, err) != ERR_OK)
        return PWS_BAD_VALUE;
    return -1;
}

/* One event; returns 1 when delivered, 0 when skipped (counted). */
static int s_event(json_t *ev, const struct polygon_ws_handler *h,
                   struct polygon_ws_counts *c)
{
    json_t *evt = json_object_get(ev, "ev");
    const char *name;
    int bad;

    c->events++;
    if (!json_is_object(ev)) {
        c->bad[PWS_BAD_NOT_OBJECT]++;
        return 0;
    }
    if (!json_is_string(evt)) {
        c->bad[PWS_BAD_NO_EV]++;
        return 0;
    }
    name = json_string_value(evt);
    if (strcmp(name, "status") == 0) {
        struct polygon_ws_status st;
        bad = s_status(ev, &st);
        if (bad >= 0) {
            c->bad[bad]++;
            return 0;
        }
        c->statuses++;
        if (h && h->status)
            h->status(h->arg, &st);
        return 1;
    }
    if (s_agg_tf(name)) {
        struct bar b;
        bad = s_bar(ev, s_agg_tf(name), &b);
        if (bad >= 0) {
            c->bad[bad]++;
            return 0;
        }
        c->bars++;
        if (h && h->bar)
            h->bar(h->arg, &b);
        return 1;
    }
    c->bad[PWS_BAD_UNKNOWN_EV]++;
    return 0;
}

int polygon_ws_parse(const char *data, size_t len, size_t max_len,
                     const struct polygon_ws_handler *h,
                     struct polygon_ws_counts *c)
{
    json_error_t jerr;
    json_t *root;
    int n = 0;

    assert(c);
    c->frames++;
    if (len > max_len) {
        c->bad[PWS_BAD_TOO_LARGE]++;
        return ERR_TOO_LARGE;
    }
    if (!data) {
        c->bad[PWS_BAD_JSON]++;
        return ERR_PARSE;
    }
    root = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
    if (!root) {
        c->bad[PWS_BAD_JSON]++;
        return ERR_PARSE;
    }
    if (json_is_array(root)) {
        size_t i;
        json_t *ev;
        json_array_foreach(root, i, ev)
            n += s_event(ev, h, c);
    } else if (json_is_object(root)) {
        n = s_event(root, h, c);
    } else {
        c->bad[PWS_BAD_NOT_ARRAY]++;
        n = ERR_PARSE;
    }
    json_decref(root);
    return n;
}
