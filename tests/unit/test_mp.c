/* test_mp.c -- common/mp: a decoded msgpack value as JSON (scalars,
 * what JSON cannot hold, map keys, the depth limit). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mp.h"

/* The JSON text of the msgpack value packed in sb, at most `depth`
 * levels deep; the caller frees it. */
static char *s_json(const msgpack_sbuffer *sb, int depth)
{
    struct mp_body b;
    const msgpack_object *o;
    json_t *j;
    char *text;

    mp_body_init(&b);
    o = mp_body_decode(&b, sb->data, sb->size);
    assert_non_null(o);
    j = mp_to_json(o, depth);
    assert_non_null(j);
    text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    assert_non_null(text);
    json_decref(j);
    mp_body_free(&b);
    return text;
}

static void test_to_json(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char key[200], want[400], *text;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    msgpack_pack_map(&pk, 10);
    mp_kint(&pk, "neg", -5);
    mp_kuint(&pk, "pos", 18446744073709551615ULL);
    mp_kdbl(&pk, "x", 0.5);
    mp_kdbl(&pk, "nan", NAN);
    mp_kdbl(&pk, "inf", -INFINITY);
    mp_pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    mp_pack_str(&pk, "bad");        /* not UTF-8 */
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "\xff\xfe", 2);
    mp_pack_str(&pk, "bin");
    msgpack_pack_bin(&pk, 1);
    msgpack_pack_bin_body(&pk, "b", 1);
    msgpack_pack_int(&pk, 7);       /* a key that is no string: left out */
    msgpack_pack_int(&pk, 1);
    mp_kstr(&pk, key, "long keys are kept");
    text = s_json(&sb, 8);
    /* Keys sorted; 2^64-1 comes out as json_int_t's -1. */
    snprintf(want, sizeof want, "{\"bad\":null,\"bin\":null,\"inf\":null,"
             "\"%s\":\"long keys are kept\",\"nan\":null,\"neg\":-5,"
             "\"ok\":true,\"pos\":-1,\"x\":0.5}", key);
    assert_string_equal(text, want);
    free(text);

    /* [[[1]], 2] kept to three levels, two, one, none. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    for (int depth = 3; depth >= 0; depth--) {
        static const char *const cut[] = { "null", "[null,2]",
                                           "[[null],2]", "[[[1]],2]" };
        text = s_json(&sb, depth);
        assert_string_equal(text, cut[depth]);
        free(text);
    }
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
