/* test_journal.c -- the engine's signal journal and a sink's state file:
 * records read back in order after a reopen, replay pages, a torn or
 * corrupted tail cut back to the last good record, rotation under the
 * size limit without sequence numbers going back, one engine per
 * journal; state lines checked and a damaged line ending the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "journal.h"
#include "mp.h"
#include "../../sink/state.h"

struct seen {
    int signals, marks;
    uint64_t last;
};

static void s_on_record(void *arg, int kind, const msgpack_object *o)
{
    struct seen *s = arg;
    uint64_t seq = 0;

    if (kind == JOURNAL_SIGNAL) {
        assert_int_equal(mp_uint(o, "seq", &seq), 0);
        assert_true(seq > s->last);
        s->last = seq;
        s->signals++;
    } else {
        assert_int_equal(kind, JOURNAL_MARK);
        s->marks++;
    }
}

static void s_cfg(struct journal_cfg *c, const char *dir)
{
    memset(c, 0, sizeof *c);
    c->dir = dir;
    c->fsync = JOURNAL_FSYNC_NO;
    c->max_bytes = 1 << 20;
    c->seg_bytes = 1 << 20;
}

/* A signal-like map {seq, sym, pad}. */
static void s_append(journal_t *j, int kind, uint64_t seq)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    mp_kuint(&pk, "seq", seq);
    mp_kstr(&pk, "sym", "AAPL");
    mp_kstr(&pk, "pad", "0123456789012345678901234567890123456789");
    assert_int_equal(journal_append(j, kind, seq, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* The seqs of a replay after `after` (at most max), into out. */
static size_t s_replay(journal_t *j, uint64_t after, size_t max,
                       uint64_t *out)
{
    msgpack_sbuffer sb;
    msgpack_unpacked u;
    size_t count = 0;

    msgpack_sbuffer_init(&sb);
    assert_int_equal(journal_replay(j, after, max, &sb, &count), 0);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(u.data.via.array.size, count);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(mp_uint(&u.data.via.array.ptr[i], "seq", &out[i]),
                         0);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
    return count;
}

static char *s_tmpdir(void)
{
    char tmpl[] = "/tmp/lt-journal-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void s_rmdir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static char *s_segment(const char *dir, uint64_t first)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/signals-%020llu.jnl", dir,
             (unsigned long long)first);
    return path;
}

static void test_reopen_and_replay(void **state)
{
    char *dir = s_tmpdir(), err[ERR_LEN];
    struct journal_cfg c;
    struct seen seen = { 0 };
    uint64_t seqs[16];
    journal_t *j;
    (void)state;

    s_cfg(&c, dir);
    j = journal_open(&c, NULL, NULL, err);
    assert_non_null(j);
    assert_int_equal(journal_last_seq(j), 0);
    assert_int_equal(journal_first_seq(j), 0);
    assert_int_equal(s_replay(j, 0, 10, seqs), 0);
    for (uint64_t k = 1; k <= 5; k++) {
        s_append(j, JOURNAL_SIGNAL, k);
        if (k == 2)
            s_append(j, JOURNAL_MARK, 0);
    }
    assert_int_equal(s_replay(j, 1, 3, seqs), 3);
    assert_int_equal(seqs[0], 2);
    assert_int_equal(seqs[2], 4);
    journal_close(&j);
    assert_null(j);

    j = journal_open(&c, s_on_record, &seen, err);
    assert_non_null(j);
    assert_int_equal(seen.signals, 5);
    assert_int_equal(seen.marks, 1);
    assert_int_equal(journal_first_seq(j), 1);
    assert_int_equal(journal_last_seq(j), 5);
    assert_int_equal(s_replay(j, 3, 10, seqs), 2);
    assert_int_equal(seqs[1], 5);
    assert_int_equal(s_replay(j, 5, 10, seqs), 0);
    journal_close(&j);
    s_rmdir(dir);
    free(dir);
}

/* A torn record, then garbage: cut back to the last good record; the
 * journal goes on from there. */
static void test_damaged_tail(void **state)
{
    char *dir = s_tmpdir(), err[ERR_LEN];
    struct journal_cfg c;
    struct seen seen = { 0 };
    uint64_t seqs[16];
    struct stat st0, st1;
    journal_t *j;
    FILE *f;
    (void)state;

    s_cfg(&c, dir);
    j = journal_open(&c, NULL, NULL, err);
    assert_non_null(j);
    for (uint64_t k = 1; k <= 3; k++)
        s_append(j, JOURNAL_SIGNAL, k);
    journal_close(&j);
    assert_int_equal(stat(s_segment(dir, 1), &st0), 0);

    f = fopen(s_segment(dir, 1), "ab");
    assert_non_null(f);
    fwrite("\x30\x00\x00\x00\x01\x02\x03\x04S\x81\xa3seq", 1, 13, f);
    fclose(f);
    j = journal_open(&c, s_on_record, &seen, err);
    assert_non_null(j);
    assert_int_equal(seen.signals, 3);
    assert_int_equal(journal_last_seq(j), 3);
    assert_int_equal(stat(s_segment(dir, 1), &st1), 0);
    assert_int_equal(st1.st_size, st0.st_size);
    s_append(j, JOURNAL_SIGNAL, 4);
    assert_int_equal(s_replay(j, 2, 10, seqs), 2);
    assert_int_equal(seqs[1], 4);
    journal_close(&j);

    /* A flipped byte inside the last record: its checksum fails. */
    f = fopen(s_segment(dir, 1), "r+b");
    assert_non_null(f);
    fseek(f, -3, SEEK_END);
    fputc('X', f);
    fclose(f);
    memset(&seen, 0, sizeof seen);
    j = journal_open(&c, s_on_record, &seen, err);
    assert_non_null(j);
    assert_int_equal(seen.signals, 3);
    assert_int_equal(journal_last_seq(j), 3);
    journal_close(&j);
    s_rmdir(dir);
    free(dir);
}

/* Small segments and a small total: old files go, replay starts at the
 * oldest held, numbering goes on after a reopen. */
static void test_rotation(void **state)
{
    char *dir = s_tmpdir(), err[ERR_LEN];
    struct journal_cfg c;
    uint64_t seqs[300], first;
    journal_t *j;
    (void)state;

    s_cfg(&c, dir);
    c.seg_bytes = 600;
    c.max_bytes = 2000;
    j = journal_open(&c, NULL, NULL, err);
    assert_non_null(j);
    for (uint64_t k = 1; k <= 200; k++)
        s_append(j, JOURNAL_SIGNAL, k);
    first = journal_first_seq(j);
    assert_true(first > 1);
    assert_int_equal(journal_last_seq(j), 200);
    assert_int_equal(s_replay(j, 0, 300, seqs), 200 - first + 1);
    assert_int_equal(seqs[0], first);
    assert_true(access(s_segment(dir, 1), F_OK) != 0);
    journal_close(&j);

    j = journal_open(&c, NULL, NULL, err);
    assert_non_null(j);
    assert_int_equal(journal_last_seq(j), 200);
    assert_int_equal(journal_first_seq(j), first);
    s_append(j, JOURNAL_SIGNAL, 201);
    assert_int_equal(journal_last_seq(j), 201);
    journal_close(&j);
    s_rmdir(dir);
    free(dir);
}

/* Segments whose newest record is older than max_age_ms go at open (and
 * from journal_tick); the newest segment always stays. */
static void test_age_limit(void **state)
{
    char *dir = s_tmpdir(), err[ERR_LEN];
    struct journal_cfg c;
    struct timespec old[2];
    uint64_t first, seqs[300];
    journal_t *j;
    (void)state;

    s_cfg(&c, dir);
    c.seg_bytes = 600;
    j = journal_open(&c, NULL, NULL, err);
    assert_non_null(j);
    for (uint64_t k = 1; k <= 60; k++)
        s_append(j, JOURNAL_SIGNAL, k);
    journal_close(&j);
    /* Every segment but the newest: last written three days ago. */
    j = journal_open(&c, NULL, NULL, err);
    assert_non_null(j);
    first = journal_first_seq(j);
    assert_int_equal(first, 1);
    journal_close(&j);
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 3 * 86400;
    old[0].tv_nsec = old[1].tv_nsec = 0;
    {
        uint64_t newest = 0;
        for (uint64_t k = 1; k <= 60; k++)
            if (access(s_segment(dir, k), F_OK) == 0)
                newest = k;
        assert_true(newest > 1);
        for (uint64_t k = 1; k < newest; k++)
            if (access(s_segment(dir, k), F_OK) == 0)
                assert_int_equal(utimensat(AT_FDCWD, s_segment(dir, k), old,
                                           0), 0);
        c.max_age_ms = 86400000;    /* one day */
        j = journal_open(&c, NULL, NULL, err);
        assert_non_null(j);
        assert_int_equal(journal_first_seq(j), newest);
        assert_int_equal(journal_last_seq(j), 60);
        assert_int_equal(s_replay(j, 0, 300, seqs), 60 - newest + 1);
        assert_true(access(s_segment(dir, 1), F_OK) != 0);
        assert_true(access(s_segment(dir, newest), F_OK) == 0);
        journal_close(&j);
    }
    s_rmdir(dir);
    free(dir);
}

static void test_one_engine_per_journal(void **state)
{
    char *dir = s_tmpdir(), err[ERR_LEN];
    struct journal_cfg c;
    journal_t *a, *b;
    (void)state;

    s_cfg(&c, dir);
    a = journal_open(&c, NULL, NULL, err);
    assert_non_null(a);
    b = journal_open(&c, NULL, NULL, err);
    assert_null(b);
    assert_non_null(strstr(err, "in use by another engine"));
    journal_close(&a);
    b = journal_open(&c, NULL, NULL, err);
    assert_non_null(b);
    journal_close(&b);
    s_rmdir(dir);
    free(dir);
}

static void test_state_file(void **state)
{
    char *dir = s_tmpdir(), path[512], err[ERR_LEN];
    sink_state_t *st;
    FILE *f;
    (void)state;

    snprintf(path, sizeof path, "%s/out.state", dir);
    st = sink_state_load(path, err);
    assert_non_null(st);
    assert_int_equal(sink_state_get(st, "a"), 0);
    sink_state_set(st, "a", 10, 0);
    sink_state_set(st, "a", 7, 0);          /* older: kept at 10 */
    sink_state_set(st, "b", 3, 0);
    sink_state_set(st, "bad id", 3, 0);     /* cannot be written back */
    assert_int_equal(sink_state_get(st, "a"), 10);
    assert_int_equal(sink_state_save(st), 0);
    sink_state_set(st, "b", 2, 1);          /* forced back */
    assert_int_equal(sink_state_get(st, "b"), 2);
    sink_state_free(&st);

    st = sink_state_load(path, err);
    assert_non_null(st);
    assert_int_equal(sink_state_count(st), 2);
    assert_int_equal(sink_state_get(st, "a"), 10);
    assert_int_equal(sink_state_get(st, "b"), 3);
    /* Written without fsync: on disk at once, and still synced (written
     * again) by the next save. */
    sink_state_set(st, "a", 11, 0);
    assert_int_equal(sink_state_write(st), 0);
    {
        sink_state_t *other = sink_state_load(path, err);
        assert_non_null(other);
        assert_int_equal(sink_state_get(other, "a"), 11);
        sink_state_free(&other);
    }
    unlink(path);
    assert_int_equal(sink_state_save(st), 0);   /* still dirty: written */
    sink_state_free(&st);
    st = sink_state_load(path, err);
    assert_non_null(st);
    assert_int_equal(sink_state_get(st, "a"), 11);
    sink_state_free(&st);

    /* A changed number fails its line's checksum: the lines before it. */
    f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    fprintf(f, "c 5 00000000\n");
    fclose(f);
    st = sink_state_load(path, err);
    assert_non_null(st);
    assert_int_equal(sink_state_count(st), 2);
    assert_int_equal(sink_state_get(st, "c"), 0);
    sink_state_free(&st);
    s_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen_and_replay),
        cmocka_unit_test(test_damaged_tail),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_age_limit),
        cmocka_unit_test(test_one_engine_per_journal),
        cmocka_unit_test(test_state_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
