/* test_spool.c -- common/spool: append and read back with line numbers,
 * a torn last line, a rewrite that keeps what is pending and numbers on
 * from it, the lock against a second opener, a symbolic link refused,
 * and a failed append mended by the next rewrite. Each test works in its
 * own temporary directory. */
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

#include "../../common/spool.c"

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

static const char *s_file(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void s_put(const char *path, const char *mode, const char *text)
{
    FILE *f = fopen(path, mode);

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
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

/* Removes path, its lock and the directory (and one level below it). */
static void s_clean(const char *dir, const char *path)
{
    char p[256];
    const char *slash = strrchr(path, '/');

    unlink(path);
    snprintf(p, sizeof p, "%s.lock", path);
    unlink(p);
    snprintf(p, sizeof p, "%.*s", (int)(slash - path), path);
    if (strcmp(p, dir) != 0)
        rmdir(p);
    rmdir(dir);
}

static void test_append_and_read_back(void **state)
{
    char dir[] = "/tmp/lt-spool-unit-XXXXXX", path[128], err[ERR_LEN];
    const char *none[] = { NULL };
    struct s_got got;
    struct stat st;
    spool_t *sp;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/spool.jsonl", dir);
    sp = spool_open(path, "test", err);
    assert_non_null(sp);
    assert_string_equal(spool_path(sp), path);
    /* Missing: empty. Nothing is appended before the first rewrite. */
    assert_string_equal(s_read_back(sp, &got), "");
    assert_int_equal(spool_append(sp, "a\n", 2, 1), -1);
    assert_int_equal(spool_rewrite(sp, s_keep_lines, (void *)none), 0);
    assert_int_equal(stat(path, &st), 0);
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
    assert_string_equal(s_file(path), "a\nb\n\nbad\nc\n");

    s_clean(dir, path);
}

static void test_torn_last_line(void **state)
{
    char dir[] = "/tmp/lt-spool-unit-XXXXXX", path[128], err[ERR_LEN];
    struct s_got got;
    spool_t *sp;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    /* Killed while appending: the last line lacks its '\n' (even though
     * what is there would parse). */
    s_put(path, "w", "one\ntwo\n{\"done\":1}");
    sp = spool_open(path, "test", err);
    assert_non_null(sp);
    assert_string_equal(s_read_back(sp, &got), "1:one 2:two");
    assert_int_equal(got.calls, 2);
    spool_destroy(&sp);

    /* A plain file appended to ends the torn line first. */
    s_put(path, "w", "one\ntw");
    assert_int_equal(spool_file_append(path, "three\n", 6), 0);
    assert_string_equal(s_file(path), "one\ntw\nthree\n");

    s_clean(dir, path);
}

static void test_rewrite_keeps_pending(void **state)
{
    char dir[] = "/tmp/lt-spool-unit-XXXXXX", path[128], err[ERR_LEN];
    const char *pending[] = { "p1", "p2", NULL };
    struct s_got got;
    spool_t *sp;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    s_put(path, "w", "old1\nold2\np1\np2\n");
    sp = spool_open(path, "test", err);
    assert_non_null(sp);
    assert_int_equal(spool_rewrite(sp, s_keep_lines, pending), 0);
    assert_string_equal(s_file(path), "p1\np2\n");
    /* Appends number on from the lines kept. */
    assert_int_equal(spool_append(sp, "p3\n", 3, 1), 0);
    assert_int_equal(spool_lines(sp), 3);
    assert_string_equal(s_read_back(sp, &got), "1:p1 2:p2 3:p3");

    /* Not due yet; forced; due once enough lines were appended. */
    pending[0] = "q";
    pending[1] = NULL;
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), 0);
    assert_string_equal(s_file(path), "p1\np2\np3\n");
    sp->appended = SPOOL_COMPACT_LINES;
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), 1);
    assert_string_equal(s_file(path), "q\n");
    assert_int_equal(spool_lines(sp), 1);
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 1), 1);
    spool_destroy(&sp);
    assert_string_equal(s_file(path), "q\n");

    s_clean(dir, path);
}

static void test_second_opener_refused(void **state)
{
    char dir[] = "/tmp/lt-spool-unit-XXXXXX", path[128], err[ERR_LEN];
    spool_t *sp, *other;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    sp = spool_open(path, "test", err);
    assert_non_null(sp);
    other = spool_open(path, "test", err);
    assert_null(other);
    assert_non_null(strstr(err, "in use by another livetrade-sink test"));
    assert_non_null(strstr(err, path));
    /* Released when closed. */
    spool_destroy(&sp);
    other = spool_open(path, "test", err);
    assert_non_null(other);
    spool_destroy(&other);

    s_clean(dir, path);
}

static void test_symlink_refused(void **state)
{
    char dir[] = "/tmp/lt-spool-unit-XXXXXX", path[128], target[128];
    char lock[160], err[ERR_LEN];
    struct s_got got = { "", 0 };
    struct stat st;
    spool_t *sp;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    snprintf(target, sizeof target, "%s/target", dir);
    s_put(target, "w", "theirs\n");
    assert_int_equal(symlink(target, path), 0);
    sp = spool_open(path, "test", err);
    assert_non_null(sp);
    assert_int_equal(spool_read(sp, s_on_line, &got, err), -1);
    assert_int_equal(got.calls, 0);
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_non_null(strstr(err, path));
    spool_destroy(&sp);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(s_file(target), "theirs\n");
    /* The lock file too. */
    unlink(path);
    snprintf(lock, sizeof lock, "%s.lock", path);
    unlink(lock);
    assert_int_equal(symlink(target, lock), 0);
    assert_null(spool_open(path, "test", err));
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_string_equal(s_file(target), "theirs\n");
    /* And a plain file appended to. */
    assert_int_equal(spool_file_append(lock, "x\n", 2), -1);
    assert_string_equal(s_file(target), "theirs\n");

    unlink(target);
    s_clean(dir, path);
}

static void test_failed_append_mended_by_rewrite(void **state)
{
    char dir[] = "/tmp/lt-spool-unit-XXXXXX", path[128], err[ERR_LEN];
    const char *pending[] = { "a", "b", NULL };
    struct s_got got;
    spool_t *sp;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    sp = spool_open(path, "test", err);
    assert_non_null(sp);
    assert_int_equal(spool_rewrite(sp, s_keep_lines, pending + 2), 0);
    assert_int_equal(spool_append(sp, "a\n", 2, 1), 0);
    /* A write fails (a descriptor open for reading only): logged, and
     * nothing more is appended, not even what would succeed. */
    close(sp->fd);
    sp->fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(spool_append(sp, "b\n", 2, 1), -1);
    assert_int_equal(sp->broken, 1);
    assert_int_equal(spool_append(sp, "c\n", 2, 1), -1);
    assert_int_equal(spool_lines(sp), 1);
    /* The rewrite is tried once a second, not at once... */
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), -1);
    assert_string_equal(s_file(path), "a\n");
    /* ...and, when it comes, recovers: the file holds what the caller
     * kept, appends go on. */
    sp->retry_at = 0;
    assert_int_equal(spool_compact(sp, s_keep_lines, pending, 0), 1);
    assert_int_equal(sp->broken, 0);
    assert_int_equal(spool_append(sp, "c\n", 2, 1), 0);
    assert_string_equal(s_read_back(sp, &got), "1:a 2:b 3:c");
    spool_destroy(&sp);

    s_clean(dir, path);
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
