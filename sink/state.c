/* state.c -- a sink's state file (see state.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "state.h"
#include "util.h"

#define HEADER "livetrade-sink-state 1"
#define ENG_MAX 64                  /* engine id, as in signals */
#define ENGINES_MAX 4096

struct ent {
    char eng[ENG_MAX];
    uint64_t seq;
};

struct sink_state {
    char *path;
    struct ent *e;
    size_t n, cap;
    int dirty;
    struct log_limit lim;
};

static uint32_t s_line_crc(const char *eng, uint64_t seq)
{
    char buf[ENG_MAX + 32];
    int len = snprintf(buf, sizeof buf, "%s %" PRIu64, eng, seq);
    return crc32_ieee(0, buf, (size_t)len);
}

static struct ent *s_ent_find(const sink_state_t *self, const char *eng)
{
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->e[i].eng, eng) == 0)
            return &self->e[i];
    return NULL;
}

/* Parses one line "<eng> <seq> <crc>"; 0 or -1. */
static int s_parse(const char *line, struct ent *out)
{
    char eng[ENG_MAX + 1], tail;
    unsigned long long seq;
    unsigned crc;

    if (sscanf(line, "%64s %llu %8x%c", eng, &seq, &crc, &tail) != 4 ||
        tail != '\n' || strlen(eng) >= ENG_MAX ||
        s_line_crc(eng, seq) != crc)
        return -1;
    memcpy(out->eng, eng, strlen(eng) + 1);     /* < ENG_MAX, checked */
    out->seq = seq;
    return 0;
}

sink_state_t *sink_state_load(const char *path, char *err)
{
    sink_state_t *self = calloc(1, sizeof *self);
    char line[256];
    FILE *f;
    int no = 0;

    if (!self || !(self->path = strdup(path))) {
        free(self);
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->lim = (struct log_limit)LOG_LIMIT_INIT;
    if (!*path)
        return self;                /* in memory only */
    f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return self;
        snprintf(err, ERR_LEN, "state file %.200s: %s", path,
                 strerror(errno));
        sink_state_free(&self);
        return NULL;
    }
    while (fgets(line, sizeof line, f)) {
        struct ent e;
        no++;
        if (no == 1) {
            if (strcmp(line, HEADER "\n") == 0)
                continue;
            log_msg(LL_WARN, "state file %s: not a livetrade sink state "
                    "(first line); ignored, and replaced at the next save",
                    path);
            break;
        }
        if (s_parse(line, &e) != 0) {
            log_msg(LL_WARN, "state file %s: line %d is damaged; using the "
                    "%zu engine(s) before it", path, no, self->n);
            break;
        }
        sink_state_set(self, e.eng, e.seq, 1);
    }
    fclose(f);
    self->dirty = 0;
    if (self->n)
        log_msg(LL_INFO, "state file %s: %zu engine(s), resuming after "
                "their last signals", path, self->n);
    return self;
}

void sink_state_free(sink_state_t **self_p)
{
    sink_state_t *self = *self_p;

    if (!self)
        return;
    free(self->e);
    free(self->path);
    free(self);
    *self_p = NULL;
}

uint64_t sink_state_get(const sink_state_t *self, const char *eng)
{
    const struct ent *e = s_ent_find(self, eng);
    return e ? e->seq : 0;
}

int sink_state_has(const sink_state_t *self, const char *eng)
{
    return s_ent_find(self, eng) != NULL;
}

void sink_state_set(sink_state_t *self, const char *eng, uint64_t seq,
                    int force)
{
    struct ent *e = s_ent_find(self, eng);

    if (strlen(eng) >= ENG_MAX || strchr(eng, ' ') || strchr(eng, '\n'))
        return;                     /* cannot be written back */
    if (!e) {
        if (grow((void **)&self->e, &self->cap, self->n + 1,
                 sizeof *self->e, ENGINES_MAX))
            return;
        e = &self->e[self->n++];
        snprintf(e->eng, sizeof e->eng, "%s", eng);
        e->seq = 0;
        self->dirty = 1;
    }
    if (seq > e->seq || (force && seq != e->seq)) {
        e->seq = seq;
        self->dirty = 1;
    }
}

/* Replaces the file when dirty. `sync`: fsync the new file first, and
 * only then is the state clean (a write without it is done again, with
 * it, by the next save). */
static int s_save(sink_state_t *self, int sync)
{
    char tmp[1200];
    FILE *f = NULL;

    if (!self->dirty || !self->path[0])
        return 0;
    tmp[0] = 0;
    if (!(f = tmp_private(self->path, tmp, sizeof tmp)))
        goto fail;
    fprintf(f, HEADER "\n");
    for (size_t i = 0; i < self->n; i++)
        fprintf(f, "%s %" PRIu64 " %08x\n", self->e[i].eng, self->e[i].seq,
                s_line_crc(self->e[i].eng, self->e[i].seq));
    if (fflush(f) != 0 || (sync && fsync(fileno(f)) != 0))
        goto fail;
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    f = NULL;
    if (rename(tmp, self->path) != 0)
        goto fail;
    if (sync)
        self->dirty = 0;
    return 0;
fail:
    log_limited(&self->lim, LL_WARN, "state file %s: cannot save: %s",
                self->path, strerror(errno));
    if (f)
        fclose(f);
    if (tmp[0])
        unlink(tmp);
    return -1;
}

int sink_state_save(sink_state_t *self)
{
    return s_save(self, 1);
}

int sink_state_write(sink_state_t *self)
{
    return s_save(self, 0);
}

size_t sink_state_count(const sink_state_t *self)
{
    return self->n;
}
