/* test_symtab.c -- common/symtab: numbers in order of first appearance,
 * a name added again keeps its number, lookups after the index grew many
 * times, invalid names and a full table refused, destroy idempotent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "symtab.h"

static void test_numbers(void **state)
{
    symtab_t *t = symtab_new(10);
    (void)state;

    assert_non_null(t);
    assert_int_equal(symtab_len(t), 0);
    assert_int_equal(symtab_find(t, "AAPL"), -1);
    assert_int_equal(symtab_add(t, "AAPL"), 0);
    assert_int_equal(symtab_add(t, "MSFT"), 1);
    assert_int_equal(symtab_add(t, "AAPL"), 0);     /* keeps its number */
    assert_int_equal(symtab_add(t, "BRK.B"), 2);
    assert_int_equal(symtab_len(t), 3);
    assert_int_equal(symtab_find(t, "MSFT"), 1);
    assert_int_equal(symtab_find(t, "AAPLX"), -1);  /* no prefix match */
    assert_int_equal(symtab_find(t, "AAP"), -1);
    assert_string_equal(symtab_name(t, 2), "BRK.B");
    /* Not a symbol: refused, nothing numbered. */
    assert_int_equal(symtab_add(t, "A B"), ERR_INVALID);
    assert_int_equal(symtab_add(t, ""), ERR_INVALID);
    assert_int_equal(symtab_add(t, "*"), ERR_INVALID);
    assert_int_equal(symtab_len(t), 3);
    symtab_destroy(&t);
    symtab_destroy(&t);
    assert_null(t);
}

static void test_grows_to_its_max(void **state)
{
    enum { N = 20000 };
    symtab_t *t = symtab_new(N);
    char name[16];
    (void)state;

    assert_non_null(t);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "S%05d", i);
        assert_int_equal(symtab_add(t, name), i);
    }
    /* Every one is found under its number after the index grew. */
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "S%05d", i);
        assert_int_equal(symtab_find(t, name), i);
        assert_string_equal(symtab_name(t, i), name);
    }
    /* Full: a new name is refused, an old one still has its number. */
    assert_int_equal(symtab_add(t, "NEW"), ERR_TOO_LARGE);
    assert_int_equal(symtab_add(t, "S00042"), 42);
    assert_int_equal(symtab_find(t, "NEW"), -1);
    assert_int_equal(symtab_len(t), N);
    symtab_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_grows_to_its_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
