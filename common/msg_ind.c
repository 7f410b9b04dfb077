/* msg_ind.c -- indicator values per bar: codecs and the request. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "mp.h"
#include "msg_ind.h"

void msg_ind_pack_map(msgpack_packer *pk, const struct sig_ind *v, int n)
{
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        mp_pack_str(pk, v[i].name);
        msgpack_pack_double(pk, v[i].v);
    }
}

int msg_ind_unpack_map(const msgpack_object *map, struct sig_ind *v,
                       int max)
{
    int n = 0;

    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < map->via.map.size && n < max; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        struct sig_ind *d = &v[n];
        if (kv->key.type != MSGPACK_OBJECT_STR ||
            kv->key.via.str.size >= SIG_NAME)
            continue;
        memcpy(d->name, kv->key.via.str.ptr, kv->key.via.str.size);
        d->name[kv->key.via.str.size] = '\0';
        if (kv->val.type == MSGPACK_OBJECT_FLOAT64 ||
            kv->val.type == MSGPACK_OBJECT_FLOAT32)
            d->v = kv->val.via.f64;
        else if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            d->v = (double)kv->val.via.u64;
        else if (kv->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            d->v = (double)kv->val.via.i64;
        else
            d->v = NAN;
        n++;
    }
    return n;
}

void msg_ind_pack(msgpack_packer *pk, const struct ind_msg *m)
{
    msgpack_pack_map(pk, 6);
    mp_kint(pk, "ver", IND_MSG_VERSION);
    mp_kstr(pk, "type", "ind");
    mp_kstr(pk, "eng", m->eng);
    mp_kstr(pk, "sym", m->sym);
    mp_kint(pk, "t", m->p.t);
    mp_pack_str(pk, "ind");
    msg_ind_pack_map(pk, m->p.v, m->p.n);
}

int msg_ind_unpack(const msgpack_object *o, struct ind_msg *m, char *err)
{
    int64_t ver;

    memset(m, 0, sizeof *m);
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, ERR_LEN, "indicator message is not a msgpack map");
        return ERR_PARSE;
    }
    if (mp_int(o, "ver", &ver) || ver != IND_MSG_VERSION ||
        !mp_is(mp_get(o, "type"), "ind")) {
        snprintf(err, ERR_LEN, "indicator message: missing or unsupported "
                 "'ver' or 'type'");
        return ERR_PARSE;
    }
    if (mp_str(o, "eng", m->eng, sizeof m->eng) ||
        mp_str(o, "sym", m->sym, sizeof m->sym) || !symbol_valid(m->sym)) {
        snprintf(err, ERR_LEN, "indicator message: 'eng' or 'sym' missing "
                 "or invalid");
        return ERR_PARSE;
    }
    if (msg_ind_unpack_point(o, &m->p) != 0) {
        snprintf(err, ERR_LEN, "indicator message for %s: 't' or 'ind' "
                 "missing or of the wrong type", m->sym);
        return ERR_PARSE;
    }
    return ERR_OK;
}

void msg_ind_pack_point(msgpack_packer *pk, const struct ind_point *p)
{
    msgpack_pack_map(pk, 2);
    mp_kint(pk, "t", p->t);
    mp_pack_str(pk, "ind");
    msg_ind_pack_map(pk, p->v, p->n);
}

int msg_ind_unpack_point(const msgpack_object *o, struct ind_point *p)
{
    p->n = 0;
    if (mp_int(o, "t", &p->t) || p->t < 0)
        return -1;
    p->n = msg_ind_unpack_map(mp_get(o, "ind"), p->v, SIG_MAX_IND);
    if (p->n < 0) {
        p->n = 0;
        return -1;
    }
    return 0;
}

void msg_ind_pack_request(msgpack_packer *pk, const char *sym, int64_t n)
{
    msgpack_pack_map(pk, 4);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "indicators");
    mp_kstr(pk, "sym", sym);
    mp_kint(pk, "n", n);
}

int msg_ind_req_parse(const msgpack_object *o, char *sym, int64_t *n,
                      char *err)
{
    sym[0] = '\0';
    if (mp_str(o, "sym", sym, SYM_MAX) || !symbol_valid(sym)) {
        snprintf(err, ERR_LEN, "indicators request: 'sym' missing or "
                 "invalid");
        return ERR_PARSE;
    }
    if (mp_int(o, "n", n) || *n < 1) {
        snprintf(err, ERR_LEN, "indicators request for %s: 'n' missing or "
                 "not a positive integer", sym);
        return ERR_PARSE;
    }
    if (*n > IND_MSG_REQ_MAX)
        *n = IND_MSG_REQ_MAX;
    return ERR_OK;
}

void msg_ind_pack_reply_head(msgpack_packer *pk, const char *eng,
                             const char *sym, size_t npoints)
{
    msgpack_pack_map(pk, 5);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "indicators");
    mp_kstr(pk, "eng", eng);
    mp_kstr(pk, "sym", sym);
    mp_pack_str(pk, "points");
    msgpack_pack_array(pk, npoints);
}
