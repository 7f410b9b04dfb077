/* alert.c -- the alert output: signals as webhook messages (Slack,
 * Discord, Telegram, generic JSON), with retries, rate limits, a spool
 * and a dead-letter file.
 *
 * This file runs on the sink's thread: flags, filters, and the flow of a
 * signal. write() filters it, appends it to the spool (alert_spool.c)
 * for the destinations that do not have it yet, and queues it to each of
 * their delivery threads (alert_worker.c); the outcomes come back on a
 * PULL socket in the sink's event loop and are recorded in the spool, a
 * signal given up going to the dead-letter file. At start, what the
 * files say is still due is queued again. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <zmq.h>

#include "alert.h"
#include "bus.h"
#include "config.h"
#include "dedup.h"
#include "log.h"
#include "sink.h"
#include "util.h"

#define ALERT_STOP_GRACE_MS 2000    /* for a request in flight at exit */
#define ALERT_KNOWN_MIN 8192        /* delivered ids remembered, per
                                       destination, beyond those queued */

/* {==================== settings ====================== */

static struct {
    struct opt_multi slack, discord, telegram, webhook, tmpl;
    const char *telegram_api;       /* --telegram-api */
    double rate;                    /* --rate, generic webhooks, per s */
    double timeout;                 /* --timeout, s */
    int64_t retries;                /* --retries */
    double backoff, max_backoff;    /* --backoff, --max-backoff, s */
    const char *actions;            /* --actions */
    double min_conf;                /* --min-confidence */
    const char *spool, *dead;       /* --spool, --dead-letter */
    int64_t max_queue;              /* --max-queue */
} s_cfg = {
    .telegram_api = "https://api.telegram.org",
    .rate = 5, .timeout = 10, .retries = 5, .backoff = 1,
    .max_backoff = 60, .min_conf = 0, .max_queue = 10000,
};

static const struct opt s_opts[] = {
    { "slack", OPT_MULTI, &s_cfg.slack, "SLACK_WEBHOOK_URL", "URL",
      "Slack incoming webhook (repeatable; any destination can be "
      "env:NAME or file:PATH)" },
    { "discord", OPT_MULTI, &s_cfg.discord, "DISCORD_WEBHOOK_URL", "URL",
      "Discord webhook (repeatable)" },
    { "telegram", OPT_MULTI, &s_cfg.telegram, NULL, "TOKEN:CHAT_ID",
      "Telegram bot and chat (repeatable)" },
    { "webhook", OPT_MULTI, &s_cfg.webhook, NULL, "URL",
      "generic JSON webhook (repeatable)" },
    { "template", OPT_MULTI, &s_cfg.tmpl, NULL, "TEXT|@FILE",
      "webhook body with {fields} (one for all, or one per --webhook)" },
    { "telegram-api", OPT_STR, &s_cfg.telegram_api, NULL, "URL",
      "Telegram Bot API base (default https://api.telegram.org)" },
    { "rate", OPT_DBL, &s_cfg.rate, NULL, "N",
      "requests per second per generic webhook (default 5)" },
    { "timeout", OPT_DBL, &s_cfg.timeout, NULL, "SEC",
      "per request, connecting included (default 10)" },
    { "retries", OPT_INT, &s_cfg.retries, NULL, "N",
      "tries after the first before a signal is given up (default 5)" },
    { "backoff", OPT_DBL, &s_cfg.backoff, NULL, "SEC",
      "first wait between tries, doubled each time (default 1)" },
    { "max-backoff", OPT_DBL, &s_cfg.max_backoff, NULL, "SEC",
      "longest wait between tries, Retry-After included (default 60)" },
    { "actions", OPT_STR, &s_cfg.actions, NULL, "buy,sell,close",
      "only these actions (default: all)" },
    { "min-confidence", OPT_DBL, &s_cfg.min_conf, NULL, "X",
      "only signals with confidence >= X, in [0, 1] (default 0)" },
    { "spool", OPT_STR, &s_cfg.spool, NULL, "FILE",
      "outbox of accepted signals (default STATE/alert-spool.jsonl)" },
    { "dead-letter", OPT_STR, &s_cfg.dead, NULL, "FILE",
      "signals given up (default STATE/alert-dead.jsonl)" },
    { "max-queue", OPT_INT, &s_cfg.max_queue, NULL, "N",
      "signals waiting per destination before new ones are "
      "dead-lettered (default 10000)" },
    { 0 }
};

/* }==================================================== */

struct s_dest {
    struct alert_dest d;
    alert_worker_t *w;
    dedup_t *known;                 /* ids delivered, queued or given up */
    uint64_t queued;                /* given to the worker, outcome due */
    uint64_t delivered, failed, retried;    /* counters */
};

struct alert {
    struct s_dest dest[ALERT_MAX_DESTS];
    int ndest;
    char *tmpl[ALERT_MAX_DESTS];    /* owned webhook templates */
    unsigned actions;               /* bit per enum sig_action */
    const char *keys[ALERT_MAX_DESTS];  /* dest[i].d.key */
    struct alert_files files;       /* spool and dead letters */
    int files_open;                 /* alert_files_open was called */
    void *results;                  /* PULL: outcomes from the workers */
    char results_ep[64];
    uint64_t filtered, known, accepted;     /* counters */
    struct log_limit lim_full;      /* --max-queue reached */
    int curl_ok;                    /* curl_global_init done */
};

/* {==================== delivery ====================== */

static int s_dest_index(const struct alert *self, const char *key)
{
    for (int i = 0; i < self->ndest; i++)
        if (strcmp(self->dest[i].d.key, key) == 0)
            return i;
    return -1;
}

/* Hands `s` to destination i's thread. 0 or -1. */
static int s_queue(struct alert *self, int i, const struct signal *s,
                   int from_dead)
{
    struct alert_job job;

    memset(&job, 0, sizeof job);
    job.s = *s;
    job.from_dead = from_dead;
    if (alert_worker_send(self->dest[i].w, &job) != 0)
        return -1;
    self->dest[i].queued++;
    dedup_add(self->dest[i].known, s->id);
    return 0;
}

/* Handles the outcomes the workers sent back: a delivery is marked done
 * in the spool (and its dead letter, if it was one, removed); a signal
 * given up is appended to the dead-letter file, then marked dead, so a
 * crash in between leaves it due rather than lost. */
static void s_on_results(loop_t *loop, void *sock, int fd, void *arg)
{
    struct alert *self = arg;
    struct alert_result r;
    (void)loop;
    (void)fd;

    while (zmq_recv(sock, &r, sizeof r, ZMQ_DONTWAIT) == (int)sizeof r) {
        struct s_dest *d;
        if (r.dest < 0 || r.dest >= self->ndest)
            continue;
        d = &self->dest[r.dest];
        r.err[ERR_LEN - 1] = '\0';
        r.s.id[sizeof r.s.id - 1] = '\0';
        if (d->queued)
            d->queued--;
        if (r.ok) {
            d->delivered++;
            alert_spool_mark(&self->files, "done", d->d.key, r.s.id);
            if (r.from_dead)
                alert_dead_remove(&self->files, d->d.key, r.s.id);
        } else {
            d->failed++;
            if (!r.from_dead &&
                alert_dead_append(&self->files, d->d.key, d->d.name, &r.s,
                                  r.err, r.tries) == 0)
                alert_spool_mark(&self->files, "dead", d->d.key, r.s.id);
        }
    }
    alert_spool_compact(&self->files);
}

/* }==================================================== */

/* {==================== open ========================== */

static int s_parse_actions(const char *list, unsigned *mask, char *err)
{
    char buf[256], *items[8];
    int n;

    if (strfmt(buf, sizeof buf, "%s", list) < 0 ||
        (n = split_list(buf, items, 8)) < 0) {
        snprintf(err, ERR_LEN, "--actions: expected a list of buy, sell, "
                 "close");
        return ERR_USAGE;
    }
    *mask = 0;
    for (int i = 0; i < n; i++) {
        int a = msg_signal_action_parse(items[i]);
        if (a < 0) {
            snprintf(err, ERR_LEN, "--actions: unknown action '%.32s' "
                     "(expected buy, sell or close)", items[i]);
            return ERR_USAGE;
        }
        *mask |= 1u << a;
    }
    if (!*mask) {
        snprintf(err, ERR_LEN, "--actions is empty");
        return ERR_USAGE;
    }
    return 0;
}

static int s_check_numbers(char *err)
{
    const char *bad = NULL;

    if (!(s_cfg.timeout > 0 && s_cfg.timeout <= 3600))
        bad = "--timeout must be in (0, 3600] seconds";
    else if (s_cfg.retries < 0 || s_cfg.retries > 100)
        bad = "--retries must be in [0, 100]";
    else if (!(s_cfg.backoff > 0 && s_cfg.backoff <= 3600))
        bad = "--backoff must be in (0, 3600] seconds";
    else if (!(s_cfg.max_backoff >= s_cfg.backoff &&
               s_cfg.max_backoff <= 86400))
        bad = "--max-backoff must be at least --backoff and at most 86400";
    else if (!(s_cfg.rate > 0 && s_cfg.rate <= 1000))
        bad = "--rate must be in (0, 1000] requests per second";
    else if (!(s_cfg.min_conf >= 0 && s_cfg.min_conf <= 1))
        bad = "--min-confidence must be in [0, 1]";
    else if (s_cfg.max_queue < 1 || s_cfg.max_queue > 100000)
        bad = "--max-queue must be in [1, 100000]";
    if (bad) {
        snprintf(err, ERR_LEN, "%s", bad);
        return ERR_USAGE;
    }
    return 0;
}

/* A destination's value as given, or its secret from elsewhere, so none
 * needs to be on a command line: "env:NAME" is the environment variable
 * (or .env setting) NAME, "file:PATH" the first line of file PATH. In
 * out[n]; 0, or ERR_USAGE with a reason (never the secret) in err. */
static int s_secret(const char *flag, const char *arg, char *out, size_t n,
                    char *err)
{
    size_t len;

    if (strncmp(arg, "env:", 4) == 0) {
        const char *v = arg[4] ? config_env(arg + 4) : NULL;
        if (!v || !*v) {
            snprintf(err, ERR_LEN, "--%s %.100s: %.100s is not set", flag,
                     arg, arg + 4);
            return ERR_USAGE;
        }
        if (strfmt(out, n, "%s", v) < 0) {
            snprintf(err, ERR_LEN, "--%s %.100s: the value is too long",
                     flag, arg);
            return ERR_USAGE;
        }
    } else if (strncmp(arg, "file:", 5) == 0) {
        FILE *f = fopen(arg + 5, "r");
        if (!f) {
            snprintf(err, ERR_LEN, "--%s %.200s: %s", flag, arg,
                     strerror(errno));
            return ERR_USAGE;
        }
        if (!fgets(out, (int)n, f))
            out[0] = '\0';
        fclose(f);
        len = strlen(out);
        if (len + 1 >= n && out[len - 1] != '\n') {
            snprintf(err, ERR_LEN, "--%s %.200s: the first line is too "
                     "long", flag, arg);
            return ERR_USAGE;
        }
    } else if (strfmt(out, n, "%s", arg) < 0) {
        snprintf(err, ERR_LEN, "--%s: the value is too long", flag);
        return ERR_USAGE;
    }
    len = strlen(out);
    while (len && strchr("\r\n \t", out[len - 1]))
        out[--len] = '\0';
    if (!len) {
        snprintf(err, ERR_LEN, "--%s %.200s: empty", flag, arg);
        return ERR_USAGE;
    }
    return 0;
}

/* A template from --template: the text, or a file's content for @FILE.
 * Malloc'd; NULL with a reason in err. */
static char *s_load_template(const char *arg, char *err)
{
    char *t;
    size_t n;
    FILE *f;

    if (arg[0] != '@') {
        t = strdup(arg);
        if (!t)
            snprintf(err, ERR_LEN, "out of memory");
        return t;
    }
    f = fopen(arg + 1, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "--template: cannot read %.200s: %s",
                 arg + 1, strerror(errno));
        return NULL;
    }
    t = malloc(ALERT_TEMPLATE_MAX + 1);
    n = t ? fread(t, 1, ALERT_TEMPLATE_MAX + 1, f) : 0;
    fclose(f);
    if (!t || n > ALERT_TEMPLATE_MAX) {
        snprintf(err, ERR_LEN, "--template: %.200s is larger than %u bytes",
                 arg + 1, ALERT_TEMPLATE_MAX);
        free(t);
        return NULL;
    }
    t[n] = '\0';
    return t;
}

/* Fills self->dest from the flags. 0 or ERR_USAGE / ERR_NOMEM. */
static int s_destinations(struct alert *self, char *err)
{
    static char val[ALERT_URL_MAX];
    const struct { struct opt_multi *m; int kind; } flags[] = {
        { &s_cfg.slack, ALERT_SLACK }, { &s_cfg.discord, ALERT_DISCORD },
        { &s_cfg.telegram, ALERT_TELEGRAM }, { &s_cfg.webhook, ALERT_WEBHOOK },
    };
    int nt = s_cfg.tmpl.n, nw = s_cfg.webhook.n, w = 0, rc;

    if (nt > 1 && nt != nw) {
        snprintf(err, ERR_LEN, "%d --template for %d --webhook: give one "
                 "template for all, or one per --webhook", nt, nw);
        return ERR_USAGE;
    }
    if (nt && !nw) {
        snprintf(err, ERR_LEN, "--template applies to --webhook, and none "
                 "was given");
        return ERR_USAGE;
    }
    for (size_t f = 0; f < sizeof flags / sizeof *flags; f++)
        for (int i = 0; i < flags[f].m->n; i++) {
            struct alert_dest *d = &self->dest[self->ndest].d;
            if (self->ndest == ALERT_MAX_DESTS) {
                snprintf(err, ERR_LEN, "too many destinations (at most %d)",
                         ALERT_MAX_DESTS);
                return ERR_USAGE;
            }
            rc = s_secret(alert_kind_name(flags[f].kind), flags[f].m->v[i],
                          val, sizeof val, err);
            if (rc == 0)
                rc = alert_dest_parse(d, flags[f].kind, val,
                                      s_cfg.telegram_api, err);
            explicit_bzero(val, sizeof val);
            if (rc)
                return rc;
            if (s_dest_index(self, d->key) >= 0) {
                snprintf(err, ERR_LEN, "%s is given twice", d->name);
                return ERR_USAGE;
            }
            if (flags[f].kind == ALERT_WEBHOOK) {
                double r = s_cfg.rate;
                d->rate_n = r >= 1 ? (int)r : 1;
                d->rate_ms = (int64_t)llround(1000.0 * d->rate_n / r);
                if (nt) {
                    char *t = s_load_template(s_cfg.tmpl.v[nt > 1 ? w : 0],
                                              err);
                    if (!t)
                        return ERR_USAGE;
                    self->tmpl[self->ndest] = t;
                    d->tmpl = t;
                    rc = alert_template_check(t, err);
                    if (rc)
                        return rc;
                }
                w++;
            }
            self->ndest++;
        }
    if (self->ndest == 0) {
        snprintf(err, ERR_LEN, "alert: give at least one destination: "
                 "--slack, --discord, --telegram or --webhook");
        return ERR_USAGE;
    }
    return 0;
}

/* The spool and dead-letter paths, their directories, and the lock. */
/* Recovery (alert_files_recover): remembers delivered ids, queues what
 * is due unless the destination has it already. */
static int s_found(void *arg, int found, int dest, const char *id,
                   const struct signal *s)
{
    struct alert *self = arg;
    struct s_dest *d = &self->dest[dest];

    if (found == ALERT_FOUND_DONE) {
        dedup_add(d->known, id);
        return 0;
    }
    if (dedup_has(d->known, id) || s_queue(self, dest, s, found ==
                                           ALERT_FOUND_DEAD) != 0)
        return 0;
    if (found == ALERT_FOUND_DEAD)
        d->retried++;
    return 1;
}

static void s_close(void **state);

static int s_open(void **state, char *info, char *err)
{
    struct alert *self = calloc(1, sizeof *self);
    struct alert_net net;
    int rc, requeued;
    size_t o = 0;

    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    self->actions = 7;
    self->lim_full = (struct log_limit)LOG_LIMIT_INIT;
    *state = self;
    rc = s_check_numbers(err);
    if (!rc && s_cfg.actions)
        rc = s_parse_actions(s_cfg.actions, &self->actions, err);
    if (!rc)
        rc = s_destinations(self, err);
    for (int i = 0; !rc && i < self->ndest; i++)
        self->keys[i] = self->dest[i].d.key;
    if (!rc) {
        rc = alert_files_open(&self->files, s_cfg.spool, s_cfg.dead,
                              self->keys, self->ndest, err);
        self->files_open = 1;       /* closable even when it failed */
    }
    if (rc)
        goto fail;
    rc = ERR_NOMEM;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, ERR_LEN, "alert: cannot initialise libcurl");
        goto fail;
    }
    self->curl_ok = 1;
    snprintf(self->results_ep, sizeof self->results_ep,
             "inproc://alert-results-%p", (void *)self);
    self->results = zmq_socket(bus_ctx(), ZMQ_PULL);
    if (self->results) {
        int zero = 0;
        if (zmq_setsockopt(self->results, ZMQ_RCVHWM, &zero,
                           sizeof zero) != 0 ||
            zmq_setsockopt(self->results, ZMQ_LINGER, &zero,
                           sizeof zero) != 0 ||
            zmq_bind(self->results, self->results_ep) != 0) {
            zmq_close(self->results);
            self->results = NULL;
        }
    }
    if (!self->results) {
        snprintf(err, ERR_LEN, "alert: results socket: %s",
                 zmq_strerror(zmq_errno()));
        rc = ERR_IO;
        goto fail;
    }
    net.timeout_ms = (int64_t)llround(s_cfg.timeout * 1000.0);
    net.retries = (int)s_cfg.retries;
    net.backoff_ms = (int64_t)llround(s_cfg.backoff * 1000.0);
    net.max_backoff_ms = (int64_t)llround(s_cfg.max_backoff * 1000.0);
    for (int i = 0; i < self->ndest; i++) {
        struct s_dest *d = &self->dest[i];
        /* Room for every id queued and the recent ones delivered. */
        size_t cap = (size_t)s_cfg.max_queue + ALERT_KNOWN_MIN;
        d->known = dedup_new(cap);
        if (!d->known) {
            snprintf(err, ERR_LEN, "out of memory");
            goto fail;
        }
        d->w = alert_worker_new(&d->d, &net, i, self->results_ep, err);
        if (!d->w) {
            rc = ERR_IO;
            goto fail;
        }
    }
    requeued = alert_files_recover(&self->files, s_found, self, err);
    if (requeued < 0) {
        rc = ERR_IO;
        goto fail;
    }
    o += (size_t)snprintf(info, ERR_LEN, "%d destination%s (", self->ndest,
                          self->ndest == 1 ? "" : "s");
    for (int i = 0; i < self->ndest && o < ERR_LEN; i++)
        o += (size_t)snprintf(info + o, ERR_LEN - o, "%s%s", i ? ", " : "",
                              self->dest[i].d.name);
    if (o < ERR_LEN)
        snprintf(info + o, ERR_LEN - o, "); spool %.120s; %d signal%s "
                 "queued again", self->files.spool, requeued,
                 requeued == 1 ? "" : "s");
    return ERR_OK;

fail:
    s_close(state);
    return rc;
}

/* }==================================================== */

static int s_write(void *state, const struct signal *s)
{
    struct alert *self = state;
    int to[ALERT_MAX_DESTS], nto = 0, rc;

    if (!(self->actions & (1u << s->act)) ||
        (s_cfg.min_conf > 0 && !(s->conf >= s_cfg.min_conf))) {
        self->filtered++;
        log_msg(LL_DEBUG, "alert: signal %s (%s %s, confidence %.2f) "
                "filtered out", s->id, s->sym, signal_action_name(s->act),
                s->conf);
        return ERR_OK;
    }
    for (int i = 0; i < self->ndest; i++) {
        struct s_dest *d = &self->dest[i];
        if (dedup_has(d->known, s->id))
            continue;
        if (d->queued >= (uint64_t)s_cfg.max_queue) {
            char why[ERR_LEN];
            snprintf(why, sizeof why, "%llu signals already waiting "
                     "(--max-queue)", (unsigned long long)d->queued);
            if (alert_dead_append(&self->files, d->d.key, d->d.name, s, why,
                                  0) != 0)
                return ERR_IO;
            log_limited(&self->lim_full, LL_ERROR, "alert: %s: %s; signal "
                        "%s goes to the dead-letter file", d->d.name, why,
                        s->id);
            d->failed++;
            dedup_add(d->known, s->id);
            continue;
        }
        to[nto++] = i;
    }
    if (nto == 0) {
        self->known++;
        return ERR_OK;
    }
    rc = alert_spool_add(&self->files, s, to, nto);
    if (rc)
        return rc;
    self->accepted++;
    for (int i = 0; i < nto; i++)
        if (s_queue(self, to[i], s, 0) != 0)
            return ERR_IO;          /* in the spool: sent at next start */
    return ERR_OK;
}

static int s_attach(void *state, loop_t *loop, char *err)
{
    struct alert *self = state;

    if (loop_add_socket(loop, self->results, s_on_results, self) != 0) {
        snprintf(err, ERR_LEN, "alert: too many event sources");
        return ERR_NOMEM;
    }
    return ERR_OK;
}

static void s_close(void **state)
{
    struct alert *self = *state;
    int running;                    /* the spool was open: it ran */

    if (!self)
        return;
    running = self->files_open && self->files.ready;
    for (int i = 0; i < self->ndest; i++)
        alert_worker_destroy(&self->dest[i].w, ALERT_STOP_GRACE_MS);
    /* Outcomes that came in meanwhile still go to the files. */
    if (self->results && running)
        s_on_results(NULL, self->results, 0, self);
    for (int i = 0; i < self->ndest && running; i++) {
        struct s_dest *d = &self->dest[i];
        log_msg(LL_INFO, "alert: %s: delivered %llu, given up %llu, retried "
                "from the dead-letter file %llu, still due %llu", d->d.name,
                (unsigned long long)d->delivered,
                (unsigned long long)d->failed,
                (unsigned long long)d->retried,
                (unsigned long long)d->queued);
    }
    if (running)
        log_msg(LL_INFO, "alert: accepted %llu signals, filtered out %llu, "
                "already known %llu", (unsigned long long)self->accepted,
                (unsigned long long)self->filtered,
                (unsigned long long)self->known);
    if (self->files_open)
        alert_files_close(&self->files);
    for (int i = 0; i < ALERT_MAX_DESTS; i++) {
        dedup_destroy(&self->dest[i].known);
        free(self->tmpl[i]);
    }
    if (self->results)
        zmq_close(self->results);
    if (self->curl_ok)
        curl_global_cleanup();
    free(self);
    *state = NULL;
}

const struct sink_ops sink_alert = {
    .name = "alert",
    .summary = "send signals to Slack, Discord, Telegram or JSON webhooks",
    .usage = "[--slack URL] [--discord URL] [--telegram TOKEN:CHAT_ID] "
             "[--webhook URL [--template T]] [--actions LIST] "
             "[--min-confidence X] [...]",
    .opts = s_opts,
    .open = s_open,
    .write = s_write,
    .close = s_close,
    .attach = s_attach,
    .quiet_flat_closes = 1,
};
