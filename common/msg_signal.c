/* msg_signal.c -- signal codecs: msgpack for the bus, JSON for files. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mp.h"
#include "msg_ind.h"
#include "msg_signal.h"

static const char *s_actions[] = { "buy", "sell", "close" };

const char *signal_action_name(int act)
{
    return act >= 0 && act <= SIG_CLOSE ? s_actions[act] : "?";
}

int msg_signal_action_parse(const char *s)
{
    for (int i = 0; i <= SIG_CLOSE; i++)
        if (strcmp(s, s_actions[i]) == 0)
            return i;
    return -1;
}

static uint64_t s_hash_dbl(uint64_t h, double v)
{
    if (isnan(v))
        v = NAN;                    /* one NaN, whatever its bits */
    else if (v == 0)
        v = 0;                      /* -0 is 0 */
    return hash64(h, &v, sizeof v);
}

void msg_signal_make_id(struct signal *s, const char *params)
{
    uint64_t h = HASH_INIT;
    int32_t ord = s->ord, act = s->act;

    h = hash_str(h, s->strat);
    h = hash_str(h, params ? params : "");
    h = hash_str(h, s->sym);
    h = hash64(h, &s->t, sizeof s->t);
    h = hash64(h, &ord, sizeof ord);
    h = hash64(h, &act, sizeof act);
    h = s_hash_dbl(h, s->px);
    h = s_hash_dbl(h, s->size);
    h = s_hash_dbl(h, s->limit);
    h = s_hash_dbl(h, s->stop);
    h = s_hash_dbl(h, s->sl);
    h = s_hash_dbl(h, s->tp);
    h = hash_str(h, s->tag);
    snprintf(s->id, sizeof s->id, "%016llx", (unsigned long long)mix64(h));
}

int msg_signal_is_flat_close(const struct signal *s)
{
    return s->act == SIG_CLOSE && s->pos == 0;
}

static int s_nopt(const struct signal *s)
{
    return !isnan(s->limit) + !isnan(s->stop) + !isnan(s->sl) +
           !isnan(s->tp) + (s->tag[0] != '\0') + !isnan(s->pos);
}

void msg_signal_pack(msgpack_packer *pk, const struct signal *s)
{
    msgpack_pack_map(pk, 15 + s_nopt(s));
    mp_kint(pk, "ver", SIGNAL_VERSION);
    mp_kstr(pk, "id", s->id);
    mp_kstr(pk, "eng", s->eng);
    mp_kstr(pk, "strat", s->strat);
    mp_kstr(pk, "sym", s->sym);
    mp_kstr(pk, "act", signal_action_name(s->act));
    mp_kint(pk, "t", s->t);
    mp_kint(pk, "ord", s->ord);
    mp_kdbl(pk, "px", s->px);
    /* size: nil means "the default: all available margin" */
    mp_pack_str(pk, "size");
    if (isnan(s->size))
        msgpack_pack_nil(pk);
    else
        msgpack_pack_double(pk, s->size);
    if (!isnan(s->limit))
        mp_kdbl(pk, "limit", s->limit);
    if (!isnan(s->stop))
        mp_kdbl(pk, "stop", s->stop);
    if (!isnan(s->sl))
        mp_kdbl(pk, "sl", s->sl);
    if (!isnan(s->tp))
        mp_kdbl(pk, "tp", s->tp);
    if (s->tag[0])
        mp_kstr(pk, "tag", s->tag);
    if (!isnan(s->pos))
        mp_kdbl(pk, "pos", s->pos);
    mp_kdbl(pk, "conf", s->conf);
    mp_pack_str(pk, "ind");
    msg_ind_pack_map(pk, s->ind, s->nind);
    mp_kuint(pk, "seq", s->seq);
    mp_kuint(pk, "pub", s->pub);
    mp_kint(pk, "ts", s->ts);
}

static int s_opt_dbl(const msgpack_object *o, const char *key, double *out,
                     const char *sym, char *err)
{
    const msgpack_object *v = mp_get(o, key);
    *out = NAN;
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (mp_dbl(o, key, out) == 0)
        return 0;
    snprintf(err, ERR_LEN, "signal %s: '%s' is not a number", sym, key);
    return ERR_PARSE;
}

int msg_signal_unpack(const msgpack_object *o, struct signal *s, char *err)
{
    char act[16];
    int64_t ver, ord;
    const msgpack_object *ind;

    memset(s, 0, sizeof *s);
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, ERR_LEN, "signal body is not a msgpack map");
        return ERR_PARSE;
    }
    if (mp_int(o, "ver", &ver) || ver != SIGNAL_VERSION) {
        snprintf(err, ERR_LEN, "signal: missing or unsupported 'ver'");
        return ERR_PARSE;
    }
    if (mp_str(o, "sym", s->sym, sizeof s->sym) ||
        mp_str(o, "id", s->id, sizeof s->id) ||
        mp_str(o, "eng", s->eng, sizeof s->eng) ||
        mp_str(o, "strat", s->strat, sizeof s->strat) ||
        mp_str(o, "act", act, sizeof act)) {
        snprintf(err, ERR_LEN, "signal: 'sym', 'id', 'eng', 'strat' or "
                 "'act' missing or not a short string");
        return ERR_PARSE;
    }
    s->act = msg_signal_action_parse(act);
    if (s->act < 0) {
        snprintf(err, ERR_LEN, "signal %s: unknown action '%s'", s->sym, act);
        return ERR_INVALID;
    }
    if (mp_int(o, "t", &s->t) || mp_int(o, "ord", &ord) ||
        mp_dbl(o, "px", &s->px) || mp_dbl(o, "conf", &s->conf) ||
        mp_uint(o, "seq", &s->seq) || mp_uint(o, "pub", &s->pub)) {
        snprintf(err, ERR_LEN, "signal %s: 't', 'ord', 'px', 'conf', 'seq' "
                 "or 'pub' missing or of the wrong type", s->sym);
        return ERR_PARSE;
    }
    s->ord = (int)ord;
    if (mp_get(o, "ts") && mp_int(o, "ts", &s->ts)) {
        snprintf(err, ERR_LEN, "signal %s: 'ts' is not an integer", s->sym);
        return ERR_PARSE;
    }
    if (s_opt_dbl(o, "size", &s->size, s->sym, err) ||
        s_opt_dbl(o, "limit", &s->limit, s->sym, err) ||
        s_opt_dbl(o, "stop", &s->stop, s->sym, err) ||
        s_opt_dbl(o, "sl", &s->sl, s->sym, err) ||
        s_opt_dbl(o, "tp", &s->tp, s->sym, err) ||
        s_opt_dbl(o, "pos", &s->pos, s->sym, err))
        return ERR_PARSE;
    if (mp_get(o, "tag") && mp_str(o, "tag", s->tag, sizeof s->tag)) {
        snprintf(err, ERR_LEN, "signal %s: 'tag' is not a short string",
                 s->sym);
        return ERR_PARSE;
    }
    ind = mp_get(o, "ind");
    if (ind && ind->type == MSGPACK_OBJECT_MAP) {
        s->nind = msg_ind_unpack_map(ind, s->ind, SIG_MAX_IND);
    } else if (ind && ind->type != MSGPACK_OBJECT_NIL) {
        snprintf(err, ERR_LEN, "signal %s: 'ind' is not a map", s->sym);
        return ERR_PARSE;
    }
    if (!isfinite(s->px) || s->px <= 0 || !(s->conf >= 0 && s->conf <= 1)) {
        snprintf(err, ERR_LEN, "signal %s: price %g or confidence %g out of "
                 "range", s->sym, s->px, s->conf);
        return ERR_INVALID;
    }
    return ERR_OK;
}

static json_t *s_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *msg_signal_to_json(const struct signal *s)
{
    json_t *o = json_object(), *ind = json_object();

    if (!o || !ind) {
        json_decref(o);
        json_decref(ind);
        return NULL;
    }
    json_object_set_new(o, "ver", json_integer(SIGNAL_VERSION));
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "engine", json_string(s->eng));
    json_object_set_new(o, "strategy", json_string(s->strat));
    json_object_set_new(o, "symbol", json_string(s->sym));
    json_object_set_new(o, "action", json_string(signal_action_name(s->act)));
    json_object_set_new(o, "bar_ts", json_integer(s->t));
    json_object_set_new(o, "ordinal", json_integer(s->ord));
    json_object_set_new(o, "price", s_num(s->px));
    json_object_set_new(o, "size", s_num(s->size));
    if (!isnan(s->limit))
        json_object_set_new(o, "limit", s_num(s->limit));
    if (!isnan(s->stop))
        json_object_set_new(o, "stop", s_num(s->stop));
    if (!isnan(s->sl))
        json_object_set_new(o, "sl", s_num(s->sl));
    if (!isnan(s->tp))
        json_object_set_new(o, "tp", s_num(s->tp));
    if (s->tag[0])
        json_object_set_new(o, "tag", json_string(s->tag));
    if (!isnan(s->pos))
        json_object_set_new(o, "position", s_num(s->pos));
    json_object_set_new(o, "confidence", s_num(s->conf));
    for (int i = 0; i < s->nind; i++)
        json_object_set_new(ind, s->ind[i].name, s_num(s->ind[i].v));
    json_object_set_new(o, "indicators", ind);
    json_object_set_new(o, "seq", json_integer((json_int_t)s->seq));
    json_object_set_new(o, "pub", json_integer((json_int_t)s->pub));
    json_object_set_new(o, "ts", json_integer(s->ts));
    return o;
}
