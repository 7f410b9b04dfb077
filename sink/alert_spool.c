/* alert_spool.c -- the alert output's files (see alert.h): the spool,
 * its outbox of accepted signals, and the dead-letter file.
 *
 * - The spool (JSON Lines, a spool.h spool: its lock, appending, reading
 *   back, rewriting and failure policy) gets {"add": signal, "to":
 *   [keys]} for each signal accepted, before the output returns it as
 *   taken, so a signal handed over is never lost, even to SIGKILL;
 *   outcomes append {"done": id, "to": key} or {"dead": id, "to": key}.
 *   At start the spool is read back: what is still due is handed to the
 *   caller, and the file is rewritten with only that and the last
 *   ALERT_DONE_KEEP delivered ids per destination (so a signal handed
 *   over again after a crash is not sent twice). It is rewritten the same
 *   way, from what it holds, whenever it has grown by SPOOL_COMPACT_LINES
 *   lines, or after a failed append.
 * - The dead-letter file gets one line per signal and destination given
 *   up; at start its lines for configured destinations are handed back,
 *   and each is removed once delivered (a rewrite of the file).
 *
 * Destinations are named in both files by their key (kind and a hash of
 * the URL), never by their URL, so neither file holds a secret. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "dedup.h"
#include "log.h"
#include "spool.h"
#include "util.h"

#define ALERT_DONE_KEEP 4096        /* delivered ids kept per destination */
#define ALERT_FILE_KEYS 64          /* destination keys in one spool */

/* {==================== files ========================= */

/* `j` (stolen) as one line: malloc'd text ending in '\n' (length *n), or
 * NULL with errno set. */
static char *s_line(json_t *j, size_t *n)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    if (!text) {
        errno = ENOMEM;
        return NULL;
    }
    *n = strlen(text);
    text[(*n)++] = '\n';            /* json_dumps' NUL becomes the '\n' */
    return text;
}

static int s_dest_index(const struct alert_files *self, const char *key)
{
    for (int i = 0; i < self->nkeys; i++)
        if (strcmp(self->keys[i], key) == 0)
            return i;
    return -1;
}

/* }==================================================== */

/* {==================== dead letters ================== */

int alert_dead_append(struct alert_files *self, const char *key,
                      const char *name, const struct signal *s,
                      const char *why, int tries)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:I,s:o}", "to", key,
                          "destination", name, "error", why, "tries", tries,
                          "at", (json_int_t)wall_ms(), "signal",
                          msg_signal_to_json(s));
    size_t n = 0;
    char *text = s_line(j, &n);
    int rc = text ? spool_file_append(self->dead, text, n) : -1;

    if (rc != 0)
        log_limited(&self->lim_io, LL_ERROR, "alert: %s: %s; signal %s "
                    "stays in the spool", self->dead, strerror(errno),
                    s->id);
    free(text);
    return rc;
}

/* Rewrites the dead-letter file without the lines for (key, id). */
void alert_dead_remove(struct alert_files *self, const char *key,
                       const char *id)
{
    char tmp[ALERT_PATH_MAX + 16], *line = NULL;
    size_t cap = 0;
    FILE *in = fopen(self->dead, "r"), *out;
    ssize_t n;

    if (!in)
        return;
    out = tmp_private(self->dead, tmp, sizeof tmp);
    if (!out) {
        fclose(in);
        log_limited(&self->lim_io, LL_ERROR, "alert: %s: %s", tmp,
                    strerror(errno));
        return;
    }
    while ((n = getline(&line, &cap, in)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        const char *to = json_string_value(json_object_get(j, "to"));
        const char *sid = json_string_value(
            json_object_get(json_object_get(j, "signal"), "id"));
        int drop = to && sid && strcmp(to, key) == 0 && strcmp(sid, id) == 0;
        json_decref(j);
        if (!drop)
            fwrite(line, 1, (size_t)n, out);
    }
    free(line);
    fclose(in);
    if (spool_file_replace(out, tmp, self->dead) != 0)
        log_limited(&self->lim_io, LL_ERROR, "alert: %s: %s", self->dead,
                    strerror(errno));
}

/* }==================================================== */

/* {==================== spool ========================= */

struct s_entry {
    struct signal s;
    uint64_t mask;                  /* keys (s_spool.keys) still due */
};

/* A spool file read back. */
struct s_spool {
    char keys[ALERT_FILE_KEYS][ALERT_KEY_MAX];
    int nkeys;
    struct s_entry **e;             /* adds in order; NULL once settled */
    size_t n, cap;
    size_t *slot;                   /* id hash: index + 1, 0 = empty */
    size_t nslots;
    char (*done[ALERT_FILE_KEYS])[DEDUP_ID];    /* ring per key */
    size_t ndone[ALERT_FILE_KEYS], done_pos[ALERT_FILE_KEYS];
};

static int s_key(struct s_spool *sp, const char *key)
{
    for (int i = 0; i < sp->nkeys; i++)
        if (strcmp(sp->keys[i], key) == 0)
            return i;
    if (sp->nkeys == ALERT_FILE_KEYS || strlen(key) >= ALERT_KEY_MAX)
        return -1;
    snprintf(sp->keys[sp->nkeys], ALERT_KEY_MAX, "%s", key);
    return sp->nkeys++;
}

/* The slot of `id` in the hash (empty if absent); the hash must exist
 * (nslots > 0). */
static size_t *s_slot(struct s_spool *sp, const char *id)
{
    size_t i = (size_t)hash_str(HASH_INIT, id) & (sp->nslots - 1);

    while (sp->slot[i] && strcmp(sp->e[sp->slot[i] - 1] ?
                                 sp->e[sp->slot[i] - 1]->s.id : "", id) != 0)
        i = (i + 1) & (sp->nslots - 1);
    return &sp->slot[i];
}

static struct s_entry *s_find(struct s_spool *sp, const char *id)
{
    size_t *slot = sp->nslots ? s_slot(sp, id) : NULL;
    return slot && *slot ? sp->e[*slot - 1] : NULL;
}

static int s_grow(struct s_spool *sp)
{
    size_t nslots = sp->nslots ? sp->nslots * 2 : 1024;
    struct s_entry **e = realloc(sp->e, nslots / 2 * sizeof *e);
    size_t *old = sp->slot;

    if (!e)
        return -1;
    sp->e = e;
    sp->cap = nslots / 2;
    sp->slot = calloc(nslots, sizeof *sp->slot);
    if (!sp->slot) {
        sp->slot = old;
        return -1;
    }
    free(old);
    sp->nslots = nslots;
    /* Settled entries leave their ids behind; they are not looked up. */
    for (size_t i = 0; i < sp->n; i++)
        if (sp->e[i])
            *s_slot(sp, sp->e[i]->s.id) = i + 1;
    return 0;
}

static void s_spool_free(struct s_spool *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        free(sp->e[i]);
    free(sp->e);
    free(sp->slot);
    for (int i = 0; i < ALERT_FILE_KEYS; i++)
        free(sp->done[i]);
    memset(sp, 0, sizeof *sp);
}

static void s_note_done(struct s_spool *sp, int k, const char *id)
{
    if (!sp->done[k]) {
        sp->done[k] = calloc(ALERT_DONE_KEEP, sizeof *sp->done[k]);
        if (!sp->done[k])
            return;
    }
    snprintf(sp->done[k][sp->done_pos[k]], DEDUP_ID, "%s", id);
    sp->done_pos[k] = (sp->done_pos[k] + 1) % ALERT_DONE_KEEP;
    if (sp->ndone[k] < ALERT_DONE_KEEP)
        sp->ndone[k]++;
}

static int s_was_done(const struct s_spool *sp, int k, const char *id)
{
    for (size_t i = 0; sp->done[k] && i < sp->ndone[k]; i++)
        if (strcmp(sp->done[k][i], id) == 0)
            return 1;
    return 0;
}

/* One spool line (spool_line_fn). 0, or 1 if it is not a record this
 * file writes. */
static int s_spool_line(void *arg, const char *line, size_t len,
                        uint64_t no)
{
    struct s_spool *sp = arg;
    json_t *j = json_loadb(line, len, 0, NULL), *add, *to;
    const char *id, *key;
    char err[ERR_LEN];
    int rc = 1, k;

    (void)no;
    add = json_object_get(j, "add");
    to = json_object_get(j, "to");
    if (add && json_is_array(to)) {
        struct s_entry *e = calloc(1, sizeof *e);
        struct s_entry *old;
        size_t i;
        json_t *v;
        if (e && alert_signal_from_json(add, &e->s, err) == 0) {
            json_array_foreach(to, i, v)
                if (json_is_string(v) &&
                    (k = s_key(sp, json_string_value(v))) >= 0)
                    e->mask |= 1ull << k;
            old = s_find(sp, e->s.id);
            if (old) {
                old->mask |= e->mask;
                free(e);
                e = NULL;
            } else if (sp->n < sp->cap || s_grow(sp) == 0) {
                *s_slot(sp, e->s.id) = sp->n + 1;
                sp->e[sp->n++] = e;
                e = NULL;
            }
            rc = 0;
        }
        free(e);
    } else if (json_is_string(to)) {
        int done = json_is_string(json_object_get(j, "done"));
        id = json_string_value(json_object_get(j, done ? "done" : "dead"));
        key = json_string_value(to);
        k = id ? s_key(sp, key) : -1;
        if (k >= 0) {
            size_t *slot = sp->nslots ? s_slot(sp, id) : NULL;
            struct s_entry *e = slot && *slot ? sp->e[*slot - 1] : NULL;
            if (e) {
                e->mask &= ~(1ull << k);
                if (!e->mask) {     /* settled: no longer needed */
                    sp->e[*slot - 1] = NULL;
                    free(e);
                }
            }
            if (done)
                s_note_done(sp, k, id);
        }
        rc = id ? 0 : 1;
    }
    json_decref(j);
    return rc;
}

/* Reads the spool back into sp. 0, or -1 with errno set and a reason in
 * err[ERR_LEN]. */
static int s_spool_read(struct alert_files *self, struct s_spool *sp,
                        char *err)
{
    memset(sp, 0, sizeof *sp);
    return spool_read(self->sp, s_spool_line, sp, err);
}

/* What a rewrite keeps (spool_write_fn, with a struct s_keep): the last
 * delivered ids of each configured destination, then each signal still
 * due to one of them. */
struct s_keep {
    struct alert_files *self;
    struct s_spool *sp;
};

static long s_spool_write(void *arg, FILE *f)
{
    struct alert_files *self = ((struct s_keep *)arg)->self;
    struct s_spool *sp = ((struct s_keep *)arg)->sp;
    long lines = 0;

    for (int k = 0; k < sp->nkeys; k++) {
        size_t start;
        if (s_dest_index(self, sp->keys[k]) < 0 || !sp->done[k])
            continue;
        start = sp->ndone[k] < ALERT_DONE_KEEP ? 0 : sp->done_pos[k];
        for (size_t i = 0; i < sp->ndone[k]; i++, lines++) {
            json_t *j = json_pack("{s:s,s:s}", "done",
                                  sp->done[k][(start + i) % ALERT_DONE_KEEP],
                                  "to", sp->keys[k]);
            if (!j || json_dumpf(j, f, JSON_COMPACT) != 0)
                fputs("{}", f);     /* a damaged line, skipped when read */
            fputc('\n', f);
            json_decref(j);
        }
    }
    for (size_t i = 0; i < sp->n; i++) {
        struct s_entry *e = sp->e[i];
        json_t *to = json_array(), *j;
        char *text;
        if (!e || !to) {
            json_decref(to);
            continue;
        }
        for (int k = 0; k < sp->nkeys; k++)
            if ((e->mask & (1ull << k)) && s_dest_index(self, sp->keys[k])
                                               >= 0)
                json_array_append_new(to, json_string(sp->keys[k]));
        if (json_array_size(to) == 0) {
            json_decref(to);
            continue;
        }
        j = json_pack("{s:o,s:o}", "add", msg_signal_to_json(&e->s), "to", to);
        text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (text) {
            fprintf(f, "%s\n", text);
            lines++;
        }
        free(text);
    }
    return lines;
}

/* A rewrite while running (spool_write_fn): from what the spool holds. */
static long s_spool_compact(void *arg, FILE *f)
{
    struct s_spool sp;
    struct s_keep kp = { arg, &sp };
    char err[ERR_LEN];
    long lines = -1;

    if (s_spool_read(arg, &sp, err) == 0)
        lines = s_spool_write(&kp, f);
    s_spool_free(&sp);
    return lines;
}

/* Appends an outcome to the spool. */
void alert_spool_mark(struct alert_files *self, const char *op,
                      const char *key, const char *id)
{
    size_t n = 0;
    char *text = s_line(json_pack("{s:s,s:s}", op, id, "to", key), &n);

    if (text)
        spool_append(self->sp, text, n, 1);
    else
        log_limited(&self->lim_io, LL_ERROR, "alert: %s: out of memory",
                    self->spool);
    free(text);
}

/* Rewrites the spool once it has grown enough, or after a failure. */
void alert_spool_compact(struct alert_files *self)
{
    spool_compact(self->sp, s_spool_compact, self, 0);
}

/* }==================================================== */

int alert_files_open(struct alert_files *self, const char *spool,
                     const char *dead, const char *const *keys, int nkeys,
                     char *err)
{
    char dir[ALERT_PATH_MAX];
    const char *slash;
    int fits;

    memset(self, 0, sizeof *self);
    self->keys = keys;
    self->nkeys = nkeys;
    self->lim_io = (struct log_limit)LOG_LIMIT_INIT;
    if ((!spool || !dead) && !xdg_dir("state", dir, sizeof dir)) {
        snprintf(err, ERR_LEN, "alert: no state directory (set HOME or "
                 "XDG_STATE_HOME, or give --spool and --dead-letter)");
        return ERR_USAGE;
    }
    fits = spool ? strfmt(self->spool, sizeof self->spool, "%s", spool)
                 : strfmt(self->spool, sizeof self->spool,
                          "%s/alert-spool.jsonl", dir);
    if (fits >= 0)
        fits = dead ? strfmt(self->dead, sizeof self->dead, "%s", dead)
                    : strfmt(self->dead, sizeof self->dead,
                             "%s/alert-dead.jsonl", dir);
    if (fits < 0) {
        snprintf(err, ERR_LEN, "alert: path too long");
        return ERR_USAGE;
    }
    if (strcmp(self->spool, self->dead) == 0) {
        snprintf(err, ERR_LEN, "--spool and --dead-letter must differ");
        return ERR_USAGE;
    }
    slash = strrchr(self->dead, '/');
    if (slash && slash != self->dead) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - self->dead),
                 self->dead);
        if (mkdir_p(dir, err) != 0)
            return ERR_IO;
    }
    self->sp = spool_open(self->spool, "alert", err);
    return self->sp ? 0 : ERR_IO;
}

/* Hands the dead letters of configured destinations to fn, unless
 * delivered meanwhile (those lines are removed). Returns how many fn
 * queued. */
static int s_requeue_dead(struct alert_files *self, struct s_spool *sp,
                          alert_found_fn *fn, void *arg)
{
    FILE *f = fopen(self->dead, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0;
    struct { char key[ALERT_KEY_MAX]; char id[DEDUP_ID]; } gone[64];
    int ngone = 0;

    if (!f)
        return 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        const char *to = json_string_value(json_object_get(j, "to"));
        int i = to ? s_dest_index(self, to) : -1, k;
        struct signal s;
        char err[ERR_LEN];
        if (i >= 0 && alert_signal_from_json(json_object_get(j, "signal"),
                                             &s, err) == 0) {
            k = s_key(sp, to);
            if (k >= 0 && s_was_done(sp, k, s.id)) {
                if (ngone < 64) {
                    snprintf(gone[ngone].key, ALERT_KEY_MAX, "%s", to);
                    snprintf(gone[ngone].id, DEDUP_ID, "%s", s.id);
                    ngone++;
                }
            } else {
                count += fn(arg, ALERT_FOUND_DEAD, i, s.id, &s);
            }
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    for (int g = 0; g < ngone; g++)
        alert_dead_remove(self, gone[g].key, gone[g].id);
    return count;
}

int alert_files_recover(struct alert_files *self, alert_found_fn *fn,
                        void *arg, char *err)
{
    struct s_spool sp;
    struct s_keep kp;
    int queued = 0;

    if (s_spool_read(self, &sp, err) != 0) {
        s_spool_free(&sp);
        return -1;
    }
    /* Delivered ids first, so a signal handed over again is skipped. */
    for (int k = 0; k < sp.nkeys; k++) {
        int i = s_dest_index(self, sp.keys[k]);
        for (size_t j = 0; i >= 0 && j < sp.ndone[k]; j++)
            fn(arg, ALERT_FOUND_DONE, i, sp.done[k][j], NULL);
    }
    queued += s_requeue_dead(self, &sp, fn, arg);
    for (size_t e = 0; e < sp.n; e++) {
        struct s_entry *en = sp.e[e];
        for (int k = 0; en && k < sp.nkeys; k++) {
            int i;
            if (!(en->mask & (1ull << k)))
                continue;
            i = s_dest_index(self, sp.keys[k]);
            if (i < 0) {
                if (alert_dead_append(self, sp.keys[k], sp.keys[k], &en->s,
                                      "destination no longer configured",
                                      0))
                    continue;       /* stays in the spool */
                en->mask &= ~(1ull << k);
            } else {
                queued += fn(arg, ALERT_FOUND_DUE, i, en->s.id, &en->s);
            }
        }
    }
    kp.self = self;
    kp.sp = &sp;
    if (spool_rewrite(self->sp, s_spool_write, &kp) != 0) {
        snprintf(err, ERR_LEN, "alert: cannot rewrite %.150s: %s",
                 self->spool, strerror(errno));
        queued = -1;
    } else {
        self->ready = 1;
    }
    s_spool_free(&sp);
    return queued;
}

int alert_spool_add(struct alert_files *self, const struct signal *s,
                    const int *dests, int n)
{
    json_t *keys = json_array();
    size_t len = 0;
    char *text;
    int rc, e;

    for (int i = 0; keys && i < n; i++)
        json_array_append_new(keys, json_string(self->keys[dests[i]]));
    text = s_line(json_pack("{s:o,s:o}", "add", msg_signal_to_json(s), "to",
                            keys), &len);
    if (!text)
        return ERR_NOMEM;
    alert_spool_compact(self);      /* after a failure: mended first */
    rc = spool_append(self->sp, text, len, 1);
    e = errno;
    free(text);
    errno = e;
    return rc != 0 ? ERR_IO : 0;
}

void alert_files_close(struct alert_files *self)
{
    spool_destroy(&self->sp);       /* synced; releases the lock */
    self->ready = 0;
}
