/* test_web.c -- the web output's pure parts: --listen and --token
 * checks, the token comparison, the per-symbol bar store (live bars,
 * corrections, history merged in, the bound) and indicator lines. */
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../sink/sink.h"
#include "../../sink/web_http.h"
#include "../../sink/web_ind.h"
#include "../../sink/web_int.h"
#include "../../sink/web_worker.h"
#include "bus.h"
#include "err.h"

static void test_listen(void **st)
{
    char host[64], err[ERR_LEN];
    int port, lo;
    (void)st;

    assert_int_equal(web_listen_parse("127.0.0.1:8080", host, sizeof host,
                                      &port, &lo, err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_true(lo);
    assert_int_equal(web_listen_parse("localhost:1", host, sizeof host, &port,
                                      &lo, err), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_true(lo);
    assert_int_equal(web_listen_parse("127.5.6.7:80", host, sizeof host, &port,
                                      &lo, err), 0);
    assert_true(lo);
    assert_int_equal(web_listen_parse("0.0.0.0:80", host, sizeof host, &port,
                                      &lo, err), 0);
    assert_string_equal(host, "");
    assert_false(lo);
    assert_int_equal(web_listen_parse("10.1.2.3:80", host, sizeof host, &port,
                                      &lo, err), 0);
    assert_false(lo);
    assert_int_equal(web_listen_parse("nonsense", host, sizeof host, &port,
                                      &lo, err), ERR_USAGE);
    assert_int_equal(web_listen_parse("127.0.0.1:0", host, sizeof host, &port,
                                      &lo, err), ERR_USAGE);
    assert_int_equal(web_listen_parse("127.0.0.1:65536", host, sizeof host,
                                      &port, &lo, err), ERR_USAGE);
    assert_int_equal(web_listen_parse("example.com:80", host, sizeof host,
                                      &port, &lo, err), ERR_USAGE);
}

static void test_token(void **st)
{
    (void)st;
    assert_true(web_token_ok("abcdefgh"));
    assert_true(web_token_ok("A-b_c.d~1234"));
    assert_false(web_token_ok("short"));
    assert_false(web_token_ok("has space in it"));
    assert_false(web_token_ok("semi;colon;x"));
    assert_true(web_token_equal("secret-token", "secret-token"));
    assert_false(web_token_equal("secret-token", "secret-tokeN"));
    assert_false(web_token_equal("secret-token", "secret"));
    assert_false(web_token_equal("secret", "secret-token"));
    assert_false(web_token_equal("", "x"));
    assert_false(web_token_equal("x", ""));
}

static struct wsym *s_new_sym(size_t cap)
{
    struct wsym *y = calloc(1, sizeof *y);
    y->cap = cap;
    y->scap = 2;
    y->bars = calloc(cap, sizeof *y->bars);
    y->sigs = calloc(y->scap, sizeof *y->sigs);
    return y;
}

static struct wbar s_wbar(int64_t t, double c)
{
    return (struct wbar){ t, c, c + 1, c - 1, c, 10, (uint64_t)t, 1 };
}

static void test_store(void **st)
{
    struct wsym *y = s_new_sym(4);
    struct bar h[6];
    struct wbar b;
    (void)st;

    /* live bars; a repeat of the last time replaces it; older: refused */
    for (int t = 5; t <= 7; t++) {
        b = s_wbar(t, 100 + t);
        assert_int_equal(web_push_bar(y, &b), 0);
    }
    b = s_wbar(7, 200);
    assert_int_equal(web_push_bar(y, &b), 0);
    assert_int_equal(y->n, 3);
    assert_true(web_bar_at(y, 2)->c == 200);
    b = s_wbar(6, 1);
    assert_int_equal(web_push_bar(y, &b), -1);

    /* history 2..7 merged: held bars win their times, newest 4 kept */
    for (int i = 0; i < 6; i++) {
        memset(&h[i], 0, sizeof h[i]);
        h[i].t = 2 + i;
        h[i].o = h[i].h = h[i].l = h[i].c = 50;
        h[i].seq = (uint64_t)(2 + i);
    }
    assert_int_equal(web_merge(y, h, 6), 0);
    assert_int_equal(y->n, 4);
    assert_int_equal(web_bar_at(y, 0)->t, 4);
    assert_true(web_bar_at(y, 0)->c == 50);       /* from history */
    assert_int_equal(web_bar_at(y, 1)->t, 5);
    assert_true(web_bar_at(y, 1)->c == 105);      /* held */
    assert_true(web_bar_at(y, 3)->c == 200);

    /* the ring keeps the newest `cap` */
    b = s_wbar(8, 108);
    assert_int_equal(web_push_bar(y, &b), 0);
    assert_int_equal(y->n, 4);
    assert_int_equal(web_bar_at(y, 0)->t, 5);
    assert_int_equal(web_bar_at(y, 3)->t, 8);

    /* signals: the newest scap */
    web_push_signal(y, strdup("{\"a\":1}"));
    web_push_signal(y, strdup("{\"a\":2}"));
    web_push_signal(y, strdup("{\"a\":3}"));
    assert_int_equal(y->sn, 2);
    assert_string_equal(y->sigs[y->shead], "{\"a\":2}");
    web_sym_free(&y);
    assert_null(y);
}

static struct ind_point s_point(int64_t t, double a, double b)
{
    struct ind_point p;

    memset(&p, 0, sizeof p);
    p.t = t;
    p.n = 2;
    snprintf(p.v[0].name, sizeof p.v[0].name, "sma1");
    snprintf(p.v[1].name, sizeof p.v[1].name, "sma2");
    p.v[0].v = a;
    p.v[1].v = b;
    return p;
}

/* The indicator lines: live points, a point per bar; history merged in;
 * the bound; one engine's lines; new names start them again. */
static void test_ind_store(void **st)
{
    web_ind_t *x = web_ind_new(4);
    struct ind_point p, h[5];
    json_t *j;
    char *s;
    (void)st;

    /* the first live point: kept, but the bars before it are missing */
    p = s_point(10, 1, NAN);
    assert_int_equal(web_ind_add(x, "e1", &p, 1), WEB_IND_MISSING);
    p = s_point(11, 2, NAN);
    assert_int_equal(web_ind_add(x, "e1", &p, 1), WEB_IND_KEPT);
    p = s_point(11, 3, 30);             /* the same bar: replaced */
    assert_int_equal(web_ind_add(x, "e1", &p, 1), WEB_IND_KEPT);
    p = s_point(13, 4, 40);             /* a bar skipped */
    assert_int_equal(web_ind_add(x, "e1", &p, 1), WEB_IND_MISSING);
    p = s_point(12, 9, 9);              /* older than the last */
    assert_int_equal(web_ind_add(x, "e1", &p, 1), ERR_INVALID);
    p = s_point(14, 9, 9);              /* another engine's */
    assert_int_equal(web_ind_add(x, "e2", &p, 1), ERR_INVALID);
    assert_int_equal(web_ind_merge(x, "e2", &p, 1), ERR_INVALID);
    assert_int_equal(web_ind_count(x), 3);

    /* history 8..12: held points win their bars; the newest 4 kept */
    for (int i = 0; i < 5; i++)
        h[i] = s_point(8 + i, 100 + i, i < 2 ? NAN : 200 + i);
    assert_int_equal(web_ind_merge(x, "e1", h, 5), 0);
    assert_int_equal(web_ind_count(x), 4);
    j = web_ind_json(x);
    s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"eng\":\"e1\",\"names\":[\"sma1\","
                        "\"sma2\"],\"points\":[[10,1.0,null],[11,3.0,30.0],"
                        "[12,104.0,204.0],[13,4.0,40.0]]}");
    free(s);
    json_decref(j);

    /* the ring keeps the newest 4 */
    p = s_point(14, 5, 50);
    assert_int_equal(web_ind_add(x, "e1", &p, 1), WEB_IND_KEPT);
    assert_int_equal(web_ind_count(x), 4);

    /* a reloaded strategy with other indicators starts the lines again */
    p = s_point(15, 6, 60);
    snprintf(p.v[1].name, sizeof p.v[1].name, "rsi");
    assert_int_equal(web_ind_add(x, "e1", &p, 1), WEB_IND_MISSING);
    assert_int_equal(web_ind_count(x), 1);
    web_ind_destroy(&x);
    assert_null(x);
}

static void test_msg_refs(void **st)
{
    struct web_msg *m = web_msg_new("{\"type\":\"x\"}", 12), *m2;
    (void)st;

    assert_non_null(m);
    assert_int_equal(m->len, 12);
    assert_memory_equal(m->data, "{\"type\":\"x\"}", 12);
    m->refs++;
    m2 = m;
    web_msg_unref(&m);
    assert_null(m);
    assert_int_equal(m2->refs, 1);
    web_msg_unref(&m2);
}

/* A bound ROUTER on a free loopback port; its endpoint in ep. */
static void *s_router(char *ep, size_t n)
{
    char err[ERR_LEN];
    void *r = bus_bind_router("tcp://127.0.0.1:*", err);

    assert_non_null(r);
    assert_int_equal(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &n), 0);
    return r;
}

/* The worker's next result, waited for (bounded). */
static struct web_result *s_next(web_worker_t *w)
{
    zmq_pollitem_t pi = { web_worker_pipe(w), 0, ZMQ_POLLIN, 0 };

    assert_int_equal(zmq_poll(&pi, 1, 20000), 1);
    return web_worker_recv(w);
}

/* A status round asks every endpoint at once: one that does not answer
 * holds back no other's answer (it comes at its timeout, after). */
static void test_status_round(void **st)
{
    char err[ERR_LEN], ep_down[128], ep_up[128];
    void *down = s_router(ep_down, sizeof ep_down);
    void *up = s_router(ep_up, sizeof ep_up);
    const char *eps[2] = { ep_down, ep_up };
    zmq_pollitem_t pi = { up, 0, ZMQ_POLLIN, 0 };
    web_worker_t *w;
    struct web_result *r;
    zmq_msg_t id, body;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    (void)st;

    w = web_worker_new(NULL, 0, eps, 2, 10, err);
    assert_non_null(w);
    assert_int_equal(zmq_poll(&pi, 1, 20000), 1);
    assert_true(bus_router_recv(up, &id, &body) > 0);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "type", "status");
    mp_kstr(&pk, "id", "up");
    assert_int_equal(bus_router_reply(up, &id, &sb), 0);
    msgpack_sbuffer_destroy(&sb);
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    r = s_next(w);
    assert_non_null(r);
    assert_int_equal(r->kind, WEB_RES_STATUS);
    assert_int_equal(r->index, 1);
    assert_true(r->ok);
    assert_non_null(strstr(r->json, "\"up\""));
    web_result_free(&r);
    r = s_next(w);
    assert_non_null(r);
    assert_int_equal(r->index, 0);
    assert_false(r->ok);
    assert_non_null(strstr(r->err, "no reply from"));
    web_result_free(&r);
    web_worker_destroy(&w);
    bus_close(&down);
    bus_close(&up);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_store),
        cmocka_unit_test(test_ind_store),
        cmocka_unit_test(test_msg_refs),
        cmocka_unit_test(test_status_round),
    };
    return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
