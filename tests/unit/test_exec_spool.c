/* test_exec_spool.c -- the exec output's spool: what a file left by a
 * killed sink gives back (lines due, ids delivered), a damaged last line,
 * the rewrite and its numbering, the lock, the plain lines an older
 * version saved at exit, a failed write mended by a rewrite, and a
 * symbolic link refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../sink/exec_spool.h"
#include "err.h"
#include "spool_int.h"
#include "test_spool_files.h"

/* The JSON of signal i of engine "e" (its id and seq). */
#define S_JSON "{\"ver\":1,\"id\":\"%016d\",\"engine\":\"e\",\"seq\":%d}"

/* A line for the child: signal i. */
static struct exec_line *s_line(int i)
{
    char json[256];
    struct exec_line *l;

    snprintf(json, sizeof json, S_JSON, i, i);
    l = exec_line_new(json, strlen(json));
    if (!l)
        abort();
    snprintf(l->id, sizeof l->id, "%016d", i);
    snprintf(l->eng, sizeof l->eng, "e");
    l->seq = (uint64_t)i;
    return l;
}

/* Signals from..to as lines, after `head`, into out[n]. */
static const char *s_lines(char *out, size_t n, const char *head, int from,
                           int to)
{
    size_t o = (size_t)snprintf(out, n, "%s", head);

    for (int i = from; i <= to; i++)
        o += (size_t)snprintf(out + o, n - o, S_JSON "\n", i, i);
    return out;
}

/* The seen ids, space-separated, into out. */
struct s_ids {
    char text[512];
};

static void s_on_seen(void *arg, const char *eng, const char *id,
                      uint64_t seq)
{
    struct s_ids *ids = arg;
    size_t n = strlen(ids->text);

    snprintf(ids->text + n, sizeof ids->text - n, "%s%s/%s/%llu",
             n ? " " : "", eng, id, (unsigned long long)seq);
}

/* The seqs of a list, space-separated. */
static const char *s_seqs(const struct exec_line *l)
{
    static char out[256];
    size_t n = 0;

    out[0] = '\0';
    for (; l; l = l->next)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%llu",
                              n ? " " : "", (unsigned long long)l->seq);
    return out;
}

static void test_kill_and_recover(void **state)
{
    char dir[] = "/tmp/lt-exec-unit-XXXXXX", path[128], err[ERR_LEN];
    char want[1024];
    struct exec_line *l[5], *due;
    struct s_ids ids = { "" };
    exec_spool_t *sp, *other;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub/spool.jsonl", dir);
    sp = exec_spool_open(path, &due, err);
    assert_non_null(sp);
    assert_null(due);
    /* A second sink is kept off. */
    other = exec_spool_open(path, &due, err);
    assert_null(other);
    assert_non_null(strstr(err, "in use by another livetrade-sink exec"));

    /* Four lines taken; 1 and 2 written whole to a child, which died
     * before reading 2. */
    for (int i = 1; i <= 4; i++) {
        l[i] = s_line(i);
        if (i > 1)
            l[i - 1]->next = l[i];
        assert_int_equal(exec_spool_add(sp, l[i]), 0);
        assert_int_equal(l[i]->no, (uint64_t)i);
    }
    exec_spool_mark(sp, "done", l[1], l[3]);
    exec_spool_mark(sp, "again", l[2], l[3]);
    exec_spool_mark(sp, "done", l[3], l[3]);       /* nothing */
    /* Killed here (destroy only syncs), the last append cut short. */
    exec_spool_destroy(&sp);
    exec_spool_destroy(&sp);
    assert_null(sp);
    exec_line_free_all(l[1]);
    s_write_file(path, "a", "{\"ver\":1,\"id\":\"00000000");
    s_lines(want, sizeof want, "", 1, 4);
    strcat(want, "{\"done\":1}\n{\"done\":2}\n{\"again\":2}\n"
           "{\"ver\":1,\"id\":\"00000000");
    assert_string_equal(s_read_file(path), want);

    /* Read back: 2, 3 and 4 are due, 1 was delivered; rewritten. */
    sp = exec_spool_open(path, &due, err);
    assert_non_null(sp);
    assert_string_equal(s_seqs(due), "2 3 4");
    assert_string_equal(due->id, "0000000000000002");
    assert_string_equal(due->eng, "e");
    assert_int_equal(due->no, 2);
    exec_spool_seen(sp, s_on_seen, &ids);
    assert_string_equal(ids.text, "e/0000000000000001/1");
    assert_string_equal(s_read_file(path), s_lines(want, sizeof want,
        "{\"delivered\":\"0000000000000001\",\"engine\":\"e\",\"seq\":1}\n",
        2, 4));

    /* Rewritten once it has grown enough: 2 is in the child's pipe. */
    assert_int_equal(exec_spool_compact(sp, due, due->next, 0), 0);
    assert_int_equal(spool_lines(exec_spool_file(sp)), 4); /* not yet */
    exec_spool_file(sp)->appended = SPOOL_COMPACT_LINES;
    assert_int_equal(exec_spool_compact(sp, due, due->next, 0), 0);
    assert_int_equal(exec_spool_file(sp)->appended, 0);
    assert_string_equal(s_seqs(due), "2 3 4");
    assert_int_equal(due->no, 2);
    assert_int_equal(due->next->no, 4);         /* after {"done":2} */
    assert_int_equal(due->next->next->no, 5);
    /* 3 written whole too; 2 read by the child. */
    exec_spool_mark(sp, "done", due->next, due->next->next);
    exec_spool_delivered(sp, due);
    exec_spool_destroy(&sp);
    exec_line_free_all(due);
    assert_non_null(strstr(s_read_file(path), "{\"done\":2}\n{\"ver\":1,"));
    assert_non_null(strstr(s_read_file(path), "\"seq\":4}\n{\"done\":4}\n"));

    sp = exec_spool_open(path, &due, err);
    assert_non_null(sp);
    assert_string_equal(s_seqs(due), "4");
    ids.text[0] = '\0';
    exec_spool_seen(sp, s_on_seen, &ids);
    assert_string_equal(ids.text, "e/0000000000000001/1 "
                        "e/0000000000000002/2 e/0000000000000003/3");
    /* At exit: the queue, whole. */
    assert_int_equal(exec_spool_compact(sp, due, due, 1), 0);
    exec_spool_destroy(&sp);
    exec_line_free_all(due);
    assert_non_null(strstr(s_read_file(path), "\"seq\":3}\n{\"ver\":1,"
                           "\"id\":\"0000000000000004\""));

    s_remove(dir, path);
}

static void test_plain_lines_are_due(void **state)
{
    char dir[] = "/tmp/lt-exec-unit-XXXXXX", path[128], err[ERR_LEN];
    struct exec_line *due;
    exec_spool_t *sp;
    (void)state;

    /* What an older version saved at a clean stop: the lines alone, and
     * a line that is not JSON at all in the middle. */
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    s_write_file(path, "w", "{\"id\":\"a\",\"engine\":\"e\",\"seq\":7}\n"
                 "garbage\n\n{\"id\":\"b\",\"seq\":8}\n");
    sp = exec_spool_open(path, &due, err);
    assert_non_null(sp);
    assert_string_equal(s_seqs(due), "7 8");
    assert_string_equal(due->next->eng, "");
    assert_int_equal(due->next->len, strlen("{\"id\":\"b\",\"seq\":8}\n"));
    exec_spool_destroy(&sp);
    exec_line_free_all(due);

    s_remove(dir, path);
}

static void test_failed_write_then_rewrite(void **state)
{
    char dir[] = "/tmp/lt-exec-unit-XXXXXX", path[128], err[ERR_LEN];
    struct exec_line *a = s_line(1), *b = s_line(2), *due;
    exec_spool_t *sp;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    sp = exec_spool_open(path, &due, err);
    assert_non_null(sp);
    a->next = b;
    assert_int_equal(exec_spool_add(sp, a), 0);
    /* A write fails (here: a descriptor open for reading only): the file
     * lacks b, so nothing more is appended until it is rewritten. */
    close(exec_spool_file(sp)->fd);
    exec_spool_file(sp)->fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_int_equal(exec_spool_add(sp, b), -1);
    assert_int_equal(b->no, 0);
    assert_int_equal(exec_spool_file(sp)->broken, 1);
    exec_spool_mark(sp, "done", a, b);
    assert_int_equal(spool_lines(exec_spool_file(sp)), 1);
    assert_int_equal(exec_spool_compact(sp, a, a, 0), -1);  /* later */
    exec_spool_file(sp)->retry_at = 0;
    assert_int_equal(exec_spool_compact(sp, a, b, 0), 0);
    assert_int_equal(exec_spool_file(sp)->broken, 0);
    assert_int_equal(a->no, 1);
    assert_int_equal(b->no, 3);                 /* after {"done":1} */
    exec_spool_destroy(&sp);

    sp = exec_spool_open(path, &due, err);
    assert_non_null(sp);
    assert_string_equal(s_seqs(due), "2");
    exec_spool_destroy(&sp);
    exec_line_free_all(due);
    exec_line_free_all(a);

    s_remove(dir, path);
}

static void test_symlink_refused(void **state)
{
    char dir[] = "/tmp/lt-exec-unit-XXXXXX", path[128], target[128];
    char err[ERR_LEN], want[256];
    struct exec_line *due;
    struct stat st;
    (void)state;

    /* The spool is never read or replaced through a symbolic link: the
     * file it points at is left as it is, and the sink does not start. */
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.jsonl", dir);
    snprintf(target, sizeof target, "%s/target", dir);
    s_write_file(target, "w", s_lines(want, sizeof want, "", 1, 1));
    assert_int_equal(symlink(target, path), 0);
    assert_null(exec_spool_open(path, &due, err));
    assert_null(due);
    assert_non_null(strstr(err, "is a symbolic link"));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(s_read_file(target), want);

    unlink(target);
    s_remove(dir, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_and_recover),
        cmocka_unit_test(test_plain_lines_are_due),
        cmocka_unit_test(test_failed_write_then_rewrite),
        cmocka_unit_test(test_symlink_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
