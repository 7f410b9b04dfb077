/* msg_replay.c -- the engine's replay of its journal (see msg_replay.h). */
#include <stdio.h>

#include "err.h"
#include "mp.h"
#include "msg_replay.h"

void msg_replay_pack_request(msgpack_packer *pk, const struct replay_req *r)
{
    msgpack_pack_map(pk, r->n ? 4 : 3);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "replay");
    if (r->since_ts >= 0)
        mp_kint(pk, "since_ts", r->since_ts);
    else
        mp_kuint(pk, "after", r->after);
    if (r->n)
        mp_kuint(pk, "n", r->n);
}

int msg_replay_req_parse(const msgpack_object *o, uint64_t max,
                         struct replay_req *r, char *err)
{
    r->n = max;
    r->after = 0;
    r->since_ts = -1;
    if (mp_get(o, "since_ts") ?
            (mp_int(o, "since_ts", &r->since_ts) || r->since_ts < 0) :
            mp_uint(o, "after", &r->after)) {
        r->since_ts = -1;
        snprintf(err, ERR_LEN, "replay needs after: an unsigned integer, "
                 "or since_ts: epoch ms (and n: a positive integer, if "
                 "given)");
        return ERR_PARSE;
    }
    if (mp_get(o, "n") && (mp_uint(o, "n", &r->n) || r->n == 0)) {
        snprintf(err, ERR_LEN, "replay: n must be a positive integer "
                 "(after or since_ts as well)");
        return ERR_PARSE;
    }
    if (r->n > max)
        r->n = max;
    return ERR_OK;
}

void msg_replay_pack_reply_head(msgpack_packer *pk, const char *eng,
                                uint64_t first, uint64_t last)
{
    msgpack_pack_map(pk, 6);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "replay");
    mp_kstr(pk, "eng", eng);
    mp_kuint(pk, "first", first);
    mp_kuint(pk, "last", last);
    mp_pack_str(pk, "signals");
}

int msg_replay_reply_parse(const msgpack_object *o, struct replay_reply *r,
                           char *why, size_t whylen)
{
    r->first = r->last = 0;
    r->signals = NULL;
    if (!mp_is(mp_get(o, "type"), "replay") ||
        !(r->signals = mp_get(o, "signals")) ||
        r->signals->type != MSGPACK_OBJECT_ARRAY) {
        r->signals = NULL;
        snprintf(why, whylen, "not a replay reply");
        mp_str(o, "error", why, whylen);
        return -1;
    }
    mp_uint(o, "first", &r->first);
    mp_uint(o, "last", &r->last);
    return 0;
}
