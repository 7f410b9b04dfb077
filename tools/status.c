/* status.c -- `livetrade status`: one screen on every component it can
 * reach. Each request endpoint (--endpoints, else $LIVETRADE_STATUS,
 * else those of every running `livetrade run` (runrec.h), else the
 * feeder's tcp://127.0.0.1:5556 and the engine's tcp://127.0.0.1:5558)
 * is asked {"ver":1,"type":"status"} with a short timeout, and each
 * answer is shown: program, id, up or down, the key counters, each
 * symbol's last bar (time, and how long ago it arrived) and the stale
 * symbols. An http://HOST:PORT entry is a program's --metrics page
 * instead (the way to see a sink, which has no request endpoint): it is
 * fetched over HTTP and a few of its counters are shown.
 *
 *   livetrade status [--endpoints EP[,EP...]] [--timeout MS] [--json]
 *                    [--rows N] [--quiet] [--curve DIR [--role ROLE]]
 *
 * With CURVE, an endpoint may be a feeder's or an engine's, whose server
 * keys differ (curve.h): each is asked expecting both keys at once, and
 * the one whose handshake succeeds answers; --role feeder|engine says
 * which it is instead (health checks: the server then logs no failed
 * handshake).
 *
 * --json prints one JSON object instead: {"ok": bool, "components":
 * [{"endpoint", "up", "error"?, "status"?, "metrics"?}]}, "status" being
 * the reply as it came (msgpack to JSON), "metrics" the page's samples
 * without labels ({name: value}). --quiet prints only the components
 * that are down (container health checks).
 *
 * When nothing answered, a line on stderr says which endpoints were
 * asked and why those, and what to do (not with --quiet).
 *
 * Exit code: 0 if every endpoint answered, 1 if one did not, 2 on bad
 * usage. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <msgpack.h>

#include "bus.h"
#include "cmd.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "flags.h"
#include "mp.h"
#include "msg_status.h"
#include "proc.h"
#include "runrec.h"
#include "status_text.h"
#include "util.h"

#define PROG "livetrade status"
#define DEFAULT_EPS "tcp://127.0.0.1:5556,tcp://127.0.0.1:5558"
#define MAX_EPS 64
#define TIMEOUT_MAX 60000
#define PAGE_MAX (8u << 20)         /* largest metrics page read */
#define JSON_DEPTH 16               /* levels kept from a status reply */

struct st_args {
    struct opt_multi eps;           /* --endpoints, repeatable */
    int64_t timeout;                /* --timeout, ms */
    int64_t rows;                   /* --rows: symbol rows at most */
    int json;                       /* --json */
    int quiet;                      /* --quiet: the down ones only */
    const char *curve;              /* --curve DIR */
    const char *role;               /* --role feeder|engine, or NULL */
};

/* {==================== metrics pages ======================= */

/* What a --metrics page of each program shows: its metric prefix, the
 * program, and the samples shown as "label value". */
struct page_kind {
    const char *prefix;             /* "livetrade_sink_" */
    const char *prog;               /* "livetrade-sink" */
    const char *const *keys;        /* metric, label, metric, ..., NULL */
};

static const char *const s_sink_keys[] = {
    "livetrade_sink_signals_total", "signals",
    "livetrade_sink_signals_written_total", "written",
    "livetrade_sink_duplicates_total", "duplicates",
    "livetrade_sink_gaps_total", "gaps",
    "livetrade_sink_replayed_signals_total", "replayed",
    "livetrade_sink_lost_total", "lost",
    "livetrade_sink_failed_total", "failed",
    "livetrade_sink_bad_total", "bad", NULL
};
static const char *const s_engine_keys[] = {
    "livetrade_engine_bars_total", "bars_in",
    "livetrade_engine_signals_total", "signals_published",
    "livetrade_engine_gaps_total", "gaps",
    "livetrade_engine_signals_dropped_total", "dropped",
    "livetrade_engine_stale_symbols", "stale", NULL
};
static const char *const s_feeder_keys[] = {
    "livetrade_feeder_bars_published_total", "bars_published",
    "livetrade_feeder_bars_dropped_total", "dropped",
    "livetrade_feeder_requests_total", "requests",
    "livetrade_feeder_bad_requests_total", "bad_requests", NULL
};
static const struct page_kind s_kinds[] = {
    { "livetrade_sink_", "livetrade-sink", s_sink_keys },
    { "livetrade_engine_", "livetrade-engine", s_engine_keys },
    { "livetrade_feeder_", "livetrade-feeder", s_feeder_keys },
    { NULL, NULL, NULL }
};

static int s_is_http(const char *ep)
{
    return strncmp(ep, "http://", 7) == 0;
}

/* The samples without labels of a page in the text format, as {name:
 * number}; lines of any other shape are skipped. `output` gets the
 * output label of livetrade_sink_info ("" without one). page is
 * NUL-terminated. NULL when out of memory. */
static json_t *s_samples(const char *page, char *output, size_t n)
{
    json_t *out = json_object();
    const char *p = page;

    output[0] = '\0';
    while (out && *p) {
        const char *eol = strchr(p, '\n'), *q = p;
        char name[128], *end;
        size_t len;
        double v;

        if (!eol)
            eol = p + strlen(p);
        while (q < eol && (isalnum((unsigned char)*q) || *q == '_' ||
                           *q == ':'))
            q++;
        len = (size_t)(q - p);
        if (len == 0 || len >= sizeof name || isdigit((unsigned char)*p)) {
            p = *eol ? eol + 1 : eol;
            continue;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (*q == '{' && strcmp(name, "livetrade_sink_info") == 0) {
            const char *o = strstr(q, "output=\"");
            const char *close = o ? strchr(o + 8, '"') : NULL;
            if (o && close && close < eol)
                snprintf(output, n, "%.*s", (int)(close - o - 8), o + 8);
        } else if (*q == ' ' || *q == '\t') {
            while (q < eol && (*q == ' ' || *q == '\t'))
                q++;
            v = strtod(q, &end);
            if (q < eol && end > q && end <= eol && isfinite(v))
                json_object_set_new(out, name, fabs(v) < 9e15 &&
                                    v == floor(v) ?
                                    json_integer((json_int_t)v) :
                                    json_real(v));
        }
        p = *eol ? eol + 1 : eol;
    }
    return out;
}

/* A metrics page as text: the program (and the sink's output), then the
 * kind's counters. */
static void s_page_text(const char *ep, json_t *m, const char *output)
{
    const struct page_kind *k = s_kinds;
    const char *name;
    json_t *v;
    int any = 0;

    for (; k->prefix; k++) {
        json_object_foreach(m, name, v)
            if (strncmp(name, k->prefix, strlen(k->prefix)) == 0)
                break;
        if (name)
            break;
    }
    if (!k->prefix) {
        printf("%-44s up    answered, but not with livetrade metrics\n", ep);
        return;
    }
    printf("%-44s up    %s%s%s (metrics)\n", ep, k->prog,
           output[0] ? " " : "", output);
    for (int i = 0; k->keys[i]; i += 2) {
        v = json_object_get(m, k->keys[i]);
        if (!v)
            continue;
        printf("%s%s %.0f", any ? "  " : "    ", k->keys[i + 1],
               json_number_value(v));
        any = 1;
    }
    if (any)
        printf("\n");
}

/* }========================================================== */

/* {==================== requests ============================ */

struct answer {
    void *sock[2];                  /* REQ, one per server key tried,
                                       until answered or given up */
    struct curve_watch watch[2];    /* their handshakes, while open */
    char *data;                     /* the reply or page (owned), or NULL;
                                       a page is NUL-terminated */
    size_t len;
    int page_ok;                    /* an http:// page came whole */
    char err[ERR_LEN];              /* why there is none */
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's reason, for a page */
};

/* Closes the request sockets of an answer. */
static void s_close(struct answer *a)
{
    for (int j = 0; j < 2; j++)
        if (a->sock[j]) {
            curve_watch_close(&a->watch[j], a->sock[j]);
            zmq_close(a->sock[j]);
            a->sock[j] = NULL;
        }
}

/* One REQ socket to `ep` expecting the server key of `peer`, the request
 * sent; NULL with a->err set. */
static void *s_ask(const char *ep, int peer, const msgpack_sbuffer *req,
                   struct answer *a, struct curve_watch *w)
{
    void *s = zmq_socket(bus_ctx(), ZMQ_REQ);

    if (!s) {
        snprintf(a->err, ERR_LEN, "socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (bus_set_int(s, ZMQ_LINGER, "ZMQ_LINGER", 0, a->err) ||
        bus_set_maxmsg(s, (int64_t)BUS_MAX_BODY, a->err) ||
        curve_apply(s, peer, a->err)) {
        zmq_close(s);
        return NULL;
    }
    curve_watch_open(w, s);
    if (zmq_connect(s, ep) != 0 ||
        zmq_send(s, req->data, req->size, 0) < 0) {
        snprintf(a->err, ERR_LEN, "cannot connect to %s: %s", ep,
                 zmq_strerror(errno));
        curve_watch_close(w, s);
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Sends the request to every endpoint but the http:// ones, at once;
 * s_wait_all collects the replies. An endpoint may be a feeder's or an
 * engine's: with CURVE keys of both roles it is asked twice at once, once
 * expecting each role's server key, and the handshake that succeeds
 * answers (the other fails: the server logs it, once a minute at most). */
static void s_send_all(char *const *eps, int neps, const msgpack_sbuffer *req,
                       int timeout_ms, int role, struct answer *ans)
{
    int peers[2], npeers = curve_peers(peers);

    if (role) {                     /* --role: that key only */
        peers[0] = role;
        npeers = 1;
    }

    for (int i = 0; i < neps; i++) {
        struct answer *a = &ans[i];
        int any = 0;
        if (s_is_http(eps[i]))
            continue;
        for (int j = 0; j < npeers; j++) {
            a->sock[j] = s_ask(eps[i], peers[j], req, a, &a->watch[j]);
            any |= a->sock[j] != NULL;
        }
        if (any)
            snprintf(a->err, ERR_LEN, "no reply within %d ms", timeout_ms);
    }
}

/* Waits until `deadline` (mono ms) at most for the replies of s_send_all,
 * so endpoints that are down cost one timeout in all. Replies already
 * there count even past the deadline (they came while pages were
 * fetched). */
static void s_wait_all(char *const *eps, int neps, int64_t deadline,
                       struct answer *ans)
{
    zmq_pollitem_t items[2 * MAX_EPS];

    for (;;) {
        int64_t left = deadline - mono_ms();
        int n = 0, map[2 * MAX_EPS];
        for (int i = 0; i < neps; i++)
            for (int j = 0; j < 2; j++)
                if (ans[i].sock[j]) {
                    items[n].socket = ans[i].sock[j];
                    items[n].fd = 0;
                    items[n].events = ZMQ_POLLIN;
                    items[n].revents = 0;
                    map[n++] = 2 * i + j;
                }
        if (n == 0 || proc_stop)
            break;
        if (left < 0)
            left = 0;
        if (zmq_poll(items, n, (long)left) < 0 && errno != EINTR)
            break;
        for (int k = 0; k < n; k++) {
            struct answer *a = &ans[map[k] / 2];
            void *s = a->sock[map[k] % 2];
            zmq_msg_t msg;
            if (!(items[k].revents & ZMQ_POLLIN) || !s)
                continue;           /* (or its other socket answered) */
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, s, 0) >= 0) {
                a->len = zmq_msg_size(&msg);
                a->data = malloc(a->len ? a->len : 1);
                if (a->data)
                    memcpy(a->data, zmq_msg_data(&msg), a->len);
                else
                    snprintf(a->err, ERR_LEN, "out of memory");
            } else {
                snprintf(a->err, ERR_LEN, "reply: %s", zmq_strerror(errno));
            }
            zmq_msg_close(&msg);
            s_close(a);
        }
        if (left == 0)
            break;
    }
    for (int i = 0; i < neps; i++) {
        char why[2][ERR_LEN];
        int n = 0, got = 0, best = 0;
        /* No reply: a failed handshake says why better than the time it
         * took -- when every key tried failed it; the most telling one
         * (a refused client key: the server key was right). */
        for (int j = 0; j < 2; j++)
            if (ans[i].sock[j]) {
                n++;
                if (curve_watch_why(&ans[i].watch[j], eps[i], why[j],
                                    sizeof why[j])) {
                    if (!got++ ||
                        ans[i].watch[j].failed > ans[i].watch[best].failed)
                        best = j;
                }
            }
        if (n && got == n)
            snprintf(ans[i].err, ERR_LEN, "%s", why[best]);
        s_close(&ans[i]);
    }
}

/* libcurl's write callback: appends to the answer's page, up to
 * PAGE_MAX (a larger page fails the transfer). */
static size_t s_page_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct answer *a = arg;
    size_t n = size * nmemb;
    char *p;

    if (n > PAGE_MAX - a->len) {
        snprintf(a->curl_err, sizeof a->curl_err, "the page is larger "
                 "than %u bytes", PAGE_MAX);
        return 0;
    }
    p = realloc(a->data, a->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + a->len, ptr, n);
    a->len += n;
    p[a->len] = '\0';
    a->data = p;
    return n;
}

/* A transfer for the page of an http:// endpoint (its /metrics unless it
 * names a path), or NULL with the reason in a->err. */
static CURL *s_page_get(const char *ep, int timeout_ms, struct answer *a)
{
    CURL *c = curl_easy_init();
    char url[1100];

    if (!c || strfmt(url, sizeof url, "%s%s", ep, strchr(ep + 7, '/') ?
                     "" : "/metrics") < 0) {
        snprintf(a->err, ERR_LEN, c ? "endpoint too long" : "out of memory");
        if (c)
            curl_easy_cleanup(c);
        return NULL;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_PROXY, "");     /* never a proxy */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_page_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->curl_err);
    curl_easy_setopt(c, CURLOPT_PRIVATE, a);
    snprintf(a->err, ERR_LEN, "no reply within %d ms", timeout_ms);
    return c;
}

/* Fetches the page of every http:// endpoint at once, until `deadline`
 * (mono ms) at most. Each answer gets its whole page (HTTP 200) or a
 * reason. */
static void s_scrape_all(char *const *eps, int neps, int timeout_ms,
                         int64_t deadline, struct answer *ans)
{
    CURL *handles[MAX_EPS] = { NULL };
    CURLM *m = curl_multi_init();
    CURLMsg *msg;
    int running = 0, left;

    for (int i = 0; i < neps; i++) {
        if (!s_is_http(eps[i]))
            continue;
        handles[i] = m ? s_page_get(eps[i], timeout_ms, &ans[i]) : NULL;
        if (handles[i])
            curl_multi_add_handle(m, handles[i]);
        else if (!m)
            snprintf(ans[i].err, ERR_LEN, "out of memory");
    }
    while (m && curl_multi_perform(m, &running) == CURLM_OK && running &&
           !proc_stop) {
        int64_t wait = deadline - mono_ms();
        if (wait <= 0)
            break;
        curl_multi_poll(m, NULL, 0, (int)wait, NULL);
    }
    while (m && (msg = curl_multi_info_read(m, &left)) != NULL) {
        struct answer *a = NULL;
        long code = 0;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&a);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        if (msg->data.result != CURLE_OK)
            snprintf(a->err, ERR_LEN, "%s", a->curl_err[0] ? a->curl_err :
                     curl_easy_strerror(msg->data.result));
        else if (code != 200)
            snprintf(a->err, ERR_LEN, "HTTP %ld", code);
        else
            a->page_ok = 1;
    }
    for (int i = 0; i < neps; i++) {
        if (handles[i]) {
            curl_multi_remove_handle(m, handles[i]);
            curl_easy_cleanup(handles[i]);
        }
        if (!s_is_http(eps[i]))
            continue;
        if (ans[i].page_ok && !ans[i].data)
            ans[i].data = calloc(1, 1);     /* an empty page */
        if (!ans[i].page_ok || !ans[i].data) {
            free(ans[i].data);              /* a partial page */
            ans[i].data = NULL;
        }
    }
    curl_multi_cleanup(m);
}

/* }========================================================== */

/* {==================== output ============================== */

/* One component: a line or block of text (only the DOWN line with
 * --quiet), or an object appended to comps with --json. 0 if it is up,
 * 1 if down. */
static int s_show(const char *ep, const struct answer *an,
                  const struct st_args *a, json_t *comps)
{
    char err[ERR_LEN], output[64] = "";
    const msgpack_object *o = NULL;
    json_t *samples = NULL, *c;
    struct mp_body body;
    int up;

    mp_body_init(&body);
    snprintf(err, sizeof err, "%s", an->err);
    if (an->data && s_is_http(ep)) {
        samples = s_samples(an->data, output, sizeof output);
        if (!samples)
            snprintf(err, sizeof err, "out of memory");
    } else if (an->data) {
        o = mp_body_decode(&body, an->data, an->len);
        if (!o || o->type != MSGPACK_OBJECT_MAP) {
            snprintf(err, sizeof err, "the reply is not a msgpack map");
            o = NULL;
        }
    }
    up = o || samples;
    if (a->json) {
        c = json_object();
        json_object_set_new(c, "endpoint", json_string(ep));
        json_object_set_new(c, "up", json_boolean(up));
        if (o)
            json_object_set_new(c, "status", mp_to_json(o, JSON_DEPTH));
        else if (samples)
            json_object_set(c, "metrics", samples);
        if (output[0])
            json_object_set_new(c, "output", json_string(output));
        else
            json_object_set_new(c, "error", json_string(err));
        json_array_append_new(comps, c);
    } else if (!up) {
        printf("%-44s DOWN  %s\n", ep, err);
    } else if (!a->quiet) {
        if (o)
            status_text(ep, o, a->rows);
        else
            s_page_text(ep, samples, output);
    }
    json_decref(samples);
    mp_body_free(&body);
    return !up;
}

/* Where the endpoints came from, for the line that explains an empty
 * answer. */
enum st_from { FROM_FLAG, FROM_ENV, FROM_RUN, FROM_DEFAULT };

/* Nothing answered: one line on stderr that says what was asked, why
 * these endpoints, and what to do. */
static void s_nothing(enum st_from from, const char *where, int neps)
{
    switch (from) {
    case FROM_FLAG:
        fprintf(stderr, PROG ": none of the %d endpoint(s) given by "
                "--endpoints answered; check them against the programs' "
                "--rep (and --metrics), and that they are running\n", neps);
        break;
    case FROM_ENV:
        fprintf(stderr, PROG ": none of the %d endpoint(s) in "
                "LIVETRADE_STATUS answered; check it against the programs' "
                "--rep, or unset it to ask a running `livetrade run` and "
                "the default endpoints\n", neps);
        break;
    case FROM_RUN:
        fprintf(stderr, PROG ": the `livetrade run` recorded in %s did not "
                "answer (starting, stopping or stuck); try again, or give "
                "--endpoints\n", where);
        break;
    case FROM_DEFAULT:
        fprintf(stderr, PROG ": nothing answered: no running `livetrade "
                "run` is recorded in %s, LIVETRADE_STATUS is not set, and "
                "nothing listens on the default endpoints " DEFAULT_EPS
                "; start the pipeline, or name its request endpoints with "
                "--endpoints EP[,EP...] (or LIVETRADE_STATUS)\n",
                where[0] ? where : "(no XDG_RUNTIME_DIR, XDG_STATE_HOME "
                "or HOME)");
        break;
    }
}

/* }========================================================== */

int cmd_status(int argc, char **argv)
{
    struct st_args a = { .timeout = 1000, .rows = 20 };
    const struct opt opts[] = {
        { "endpoints", OPT_MULTI, &a.eps, "LIVETRADE_STATUS", "EP[,EP...]",
          "request endpoints (tcp://, ipc://) and --metrics pages "
          "(http://HOST:PORT) to ask, repeatable (default " DEFAULT_EPS
          ")" },
        { "timeout", OPT_INT, &a.timeout, NULL, "MS",
          "how long the endpoints have to answer (1000)" },
        { "rows", OPT_INT, &a.rows, NULL, "N",
          "symbol rows shown per component (20)" },
        { "json", OPT_BOOL, &a.json, NULL, NULL,
          "one JSON object instead of the text" },
        { "quiet", OPT_BOOL, &a.quiet, NULL, NULL,
          "show only the components that are down (health checks)" },
        { "role", OPT_STR, &a.role, NULL, "feeder|engine",
          "with --curve: every endpoint is of this role, only its server "
          "key is tried (default: both)" },
        { 0 }
    };
    struct flags f = {
        .prog = PROG, .usage = PROG " [--endpoints EP[,EP...]] [--timeout "
                                    "MS] [--json] [--quiet]",
        .tables = { opts }, .shared = FLAG_CURVE,
    };
    char lists[MAX_EPS][1024], dflt[] = DEFAULT_EPS, err[ERR_LEN];
    static char recorded[MAX_EPS][RUNREC_EP_MAX];
    char *eps[MAX_EPS], where[PATH_MAX] = "";
    enum st_from from = FROM_FLAG;
    static struct answer ans[MAX_EPS];
    int neps = 0, rc, down = 0, http = 0, role = 0;
    int64_t deadline;
    msgpack_sbuffer req;
    msgpack_packer pk;
    json_t *out = NULL, *comps = NULL;

    rc = flags_parse(&f, argc, argv, 1, NULL, 0, NULL, err);
    if (rc == 1) {
        flags_usage(&f);
        return 0;
    }
    a.curve = f.curve;
    if (rc)
        return proc_usage_error(PROG, err);
    if (a.timeout < 1 || a.timeout > TIMEOUT_MAX)
        return proc_usage_error(PROG, "--timeout must be between 1 and "
                                "60000 ms");
    if (a.rows < 0)
        return proc_usage_error(PROG, "--rows must be 0 or more");
    if (a.eps.n == 0) {
        /* A running `livetrade run` first, else the defaults. */
        neps = runrec_find(recorded, MAX_EPS, where, sizeof where);
        from = neps ? FROM_RUN : FROM_DEFAULT;
        for (int i = 0; i < neps; i++)
            eps[i] = recorded[i];
        if (!neps)
            neps = split_list(dflt, eps, MAX_EPS);
    } else {
        if (!config_given(argc, argv, 1, "endpoints"))
            from = FROM_ENV;
        for (int i = 0; i < a.eps.n && i < MAX_EPS; i++) {
            int k;
            if (strfmt(lists[i], sizeof lists[i], "%s", a.eps.v[i]) < 0)
                return proc_usage_error(PROG, "--endpoints: list too long");
            k = split_list(lists[i], eps + neps, MAX_EPS - neps);
            if (k < 0)
                return proc_usage_error(PROG, "--endpoints: at most 64");
            neps += k;
        }
    }
    if (neps <= 0)
        return proc_usage_error(PROG, "--endpoints: no endpoint given");
    for (int i = 0; i < neps; i++) {
        if (!strstr(eps[i], "://") || (s_is_http(eps[i]) && !eps[i][7])) {
            snprintf(err, sizeof err, "--endpoints: '%.80s' is not an "
                     "endpoint (tcp://HOST:PORT, ipc://PATH, "
                     "http://HOST:PORT)", eps[i]);
            return proc_usage_error(PROG, err);
        }
        http += s_is_http(eps[i]);
    }
    if (a.role && strcmp(a.role, "feeder") == 0)
        role = BUS_FEEDER;
    else if (a.role && strcmp(a.role, "engine") == 0)
        role = BUS_ENGINE;
    else if (a.role)
        return proc_usage_error(PROG, "--role: give feeder or engine");
    if ((rc = curve_flag(PROG, a.curve)) != 0)
        return rc;
    if (http && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROG ": libcurl cannot start\n");
        return 1;
    }

    msgpack_sbuffer_init(&req);
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "type", "status");
    if (a.json) {
        out = json_object();
        comps = json_array();
        if (!out || !comps) {
            fprintf(stderr, PROG ": out of memory\n");
            return 1;
        }
    }
    /* The requests go out first; the pages are fetched while the
     * replies come in, within the same deadline. */
    memset(ans, 0, sizeof ans);
    deadline = mono_ms() + a.timeout;
    s_send_all(eps, neps, &req, (int)a.timeout, role, ans);
    if (http)
        s_scrape_all(eps, neps, (int)a.timeout, deadline, ans);
    s_wait_all(eps, neps, deadline, ans);
    for (int i = 0; i < neps; i++) {
        down += s_show(eps[i], &ans[i], &a, comps);
        free(ans[i].data);
    }
    msgpack_sbuffer_destroy(&req);
    if (a.json) {
        json_object_set_new(out, "ok", json_boolean(down == 0));
        json_object_set_new(out, "components", comps);
        json_dumpf(out, stdout, JSON_COMPACT);
        printf("\n");
        json_decref(out);
    } else if (!a.quiet) {
        printf("%d of %d component(s) up\n", neps - down, neps);
    }
    fflush(stdout);
    if (down == neps && !a.quiet)
        s_nothing(from, where, neps);
    if (http)
        curl_global_cleanup();
    bus_term();
    return down ? 1 : 0;
}
