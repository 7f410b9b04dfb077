/* mp.h -- small helpers over msgpack-c for livetrade's map bodies:
 * packing "key": value pairs, looking keys up in a decoded map, and
 * turning a decoded value into JSON. */
#ifndef LT_MP_H
#define LT_MP_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

void mp_pack_str(msgpack_packer *pk, const char *s);
void mp_kstr(msgpack_packer *pk, const char *key, const char *val);
void mp_kdbl(msgpack_packer *pk, const char *key, double val);
void mp_kint(msgpack_packer *pk, const char *key, int64_t val);
void mp_kuint(msgpack_packer *pk, const char *key, uint64_t val);

/* The value for `key` in map `m`, or NULL (also if `m` is not a map). */
const msgpack_object *mp_get(const msgpack_object *m, const char *key);

/* Typed reads. Each returns 0, or -1 if the key is missing or has the
 * wrong type. mp_dbl accepts integers; mp_int rejects floats. mp_str
 * copies at most n-1 bytes and fails if the string is longer. */
int mp_dbl(const msgpack_object *m, const char *key, double *out);
int mp_int(const msgpack_object *m, const char *key, int64_t *out);
int mp_uint(const msgpack_object *m, const char *key, uint64_t *out);
int mp_str(const msgpack_object *m, const char *key, char *out, size_t n);

/* 1 if `o` is a string equal to `s`. */
int mp_is(const msgpack_object *o, const char *s);

/* A msgpack value as new JSON (the caller owns it; never NULL unless out
 * of memory). Arrays and maps nested `depth_max` levels below `o` (o is
 * level 0), strings that are not UTF-8, NaN and infinities, and binary
 * or extension values become null; map entries whose key is not a
 * UTF-8 string are left out. */
json_t *mp_to_json(const msgpack_object *o, int depth_max);

/* A reusable decoder for one message body. */
struct mp_body {
    msgpack_unpacked up;            /* owns the zone of the last decode */
};
void mp_body_init(struct mp_body *b);
void mp_body_free(struct mp_body *b);
/* Decodes `data` as exactly one msgpack object; returns it or NULL (not
 * msgpack, truncated, or trailing bytes). Valid until the next call. */
const msgpack_object *mp_body_decode(struct mp_body *b, const void *data,
                                     size_t len);

#endif
