/* mp.c -- msgpack map helpers. */
#include <math.h>
#include <string.h>

#include "mp.h"

void mp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void mp_kstr(msgpack_packer *pk, const char *key, const char *val)
{
    mp_pack_str(pk, key);
    mp_pack_str(pk, val);
}

void mp_kdbl(msgpack_packer *pk, const char *key, double val)
{
    mp_pack_str(pk, key);
    msgpack_pack_double(pk, val);
}

void mp_kint(msgpack_packer *pk, const char *key, int64_t val)
{
    mp_pack_str(pk, key);
    msgpack_pack_int64(pk, val);
}

void mp_kuint(msgpack_packer *pk, const char *key, uint64_t val)
{
    mp_pack_str(pk, key);
    msgpack_pack_uint64(pk, val);
}

int mp_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *mp_get(const msgpack_object *m, const char *key)
{
    if (!m || m->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (mp_is(&m->via.map.ptr[i].key, key))
            return &m->via.map.ptr[i].val;
    return NULL;
}

int mp_dbl(const msgpack_object *m, const char *key, double *out)
{
    const msgpack_object *v = mp_get(m, key);
    if (!v)
        return -1;
    switch (v->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = v->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)v->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)v->via.i64;
        return 0;
    default:
        return -1;
    }
}

int mp_int(const msgpack_object *m, const char *key, int64_t *out)
{
    const msgpack_object *v = mp_get(m, key);
    if (!v)
        return -1;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        v->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)v->via.u64;
        return 0;
    }
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
        return 0;
    }
    return -1;
}

int mp_uint(const msgpack_object *m, const char *key, uint64_t *out)
{
    const msgpack_object *v = mp_get(m, key);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *out = v->via.u64;
    return 0;
}

int mp_str(const msgpack_object *m, const char *key, char *out, size_t n)
{
    const msgpack_object *v = mp_get(m, key);
    if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= n)
        return -1;
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    if (memchr(out, '\0', v->via.str.size))
        return -1;
    return 0;
}

void mp_body_init(struct mp_body *b)
{
    msgpack_unpacked_init(&b->up);
}

void mp_body_free(struct mp_body *b)
{
    msgpack_unpacked_destroy(&b->up);
}

/* Walks the msgpack headers in data[0..len) without building anything
 * and checks that the bytes hold exactly one object whose every array,
 * map, string and binary fits in what is left. msgpack-c allocates from
 * the counts in the headers, so a 6-byte body claiming 2^32 map entries
 * would otherwise ask for hundreds of gigabytes. */
static int s_plausible(const unsigned char *p, size_t len)
{
    size_t pos = 0, pending = 1;

    while (pending > 0) {
        size_t need = 0, n = 0, lenbytes = 0;
        unsigned char c;
        int container = 0;          /* 1: array, 2: map */

        if (pos >= len)
            return 0;
        c = p[pos++];
        pending--;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
            continue;
        if (c >= 0x80 && c <= 0x8f) {
            n = c & 0x0f;
            container = 2;
        } else if (c >= 0x90 && c <= 0x9f) {
            n = c & 0x0f;
            container = 1;
        } else if (c >= 0xa0 && c <= 0xbf) {
            need = c & 0x1f;
        } else {
            switch (c) {
            case 0xc4: case 0xd9: lenbytes = 1; break;          /* bin8 str8 */
            case 0xc5: case 0xda: lenbytes = 2; break;
            case 0xc6: case 0xdb: lenbytes = 4; break;
            case 0xc7: lenbytes = 1; need = 1; break;            /* ext */
            case 0xc8: lenbytes = 2; need = 1; break;
            case 0xc9: lenbytes = 4; need = 1; break;
            case 0xca: need = 4; break;
            case 0xcb: need = 8; break;
            case 0xcc: case 0xd0: need = 1; break;
            case 0xcd: case 0xd1: need = 2; break;
            case 0xce: case 0xd2: need = 4; break;
            case 0xcf: case 0xd3: need = 8; break;
            case 0xd4: need = 2; break;                          /* fixext */
            case 0xd5: need = 3; break;
            case 0xd6: need = 5; break;
            case 0xd7: need = 9; break;
            case 0xd8: need = 17; break;
            case 0xdc: lenbytes = 2; container = 1; break;
            case 0xdd: lenbytes = 4; container = 1; break;
            case 0xde: lenbytes = 2; container = 2; break;
            case 0xdf: lenbytes = 4; container = 2; break;
            default: return 0;                                   /* 0xc1 */
            }
            if (lenbytes) {
                size_t v = 0;
                if (len - pos < lenbytes)
                    return 0;
                for (size_t i = 0; i < lenbytes; i++)
                    v = (v << 8) | p[pos + i];
                pos += lenbytes;
                if (container)
                    n = v;
                else
                    need += v;
            }
        }
        if (container) {
            size_t items = container == 2 ? n * 2 : n;
            if (n > len - pos || items > len - pos)
                return 0;           /* each item takes at least a byte */
            pending += items;
        } else if (need > len - pos) {
            return 0;
        } else {
            pos += need;
        }
    }
    return pos == len;
}

const msgpack_object *mp_body_decode(struct mp_body *b, const void *data,
                                     size_t len)
{
    size_t off = 0;
    msgpack_unpack_return rc;

    if (!data || !s_plausible(data, len))
        return NULL;

    rc = msgpack_unpack_next(&b->up, data, len, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len)
        return NULL;
    return &b->up.data;
}

static json_t *s_to_json(const msgpack_object *o, int depth, int max)
{
    json_t *j = NULL;

    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_boolean(o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        j = json_integer((json_int_t)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer((json_int_t)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        j = isfinite(o->via.f64) ? json_real(o->via.f64) : NULL;
        break;
    case MSGPACK_OBJECT_STR:
        j = json_stringn(o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= max)
            break;
        j = json_array();
        for (uint32_t i = 0; j && i < o->via.array.size; i++)
            json_array_append_new(j, s_to_json(&o->via.array.ptr[i],
                                               depth + 1, max));
        break;
    case MSGPACK_OBJECT_MAP:
        if (depth >= max)
            break;
        j = json_object();
        for (uint32_t i = 0; j && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR)
                continue;
            /* takes the value, also when the key is refused */
            json_object_setn_new(j, kv->key.via.str.ptr,
                                 kv->key.via.str.size,
                                 s_to_json(&kv->val, depth + 1, max));
        }
        break;
    default:
        break;
    }
    return j ? j : json_null();
}

json_t *mp_to_json(const msgpack_object *o, int depth_max)
{
    return s_to_json(o, 0, depth_max);
}
