/* mp.c -- msgpack map helpers. */
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

const msgpack_object *mp_body_decode(struct mp_body *b, const void *data,
                                     size_t len)
{
    size_t off = 0;
    msgpack_unpack_return rc;

    rc = msgpack_unpack_next(&b->up, data, len, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len)
        return NULL;
    return &b->up.data;
}
