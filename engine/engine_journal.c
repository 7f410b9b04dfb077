/* engine_journal.c -- the engine's signal journal (journal.h): opened
 * at start, where the sequence numbers continue from and, per symbol,
 * the newest mark (how far it had got) and the ids of the signals written
 * after it, which a restart on the same feed derives again and does not
 * publish twice; and the marks the engine writes as its symbols move on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "util.h"

static uint64_t s_id_value(const char *id)
{
    return strtoull(id, NULL, 16);
}

static int s_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void engine_pend_free(engine_t *self, struct sym *y)
{
    self->pend_total -= y->npend;
    free(y->pend);
    y->pend = NULL;
    y->npend = y->cappend = 0;
    y->pend_over = 0;
    y->jt = -1;
}

/* Whether signal s of y is one the journal holds from before a restart
 * on the same feed: its id is among those written after y's mark (or,
 * past PEND_MAX of them, it is not newer than the newest). */
int engine_pend_has(const struct sym *y, const struct signal *s)
{
    uint64_t id = s_id_value(s->id);

    if (y->npend && bsearch(&id, y->pend, y->npend, sizeof id, s_u64_cmp))
        return 1;
    return y->pend_over && (s->t < y->jt ||
                            (s->t == y->jt && s->ord <= y->jord));
}

/* Writes how far symbol y got (its newest bar) to the journal. */
void engine_mark(engine_t *self, struct sym *y)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    if (!self->journal || y->run->last_t < 0 || y->marked_t == y->run->last_t)
        return;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    mp_kstr(&pk, "sym", y->run->sym);
    mp_kint(&pk, "t", y->run->last_t);
    mp_pack_str(&pk, "c");
    msgpack_pack_double(&pk, y->last_c);
    mp_kint(&pk, "tf", y->tf);
    mp_kstr(&pk, "strat", strategy_name(y->run->strat));
    mp_kstr(&pk, "params", strategy_params(y->run->strat));
    if (journal_append(self->journal, JOURNAL_MARK, 0, sb.data, sb.size) == 0)
        y->marked_t = y->run->last_t;
    msgpack_sbuffer_destroy(&sb);
}

/* A new journal file: it starts with every symbol's mark. */
static void s_mark_all(void *arg)
{
    engine_t *self = arg;

    for (int k = 0; k < self->nsym; k++) {
        self->syms[k].marked_t = -1;
        if (self->syms[k].live)
            engine_mark(self, &self->syms[k]);
    }
}

/* The strategy and parameters of a mark: 1 if they are ours, 0 if not
 * (noted in self->jparams), -1 if the mark does not say (an older journal). */
static int s_mark_params(engine_t *self, const msgpack_object *o,
                         const struct sym *y)
{
    char strat[64], params[sizeof self->jparams];
    const char *ours = strategy_params(y->run->strat);

    if (mp_str(o, "strat", strat, sizeof strat) ||
        mp_str(o, "params", params, sizeof params))
        return -1;
    if (strcmp(strat, strategy_name(y->run->strat)) == 0 &&
        strcmp(params, ours) == 0)
        return 1;
    snprintf(self->jparams, sizeof self->jparams, "%.60s %.180s", strat,
             *params ? params : "(no parameters)");
    return 0;
}

/* A record of the journal at open: each of our symbols' newest mark and
 * the ids of the signals written after it. */
static void s_journal_record(void *arg, int kind, const msgpack_object *o)
{
    char name[SYM_MAX], id[17];
    int64_t t, v;
    struct sym *y;
    engine_t *self = arg;
    int k;

    if (mp_str(o, "sym", name, sizeof name) || mp_int(o, "t", &t))
        return;
    k = engine_find(self, name);
    if (k < 0)
        k = engine_add(self, name);     /* '*': a symbol it ran before */
    if (k < 0)
        return;
    y = &self->syms[k];
    if (kind == JOURNAL_SIGNAL) {
        y->jt = t;
        y->jord = mp_int(o, "ord", &v) ? 0 : (int)v;
        if (mp_str(o, "id", id, sizeof id))
            return;
        if (self->pend_total < PEND_TOTAL_MAX)
            grow((void **)&y->pend, &y->cappend, y->npend + 1,
                 sizeof *y->pend, PEND_MAX);
        if (y->npend < y->cappend && self->pend_total < PEND_TOTAL_MAX) {
            y->pend[y->npend++] = s_id_value(id);
            self->pend_total++;
        } else {
            y->pend_over = 1;
        }
    } else if (kind == JOURNAL_MARK) {
        y->mark_t = t;
        if (mp_dbl(o, "c", &y->mark_c))
            y->mark_c = NAN;
        y->mark_tf = mp_int(o, "tf", &v) ? 0 : v;
        y->mark_params = s_mark_params(self, o, y);
        engine_pend_free(self, y);  /* what came before it is behind */
    }
}

/* Opens the journal (unless --journal "") and takes the sequence number
 * and each symbol's newest signal and mark from it. 0; else 2 (no place
 * for it: a usage error) or 1, with one line in err[ERR_LEN]. */
int engine_journal_open(engine_t *self, char *err)
{
    const struct engine_config *c = &self->cfg;
    struct journal_cfg jc;
    char dir[1024];

    if (c->journal_dir && !*c->journal_dir)
        return 0;
    if (c->journal_dir) {
        snprintf(self->journal_path, sizeof self->journal_path, "%s",
                 c->journal_dir);
    } else if (!xdg_dir("state", dir, sizeof dir) ||
               strfmt(self->journal_path, sizeof self->journal_path,
                      "%s/journal/%s", dir, self->id) < 0) {
        snprintf(err, ERR_LEN, "no place for the journal: set --journal "
                 "DIR (or XDG_STATE_HOME or HOME)");
        return 2;
    }
    memset(&jc, 0, sizeof jc);
    jc.dir = self->journal_path;
    jc.fsync = strcmp(c->fsync, "always") == 0 ? JOURNAL_FSYNC_ALWAYS :
               strcmp(c->fsync, "no") == 0 ? JOURNAL_FSYNC_NO :
               JOURNAL_FSYNC_EVERYSEC;
    jc.max_bytes = c->journal_mb << 20;
    jc.seg_bytes = jc.max_bytes / 8 < (32 << 20) ? jc.max_bytes / 8 :
                   (32 << 20);
    jc.max_age_ms = c->journal_days * 86400000LL;
    jc.on_segment = s_mark_all;
    jc.arg = self;
    self->journal = journal_open(&jc, s_journal_record, self, err);
    if (!self->journal)
        return 1;
    self->sig_seq = journal_last_seq(self->journal);
    self->seq0 = self->sig_seq;
    for (int k = 0; k < self->nsym; k++)
        if (self->syms[k].npend)
            qsort(self->syms[k].pend, self->syms[k].npend,
                  sizeof *self->syms[k].pend, s_u64_cmp);
    return 0;
}

/* Every live symbol's mark (those that moved on since the last). */
void engine_mark_live(engine_t *self)
{
    for (int k = 0; k < self->nsym; k++)
        if (self->syms[k].live)
            engine_mark(self, &self->syms[k]);
}
