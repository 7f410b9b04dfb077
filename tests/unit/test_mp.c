/* test_mp.c -- common/mp: a decoded msgpack value as JSON (scalars,
 * what JSON cannot hold, map keys, the depth limit). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    char key[200], *text;
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
    assert_non_null(strstr(text, "\"neg\":-5,"));
    assert_non_null(strstr(text, "\"nan\":null,"));
    assert_non_null(strstr(text, "\"inf\":null,"));
    assert_non_null(strstr(text, "\"bad\":null,"));
    assert_non_null(strstr(text, "\"bin\":null,"));
    assert_non_null(strstr(text, "\"ok\":true,"));
    assert_non_null(strstr(text, "\"x\":0.5"));
    assert_non_null(strstr(text, "\"pos\":-1"));    /* as json_int_t */
    assert_non_null(strstr(text, "long keys are kept"));
    assert_null(strstr(text, ":1,"));
    free(text);

    /* [[[1]], 2] at three levels, at two, at one, at none. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    text = s_json(&sb, 3);
    assert_string_equal(text, "[[[1]],2]");
    free(text);
    text = s_json(&sb, 2);
    assert_string_equal(text, "[[null],2]");
    free(text);
    text = s_json(&sb, 1);
    assert_string_equal(text, "[null,2]");
    free(text);
    text = s_json(&sb, 0);
    assert_string_equal(text, "null");
    free(text);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
