/* exec_spool.c -- the exec output's spool file (see exec_spool.h): every
 * line accepted for the child is appended before the output returns it
 * as taken; markers say which were written whole to a child's stdin and
 * which came back when that child died unread. Reading the file back
 * gives the lines still due, in order, and the ids of the last ones
 * delivered.
 *
 * Markers name a line by its number in the file, so a damaged line (cut
 * short by a crash) is skipped without shifting the others. After a
 * failed write the file may lack records or hold a torn one: nothing more
 * is appended until it has been rewritten from the queue in memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "exec_spool.h"
#include "log.h"
#include "sink.h"
#include "util.h"

#define SPOOL_PATH_MAX 1024
#define RETRY_MS 1000               /* rewrites after a failed write */

/* A delivered signal, for the pipeline's duplicate filter. */
struct delivered {
    char id[17];
    char eng[64];
    uint64_t seq;
};

struct exec_spool {
    char path[SPOOL_PATH_MAX];
    char lock[SPOOL_PATH_MAX + 8];  /* path + ".lock" */
    int fd, lock_fd;                /* appending; the lock; -1: none */
    uint64_t lines;                 /* lines in the file */
    uint64_t appended;              /* of them, since the last rewrite */
    int broken;                     /* a write failed: rewrite first */
    int64_t retry_at;               /* mono ms of the next rewrite try */
    struct delivered *ring;         /* the last SINK_DEDUP_IDS delivered */
    size_t nring, ring_pos;         /* entries, next slot */
    char *buf;                      /* markers of one exec_spool_mark() */
    size_t cap;
    struct log_limit lim_io;
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

/* Appends buf[0..n), `lines` records, with one write(2) (looping only on
 * a short write). 0, or -1: the file is marked broken (logged). */
static int s_append(exec_spool_t *self, const char *buf, size_t n,
                    uint64_t lines)
{
    size_t done = 0;

    if (self->broken || self->fd < 0)
        return -1;
    while (done < n) {
        ssize_t k = write(self->fd, buf + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            self->broken = 1;
            self->retry_at = mono_ms() + RETRY_MS;
            log_limited(&self->lim_io, LL_ERROR, "exec: cannot append to "
                        "the spool %s: %s; lines queued from now on are "
                        "lost if the sink is killed, until it can be "
                        "rewritten", self->path,
                        k < 0 ? strerror(errno) : "short write");
            return -1;
        }
        done += (size_t)k;
    }
    self->lines += lines;
    self->appended += lines;
    return 0;
}

int exec_spool_add(exec_spool_t *self, struct exec_line *l)
{
    l->no = 0;
    if (s_append(self, l->data, l->len, 1) != 0)
        return -1;
    l->no = self->lines;
    return 0;
}

void exec_spool_mark(exec_spool_t *self, const char *op,
                     const struct exec_line *from,
                     const struct exec_line *to)
{
    size_t n = 0, k = 0, each = strlen(op) + 32;
    uint64_t lines = 0;

    for (const struct exec_line *l = from; l && l != to; l = l->next)
        k += l->no != 0;
    if (!k || self->broken)
        return;
    if (self->cap < k * each) {
        char *b = realloc(self->buf, k * each);
        if (!b) {
            self->broken = 1;       /* the markers are missing */
            self->retry_at = mono_ms() + RETRY_MS;
            log_limited(&self->lim_io, LL_ERROR, "exec: spool %s: out of "
                        "memory", self->path);
            return;
        }
        self->buf = b;
        self->cap = k * each;
    }
    for (const struct exec_line *l = from; l && l != to; l = l->next) {
        if (!l->no)
            continue;
        n += (size_t)snprintf(self->buf + n, each, "{\"%s\":%llu}\n", op,
                              (unsigned long long)l->no);
        lines++;
    }
    s_append(self, self->buf, n, lines);
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

/* Writes the delivered ids, then the queue (lines before `sent` with a
 * done marker) to a private temporary file beside it (tmp_private),
 * syncs it and renames it over the file; then numbers the lines and
 * appends from there. 0, or -1 with errno set
 * (the file and the numbers are as they were). */
static int s_rewrite(exec_spool_t *self, struct exec_line *head,
                     const struct exec_line *sent)
{
    char tmp[SPOOL_PATH_MAX + 16];
    size_t start = self->nring < SINK_DEDUP_IDS ? 0 : self->ring_pos;
    uint64_t no = 0;
    int done = 1, fd, rc, e;
    FILE *f;

    f = tmp_private(self->path, tmp, sizeof tmp);
    if (!f)
        return -1;
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
    for (const struct exec_line *l = head; l; l = l->next) {
        done = done && l != sent;
        fwrite(l->data, 1, l->len, f);
        no++;
        if (done) {
            fprintf(f, "{\"done\":%llu}\n", (unsigned long long)no);
            no++;
        }
    }
    rc = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0 ? 0 : -1;
    e = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, self->path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = e;
        return -1;
    }
    /* The same numbering as written above. */
    no = self->nring;
    done = 1;
    for (struct exec_line *l = head; l; l = l->next) {
        done = done && l != sent;
        l->no = ++no;
        no += done;
    }
    fd = open_private(self->path, O_WRONLY | O_APPEND);
    if (self->fd >= 0)
        close(self->fd);
    self->fd = fd;
    self->lines = no;
    self->appended = 0;
    self->broken = fd < 0;
    self->retry_at = mono_ms() + RETRY_MS;
    return fd < 0 ? -1 : 0;
}

int exec_spool_compact(exec_spool_t *self, struct exec_line *head,
                       const struct exec_line *sent, int force)
{
    if (!force && (self->broken ? mono_ms() < self->retry_at :
                   self->appended < EXEC_COMPACT_LINES))
        return self->broken ? -1 : 0;
    if (s_rewrite(self, head, sent) == 0)
        return 0;
    log_limited(&self->lim_io, LL_ERROR, "exec: cannot rewrite the spool "
                "%s: %s", self->path, strerror(errno));
    self->retry_at = mono_ms() + RETRY_MS;
    if (self->broken)
        return -1;
    self->appended = 0;             /* intact: try after as many again */
    return 0;
}

/* }==================================================== */

/* {==================== reading back ================== */

/* The lines read back, in file order, and whether each was written whole
 * to a child (and not marked again since). */
struct s_load {
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

/* One record, line number `no`, len > 0. 0, 1 if damaged, or ERR_NOMEM. */
static int s_record(exec_spool_t *self, struct s_load *ld, const char *line,
                    size_t len, uint64_t no)
{
    json_t *j, *done, *again;
    const char *id, *dl, *eng;
    json_int_t seq;
    int rc = 0;

    if (line[len - 1] != '\n')
        return 1;                   /* cut short */
    if (len == 1)
        return 0;
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
        s_ring_push(self, dl, eng ? eng : "", seq > 0 ? (uint64_t)seq : 0);
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

/* Reads the file into ld and the ring. 0, or -1 with a reason in err. */
static int s_read(exec_spool_t *self, struct s_load *ld, char *err)
{
    FILE *f = fopen(self->path, "r");
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t no = 0, bad = 0, first_bad = 0;
    int rc = 0;

    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, ERR_LEN, "cannot read the spool %.200s: %s", self->path,
                 strerror(errno));
        return -1;
    }
    while (rc != ERR_NOMEM && (n = getline(&buf, &cap, f)) > 0) {
        rc = s_record(self, ld, buf, (size_t)n, ++no);
        if (rc == 1 && !bad++)
            first_bad = no;
    }
    free(buf);
    fclose(f);
    if (rc == ERR_NOMEM) {
        snprintf(err, ERR_LEN, "out of memory");
        return -1;
    }
    if (bad == 1 && first_bad == no)
        log_msg(LL_WARN, "exec: spool %s: its last line (line %llu) is "
                "damaged, cut short by a crash; using the %llu lines "
                "before it", self->path, (unsigned long long)no,
                (unsigned long long)(no - 1));
    else if (bad)
        log_msg(LL_WARN, "exec: spool %s: %llu damaged line(s) skipped (the "
                "first is line %llu of %llu)", self->path,
                (unsigned long long)bad, (unsigned long long)first_bad,
                (unsigned long long)no);
    return 0;
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

/* Sets the paths, creates the directory and takes the lock. */
static int s_lock(exec_spool_t *self, const char *path, char *err)
{
    char dir[SPOOL_PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (strfmt(self->path, sizeof self->path, "%s", path) < 0) {
        snprintf(err, ERR_LEN, "--spool: path too long");
        return -1;
    }
    snprintf(self->lock, sizeof self->lock, "%s.lock", path);
    if (slash && slash != path) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (mkdir_p(dir, err) != 0)
            return -1;
    }
    self->lock_fd = open_private(self->lock, O_RDWR | O_CREAT);
    if (self->lock_fd < 0) {
        snprintf(err, ERR_LEN, "%.180s: %s", self->lock,
                 strerror(errno));
        return -1;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, ERR_LEN, "the spool %.150s is in use by another "
                 "livetrade-sink exec (give each its own --spool)", path);
        return -1;
    }
    return 0;
}

exec_spool_t *exec_spool_open(const char *path, struct exec_line **due,
                              char *err)
{
    exec_spool_t *self = calloc(1, sizeof *self);
    struct s_load ld = { NULL, NULL, 0, 0 };

    *due = NULL;
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->fd = self->lock_fd = -1;
    self->lim_io = (struct log_limit)LOG_LIMIT_INIT;
    self->ring = calloc(SINK_DEDUP_IDS, sizeof *self->ring);
    if (!self->ring) {
        snprintf(err, ERR_LEN, "out of memory");
        goto fail;
    }
    if (s_lock(self, path, err) != 0)
        goto fail;
    if (s_read(self, &ld, err) != 0) {
        for (size_t i = 0; i < ld.n; i++)
            free(ld.l[i]);
        free(ld.l);
        free(ld.done);
        goto fail;
    }
    s_settle(self, &ld, due);
    if (s_rewrite(self, *due, *due) != 0) {
        snprintf(err, ERR_LEN, "cannot rewrite the spool %.150s: %s",
                 path, strerror(errno));
        exec_line_free_all(*due);
        *due = NULL;
        goto fail;
    }
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
    if (self->fd >= 0) {
        if (fdatasync(self->fd) != 0)
            log_msg(LL_ERROR, "exec: %s: %s", self->path, strerror(errno));
        close(self->fd);
    }
    if (self->lock_fd >= 0)
        close(self->lock_fd);       /* releases the lock */
    free(self->ring);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

const char *exec_spool_path(const exec_spool_t *self)
{
    return self->path;
}

/* }==================================================== */
