/* test_spool.c -- common/spool: append and read back with line numbers,
 * a torn last line, a rewrite that keeps what is pending and numbers on
 * from it, the lock against a second opener, a symbolic link refused,
 * and a failed append mended by the next rewrite. Each test works in its
 * own temporary directory. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "spool_int.h"
#include "test_spool_files.h"

/* What a read-back passed on: "no:line" for each line, space-separated
 * (the '\n' left out); a line "bad" is reported unreadable. */
struct s_got {
    char text[1024];
    int calls;
};

static int s_on_line(void *arg, const char *line, size_t len, uint64_t no)
{
    struct s_got *got = arg;
    size_t n = strlen(got->text);

    assert_true(len >= 2);
    assert_int_equal(line[len - 1], '\n');
    got->calls++;
    snprintf(got->text + n, sizeof got->text - n, "%s%llu:%.*s",
             n ? " " : "", (unsigned long long)no, (int)(len - 1), line);
    return len == 4 && memcmp(line, "bad", 3) == 0;
}

/* Reads the spool back into got (emptied first); asserts it succeeds. */
static const char *s_read_back(spool_t *sp, struct s_got *got)
{
    char err[ERR_LEN];

    memset(got, 0, sizeof *got);
    assert_int_equal(spool_read(sp, s_on_line, got, err), 0);
    return got->text;
}

/* A rewrite (spool_write_fn) that keeps the lines of a NULL-terminated
 * array of strings. */
static long s_keep_lines(void *arg, FILE *f)
{
    const char *const *l = arg;
    long n = 0;

    for (; *l; l++, n++)
        fprintf(f, "%s\n", *l);
    return n;
}

/* A test's temporary directory and the spool path in it. */
struct s_ws {
    char dir[32];
    char path[128];
};

/* Opens the spool of ws; asserts it succeeds. */
static spool_t *s_open(const struct s_ws *ws)
{
    char err[ERR_LEN];
    spool_t *sp = spool_open(ws->path, "test", err);

    assert_non_null(sp);
    return sp;
}

/* Makes the directory and names the spool `name` in it. */
static void s_dir(struct s_ws *ws, const char *name)
{
    snprintf(ws->dir, sizeof ws->dir, "/tmp/lt-spool-unit-XXXXXX");
    assert_non_null(mkdtemp(ws->dir));
    snprintf(ws->path, sizeof ws->path, "%s/%s", ws->dir, name);
}

/* s_dir(), then the spool holding `text` (NULL: none), opened. */
static spool_t *s_start(struct s_ws *ws, const char *name, const char *text)
{
    s_dir(ws, name);
    if (text)
        s_write_file(ws->path, "w", text);
    return s_open(ws);
}

static void test_append_and_read_back(void **state)
{
    const char *none[] = { NULL };
    struct s_ws ws;
    struct s_got got;
    struct stat st;
    spool_t *sp = s_start(&ws, "sub/spool.jsonl", NULL);
    (void)state;

    assert_string_equal(spool_path(sp), ws.path);
    /* Missing: empty. Nothing is appended before the first rewrite. */
    assert_string_equal(s_read_back(sp, &got), "");
    assert_int_equal(spool_append(sp, "a\n", 2, 1), -1);
    assert_int_equal(spool_rewrite(sp, s_keep_lines, (void *)none), 0);
    assert_int_equal(stat(ws.path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(spool_append(sp, "a\n", 2, 1), 0);
    assert_int_equal(spool_lines(sp), 1);
    assert_int_equal(spool_append(sp, "b\n\nbad\nc\n", 9, 4), 0);
    assert_int_equal(spool_lines(sp), 5);
    /* The empty line is numbered but not passed on; "bad" is skipped. */
    assert_string_equal(s_read_back(sp, &got), "1:a 2:b 4:bad 5:c");
    spool_destroy(&sp);
    spool_destroy(&sp);
    assert_null(sp);
    assert_string_equal(s_read_file(ws.path), "a\nb\n\nbad\nc\n");

    s_remove(ws.dir, ws.path);
}

static void test_torn_last_line(void **state)
{
    struct s_ws ws;
    struct s_got got;
    /* Killed while appending: the last line lacks its '\n' (even though
     * what is there would parse). */
    spool_t *sp = s_start(&ws, "spool.jsonl", "one\ntwo\n{\"done\":1}");
    (void)state;

    assert_string_equal(s_read_back(sp, &got), "1:one 2:two");
    assert_int_equal(got.calls, 2);
    spool_destroy(&sp);

    /* A plain file appended to ends the torn line first. */
    s_write_file(ws.path, "w", "one\ntw");
    assert_int_equal(spool_file_append(ws.path, "three\n", 6), 0);
    assert_string_equal(s_read_file(ws.path), "one\ntw\nthree\n");

    s_remove(ws.dir, ws.path);
}

static void test_rewrite_keeps_pending(void **state)
{
    const char *pending[] = { "p1", "p2", NULL };
    struct s_ws ws;
    struct s_got got;
    spool_t *sp = s_start(&ws, "spool.jsonl", "old1\nold2\np1\np2\n");
    (void)state;

    assert_int_equal(spool_rewrite(sp, s_keep_lines, pending), 0);
    assert_string_equal(s_read_file(ws.path), "p1\np2\n");
    /* Appends number on from the lines kept. */
    assert_int_equal(spool_append(sp, "p3\n", 3, 1), 0);
    assert_int_equal(spool_lines(sp), 3);
    assert_string_equal(s_read_back(sp, &got), "1:p1 2:p2 3:p3");

    /* Not due yet; due once enough lines were appended; forced. */
    pending[0] = "q";
    pending[1] = NULL;
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), 0);
    assert_string_equal(s_read_file(ws.path), "p1\np2\np3\n");
    sp->appended = SPOOL_COMPACT_LINES;
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), 1);
    assert_string_equal(s_read_file(ws.path), "q\n");
    assert_int_equal(spool_lines(sp), 1);
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 1), 1);
    spool_destroy(&sp);
    assert_string_equal(s_read_file(ws.path), "q\n");

    s_remove(ws.dir, ws.path);
}

static void test_second_opener_refused(void **state)
{
    char err[ERR_LEN];
    struct s_ws ws;
    spool_t *sp = s_start(&ws, "spool.jsonl", NULL), *other;
    (void)state;

    other = spool_open(ws.path, "test", err);
    assert_null(other);
    assert_non_null(strstr(err, "in use by another livetrade-sink test"));
    assert_non_null(strstr(err, ws.path));
    /* Released when closed. */
    spool_destroy(&sp);
    other = s_open(&ws);
    spool_destroy(&other);

    s_remove(ws.dir, ws.path);
}

static void test_symlink_refused(void **state)
{
    char target[160], lock[160], err[ERR_LEN];
    struct s_got got = { "", 0 };
    struct s_ws ws;
    struct stat st;
    spool_t *sp;
    (void)state;

    s_dir(&ws, "spool.jsonl");
    snprintf(target, sizeof target, "%s/target", ws.dir);
    s_write_file(target, "w", "theirs\n");
    assert_int_equal(symlink(target, ws.path), 0);
    sp = s_open(&ws);
    assert_int_equal(spool_read(sp, s_on_line, &got, err), -1);
    assert_int_equal(got.calls, 0);
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_non_null(strstr(err, ws.path));
    spool_destroy(&sp);
    assert_int_equal(lstat(ws.path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(s_read_file(target), "theirs\n");
    /* The lock file too. */
    unlink(ws.path);
    snprintf(lock, sizeof lock, "%s.lock", ws.path);
    unlink(lock);
    assert_int_equal(symlink(target, lock), 0);
    assert_null(spool_open(ws.path, "test", err));
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_string_equal(s_read_file(target), "theirs\n");
    /* And a plain file appended to. */
    assert_int_equal(spool_file_append(lock, "x\n", 2), -1);
    assert_string_equal(s_read_file(target), "theirs\n");

    unlink(target);
    s_remove(ws.dir, ws.path);
}

static void test_failed_append_mended_by_rewrite(void **state)
{
    const char *pending[] = { "a", "b", NULL };
    struct s_ws ws;
    struct s_got got;
    spool_t *sp = s_start(&ws, "spool.jsonl", NULL);
    (void)state;

    assert_int_equal(spool_rewrite(sp, s_keep_lines, pending + 2), 0);
    assert_int_equal(spool_append(sp, "a\n", 2, 1), 0);
    /* A write fails (a descriptor open for reading only): logged, and
     * nothing more is appended, not even what would succeed. */
    close(sp->fd);
    sp->fd = open(ws.path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(spool_append(sp, "b\n", 2, 1), -1);
    assert_int_equal(sp->broken, 1);
    assert_int_equal(spool_append(sp, "c\n", 2, 1), -1);
    assert_int_equal(spool_lines(sp), 1);
    /* The rewrite is tried once a second, not at once... */
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), -1);
    assert_string_equal(s_read_file(ws.path), "a\n");
    /* ...and, when it comes, recovers: the file holds what the caller
     * kept, appends go on. */
    sp->retry_at = 0;
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), 1);
    assert_int_equal(sp->broken, 0);
    assert_int_equal(spool_append(sp, "c\n", 2, 1), 0);
    assert_string_equal(s_read_back(sp, &got), "1:a 2:b 3:c");
    spool_destroy(&sp);

    s_remove(ws.dir, ws.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_read_back),
        cmocka_unit_test(test_torn_last_line),
        cmocka_unit_test(test_rewrite_keeps_pending),
        cmocka_unit_test(test_second_opener_refused),
        cmocka_unit_test(test_symlink_refused),
        cmocka_unit_test(test_failed_append_mended_by_rewrite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
