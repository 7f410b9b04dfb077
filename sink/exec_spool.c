/* exec_spool.c -- the exec output's spool file (see exec_spool.h) on top
 * of the spool module (spool.h: the lock, appending, reading back,
 * rewriting and what a failure does): every line accepted for the child
 * is appended before the output returns it as taken; markers say which
 * were written whole to a child's stdin and which came back when that
 * child died unread. Reading the file back gives the lines still due, in
 * order, and the ids of the last ones delivered.
 *
 * Markers name a line by its number in the file, so a damaged line (cut
 * short by a crash) is skipped without shifting the others. After a
 * failed write the file may lack records or hold a torn one: nothing more
 * is appended until it has been rewritten from the queue in memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "exec_spool.h"
#include "log.h"
#include "sink.h"
#include "spool.h"

/* A delivered signal, for the pipeline's duplicate filter. */
struct delivered {
    char id[17];
    char eng[64];
    uint64_t seq;
};

struct exec_spool {
    spool_t *sp;                    /* the file */
    struct delivered *ring;         /* the last SINK_DEDUP_IDS delivered */
    size_t nring, ring_pos;         /* entries, next slot */
    char *buf;                      /* markers of one exec_spool_mark() */
    size_t cap;
};

/* {==================== lines ========================= */

struct exec_line *exec_line_new(const char *json, size_t len)
{
    struct exec_line *l = malloc(sizeof *l + len + 1);

    if (!l)
        return NULL;
    memset(l, 0, sizeof *l);
    memcpy(l->data, json, len);
    l->data[len] = '\n';
    l->len = len + 1;
    return l;
}

void exec_line_free_all(struct exec_line *l)
{
    while (l) {
        struct exec_line *next = l->next;
        free(l);
        l = next;
    }
}

/* }==================================================== */

/* {==================== appending ===================== */

static void s_ring_push(exec_spool_t *self, const char *id, const char *eng,
                        uint64_t seq)
{
    struct delivered *d = &self->ring[self->ring_pos];

    snprintf(d->id, sizeof d->id, "%s", id);
    snprintf(d->eng, sizeof d->eng, "%s", eng);
    d->seq = seq;
    self->ring_pos = (self->ring_pos + 1) % SINK_DEDUP_IDS;
    if (self->nring < SINK_DEDUP_IDS)
        self->nring++;
}

int exec_spool_add(exec_spool_t *self, struct exec_line *l)
{
    l->no = 0;
    if (spool_append(self->sp, l->data, l->len, 1) != 0)
        return -1;
    l->no = spool_lines(self->sp);
    return 0;
}

void exec_spool_mark(exec_spool_t *self, const char *op,
                     const struct exec_line *from,
                     const struct exec_line *to)
{
    size_t n = 0, k = 0, each = strlen(op) + 32;
    uint64_t lines = 0;
    char one[64];

    for (const struct exec_line *l = from; l && l != to; l = l->next)
        k += l->no != 0;
    if (!k)
        return;
    if (self->cap < k * each) {
        char *b = realloc(self->buf, k * each);
        if (b) {
            self->buf = b;
            self->cap = k * each;
        }
    }
    for (const struct exec_line *l = from; l && l != to; l = l->next) {
        if (!l->no)
            continue;
        if (self->cap < k * each) {     /* out of memory: one at a time */
            int m = snprintf(one, sizeof one, "{\"%.16s\":%llu}\n", op,
                             (unsigned long long)l->no);
            spool_append(self->sp, one, (size_t)m, 1);
            continue;
        }
        n += (size_t)snprintf(self->buf + n, each, "{\"%s\":%llu}\n", op,
                              (unsigned long long)l->no);
        lines++;
    }
    if (lines)
        spool_append(self->sp, self->buf, n, lines);
}

void exec_spool_delivered(exec_spool_t *self, const struct exec_line *l)
{
    if (l->id[0])
        s_ring_push(self, l->id, l->eng, l->seq);
}

void exec_spool_seen(const exec_spool_t *self,
                     void (*fn)(void *arg, const char *eng, const char *id,
                                uint64_t seq),
                     void *arg)
{
    size_t start = self->nring < SINK_DEDUP_IDS ? 0 : self->ring_pos;

    for (size_t i = 0; i < self->nring; i++) {
        const struct delivered *d = &self->ring[(start + i) %
                                                SINK_DEDUP_IDS];
        fn(arg, d->eng, d->id, d->seq);
    }
}

/* }==================================================== */

/* {==================== rewriting ===================== */

/* What a rewrite keeps: the queue from head, lines before `sent` with a
 * done marker. */
struct s_keep {
    exec_spool_t *self;
    struct exec_line *head;
    const struct exec_line *sent;
};

/* Writes the delivered ids, then the queue (spool_write_fn). */
static long s_write(void *arg, FILE *f)
{
    const struct s_keep *kp = arg;
    const exec_spool_t *self = kp->self;
    size_t start = self->nring < SINK_DEDUP_IDS ? 0 : self->ring_pos;
    long no = 0;
    int done = 1;

    for (size_t i = 0; i < self->nring; i++, no++) {
        const struct delivered *d = &self->ring[(start + i) %
                                                SINK_DEDUP_IDS];
        json_t *j = json_pack("{s:s,s:s,s:I}", "delivered", d->id,
                              "engine", d->eng, "seq", (json_int_t)d->seq);
        if (!j || json_dumpf(j, f, JSON_COMPACT) != 0)
            fputs("{}", f);         /* a damaged line, skipped when read */
        fputc('\n', f);
        json_decref(j);
    }
    for (const struct exec_line *l = kp->head; l; l = l->next) {
        done = done && l != kp->sent;
        fwrite(l->data, 1, l->len, f);
        no++;
        if (done) {
            fprintf(f, "{\"done\":%ld}\n", no);
            no++;
        }
    }
    return no;
}

/* Numbers the lines of the queue as s_write() wrote them. */
static void s_number(const struct s_keep *kp)
{
    uint64_t no = kp->self->nring;
    int done = 1;

    for (struct exec_line *l = kp->head; l; l = l->next) {
        done = done && l != kp->sent;
        l->no = ++no;
        no += done;
    }
}

int exec_spool_compact(exec_spool_t *self, struct exec_line *head,
                       const struct exec_line *sent, int force)
{
    struct s_keep kp = { self, head, sent };
    int rc = spool_compact(self->sp, s_write, &kp, force);

    if (rc == 1)
        s_number(&kp);
    return rc < 0 ? -1 : 0;
}

/* }==================================================== */

/* {==================== reading back ================== */

/* The lines read back, in file order, and whether each was written whole
 * to a child (and not marked again since). */
struct s_load {
    exec_spool_t *self;
    struct exec_line **l;
    char *done;
    size_t n, cap;
};

/* The line numbered `no`, or -1 (not a line for the child, or damaged). */
static long s_find(const struct s_load *ld, uint64_t no)
{
    size_t lo = 0, hi = ld->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ld->l[mid]->no < no)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ld->n && ld->l[lo]->no == no ? (long)lo : -1;
}

static int s_keep(struct s_load *ld, struct exec_line *l)
{
    if (ld->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 256;
        struct exec_line **v = realloc(ld->l, cap * sizeof *v);
        char *d = v ? realloc(ld->done, cap) : NULL;
        if (v)
            ld->l = v;
        if (!d)
            return -1;
        ld->done = d;
        ld->cap = cap;
    }
    ld->l[ld->n] = l;
    ld->done[ld->n++] = 0;
    return 0;
}

/* One record (spool_line_fn). 0, 1 if damaged, or ERR_NOMEM. */
static int s_record(void *arg, const char *line, size_t len, uint64_t no)
{
    struct s_load *ld = arg;
    json_t *j, *done, *again;
    const char *id, *dl, *eng;
    json_int_t seq;
    int rc = 0;

    j = json_loadb(line, len, 0, NULL);
    done = json_object_get(j, "done");
    again = json_object_get(j, "again");
    id = json_string_value(json_object_get(j, "id"));
    dl = json_string_value(json_object_get(j, "delivered"));
    eng = json_string_value(json_object_get(j, "engine"));
    seq = json_integer_value(json_object_get(j, "seq"));
    if (json_is_integer(done) || json_is_integer(again)) {
        long i = s_find(ld, (uint64_t)json_integer_value(done ? done
                                                                : again));
        if (i >= 0)
            ld->done[i] = done != NULL;
    } else if (dl) {
        s_ring_push(ld->self, dl, eng ? eng : "",
                    seq > 0 ? (uint64_t)seq : 0);
    } else if (id) {
        struct exec_line *l = exec_line_new(line, len - 1);
        if (!l || s_keep(ld, l) != 0) {
            free(l);
            rc = ERR_NOMEM;
        } else {
            l->no = no;
            l->seq = seq > 0 ? (uint64_t)seq : 0;
            snprintf(l->id, sizeof l->id, "%s", id);
            snprintf(l->eng, sizeof l->eng, "%s", eng ? eng : "");
        }
    } else {
        rc = 1;
    }
    json_decref(j);
    return rc;
}

/* Splits what was read: delivered lines to the ring, due ones to *due. */
static void s_settle(exec_spool_t *self, struct s_load *ld,
                     struct exec_line **due)
{
    struct exec_line **tail = due;

    for (size_t i = 0; i < ld->n; i++) {
        struct exec_line *l = ld->l[i];
        if (ld->done[i]) {
            exec_spool_delivered(self, l);
            free(l);
        } else {
            *tail = l;
            tail = &l->next;
        }
    }
    *tail = NULL;
    free(ld->l);
    free(ld->done);
}

exec_spool_t *exec_spool_open(const char *path, struct exec_line **due,
                              char *err)
{
    exec_spool_t *self = calloc(1, sizeof *self);
    struct s_load ld = { self, NULL, NULL, 0, 0 };
    struct s_keep kp = { self, NULL, NULL };

    *due = NULL;
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->ring = calloc(SINK_DEDUP_IDS, sizeof *self->ring);
    if (!self->ring) {
        snprintf(err, ERR_LEN, "out of memory");
        goto fail;
    }
    self->sp = spool_open(path, "exec", err);
    if (!self->sp)
        goto fail;
    if (spool_read(self->sp, s_record, &ld, err) != 0) {
        for (size_t i = 0; i < ld.n; i++)
            free(ld.l[i]);
        free(ld.l);
        free(ld.done);
        goto fail;
    }
    s_settle(self, &ld, due);
    kp.head = *due;
    kp.sent = *due;
    if (spool_rewrite(self->sp, s_write, &kp) != 0) {
        snprintf(err, ERR_LEN, "cannot rewrite the spool %.150s: %s",
                 path, strerror(errno));
        exec_line_free_all(*due);
        *due = NULL;
        goto fail;
    }
    s_number(&kp);
    return self;
fail:
    exec_spool_destroy(&self);
    return NULL;
}

void exec_spool_destroy(exec_spool_t **self_p)
{
    exec_spool_t *self = *self_p;

    if (!self)
        return;
    spool_destroy(&self->sp);
    free(self->ring);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

const char *exec_spool_path(const exec_spool_t *self)
{
    return spool_path(self->sp);
}

spool_t *exec_spool_file(const exec_spool_t *self)
{
    return self->sp;
}

/* }==================================================== */
