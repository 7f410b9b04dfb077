/* journal.c -- the signal journal (see journal.h).
 *
 * In memory: the segments (one descriptor each) and an index of every
 * signal held, (seq, segment id, offset), sorted by seq, so a replay
 * finds its first record by binary search and reads with pread(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "journal.h"
#include "log.h"
#include "mp.h"
#include "util.h"

#define HEAD 8                      /* length + CRC */
#define SEG_MAX 4096                /* segments held */

struct seg {
    uint64_t id;                    /* increasing, for the index */
    uint64_t first;                 /* from the file name */
    char *path;
    int fd;
    int64_t size;
    int64_t newest_ms;              /* wall time of the newest record */
};

struct ent {
    uint64_t seq;
    uint64_t seg;                   /* segment id */
    int64_t off;                    /* record offset in it */
};

struct journal {
    struct journal_cfg cfg;
    char *dir;
    int lock_fd;                    /* DIR/lock, flock'ed while open */
    struct seg *segs;               /* oldest first */
    int nseg;
    uint64_t next_id;
    struct ent *idx;                /* idx[start..n) in use */
    size_t start, n, cap;
    int64_t total;                  /* bytes in all segments */
    uint64_t last_seq;
    int dirty;                      /* written since the last sync */
    int64_t synced_ms;              /* mono time of the last sync */
    int64_t aged_ms;                /* mono time of the last age check */
    unsigned char *buf;             /* record being written */
    size_t bufcap;
};

static void s_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t s_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int s_idx_push(journal_t *self, uint64_t seq, uint64_t seg,
                      int64_t off)
{
    if (self->n == self->cap) {
        if (self->start > self->cap / 2) {      /* reuse the dropped head */
            memmove(self->idx, self->idx + self->start,
                    (self->n - self->start) * sizeof *self->idx);
            self->n -= self->start;
            self->start = 0;
        } else if (grow((void **)&self->idx, &self->cap, self->n + 1,
                        sizeof *self->idx, SIZE_MAX)) {
            return ERR_NOMEM;
        }
    }
    self->idx[self->n++] = (struct ent){ seq, seg, off };
    return 0;
}

static int s_seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Reads one segment through, calling fn per good record; cuts the file
 * back at the first bad one. */
static int s_scan(journal_t *self, struct seg *g, journal_record_fn *fn,
                  void *arg, char *err)
{
    unsigned char *data = NULL;
    int64_t off = 0, got = 0;
    msgpack_unpacked u;
    const char *why = NULL;

    if (g->size > 0) {
        data = malloc((size_t)g->size);
        if (!data) {
            snprintf(err, ERR_LEN, "journal %.200s: out of memory", g->path);
            return ERR_NOMEM;
        }
        while (got < g->size) {
            ssize_t r = pread(g->fd, data + got, (size_t)(g->size - got),
                              got);
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                snprintf(err, ERR_LEN, "journal %.200s: %s", g->path,
                         r < 0 ? strerror(errno) : "shorter than its size");
                free(data);
                return ERR_IO;
            }
            got += r;
        }
    }
    msgpack_unpacked_init(&u);
    while (off < g->size) {
        uint32_t len, crc;
        size_t used = 0;
        if (g->size - off < HEAD) {
            why = "a record header cut short";
            break;
        }
        len = s_get32(data + off);
        crc = s_get32(data + off + 4);
        if (len < 2 || len > JOURNAL_RECORD_MAX) {
            why = "a bad record length";
            break;
        }
        if (g->size - off - HEAD < (int64_t)len) {
            why = "a record cut short";
            break;
        }
        if (crc32_ieee(0, data + off + HEAD, len) != crc) {
            why = "a record failing its checksum";
            break;
        }
        if (msgpack_unpack_next(&u, (const char *)data + off + HEAD + 1,
                                len - 1, &used) != MSGPACK_UNPACK_SUCCESS ||
            used != len - 1 || u.data.type != MSGPACK_OBJECT_MAP) {
            why = "a record that is not a msgpack map";
            break;
        }
        if (data[off + HEAD] == JOURNAL_SIGNAL) {
            const msgpack_object *s = mp_get(&u.data, "seq");
            uint64_t seq = s && s->type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
                           s->via.u64 : 0;
            if (seq <= self->last_seq) {
                why = "a signal whose sequence number does not advance";
                break;
            }
            if (s_idx_push(self, seq, g->id, off)) {
                msgpack_unpacked_destroy(&u);
                free(data);
                snprintf(err, ERR_LEN, "journal: out of memory");
                return ERR_NOMEM;
            }
            self->last_seq = seq;
        }
        if (fn)
            fn(arg, data[off + HEAD], &u.data);
        off += HEAD + len;
    }
    msgpack_unpacked_destroy(&u);
    free(data);
    if (why) {
        log_msg(LL_WARN, "journal %s: %s at offset %lld; %lld bytes after "
                "it dropped, recovered up to seq %" PRIu64, g->path, why,
                (long long)off, (long long)(g->size - off), self->last_seq);
        if (ftruncate(g->fd, off) != 0) {
            snprintf(err, ERR_LEN, "journal %.200s: cannot cut back: %s",
                     g->path, strerror(errno));
            return ERR_IO;
        }
        g->size = off;
    }
    return 0;
}

static int s_seg_open(journal_t *self, uint64_t first, int create,
                      char *err)
{
    char path[1200];
    struct seg *g;
    struct stat st;
    int fd;

    if (self->nseg == SEG_MAX) {
        snprintf(err, ERR_LEN, "journal %.200s: more than %d files", self->dir,
                 SEG_MAX);
        return ERR_TOO_LARGE;
    }
    snprintf(path, sizeof path, "%s/signals-%020" PRIu64 ".jnl", self->dir,
             first);
    fd = open_private(path, O_RDWR | O_APPEND | (create ? O_CREAT |
                      O_TRUNC : 0));       /* 0600, never through a link */
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, ERR_LEN, "journal %.200s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ERR_IO;
    }
    g = &self->segs[self->nseg];
    g->path = strdup(path);
    if (!g->path) {
        close(fd);
        snprintf(err, ERR_LEN, "journal: out of memory");
        return ERR_NOMEM;
    }
    g->id = self->next_id++;
    g->first = first;
    g->fd = fd;
    g->size = st.st_size;
    g->newest_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
                   st.st_mtim.tv_nsec / 1000000;
    self->nseg++;
    return 0;
}

/* Deletes the oldest segment and its index entries. */
static void s_drop_oldest(journal_t *self)
{
    struct seg *g = &self->segs[0];

    while (self->start < self->n && self->idx[self->start].seg == g->id)
        self->start++;
    if (unlink(g->path) != 0)
        log_msg(LL_WARN, "journal: cannot delete %s: %s", g->path,
                strerror(errno));
    else
        log_msg(LL_INFO, "journal: %s deleted (size or age limit)",
                g->path);
    close(g->fd);
    free(g->path);
    self->total -= g->size;
    memmove(self->segs, self->segs + 1, (size_t)(self->nseg - 1) *
            sizeof *self->segs);
    self->nseg--;
}

static void s_prune(journal_t *self)
{
    int64_t now = wall_ms();

    while (self->nseg > 1 &&
           (self->total > self->cfg.max_bytes ||
            (self->cfg.max_age_ms > 0 &&
             now - self->segs[0].newest_ms > self->cfg.max_age_ms)))
        s_drop_oldest(self);
}

/* One engine per journal: a lock file held for as long as it is open. */
static int s_lock(journal_t *self, char *err)
{
    char path[1100];

    snprintf(path, sizeof path, "%s/lock", self->dir);
    self->lock_fd = open_private(path, O_RDWR | O_CREAT);
    if (self->lock_fd < 0) {
        snprintf(err, ERR_LEN, "journal %.200s: %s", path, strerror(errno));
        return ERR_IO;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, ERR_LEN, "journal %.150s is in use by another engine "
                 "(give each engine its own --id or --journal)", self->dir);
        return ERR_IO;
    }
    return 0;
}

journal_t *journal_open(const struct journal_cfg *cfg, journal_record_fn *fn,
                        void *arg, char *err)
{
    journal_t *self = calloc(1, sizeof *self);
    DIR *d = NULL;
    struct dirent *de;

    if (self)
        self->lock_fd = -1;
    if (!self || !(self->segs = calloc(SEG_MAX, sizeof *self->segs)) ||
        !(self->dir = strdup(cfg->dir))) {
        snprintf(err, ERR_LEN, "journal: out of memory");
        goto fail;
    }
    self->cfg = *cfg;
    self->cfg.dir = self->dir;
    if (mkdir_p(self->dir, err) || s_lock(self, err))
        goto fail;
    d = opendir(self->dir);
    if (!d) {
        snprintf(err, ERR_LEN, "journal %.200s: %s", self->dir, strerror(errno));
        goto fail;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long long first;
        char tail[8];
        if (sscanf(de->d_name, "signals-%20llu.%7s", &first, tail) != 2 ||
            strcmp(tail, "jnl") != 0 || strlen(de->d_name) != 32)
            continue;
        if (s_seg_open(self, (uint64_t)first, 0, err))
            goto fail;
    }
    closedir(d);
    d = NULL;
    qsort(self->segs, (size_t)self->nseg, sizeof *self->segs, s_seg_cmp);
    for (int i = 0; i < self->nseg; i++) {
        self->segs[i].id = (uint64_t)i;     /* in order now */
        if (s_scan(self, &self->segs[i], fn, arg, err))
            goto fail;
        self->total += self->segs[i].size;
    }
    self->next_id = (uint64_t)self->nseg;
    /* Numbering goes on after the newest file even if it holds no signal
     * (its older neighbours deleted): sequence numbers never go back. */
    if (self->nseg && self->segs[self->nseg - 1].first > self->last_seq + 1)
        self->last_seq = self->segs[self->nseg - 1].first - 1;
    if (self->nseg == 0 && s_seg_open(self, 1, 1, err))
        goto fail;
    s_prune(self);
    self->synced_ms = self->aged_ms = mono_ms();
    if (self->last_seq == 0 && self->total == 0)
        log_msg(LL_INFO, "journal %s: new (no signal yet); fsync %s",
                self->dir, cfg->fsync == JOURNAL_FSYNC_ALWAYS ? "always" :
                cfg->fsync == JOURNAL_FSYNC_NO ? "no" : "everysec");
    else
        log_msg(LL_INFO, "journal %s: %zu signals held (seq %" PRIu64 "..%"
                PRIu64 ") in %d file(s), %lld bytes; fsync %s", self->dir,
                self->n - self->start, journal_first_seq(self),
                self->last_seq, self->nseg, (long long)self->total,
                cfg->fsync == JOURNAL_FSYNC_ALWAYS ? "always" :
                cfg->fsync == JOURNAL_FSYNC_NO ? "no" : "everysec");
    return self;
fail:
    if (d)
        closedir(d);
    journal_close(&self);
    return NULL;
}

static void s_sync(journal_t *self)
{
    if (self->dirty && self->nseg &&
        fdatasync(self->segs[self->nseg - 1].fd) != 0)
        log_msg(LL_WARN, "journal: fdatasync: %s", strerror(errno));
    self->dirty = 0;
    self->synced_ms = mono_ms();
}

void journal_close(journal_t **self_p)
{
    journal_t *self = self_p ? *self_p : NULL;

    if (!self)
        return;
    if (self->cfg.fsync != JOURNAL_FSYNC_NO)
        s_sync(self);
    for (int i = 0; self->segs && i < self->nseg; i++) {
        close(self->segs[i].fd);
        free(self->segs[i].path);
    }
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    free(self->segs);
    free(self->idx);
    free(self->buf);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* Starts the next segment (at last_seq + 1), then applies the limits. */
static void s_rotate(journal_t *self)
{
    char err[ERR_LEN];

    if (self->cfg.fsync != JOURNAL_FSYNC_NO)
        s_sync(self);
    if (s_seg_open(self, self->last_seq + 1, 1, err)) {
        log_msg(LL_WARN, "%s; the current file goes on", err);
        return;
    }
    if (self->cfg.on_segment)
        self->cfg.on_segment(self->cfg.arg);
    s_prune(self);
}

int journal_append(journal_t *self, int kind, uint64_t seq,
                   const void *map, size_t len)
{
    struct seg *g = &self->segs[self->nseg - 1];
    size_t total = HEAD + 1 + len, done = 0;

    if (len + 1 > JOURNAL_RECORD_MAX) {
        errno = EMSGSIZE;
        return ERR_TOO_LARGE;
    }
    if (total > self->bufcap) {
        unsigned char *b = realloc(self->buf, total);
        if (!b)
            return ERR_NOMEM;
        self->buf = b;
        self->bufcap = total;
    }
    self->buf[HEAD] = (unsigned char)kind;
    memcpy(self->buf + HEAD + 1, map, len);
    s_put32(self->buf, (uint32_t)(len + 1));
    s_put32(self->buf + 4, crc32_ieee(0, self->buf + HEAD, len + 1));
    while (done < total) {
        ssize_t w = write(g->fd, self->buf + done, total - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            /* Never leave half a record: cut it off again. */
            if (done && ftruncate(g->fd, g->size) != 0)
                log_msg(LL_WARN, "journal %s: cannot cut back: %s", g->path,
                        strerror(errno));
            errno = w < 0 ? e : EIO;
            return ERR_IO;
        }
        done += (size_t)w;
    }
    if (kind == JOURNAL_SIGNAL) {
        if (s_idx_push(self, seq, g->id, g->size))
            log_msg(LL_WARN, "journal: out of memory for the index; seq %"
                    PRIu64 " cannot be replayed", seq);
        self->last_seq = seq;
    }
    g->size += (int64_t)total;
    g->newest_ms = wall_ms();
    self->total += (int64_t)total;
    self->dirty = 1;
    if (self->cfg.fsync == JOURNAL_FSYNC_ALWAYS)
        s_sync(self);
    if (g->size >= self->cfg.seg_bytes && kind == JOURNAL_SIGNAL)
        s_rotate(self);
    else if (self->total > self->cfg.max_bytes)
        s_prune(self);
    return 0;
}

void journal_tick(journal_t *self, int64_t now_ms)
{
    if (self->cfg.fsync == JOURNAL_FSYNC_EVERYSEC && self->dirty &&
        now_ms - self->synced_ms >= 1000)
        s_sync(self);
    if (now_ms - self->aged_ms >= 60000) {
        self->aged_ms = now_ms;
        s_prune(self);
    }
}

uint64_t journal_first_seq(const journal_t *self)
{
    return self->start < self->n ? self->idx[self->start].seq : 0;
}

uint64_t journal_last_seq(const journal_t *self)
{
    return self->last_seq;
}

static const struct seg *s_seg_by_id(const journal_t *self, uint64_t id)
{
    for (int i = 0; i < self->nseg; i++)
        if (self->segs[i].id == id)
            return &self->segs[i];
    return NULL;
}

static int s_pread_all(int fd, void *buf, size_t n, int64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got,
                          off + (int64_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Reads the payload of index entry e into *buf (grown as needed); its
 * length, or 0 on an error. */
static uint32_t s_read_entry(const journal_t *self, const struct ent *e,
                             char **buf, size_t *cap);

uint64_t journal_seq_before(journal_t *self, int64_t ts_ms)
{
    char *rec = NULL;
    size_t cap = 0, scanned = 0;
    uint64_t seq = 0;
    msgpack_unpacked u;

    msgpack_unpacked_init(&u);
    for (size_t k = self->n; k > self->start && scanned < JOURNAL_SCAN_MAX;
         k--, scanned++) {
        uint32_t len = s_read_entry(self, &self->idx[k - 1], &rec, &cap);
        int64_t ts;
        if (!len || msgpack_unpack_next(&u, rec + 1, len - 1, NULL) !=
                MSGPACK_UNPACK_SUCCESS || mp_int(&u.data, "ts", &ts))
            break;
        if (ts < ts_ms) {
            seq = self->idx[k - 1].seq;
            break;
        }
        seq = self->idx[k - 1].seq - 1;
    }
    msgpack_unpacked_destroy(&u);
    free(rec);
    return seq;
}

static uint32_t s_read_entry(const journal_t *self, const struct ent *e,
                             char **buf, size_t *cap)
{
    const struct seg *g = s_seg_by_id(self, e->seg);
    unsigned char head[HEAD];
    uint32_t len;

    if (!g || s_pread_all(g->fd, head, HEAD, e->off))
        return 0;
    len = s_get32(head);
    if (len < 2 || len > JOURNAL_RECORD_MAX)
        return 0;
    if (len > *cap) {
        char *r = realloc(*buf, len);
        if (!r)
            return 0;
        *buf = r;
        *cap = len;
    }
    if (s_pread_all(g->fd, *buf, len, e->off + HEAD) ||
        crc32_ieee(0, *buf, len) != s_get32(head + 4))
        return 0;
    return len;
}

int journal_replay(journal_t *self, uint64_t after, size_t max,
                   msgpack_sbuffer *sb, size_t *count)
{
    size_t lo = self->start, hi = self->n, k, end;
    msgpack_sbuffer tmp;
    msgpack_packer pk;
    char *rec = NULL;
    size_t reccap = 0;

    while (lo < hi) {               /* first entry with seq > after */
        size_t mid = lo + (hi - lo) / 2;
        if (self->idx[mid].seq <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    end = self->n - lo > max ? lo + max : self->n;
    msgpack_sbuffer_init(&tmp);
    for (k = lo; k < end; k++) {
        uint32_t len = s_read_entry(self, &self->idx[k], &rec, &reccap);
        if (!len)
            break;
        msgpack_sbuffer_write(&tmp, rec + 1, len - 1);
    }
    free(rec);
    if (k < end) {
        msgpack_sbuffer_destroy(&tmp);
        log_msg(LL_WARN, "journal: cannot read back seq %" PRIu64,
                self->idx[k].seq);
        return ERR_IO;
    }
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, end - lo);
    if (tmp.size)
        msgpack_sbuffer_write(sb, tmp.data, tmp.size);
    msgpack_sbuffer_destroy(&tmp);
    *count = end - lo;
    return 0;
}
