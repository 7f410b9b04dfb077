/* web.c -- the web output: a live dashboard in the browser.
 *
 *   livetrade-sink web [--listen 127.0.0.1:8080] [--token T]
 *       [--assets DIR] [--history EP,...] [--status EP,...]
 *       [--max-bars N] [--max-signals N] [--bars EP,...] ...
 *
 * The sink keeps, per symbol, the last --max-bars bars (from the bus, and
 * from the feeders' history service when the symbol is first seen: in a
 * bar, a signal, indicator values, or the symbols of an engine's
 * status), the engine's indicator values at those bars (ind| on the bus,
 * and the engines' "indicators" requests the same way; web_ind.c), the
 * last --max-signals signals, and the status of the feeders and engines
 * it polls. Browsers get all of it as a snapshot when they connect, then
 * live updates (web_http.c). The messages, JSON text over the WebSocket:
 *
 *   {"type":"status","now":MS,"components":[...],"sink":{...}}
 *   {"type":"symbol","sym":S,"tf":SEC,"bars":[[t,o,h,l,c,v],...],
 *    "signals":[signal,...][,"ind":{"eng":E,"names":[N,...],
 *    "points":[[t,v,...],...]}]}         the whole of a symbol's data
 *   {"type":"bar","sym":S,"tf":SEC,"bar":[t,o,h,l,c,v]}
 *   {"type":"signal","signal":{...}}      as in the file output's lines
 *   {"type":"ind","sym":S,"eng":E,"t":MS,"ind":{N:v,...}}   one bar's
 *
 * Snapshot part 0 is the status, part i the i-th symbol seen. */
#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "sink.h"
#include "util.h"
#include "web_http.h"
#include "web_ind.h"
#include "web_int.h"
#include "web_worker.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_HISTORY "tcp://127.0.0.1:5556"  /* the feeder's --rep */
#define DEFAULT_STATUS "tcp://127.0.0.1:5558"   /* the engine's --rep */
/* Symbols charted: the first this many seen (a browser shows no more
 * usefully, and each holds --max-bars bars); the others' bars and
 * signals are counted, not charted, and the page and the log say so. */
#define WEB_MAX_SYMBOLS 512
#define TICK_MS 5                   /* lws service */
#define STATUS_TICK_MS 1000         /* status to the browsers */
#define HISTORY_RETRY_MS 5000       /* after a failed history request */
#define JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

struct comp {
    int polled;                     /* a poll has finished */
    int up;                         /* the last one got a reply */
    int64_t checked, last_ok;       /* wall ms */
    char err[ERR_LEN];
    json_t *reply;                  /* the last status reply, or NULL */
};

struct web {
    web_http_t *http;
    web_worker_t *worker;
    struct wsym *syms[WEB_MAX_SYMBOLS];
    int nsyms;
    struct comp comps[WEB_MAX_ENDPOINTS];
    char listen_host[64];
    char assets[PATH_MAX];
    size_t max_bars, max_signals;
    uint64_t bars, old_bars, signals, ignored_syms;
    uint64_t inds, ignored_inds;    /* indicator messages: charted, not */
    int64_t last_bar_t, last_bar_at, last_signal_at;
    struct log_limit lim_old, lim_syms;
};

/* Settings from the web output's own flags. */
static struct {
    const char *listen;             /* --listen */
    const char *token;              /* --token */
    const char *assets;             /* --assets */
    const char *history;            /* --history */
    const char *status;             /* --status */
    int64_t max_bars;               /* --max-bars */
    int64_t max_signals;            /* --max-signals */
} s_cfg = { DEFAULT_LISTEN, NULL, NULL, DEFAULT_HISTORY, DEFAULT_STATUS,
            1000, 500 };

static const struct opt s_opts[] = {
    { "listen", OPT_STR, &s_cfg.listen, NULL, "HOST:PORT",
      "address to serve the dashboard on (default " DEFAULT_LISTEN "); "
      "an address other than loopback needs --token" },
    { "token", OPT_STR, &s_cfg.token, "LIVETRADE_WEB_TOKEN", "T",
      "require T on every request (?token=T once, then a cookie)" },
    { "assets", OPT_STR, &s_cfg.assets, NULL, "DIR",
      "the page's files (default: build/web of the build, else "
      "PREFIX/share/livetrade/web)" },
    { "history", OPT_STR, &s_cfg.history, NULL, "ENDPOINT[,...]",
      "feeders' request endpoints for chart history, asked in order "
      "(default " DEFAULT_HISTORY "; \"\" for none)" },
    { "status", OPT_STR, &s_cfg.status, NULL, "ENDPOINT[,...]",
      "more request endpoints (engines) to poll for status (default "
      DEFAULT_STATUS "; \"\" for none)" },
    { "max-bars", OPT_INT, &s_cfg.max_bars, NULL, "N",
      "bars kept per symbol (default 1000)" },
    { "max-signals", OPT_INT, &s_cfg.max_signals, NULL, "N",
      "signals kept per symbol (default 500)" },
    { 0 }
};

/* {==================== settings ============================= */

int web_token_ok(const char *t)
{
    size_t n = strlen(t);

    if (n < 8 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(t[i] >= 'a' && t[i] <= 'z') && !(t[i] >= 'A' && t[i] <= 'Z') &&
            !(t[i] >= '0' && t[i] <= '9') && !strchr("._~-", t[i]))
            return 0;
    return 1;
}

int web_listen_parse(const char *spec, char *host, size_t hn, int *port,
                     int *loopback, char *err)
{
    const char *colon = strrchr(spec, ':');
    struct in_addr a;
    int64_t p;
    size_t len;

    if (!colon || parse_int64(colon + 1, &p) != 0 || p < 1 || p > 65535) {
        snprintf(err, ERR_LEN, "--listen '%.64s' is not HOST:PORT (e.g. "
                 DEFAULT_LISTEN ")", spec);
        return ERR_USAGE;
    }
    len = (size_t)(colon - spec);
    if (len >= hn) {
        snprintf(err, ERR_LEN, "--listen: host is too long");
        return ERR_USAGE;
    }
    memcpy(host, spec, len);
    host[len] = '\0';
    *port = (int)p;
    if (!strcmp(host, "localhost"))
        snprintf(host, hn, "127.0.0.1");
    if (!strcmp(host, "*") || !strcmp(host, "0.0.0.0"))
        host[0] = '\0';
    if (host[0] && inet_pton(AF_INET, host, &a) != 1) {
        snprintf(err, ERR_LEN, "--listen: '%.64s' is not an IPv4 address, "
                 "localhost or 0.0.0.0", host);
        return ERR_USAGE;
    }
    *loopback = host[0] && (ntohl(a.s_addr) >> 24) == 127;
    return 0;
}

static int s_has_index(const char *dir)
{
    char path[PATH_MAX];
    return strfmt(path, sizeof path, "%s/index.html", dir) >= 0 &&
           access(path, R_OK) == 0;
}

/* The assets directory: --assets, else next to the binary (bin/ and
 * build/san/bin/ of a build: build/web), else the installed one. */
static int s_assets(char *out, size_t n, char *err)
{
    char exe[PATH_MAX], *slash;
    static const char *const rel[] = {
        "../build/web", "../../web", "../share/livetrade/web"
    };
    ssize_t len;

    if (s_cfg.assets) {
        if (strfmt(out, n, "%s", s_cfg.assets) < 0 || !s_has_index(out)) {
            snprintf(err, ERR_LEN, "--assets %.128s: no index.html there",
                     s_cfg.assets);
            return ERR_USAGE;
        }
        return 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            char dir[PATH_MAX];
            if (strfmt(dir, sizeof dir, "%s/%s", exe, rel[i]) >= 0 &&
                s_has_index(dir) && realpath(dir, out) && strlen(out) < n)
                return 0;
        }
    }
    snprintf(err, ERR_LEN, "the page's files are missing (build them "
             "with make, install them with make install, or give --assets "
             "DIR)");
    return ERR_IO;
}

/* }========================================================== */

/* {==================== store ================================ */

struct wbar *web_bar_at(struct wsym *y, size_t i)
{
    return &y->bars[(y->head + i) % y->cap];
}

void web_sym_free(struct wsym **y_p)
{
    struct wsym *y = *y_p;

    if (!y)
        return;
    for (size_t i = 0; i < y->sn; i++)
        free(y->sigs[(y->shead + i) % y->scap]);
    free(y->sigs);
    free(y->bars);
    web_ind_destroy(&y->ind);
    free(y);
    *y_p = NULL;
}

/* Asks the feeders for the symbol's last max_bars bars (kind
 * WEB_RES_HISTORY), or the engines for their indicator values at them
 * (WEB_RES_IND): again, once the request in flight is answered, if one
 * is. */
static void s_ask(struct web *w, struct wsym *y, int kind)
{
    struct wreq *q = kind == WEB_RES_IND ? &y->indreq : &y->hist;
    int rc;

    if (!w->worker || (kind == WEB_RES_IND ? web_worker_engines(w->worker)
                       : web_worker_endpoints(w->worker)) == 0)
        return;
    if (q->state == HIST_ASKED) {
        q->again = 1;
        return;
    }
    q->state = HIST_ASKED;
    q->again = 0;
    rc = kind == WEB_RES_IND ? web_worker_indicators(w->worker, y->sym)
                             : web_worker_history(w->worker, y->sym);
    if (rc != 0) {
        q->state = HIST_FAILED;
        q->retry = mono_ms() + HISTORY_RETRY_MS;
    }
}

/* The symbol's entry (its index in *idx), created on first sight, when
 * its history is asked for. NULL if the table is full or no memory. */
static struct wsym *s_sym(struct web *w, const char *sym, int *idx)
{
    struct wsym *y;

    for (int i = 0; i < w->nsyms; i++)
        if (!strcmp(w->syms[i]->sym, sym)) {
            *idx = i;
            return w->syms[i];
        }
    if (w->nsyms == WEB_MAX_SYMBOLS) {
        if (!w->ignored_syms++)
            log_msg(LL_WARN, "web: charting the first %d symbols seen "
                    "(%s to %s ...); the bars and signals of the others, "
                    "from %s on, are counted but not charted",
                    WEB_MAX_SYMBOLS, w->syms[0]->sym,
                    w->syms[WEB_MAX_SYMBOLS - 1]->sym, sym);
        else
            log_limited(&w->lim_syms, LL_DEBUG, "web: '%s' is not charted "
                        "(the first %d symbols are)", sym, WEB_MAX_SYMBOLS);
        return NULL;
    }
    y = calloc(1, sizeof *y);
    if (y) {
        y->bars = calloc(w->max_bars, sizeof *y->bars);
        y->sigs = calloc(w->max_signals, sizeof *y->sigs);
        y->ind = web_ind_new(w->max_bars);
    }
    if (!y || !y->bars || !y->sigs || !y->ind) {
        web_sym_free(&y);
        log_msg(LL_ERROR, "web: out of memory for symbol %s", sym);
        return NULL;
    }
    snprintf(y->sym, sizeof y->sym, "%s", sym);
    y->cap = w->max_bars;
    y->scap = w->max_signals;
    *idx = w->nsyms;
    w->syms[w->nsyms++] = y;
    s_ask(w, y, WEB_RES_HISTORY);
    s_ask(w, y, WEB_RES_IND);
    return y;
}

int web_push_bar(struct wsym *y, const struct wbar *b)
{
    struct wbar *last = y->n ? web_bar_at(y, y->n - 1) : NULL;

    if (last && b->t < last->t)
        return -1;
    if (last && b->t == last->t) {
        *last = *b;
    } else if (y->n < y->cap) {
        *web_bar_at(y, y->n) = *b;
        y->n++;
    } else {
        y->bars[y->head] = *b;
        y->head = (y->head + 1) % y->cap;
    }
    return 0;
}

int web_merge(struct wsym *y, const struct bar *h, size_t nh)
{
    struct wbar *m = malloc((nh + y->n) * sizeof *m);
    size_t i = 0, j = 0, n = 0, skip;

    if (!m)
        return ERR_NOMEM;
    while (i < nh || j < y->n) {
        struct wbar hb;
        if (i < nh)
            hb = (struct wbar){ h[i].t, h[i].o, h[i].h, h[i].l, h[i].c,
                                h[i].vol, h[i].seq, h[i].pub };
        if (j < y->n && (i == nh || web_bar_at(y, j)->t <= hb.t)) {
            if (i < nh && web_bar_at(y, j)->t == hb.t)
                i++;
            m[n++] = *web_bar_at(y, j++);
        } else {
            if (!n || m[n - 1].t < hb.t)
                m[n++] = hb;
            i++;
        }
    }
    skip = n > y->cap ? n - y->cap : 0;
    memcpy(y->bars, m + skip, (n - skip) * sizeof *m);
    y->head = 0;
    y->n = n - skip;
    free(m);
    return 0;
}

void web_push_signal(struct wsym *y, char *json)
{
    if (y->sn == y->scap) {
        free(y->sigs[y->shead]);
        y->sigs[y->shead] = json;
        y->shead = (y->shead + 1) % y->scap;
    } else {
        y->sigs[(y->shead + y->sn) % y->scap] = json;
        y->sn++;
    }
}

/* }========================================================== */

/* {==================== messages ============================= */

static struct web_msg *s_msg(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_FLAGS) : NULL;
    struct web_msg *m = s ? web_msg_new(s, strlen(s)) : NULL;

    free(s);
    json_decref(j);
    return m;
}

static json_t *s_bar_json(const struct wbar *b)
{
    return json_pack("[I,f,f,f,f,f]", (json_int_t)b->t, b->o, b->h, b->l,
                     b->c, b->v);
}

static struct web_msg *s_symbol_msg(struct wsym *y)
{
    json_t *j = json_object(), *bars = json_array(), *sigs = json_array();

    for (size_t i = 0; bars && i < y->n; i++)
        json_array_append_new(bars, s_bar_json(web_bar_at(y, i)));
    for (size_t i = 0; sigs && i < y->sn; i++) {
        const char *s = y->sigs[(y->shead + i) % y->scap];
        json_array_append_new(sigs, json_loads(s, 0, NULL));
    }
    if (!j || !bars || !sigs) {
        json_decref(bars);
        json_decref(sigs);
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "type", json_string("symbol"));
    json_object_set_new(j, "sym", json_string(y->sym));
    json_object_set_new(j, "tf", json_integer(y->tf));
    json_object_set_new(j, "bars", bars);
    json_object_set_new(j, "signals", sigs);
    if (web_ind_count(y->ind))
        json_object_set_new(j, "ind", web_ind_json(y->ind));
    return s_msg(j);
}

static struct web_msg *s_status_msg(struct web *w)
{
    const struct web_http_stats *hs = w->http ? web_http_stats(w->http)
                                              : NULL;
    json_t *j = json_object(), *comps = json_array(), *sink;
    int n = w->worker ? web_worker_endpoints(w->worker) : 0;

    for (int i = 0; comps && i < n; i++) {
        struct comp *c = &w->comps[i];
        json_t *o = json_pack("{s:s,s:b,s:b,s:I,s:I,s:s}",
            "endpoint", web_worker_endpoint(w->worker, i),
            "polled", c->polled, "up", c->up,
            "checked", (json_int_t)c->checked,
            "last_ok", (json_int_t)c->last_ok, "error", c->err);
        if (o && c->reply)
            json_object_set(o, "reply", c->reply);
        json_array_append_new(comps, o);
    }
    sink = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I,s:I,"
                     "s:I,s:I,s:I,s:I,s:i,s:I}",
        "bars", (json_int_t)w->bars, "old_bars", (json_int_t)w->old_bars,
        "signals", (json_int_t)w->signals,
        "inds", (json_int_t)w->inds,
        "ignored_inds", (json_int_t)w->ignored_inds,
        "last_bar_t", (json_int_t)w->last_bar_t,
        "last_bar_at", (json_int_t)w->last_bar_at,
        "last_signal_at", (json_int_t)w->last_signal_at,
        "symbols", (json_int_t)w->nsyms,
        "clients", hs ? hs->connected : 0,
        "clients_dropped", (json_int_t)(hs ? hs->dropped : 0),
        "clients_resynced", (json_int_t)(hs ? hs->resyncs : 0),
        "ws_bad", (json_int_t)(hs ? hs->rx_bad : 0),
        "unauthorized", (json_int_t)(hs ? hs->unauthorized : 0),
        "bad_host", (json_int_t)(hs ? hs->bad_host : 0),
        "requests", (json_int_t)(hs ? hs->requests : 0),
        "chart_limit", WEB_MAX_SYMBOLS,
        "not_charted", (json_int_t)w->ignored_syms);
    if (!j || !comps || !sink) {
        json_decref(j);
        json_decref(comps);
        json_decref(sink);
        return NULL;
    }
    json_object_set_new(j, "type", json_string("status"));
    json_object_set_new(j, "now", json_integer(wall_ms()));
    json_object_set_new(j, "components", comps);
    json_object_set_new(j, "sink", sink);
    return s_msg(j);
}

static void s_broadcast(struct web *w, struct web_msg *m, size_t part)
{
    if (m && w->http)
        web_http_broadcast(w->http, m, part);
    web_msg_unref(&m);
}

/* Snapshot part i for a new client: the status, then each symbol. */
static struct web_msg *s_snapshot(void *arg, size_t i)
{
    struct web *w = arg;

    if (i == 0)
        return s_status_msg(w);
    if (i <= (size_t)w->nsyms)
        return s_symbol_msg(w->syms[i - 1]);
    return NULL;
}

/* }========================================================== */

/* {==================== the loop's side ====================== */

/* An engine's status lists the symbols it trades: chart them (their
 * history is asked for) even before a bar or signal of theirs arrives. */
static void s_engine_symbols(struct web *w, const json_t *reply)
{
    const json_t *syms = json_object_get(reply, "symbols"), *e;
    size_t i;
    int idx;

    if (!json_is_array(syms))
        return;                     /* a feeder's is a count */
    json_array_foreach(syms, i, e) {
        const char *sym = json_string_value(json_object_get(e, "sym"));
        if (sym && symbol_valid(sym))
            s_sym(w, sym, &idx);
    }
}

static void s_result(struct web *w, struct web_result *r)
{
    struct wsym *y = NULL;
    struct wreq *q;
    const char *what;
    int idx = -1, rc;

    if (r->kind == WEB_RES_STATUS && r->index >= 0 &&
        r->index < WEB_MAX_ENDPOINTS) {
        struct comp *c = &w->comps[r->index];
        c->polled = 1;
        c->up = r->ok;
        c->checked = r->at;
        snprintf(c->err, sizeof c->err, "%s", r->ok ? "" : r->err);
        if (r->ok) {
            c->last_ok = r->at;
            json_decref(c->reply);
            c->reply = json_loads(r->json, 0, NULL);
            s_engine_symbols(w, c->reply);
        }
        return;
    }
    if (r->kind != WEB_RES_HISTORY && r->kind != WEB_RES_IND)
        return;
    for (int i = 0; i < w->nsyms; i++)
        if (!strcmp(w->syms[i]->sym, r->sym)) {
            y = w->syms[i];
            idx = i;
        }
    if (!y)
        return;
    q = r->kind == WEB_RES_IND ? &y->indreq : &y->hist;
    what = r->kind == WEB_RES_IND ? "indicator values" : "history";
    if (!r->ok) {
        /* No engine holding the symbol is no failure: its lines come
         * from its signals, if any. */
        if (!q->warned && !r->notfound)
            log_msg(LL_WARN, "web: no %s for %s yet: %s; trying again "
                    "every %d s", what, y->sym, r->err,
                    HISTORY_RETRY_MS / 1000);
        q->warned = !r->notfound;
        q->state = r->notfound ? HIST_DONE : HIST_FAILED;
        q->retry = mono_ms() + HISTORY_RETRY_MS;
        if (r->notfound && q->again)
            s_ask(w, y, r->kind);   /* values came meanwhile */
        return;
    }
    q->state = HIST_DONE;
    if (q->again)
        s_ask(w, y, r->kind);
    if (q->warned)
        log_msg(LL_INFO, "web: %s for %s arrived", what, y->sym);
    q->warned = 0;
    if (r->kind == WEB_RES_IND) {
        log_msg(LL_DEBUG, "web: indicator values at %zu bars of %s from %s",
                r->npoints, y->sym, r->eng);
        rc = web_ind_merge(y->ind, r->eng, r->points, r->npoints);
    } else {
        log_msg(LL_DEBUG, "web: %zu bars of history for %s", r->nbars,
                y->sym);
        if (r->nbars && !y->tf)
            y->tf = r->bars[r->nbars - 1].tf;
        rc = web_merge(y, r->bars, r->nbars);
    }
    if (rc == ERR_NOMEM)
        log_msg(LL_ERROR, "web: out of memory merging %s for %s", what,
                y->sym);
    if (rc == 0)
        s_broadcast(w, s_symbol_msg(y), (size_t)idx + 1);
}

static void s_on_worker(loop_t *loop, void *sock, int fd, void *arg)
{
    struct web *w = arg;
    struct web_result *r;
    (void)loop;
    (void)sock;
    (void)fd;

    for (int i = 0; i < 64 && (r = web_worker_recv(w->worker)); i++) {
        s_result(w, r);
        web_result_free(&r);
    }
}

static void s_on_tick(loop_t *loop, void *arg)
{
    struct web *w = arg;
    (void)loop;
    web_http_service(w->http);
}

static void s_on_status(loop_t *loop, void *arg)
{
    struct web *w = arg;
    int64_t now = mono_ms();
    (void)loop;

    for (int i = 0; i < w->nsyms; i++) {
        struct wsym *y = w->syms[i];
        if (y->hist.state == HIST_FAILED && now >= y->hist.retry)
            s_ask(w, y, WEB_RES_HISTORY);
        if (y->indreq.state == HIST_FAILED && now >= y->indreq.retry)
            s_ask(w, y, WEB_RES_IND);
    }
    s_broadcast(w, s_status_msg(w), 0);
}

/* }========================================================== */

/* {==================== sink_ops ============================= */

static void s_close(void **state)
{
    struct web *w = *state;

    if (!w)
        return;
    web_http_destroy(&w->http);
    web_worker_destroy(&w->worker);
    for (int i = 0; i < w->nsyms; i++)
        web_sym_free(&w->syms[i]);
    for (int i = 0; i < WEB_MAX_ENDPOINTS; i++)
        json_decref(w->comps[i].reply);
    free(w);
    *state = NULL;
}

/* Splits an endpoint list into eps[]; the count, or -1 if too many. */
static int s_endpoints(const char *list, char *buf, size_t n,
                       const char **eps, int max)
{
    char *items[WEB_MAX_ENDPOINTS];
    int k;

    if (strfmt(buf, n, "%s", list) < 0)
        return -1;
    k = split_list(buf, items, max);
    for (int i = 0; i < k; i++)
        eps[i] = items[i];
    return k;
}

static int s_open(void **state, char *info, char *err)
{
    struct web *w;
    struct web_http_cfg hc;
    char hbuf[2048], sbuf[2048];
    const char *hist[WEB_MAX_ENDPOINTS], *stat[WEB_MAX_ENDPOINTS];
    int port, loopback, nh, ns, rc;

    if (s_cfg.max_bars < 10 || s_cfg.max_bars > 1000000 ||
        s_cfg.max_signals < 1 || s_cfg.max_signals > 100000) {
        snprintf(err, ERR_LEN, "--max-bars must be 10..1000000 and "
                 "--max-signals 1..100000");
        return ERR_USAGE;
    }
    if (s_cfg.token && !web_token_ok(s_cfg.token)) {
        snprintf(err, ERR_LEN, "--token must be 8 to 128 characters of "
                 "A-Z a-z 0-9 . _ ~ -");
        return ERR_USAGE;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    w->max_bars = (size_t)s_cfg.max_bars;
    w->max_signals = (size_t)s_cfg.max_signals;
    w->lim_old = w->lim_syms = (struct log_limit)LOG_LIMIT_INIT;
    rc = web_listen_parse(s_cfg.listen, w->listen_host,
                          sizeof w->listen_host, &port, &loopback, err);
    if (rc == 0 && !loopback && !s_cfg.token) {
        snprintf(err, ERR_LEN, "--listen %.64s is not a loopback address: "
                 "give --token so that the dashboard is not open to the "
                 "network", s_cfg.listen);
        rc = ERR_USAGE;
    }
    if (rc == 0)
        rc = s_assets(w->assets, sizeof w->assets, err);
    nh = s_endpoints(s_cfg.history, hbuf, sizeof hbuf, hist,
                     WEB_MAX_ENDPOINTS);
    ns = s_endpoints(s_cfg.status, sbuf, sizeof sbuf, stat,
                     WEB_MAX_ENDPOINTS);
    if (rc == 0 && (nh < 0 || ns < 0 || nh + ns > WEB_MAX_ENDPOINTS)) {
        snprintf(err, ERR_LEN, "at most %d --history and --status "
                 "endpoints together", WEB_MAX_ENDPOINTS);
        rc = ERR_USAGE;
    }
    if (rc == 0) {
        w->worker = web_worker_new(hist, nh, stat, ns, s_cfg.max_bars, err);
        if (!w->worker)
            rc = ERR_IO;
    }
    if (rc == 0) {
        memset(&hc, 0, sizeof hc);
        hc.host = w->listen_host[0] ? w->listen_host : NULL;
        hc.port = port;
        hc.assets = w->assets;
        hc.token = s_cfg.token;
        hc.snapshot = s_snapshot;
        hc.arg = w;
        w->http = web_http_new(&hc, err);
        if (!w->http)
            rc = ERR_IO;
    }
    if (rc != 0) {
        void *p = w;
        s_close(&p);
        return rc;
    }
    snprintf(info, ERR_LEN, "dashboard on http://%s:%d/%s, history from "
             "%s", w->listen_host[0] ? w->listen_host : "0.0.0.0", port,
             s_cfg.token ? " (token required)" : "",
             nh ? s_cfg.history : "nowhere");
    *state = w;
    return ERR_OK;
}

static int s_attach(void *state, loop_t *loop, char *err)
{
    struct web *w = state;

    if (loop_add_timer(loop, TICK_MS, s_on_tick, w) < 0 ||
        loop_add_timer(loop, STATUS_TICK_MS, s_on_status, w) < 0 ||
        loop_add_socket(loop, web_worker_pipe(w->worker), s_on_worker,
                        w) != 0) {
        snprintf(err, ERR_LEN, "the event loop is full");
        return ERR_NOMEM;
    }
    return ERR_OK;
}

static void s_bar(void *state, const struct bar *b)
{
    struct web *w = state;
    struct wbar wb = { b->t, b->o, b->h, b->l, b->c, b->vol, b->seq,
                       b->pub };
    const struct wbar *last;
    struct wsym *y;
    json_t *j;
    int idx;

    y = s_sym(w, b->sym, &idx);
    if (!y)
        return;
    w->bars++;
    if (b->t > w->last_bar_t)
        w->last_bar_t = b->t;
    w->last_bar_at = wall_ms();
    y->tf = b->tf;
    /* Bars missed (before the subscription was up, or lost on the way)
     * leave a gap in the feeder's sequence: history fills it. */
    last = y->n ? web_bar_at(y, y->n - 1) : NULL;
    if (last && last->pub == b->pub && b->seq > last->seq + 1)
        s_ask(w, y, WEB_RES_HISTORY);
    if (web_push_bar(y, &wb) != 0) {
        w->old_bars++;
        log_limited(&w->lim_old, LL_DEBUG, "web: %s bar at %lld is older "
                    "than the chart's last; not charted", b->sym,
                    (long long)b->t);
        return;
    }
    j = json_pack("{s:s,s:s,s:I,s:o}", "type", "bar", "sym", b->sym,
                  "tf", (json_int_t)b->tf, "bar", s_bar_json(&wb));
    s_broadcast(w, s_msg(j), (size_t)idx + 1);
}

static int s_write(void *state, const struct signal *s)
{
    struct web *w = state;
    json_t *sj = msg_signal_to_json(s), *j;
    struct wsym *y;
    char *text;
    int idx;

    if (!sj)
        return ERR_NOMEM;
    text = json_dumps(sj, JSON_FLAGS);
    y = text ? s_sym(w, s->sym, &idx) : NULL;
    if (!y) {
        free(text);
        json_decref(sj);
        return text ? 0 : ERR_NOMEM;
    }
    w->signals++;
    w->last_signal_at = wall_ms();
    web_push_signal(y, text);
    j = json_pack("{s:s,s:o}", "type", "signal", "signal", sj);
    s_broadcast(w, s_msg(j), (size_t)idx + 1);
    return 0;
}

/* An engine's indicator values at one bar: a point of the symbol's
 * lines. Points missing before it (the engine's warm-up, a page of the
 * bus lost, the sink started late) come from the engines' history. */
static void s_ind(void *state, const struct ind_msg *m)
{
    struct web *w = state;
    struct wsym *y;
    json_t *j, *ind;
    int idx, rc;

    y = s_sym(w, m->sym, &idx);
    if (!y)
        return;
    rc = web_ind_add(y->ind, m->eng, &m->p, y->tf * 1000);
    if (rc < 0) {
        w->ignored_inds++;
        log_limited(&w->lim_old, LL_DEBUG, "web: %s indicator values of %s "
                    "at %lld not charted (another engine's, older, or no "
                    "memory)", m->sym, m->eng, (long long)m->p.t);
        return;
    }
    w->inds++;
    if (rc == WEB_IND_MISSING)
        s_ask(w, y, WEB_RES_IND);
    ind = json_object();
    for (int k = 0; ind && k < m->p.n; k++)
        json_object_set_new(ind, m->p.v[k].name, isfinite(m->p.v[k].v) ?
                            json_real(m->p.v[k].v) : json_null());
    j = json_pack("{s:s,s:s,s:s,s:I,s:o}", "type", "ind", "sym", m->sym,
                  "eng", m->eng, "t", (json_int_t)m->p.t, "ind", ind);
    s_broadcast(w, s_msg(j), (size_t)idx + 1);
}

const struct sink_ops sink_web = {
    .name = "web",
    .summary = "a live dashboard in the browser: charts, signals, status",
    .usage = "[--listen HOST:PORT] [--token T] [--assets DIR] "
             "[--history EP,...] [--status EP,...] [--bars EP,...]",
    .opts = s_opts,
    .open = s_open,
    .write = s_write,
    .close = s_close,
    .attach = s_attach,
    .bar = s_bar,
    .ind = s_ind,
};

/* }========================================================== */
