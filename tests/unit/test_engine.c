/* The engine object (engine/engine.h) with a fake history source: the
 * warm-up from history and then live bars, a symbol's live bars held
 * while its history is outstanding and merged after it, a gap filled
 * from history before the bar that revealed it, a symbol whose history
 * fails retrying without holding the others, the resume point after a
 * restart on the journal's feed, and the status reply. Bars go in
 * through engine_on_message as they come off the bus; the fake answers
 * a request only when the test says (s_answer), as a later turn of the
 * loop would; the engine's sockets are bound on ipc:// in a temporary
 * directory, and the loop is never run (the tests call the warm-up step
 * themselves). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus.h"
#include "engine.h"
#include "engine_int.h"
#include "err.h"
#include "mp.h"
#include "util.h"

#define T0 1700000000000LL          /* time of bar 0 */
#define TF 60                       /* s */
#define PUB 77                      /* the feeder instance */
#define LB 20                       /* --lookback */
#define NSYM 2
#define MAX_REQ 16

/* SMA(2) against SMA(4) on a sine: a cross every few bars. */
static const char s_strategy[] =
    "local S = Strategy { n1 = 2, n2 = 4 }\n"
    "function S:init()\n"
    "  self.a = self:I(SMA, self.data.Close, self.n1)\n"
    "  self.b = self:I(SMA, self.data.Close, self.n2)\n"
    "end\n"
    "function S:next()\n"
    "  if crossover(self.a, self.b) then\n"
    "    self.position:close(); self:buy()\n"
    "  elseif crossover(self.b, self.a) then\n"
    "    self.position:close(); self:sell()\n"
    "  end\n"
    "end\n"
    "return S\n";

/* The fake feeders: bar i of a symbol is at T0 + i * TF s, seq i + 1;
 * `avail` bars are published so far. */
struct fake {
    const char *syms[NSYM];
    int avail;
    double shift;                   /* added to the closes of history */
    int fail[NSYM];                 /* requests to leave unanswered */
    int nreq;                       /* requests seen */
    struct history_req req[MAX_REQ];
    engine_t *e;                    /* the engine asking */
    int pending;                    /* a request not answered yet */
    int ep;                         /* its endpoint */
};

/* A test's world: a directory, a strategy file, the fake, an engine. */
struct world {
    char dir[64], path[128], ep_sub[128], ep_pub[128], ep_rep[128];
    char journal[128];
    char name[NSYM][8];
    char *names[NSYM];
    struct fake fake;
    struct broker_cfg bcfg;
    struct engine_config cfg;
    loop_t *loop;
    engine_t *e;
};

static struct bar s_bar(const char *sym, int i)
{
    struct bar b;

    memset(&b, 0, sizeof b);
    snprintf(b.src, sizeof b.src, "demo");
    snprintf(b.sym, sizeof b.sym, "%s", sym);
    b.t = T0 + (int64_t)i * TF * 1000;
    b.tf = TF;
    b.o = b.h = b.l = b.c = 100 + 5 * sin(i / 2.0);
    b.h += 1;
    b.vol = 100;
    b.vw = NAN;
    b.n = -1;
    b.seq = (uint64_t)i + 1;
    b.pub = PUB;
    return b;
}

/* The fake's side of cfg.fetch: the request is taken, to be answered
 * by s_answer(). */
static int s_fake_fetch(void *arg, engine_t *e, int ep, const char *name,
                        const struct history_req *r, int timeout_ms,
                        char *err)
{
    struct fake *f = arg;
    (void)name; (void)timeout_ms; (void)err;

    assert_false(f->pending);       /* one endpoint: one at a time */
    if (f->nreq < MAX_REQ)
        f->req[f->nreq] = *r;
    f->nreq++;
    f->e = e;
    f->pending = 1;
    f->ep = ep;
    return 0;
}

/* The fake answers its request (from the bars published so far). */
static void s_answer(struct fake *f)
{
    const struct history_req *r;
    struct bar *bars;
    char err[ERR_LEN];
    int k = -1, from, to;
    size_t n;

    assert_true(f->pending && f->nreq <= MAX_REQ);
    f->pending = 0;
    r = &f->req[f->nreq - 1];
    for (int j = 0; j < NSYM; j++)
        if (f->syms[j] && strcmp(f->syms[j], r->sym) == 0)
            k = j;
    if (k < 0) {
        snprintf(err, ERR_LEN, "fake: unknown symbol '%s'", r->sym);
        engine_history_reply(f->e, f->ep, ERR_NOTFOUND, NULL, 0, 0, 0, err);
        return;
    }
    if (f->fail[k] > 0) {
        f->fail[k]--;
        snprintf(err, ERR_LEN, "fake: no answer for %s", r->sym);
        engine_history_reply(f->e, f->ep, ERR_TIMEOUT, NULL, 0, 0, 0, err);
        return;
    }
    if (r->since >= 0) {
        from = (int)((r->since - T0) / (TF * 1000)) + 1;
        if (from < 0)
            from = 0;
        to = from + (int)r->n < f->avail ? from + (int)r->n : f->avail;
    } else {
        to = f->avail;
        from = to - (int)r->n > 0 ? to - (int)r->n : 0;
    }
    n = to > from ? (size_t)(to - from) : 0;
    bars = malloc((n ? n : 1) * sizeof *bars);
    assert_non_null(bars);
    for (int i = from; i < to; i++) {
        bars[i - from] = s_bar(r->sym, i);
        bars[i - from].c += f->shift;
        bars[i - from].h += f->shift;
    }
    engine_history_reply(f->e, f->ep, ERR_OK, bars, n, (uint64_t)f->avail,
                         0, NULL);
}

/* The fake answers until nothing is asked. */
static void s_answer_all(struct fake *f)
{
    for (int i = 0; i < 100 && f->pending; i++)
        s_answer(f);
    assert_false(f->pending);
}

static void s_rmdir(const char *dir)
{
    char cmd[256];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void s_world_init(struct world *w, int nsym, int journal)
{
    FILE *fp;

    memset(w, 0, sizeof *w);
    snprintf(w->dir, sizeof w->dir, "/tmp/lt_engine_XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->path, sizeof w->path, "%s/s.lua", w->dir);
    fp = fopen(w->path, "w");
    assert_non_null(fp);
    fputs(s_strategy, fp);
    fclose(fp);
    snprintf(w->ep_sub, sizeof w->ep_sub, "ipc://%s/bars", w->dir);
    snprintf(w->ep_pub, sizeof w->ep_pub, "ipc://%s/sig", w->dir);
    snprintf(w->ep_rep, sizeof w->ep_rep, "ipc://%s/rep", w->dir);
    snprintf(w->journal, sizeof w->journal, "%s/journal", w->dir);
    snprintf(w->name[0], sizeof w->name[0], "AAA");
    snprintf(w->name[1], sizeof w->name[1], "BBB");
    w->names[0] = w->name[0];
    w->names[1] = w->name[1];
    w->fake.syms[0] = "AAA";
    w->fake.syms[1] = "BBB";
    w->fake.avail = 100;
    broker_cfg_default(&w->bcfg);
    w->cfg.strategy = w->path;
    w->cfg.symbols = nsym == 1 ? "AAA" : "AAA,BBB";
    w->cfg.syms = w->names;
    w->cfg.nsym = nsym;
    w->cfg.sub_ep = w->ep_sub;
    w->cfg.pub_ep = w->ep_pub;
    w->cfg.rep_ep = w->ep_rep;
    w->cfg.hist_ep = "fake://history";
    w->cfg.lookback = LB;
    w->cfg.journal_dir = journal ? w->journal : "";
    w->cfg.fsync = "no";
    w->cfg.journal_mb = 16;
    w->cfg.journal_days = 0;
    w->cfg.bcfg = &w->bcfg;
    w->cfg.fetch = s_fake_fetch;
    w->cfg.fetch_arg = &w->fake;
}

/* A new engine on the world's config, started: the first warm-up step
 * is done (its request is not answered yet). */
static void s_start(struct world *w)
{
    char err[ERR_LEN];
    int status = -1;

    w->e = engine_new(&w->cfg, err, &status);
    if (!w->e)
        fail_msg("engine_new: %s", err);
    assert_int_equal(status, 0);
    w->loop = loop_new();
    assert_non_null(w->loop);
    if (engine_start(w->e, w->loop, err))
        fail_msg("engine_start: %s", err);
}

/* A world of one symbol, started and warmed up: that symbol. */
static struct sym *s_live_one(struct world *w)
{
    s_world_init(w, 1, 0);
    s_start(w);
    s_answer_all(&w->fake);
    assert_true(w->e->syms[0].live);
    return &w->e->syms[0];
}

static void s_stop(struct world *w)
{
    engine_destroy(&w->e);
    assert_null(w->e);
    loop_destroy(&w->loop);
}

/* cmocka runs the teardown after a failed test too: no socket stays
 * open to hang bus_term(), no directory is left behind. */
static int s_setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);

    if (!w)
        return -1;
    *state = w;
    return 0;
}

static int s_teardown(void **state)
{
    struct world *w = *state;

    s_stop(w);
    bus_term();
    if (*w->dir)
        s_rmdir(w->dir);
    free(w);
    return 0;
}

/* Bar i of sym, as it comes off the bar bus. */
static void s_send(engine_t *e, const char *sym, int i)
{
    struct bar b = s_bar(sym, i);
    char topic[BUS_TOPIC_MAX];
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_bar_pack(&pk, &b);
    bus_topic(topic, "bar", sym);
    engine_on_message(e, topic, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* The history is run with signals off, then live bars go through with
 * signals on. */
static void test_warmup_then_live(void **state)
{
    struct world *w = *state;
    struct sym *y;

    s_world_init(w, 1, 0);
    s_start(w);
    y = &w->e->syms[0];
    assert_false(y->live);              /* until the history has come */
    s_answer_all(&w->fake);
    assert_int_equal(w->fake.nreq, 1);
    assert_int_equal(w->fake.req[0].n, LB);
    assert_int_equal(w->fake.req[0].since, -1);
    assert_true(y->live);
    assert_int_equal(w->e->warming, 0);
    assert_int_equal(y->warm_bars, LB);
    assert_int_equal(y->run->bars, LB);
    assert_int_equal(y->run->last_t, s_bar("AAA", 99).t);
    assert_int_equal(w->e->signals_run, 0);  /* none from the history */
    for (int i = 100; i < 140; i++)
        s_send(w->e, "AAA", i);
    assert_int_equal(w->e->bars_in, 40);
    assert_int_equal(y->run->bars, LB + 40);
    assert_int_equal(y->first_live_t, s_bar("AAA", 100).t);
    assert_true(w->e->signals_run > 0);
    assert_int_equal(y->published, w->e->signals_run);
    assert_int_equal(w->e->gaps + w->e->dups + w->e->old + w->e->bad, 0);
}

/* While a symbol's history is outstanding its live bars are held; the
 * history comes with some of them in it (the feeder published them
 * before it answered), so more is asked; then the history runs, the
 * bars it shares with the held ones once, live, and the rest of the held
 * bars after them, in order. */
static void test_bars_held_while_history_outstanding(void **state)
{
    struct world *w = *state;
    struct sym *y;

    s_world_init(w, 1, 0);
    s_start(w);
    y = &w->e->syms[0];
    assert_int_equal(w->fake.nreq, 1);
    for (int i = 100; i < 105; i++)
        s_send(w->e, "AAA", i);
    assert_int_equal(y->nbuf, 5);
    assert_int_equal(y->run->bars, 0);
    w->fake.avail = 103;                /* 100..102 in the history too */
    s_answer(&w->fake);
    assert_false(y->live);
    assert_int_equal(w->fake.nreq, 2);  /* lookback before bar 100 */
    assert_int_equal(w->fake.req[1].n, LB + 3 + 64);
    s_send(w->e, "AAA", 105);           /* still held */
    assert_int_equal(y->nbuf, 6);
    s_answer(&w->fake);
    assert_true(y->live);
    assert_int_equal(y->nbuf, 0);
    assert_int_equal(y->warm_bars, LB + 3);
    assert_int_equal(y->first_live_t, s_bar("AAA", 100).t);
    assert_int_equal(y->run->bars, LB + 6);
    for (int i = 0; i < LB + 6; i++)
        assert_int_equal((int64_t)y->run->data.time.v[i],
                         s_bar("AAA", 80 + i).t);
    assert_int_equal(w->e->dups, 3);    /* 100..102, had from history */
    assert_int_equal(w->e->old + w->e->gaps, 0);
    assert_int_equal(y->last_seq, 106);
    s_send(w->e, "AAA", 106);
    assert_int_equal(y->run->bars, LB + 7);
}

/* A live bar whose seq skips three: it and the bars after it are held
 * until the three have come from history; then they run in order, each
 * once. */
static void test_gap_filled_before_the_bar(void **state)
{
    struct world *w = *state;
    struct sym *y = s_live_one(w);

    w->fake.avail = 200;
    s_send(w->e, "AAA", 100);
    s_send(w->e, "AAA", 101);
    assert_int_equal(w->fake.nreq, 1);
    s_send(w->e, "AAA", 105);
    assert_int_equal(w->fake.nreq, 2);
    assert_int_equal(w->fake.req[1].since, s_bar("AAA", 101).t);
    assert_int_equal(w->fake.req[1].n, 3);
    assert_int_equal(w->e->gaps, 1);
    assert_int_equal(w->e->missed, 3);
    assert_true(y->repairing);
    s_send(w->e, "AAA", 106);            /* held behind the gap */
    assert_int_equal(y->nbuf, 2);
    assert_int_equal(y->run->bars, LB + 2);
    s_answer(&w->fake);
    assert_false(y->repairing);
    assert_int_equal(y->nbuf, 0);
    assert_int_equal(w->e->recovered, 3);
    assert_int_equal(w->e->old + w->e->dups, 0);
    assert_int_equal(y->run->bars, LB + 7);
    assert_int_equal(y->run->last_t, s_bar("AAA", 106).t);
    assert_int_equal(y->last_seq, 107);
    /* in order: 102..104, then 105, 106 */
    for (int i = 0; i < 5; i++)
        assert_int_equal((int64_t)y->run->data.time.v[LB + 2 + i],
                         s_bar("AAA", 102 + i).t);
    s_send(w->e, "AAA", 107);            /* the stream goes on */
    assert_int_equal(w->e->gaps, 1);
    assert_int_equal(y->run->bars, LB + 8);
}

/* A gap whose history does not come: the held bars go through anyway,
 * the gap left. */
static void test_gap_not_filled(void **state)
{
    struct world *w = *state;
    struct sym *y = s_live_one(w);

    s_send(w->e, "AAA", 100);
    s_send(w->e, "AAA", 103);
    s_send(w->e, "AAA", 104);
    assert_int_equal(y->nbuf, 2);
    w->fake.fail[0] = 1;
    s_answer(&w->fake);
    assert_int_equal(y->nbuf, 0);
    assert_int_equal(w->e->recovered, 0);
    assert_int_equal(y->run->bars, LB + 3);
    assert_int_equal(y->run->last_t, s_bar("AAA", 104).t);
    assert_int_equal(w->fake.nreq, 2);   /* not asked again */
}

/* AAA's feeder does not answer: BBB goes live on the next step without
 * waiting for AAA's retry; AAA's live bars wait in its buffer; once its
 * retry is due it warms up, and the buffered bars go through live. */
static void test_failed_history_retries(void **state)
{
    struct world *w = *state;
    struct sym *a, *b;

    s_world_init(w, 2, 0);
    w->fake.fail[0] = 1;
    s_start(w);
    a = &w->e->syms[0];
    b = &w->e->syms[1];
    assert_string_equal(a->run->sym, "AAA");
    assert_int_equal(w->fake.nreq, 1);   /* AAA's; BBB's waits its turn */
    s_answer(&w->fake);                  /* AAA: no answer */
    assert_false(a->live);
    assert_true(a->next_try > mono_ms());
    assert_int_equal(w->fake.nreq, 2);   /* BBB's, at once */
    s_answer(&w->fake);
    engine_warm_step(w->e);
    assert_true(b->live);
    assert_false(a->live);
    assert_int_equal(w->fake.nreq, 2);   /* AAA not asked again yet */
    assert_int_equal(w->e->warming, 1);
    s_send(w->e, "BBB", 100);
    assert_int_equal(b->run->bars, LB + 1);
    s_send(w->e, "AAA", 100);
    assert_int_equal(a->nbuf, 1);
    assert_int_equal(a->run->bars, 0);
    a->next_try = 0;                    /* its retry is due */
    engine_warm_step(w->e);
    assert_int_equal(w->fake.nreq, 3);
    s_answer_all(&w->fake);
    assert_true(a->live);
    assert_int_equal(w->e->warming, 0);
    assert_int_equal(a->warm_bars, LB);
    assert_int_equal(a->run->bars, LB + 1);
    assert_int_equal(a->first_live_t, s_bar("AAA", 100).t);
}

/* --symbols '*': a symbol is added at its first bar (held while it
 * warms up from history, the others running on), numbered once; with
 * --shard only the shard's symbols are taken. */
static void test_every_symbol(void **state)
{
    struct world *w = *state;
    struct sym *y;
    const char *other;
    int mine;

    s_world_init(w, 0, 0);
    w->cfg.all = 1;
    w->cfg.syms = NULL;
    w->cfg.symbols = "*";
    s_start(w);
    assert_int_equal(w->e->nsym, 0);
    assert_int_equal(w->e->warming, 0);
    s_send(w->e, "BBB", 100);               /* its first bar: held */
    assert_int_equal(w->e->nsym, 1);
    assert_int_equal(w->e->warming, 1);
    y = &w->e->syms[0];
    assert_string_equal(y->run->sym, "BBB");
    assert_false(y->live);
    assert_int_equal(y->nbuf, 1);
    engine_warm_step(w->e);
    assert_int_equal(w->fake.nreq, 1);
    assert_string_equal(w->fake.req[0].sym, "BBB");
    s_send(w->e, "AAA", 100);               /* another, while BBB warms */
    assert_int_equal(w->e->nsym, 2);
    assert_int_equal(engine_find(w->e, "AAA"), 1);
    s_answer_all(&w->fake);
    engine_warm_step(w->e);
    s_answer_all(&w->fake);
    assert_int_equal(w->e->warming, 0);
    for (int k = 0; k < 2; k++) {
        y = &w->e->syms[k];
        assert_true(y->live);
        assert_int_equal(y->warm_bars, LB);
        assert_int_equal(y->run->bars, LB + 1);     /* with the held bar */
    }
    s_send(w->e, "BBB", 101);               /* live at once */
    assert_int_equal(w->e->nsym, 2);
    assert_int_equal(w->e->syms[0].run->bars, LB + 2);
    s_stop(w);
    s_rmdir(w->dir);

    /* Shard 0 of 2 takes AAA or BBB, not the other. */
    s_world_init(w, 0, 0);
    w->cfg.all = 1;
    w->cfg.syms = NULL;
    w->cfg.symbols = "*";
    w->cfg.shard_n = 2;
    w->cfg.shard_i = 0;
    mine = symbol_shard("AAA", 2) == 0;
    assert_int_not_equal(symbol_shard("AAA", 2), symbol_shard("BBB", 2));
    other = mine ? "BBB" : "AAA";
    s_start(w);
    s_send(w->e, other, 100);
    assert_int_equal(w->e->nsym, 0);
    assert_int_equal(w->e->unknown, 1);
    s_send(w->e, mine ? "AAA" : "BBB", 100);
    assert_int_equal(w->e->nsym, 1);
    assert_string_equal(w->e->syms[0].run->sym, mine ? "AAA" : "BBB");
}

/* --symbols '*' after a restart: the symbols the journal has come back
 * at once and warm up from their mark, before any bar of theirs. */
static void test_every_symbol_restart(void **state)
{
    struct world *w = *state;

    s_world_init(w, 0, 1);
    w->cfg.all = 1;
    w->cfg.syms = NULL;
    w->cfg.symbols = "*";
    s_start(w);
    s_send(w->e, "BBB", 100);
    engine_warm_step(w->e);
    s_answer_all(&w->fake);
    assert_true(w->e->syms[0].live);        /* its mark is journalled */
    engine_drain(w->e);
    engine_destroy(&w->e);
    loop_destroy(&w->loop);
    memset(&w->fake.req, 0, sizeof w->fake.req);
    w->fake.nreq = 0;
    s_start(w);
    assert_int_equal(w->e->nsym, 1);
    assert_string_equal(w->e->syms[0].run->sym, "BBB");
    assert_int_equal(w->e->warming, 1);
    assert_int_equal(w->e->syms[0].mark_t, s_bar("BBB", 100).t);
    engine_warm_step(w->e);
    assert_int_equal(w->fake.nreq, 1);
    assert_string_equal(w->fake.req[0].sym, "BBB");
    assert_true(w->fake.req[0].since >= 0);     /* from around the mark */
}

/* A restart on the journal's feed: the history is asked for around the
 * journal's mark, the bars after it go through live (caught up), and the
 * sequence numbers go on. */
static void test_resume_after_journal(void **state)
{
    struct world *w = *state;
    struct sym *y;
    uint64_t seq1;

    s_world_init(w, 1, 1);
    s_start(w);
    s_answer_all(&w->fake);
    for (int i = 100; i < 130; i++)
        s_send(w->e, "AAA", i);
    seq1 = w->e->sig_seq;
    assert_true(seq1 > 0);
    engine_drain(w->e);                  /* marks AAA at bar 129 */
    s_stop(w);

    w->fake.avail = 150;
    w->fake.nreq = 0;
    s_start(w);
    s_answer_all(&w->fake);
    y = &w->e->syms[0];
    assert_int_equal(y->mark_t, s_bar("AAA", 129).t);
    assert_int_equal(w->e->seq0, seq1);
    assert_int_equal(w->fake.nreq, 1);
    assert_int_equal(w->fake.req[0].since,
                     s_bar("AAA", 129 - LB - 1).t);
    assert_true(y->live);
    assert_int_equal(y->run_kind, RUN_RESUME);
    assert_int_equal(w->e->runs[RUN_RESUME], 1);
    assert_int_equal(y->first_live_t, s_bar("AAA", 130).t);
    assert_int_equal(y->run->last_t, s_bar("AAA", 149).t);
    assert_true(w->e->caught_up > 0);
    assert_int_equal(w->e->caught_up, w->e->signals_run);
    assert_int_equal(w->e->sig_seq, seq1 + w->e->signals_run);
}

/* The same journal, but the feeders' history has another close at the
 * mark: another feed, so a new run; the history is asked for again (the
 * last `lookback` bars) and run with signals off. */
static void test_new_feed_after_journal(void **state)
{
    struct world *w = *state;
    struct sym *y;

    s_world_init(w, 1, 1);
    s_start(w);
    s_answer_all(&w->fake);
    for (int i = 100; i < 110; i++)
        s_send(w->e, "AAA", i);
    engine_drain(w->e);
    s_stop(w);

    w->fake.avail = 150;
    w->fake.shift = 1;
    w->fake.nreq = 0;
    s_start(w);
    s_answer_all(&w->fake);
    y = &w->e->syms[0];
    assert_int_equal(y->mark_t, s_bar("AAA", 109).t);
    assert_int_equal(y->run_kind, RUN_NEW_FEED);
    assert_int_equal(w->e->runs[RUN_NEW_FEED], 1);
    assert_int_equal(w->fake.nreq, 2);
    assert_int_equal(w->fake.req[1].since, -1);
    assert_int_equal(w->fake.req[1].n, LB);
    assert_int_equal(y->warm_bars, LB);
    assert_int_equal(y->first_live_t, -1);
    assert_int_equal(w->e->signals_run + w->e->caught_up, 0);
}

static const msgpack_object *s_sym_at(const msgpack_object *st, int k)
{
    const msgpack_object *a = mp_get(st, "symbols");

    assert_non_null(a);
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    assert_true((int)a->via.array.size > k);
    return &a->via.array.ptr[k];
}

/* The status reply: the engine's counters and each symbol's. */
static void test_status(void **state)
{
    struct world *w = *state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    const msgpack_object *st, *y;
    char s[64];
    int64_t v;
    size_t off;

    s_world_init(w, 2, 0);
    w->fake.fail[1] = 1;                 /* BBB still warming */
    s_start(w);
    s_answer_all(&w->fake);
    for (int i = 100; i < 110; i++)
        s_send(w->e, "AAA", i);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    engine_pack_status(w->e, &pk);
    msgpack_unpacked_init(&u);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);     /* the map's size is its content */
    st = &u.data;
    for (size_t i = 0; i < engine_ncounters; i++) {
        uint64_t c;
        assert_int_equal(mp_uint(st, engine_counters[i].key, &c), 0);
        assert_int_equal(c, counter_value(&engine_counters[i], w->e));
    }
    assert_true(mp_is(mp_get(st, "type"), "status"));
    assert_int_equal(mp_str(st, "prog", s, sizeof s), 0);
    assert_string_equal(s, "livetrade-engine");
    assert_int_equal(mp_str(st, "id", s, sizeof s), 0);
    assert_string_equal(s, engine_id(w->e));
    assert_int_equal(mp_int(st, "lookback", &v), 0);
    assert_int_equal(v, LB);
    assert_int_equal(mp_int(st, "bars_in", &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(mp_int(st, "published", &v), 0);
    assert_int_equal((uint64_t)v, w->e->signals_run);
    y = s_sym_at(st, 0);
    assert_int_equal(mp_str(y, "sym", s, sizeof s), 0);
    assert_string_equal(s, "AAA");
    assert_true(mp_get(y, "live")->type == MSGPACK_OBJECT_BOOLEAN &&
                mp_get(y, "live")->via.boolean);
    assert_int_equal(mp_int(y, "bars", &v), 0);
    assert_int_equal(v, LB + 10);
    assert_int_equal(mp_int(y, "warm_bars", &v), 0);
    assert_int_equal(v, LB);
    assert_int_equal(mp_int(y, "first_live_t", &v), 0);
    assert_int_equal(v, s_bar("AAA", 100).t);
    assert_int_equal(mp_int(y, "last_t", &v), 0);
    assert_int_equal(v, s_bar("AAA", 109).t);
    y = s_sym_at(st, 1);
    assert_int_equal(mp_str(y, "sym", s, sizeof s), 0);
    assert_string_equal(s, "BBB");
    assert_false(mp_get(y, "live")->via.boolean);
    assert_int_equal(mp_int(y, "last_t", &v), 0);
    assert_int_equal(v, -1);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void s_noop_io(loop_t *loop, void *sock, int fd, void *arg)
{
    (void)loop; (void)sock; (void)fd; (void)arg;
}

static void s_noop_timer(loop_t *loop, void *arg)
{
    (void)loop; (void)arg;
}

/* An event loop that cannot take the engine's sockets or timers: the
 * start fails with one line, and nothing is left half-registered to run. */
static void test_start_fails_on_a_full_loop(void **state)
{
    struct world *w = *state;
    char err[ERR_LEN];
    int status = -1, full;

    for (int what = 0; what < 2; what++) {
        s_world_init(w, 1, 0);
        w->e = engine_new(&w->cfg, err, &status);
        assert_non_null(w->e);
        w->loop = loop_new();
        assert_non_null(w->loop);
        full = 0;
        for (int i = 0; i < 1000 && !full; i++)
            full = what ? loop_add_timer(w->loop, 60000, s_noop_timer,
                                         NULL) < 0 :
                          loop_add_fd(w->loop, 0, s_noop_io, NULL) != 0;
        assert_true(full);
        err[0] = '\0';
        assert_int_equal(engine_start(w->e, w->loop, err), 1);
        assert_non_null(strstr(err, "event loop"));
        assert_int_equal(w->fake.nreq, 0);  /* no warm-up began */
        s_stop(w);
        bus_term();
        s_rmdir(w->dir);
        w->dir[0] = '\0';
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_warmup_then_live, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_bars_held_while_history_outstanding, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gap_filled_before_the_bar,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gap_not_filled, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_failed_history_retries, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_journal, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_new_feed_after_journal, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_status, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_every_symbol, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_every_symbol_restart, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_start_fails_on_a_full_loop,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
