/* test_polygon_ws.c -- feeder/polygon_ws: the frame parser against the
 * recorded and spec fixtures (../shared/polygon_fixtures/ws/, skipped when
 * absent) and hand-made frames (truncated, hostile, 10 MB), then the
 * connection state machine through a fake transport: handshake orders,
 * fatal statuses, deadlines, seeded backoff, re-auth and resume. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../feeder/polygon_ws.h"
#include "err.h"
#include "log.h"

#define FIX "../shared/polygon_fixtures/ws/"
#define AM_GTE "{\"ev\":\"AM\",\"sym\":\"GTE\",\"v\":4110,\"av\":9470157," \
    "\"op\":0.4372,\"vw\":0.4488,\"o\":0.4488,\"c\":0.4486,\"h\":0.4489," \
    "\"l\":0.4486,\"a\":0.4352,\"z\":685,\"s\":1610144640000," \
    "\"e\":1610144700000}"

/* ==== Parser helpers ==================================================== */

#define MAXREC 64

struct rec {
    int nst, nbar;
    struct polygon_ws_status st[MAXREC];
    struct bar bar[MAXREC];
    int order[2 * MAXREC];          /* 's' or 'b', in delivery order */
    int norder;
};

static void s_rec_status(void *arg, const struct polygon_ws_status *st)
{
    struct rec *r = arg;
    if (r->nst < MAXREC)
        r->st[r->nst] = *st;
    r->nst++;
    if (r->norder < 2 * MAXREC)
        r->order[r->norder++] = 's';
}

static void s_rec_bar(void *arg, const struct bar *b)
{
    struct rec *r = arg;
    if (r->nbar < MAXREC)
        r->bar[r->nbar] = *b;
    r->nbar++;
    if (r->norder < 2 * MAXREC)
        r->order[r->norder++] = 'b';
}

static struct rec s_r;
static struct polygon_ws_counts s_c;

/* Parses `text` into s_r / s_c (both reset); returns the parser's code. */
static int s_parse(const char *text)
{
    struct polygon_ws_handler h = { s_rec_status, s_rec_bar, &s_r };

    memset(&s_r, 0, sizeof s_r);
    memset(&s_c, 0, sizeof s_c);
    return polygon_ws_parse(text, strlen(text), POLYGON_WS_FRAME_MAX, &h,
                            &s_c);
}

static uint64_t s_nbad(void)
{
    uint64_t n = 0;
    for (int k = 0; k < PWS_BAD_KINDS; k++)
        n += s_c.bad[k];
    return n;
}

/* Reads a fixture, or NULL (the test is then skipped by the caller). */
static char *s_fixture(const char *name)
{
    char path[512];
    FILE *f;
    long n;
    char *p;

    snprintf(path, sizeof path, FIX "%s", name);
    f = fopen(path, "rb");
    if (!f) {
        print_message("fixture %s absent, skipping\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = 0;
    fclose(f);
    return p;
}

/* ==== Parser: fixtures ================================================== */

static void test_fixture_am(void **state)
{
    char *ev = s_fixture("client-python__polygon-websocket-spec__stocks_AM_"
                         "example.json");
    char frame[1024];
    struct bar *b = &s_r.bar[0];

    (void)state;
    if (!ev)
        skip();
    snprintf(frame, sizeof frame, "[%s]", ev);
    free(ev);
    assert_int_equal(s_parse(frame), 1);
    assert_int_equal(s_r.nbar, 1);
    assert_int_equal(s_nbad(), 0);
    assert_string_equal(b->src, "polygon");
    assert_string_equal(b->sym, "GTE");
    assert_int_equal(b->t, 1610144640000LL);
    assert_int_equal(b->tf, 60);
    assert_float_equal(b->o, 0.4488, 1e-12);
    assert_float_equal(b->h, 0.4489, 1e-12);
    assert_float_equal(b->l, 0.4486, 1e-12);
    assert_float_equal(b->c, 0.4486, 1e-12);
    assert_float_equal(b->vol, 4110, 0);
    assert_float_equal(b->vw, 0.4488, 1e-12);   /* window VWAP, not "a" */
    assert_int_equal(b->n, -1);                 /* "z" is no trade count */
    assert_int_equal(b->seq, 0);
}

static void test_fixture_a(void **state)
{
    char *ev = s_fixture("client-python__polygon-websocket-spec__stocks_A_"
                         "example.json");
    char frame[1024];

    (void)state;
    if (!ev)
        skip();
    snprintf(frame, sizeof frame, "[%s]", ev);
    free(ev);
    assert_int_equal(s_parse(frame), 1);
    assert_string_equal(s_r.bar[0].sym, "SPCE");
    assert_int_equal(s_r.bar[0].tf, 1);
    assert_int_equal(s_r.bar[0].t, 1610144868000LL);
    assert_float_equal(s_r.bar[0].c, 25.39, 1e-12);
    assert_float_equal(s_r.bar[0].vw, 25.3981, 1e-12);
}

static void test_fixture_status_examples(void **state)
{
    static const struct { const char *file; int kind; } cases[] = {
        { "massive-com-client-python_issue-837__connected_frame.json",
          PWS_ST_CONNECTED },
        { "client-python__polygon-websocket-spec__ConnectEvent_example.json",
          PWS_ST_CONNECTED },       /* "success", a lone object */
        { "client-python__polygon-websocket-spec__AuthEvent_example.json",
          PWS_ST_AUTH_SUCCESS },
        { "client-python__polygon-websocket-spec__SubscribeEvent_"
          "example.json", PWS_ST_SUBSCRIBED },
        { "client-python__polygon-websocket-spec__UnsubscribeEvent_"
          "example.json", PWS_ST_UNSUBSCRIBED },
        { "client-python__polygon-websocket-spec__DisconnectEvent_"
          "example.json", PWS_ST_MAX_CONNECTIONS },
    };
    int seen = 0;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = s_fixture(cases[i].file);
        if (!text)
            continue;
        seen++;
        assert_int_equal(s_parse(text), 1);
        assert_int_equal(s_r.nst, 1);
        assert_int_equal(s_r.st[0].kind, cases[i].kind);
        assert_true(s_r.st[0].message[0] != 0);
        free(text);
    }
    if (!seen)
        skip();
}

/* The marketstore transcript: server frames are the lines "> [...]". */
static void test_fixture_transcript(void **state)
{
    static const int want[] = {
        PWS_ST_CONNECTED, PWS_ST_AUTH_SUCCESS, PWS_ST_SUBSCRIBED,
        PWS_ST_SUBSCRIBED, PWS_ST_SUBSCRIBED, PWS_ST_AUTH_FAILED,
        PWS_ST_AUTH_TIMEOUT, PWS_ST_MAX_CONNECTIONS
    };
    char *text = s_fixture("alpacahq-marketstore__contrib_polygon_"
                           "streaming_client.go__ws_transcript.txt");
    char *line, *next;
    int n = 0;

    (void)state;
    if (!text)
        skip();
    for (line = text; line && *line; line = next) {
        char *gt;
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        gt = strstr(line, "> [");
        if (!gt)
            continue;
        assert_int_equal(s_parse(gt + 2), 1);
        assert_true(n < (int)(sizeof want / sizeof want[0]));
        assert_int_equal(s_r.st[0].kind, want[n]);
        n++;
    }
    assert_int_equal(n, sizeof want / sizeof want[0]);
    free(text);
}

/* The official mock's frames: statuses plus trades (unknown ev here). */
static void test_fixture_mock_frames(void **state)
{
    char *text = s_fixture("client-python__test_websocket_mock_server.py__"
                           "frames.jsonl");
    struct polygon_ws_counts total = { 0 };
    struct polygon_ws_handler h = { s_rec_status, s_rec_bar, &s_r };
    char *line, *next;

    (void)state;
    if (!text)
        skip();
    memset(&s_r, 0, sizeof s_r);
    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (*line)
            assert_true(polygon_ws_parse(line, strlen(line),
                                         POLYGON_WS_FRAME_MAX, &h,
                                         &total) >= 0);
    }
    assert_int_equal(total.frames, 6);
    assert_int_equal(total.statuses, 4);
    assert_int_equal(total.bars, 0);
    assert_int_equal(total.bad[PWS_BAD_UNKNOWN_EV], 3);
    assert_int_equal(s_r.st[0].kind, PWS_ST_CONNECTED);
    assert_int_equal(s_r.st[3].kind, PWS_ST_UNSUBSCRIBED);
    free(text);
}

/* ==== Parser: hand-made frames ========================================== */

static void test_mixed_batch_order(void **state)
{
    (void)state;
    assert_int_equal(s_parse(
        "[{\"ev\":\"status\",\"status\":\"success\","
        "\"message\":\"subscribed to: AM.GTE\"}," AM_GTE ","
        "{\"ev\":\"T\",\"sym\":\"GTE\",\"p\":1},"
        "{\"ev\":\"A\",\"sym\":\"X.Y\",\"o\":2,\"h\":3,\"l\":1,\"c\":2,"
        "\"v\":10.5,\"s\":5,\"otc\":true,\"dv\":\"10.5\",\"dav\":\"7\","
        "\"future_key\":[1,{}]},"
        "{\"ev\":\"status\",\"status\":\"slow_consumer\"}]"), 4);
    assert_int_equal(s_r.norder, 4);
    assert_int_equal(s_r.order[0], 's');
    assert_int_equal(s_r.order[1], 'b');
    assert_int_equal(s_r.order[2], 'b');
    assert_int_equal(s_r.order[3], 's');
    assert_int_equal(s_r.st[0].kind, PWS_ST_SUBSCRIBED);
    assert_int_equal(s_r.st[1].kind, PWS_ST_SLOW_CONSUMER);
    assert_string_equal(s_r.st[1].message, "");
    assert_string_equal(s_r.bar[1].sym, "X.Y");
    assert_float_equal(s_r.bar[1].vol, 10.5, 0);
    assert_true(isnan(s_r.bar[1].vw));
    assert_int_equal(s_c.events, 5);
    assert_int_equal(s_c.bad[PWS_BAD_UNKNOWN_EV], 1);
    assert_int_equal(s_nbad(), 1);
}

static void test_status_kinds(void **state)
{
    static const struct { const char *st, *msg; int kind; } cases[] = {
        { "connected", "Connected Successfully", PWS_ST_CONNECTED },
        { "success", "Connected Successfully", PWS_ST_CONNECTED },
        { "auth_success", "authenticated", PWS_ST_AUTH_SUCCESS },
        { "success", "authenticated", PWS_ST_AUTH_SUCCESS },
        { "auth_failed", "authentication failed", PWS_ST_AUTH_FAILED },
        { "auth_timeout", "No authentication request received.",
          PWS_ST_AUTH_TIMEOUT },
        { "auth_required", "x", PWS_ST_AUTH_REQUIRED },
        { "success", "subscribed to: AM.AAPL", PWS_ST_SUBSCRIBED },
        { "success", "unsubscribed to: AM.AAPL", PWS_ST_UNSUBSCRIBED },
        { "success", "something else", PWS_ST_SUCCESS },
        { "error", "not authorized", PWS_ST_ERROR },
        { "max_connections", "Maximum number of connections exceeded.",
          PWS_ST_MAX_CONNECTIONS },
        { "force_disconnect", "", PWS_ST_FORCE_DISCONNECT },
        { "slow_consumer", "", PWS_ST_SLOW_CONSUMER },
        { "brand_new", "hello", PWS_ST_OTHER },
    };
    char frame[512];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(frame, sizeof frame, "[{\"ev\":\"status\",\"status\":\"%s\","
                 "\"message\":\"%s\"}]", cases[i].st, cases[i].msg);
        assert_int_equal(s_parse(frame), 1);
        assert_int_equal(s_r.st[0].kind, cases[i].kind);
        assert_string_equal(s_r.st[0].status, cases[i].st);
        assert_string_equal(s_r.st[0].message, cases[i].msg);
        assert_string_not_equal(polygon_ws_status_name(cases[i].kind), "?");
    }
    /* A long message is truncated, not overflowed. */
    {
        char big[2048];
        memset(big, 'm', 1500);
        big[1500] = 0;
        char *f = malloc(4096);
        assert_non_null(f);
        snprintf(f, 4096, "[{\"ev\":\"status\",\"status\":\"error\","
                 "\"message\":\"%s\"}]", big);
        assert_int_equal(s_parse(f), 1);
        assert_int_equal(strlen(s_r.st[0].message), POLYGON_WS_TEXT_MAX - 1);
        free(f);
    }
}

/* Each bad event is skipped and counted under its kind; the good event
 * after it in the same frame still gets through. */
static void test_bad_events(void **state)
{
    static const struct { const char *ev; int kind; } cases[] = {
        { "42", PWS_BAD_NOT_OBJECT },
        { "[1]", PWS_BAD_NOT_OBJECT },
        { "null", PWS_BAD_NOT_OBJECT },
        { "{}", PWS_BAD_NO_EV },
        { "{\"ev\":7}", PWS_BAD_NO_EV },
        { "{\"ev\":\"XQ\"}", PWS_BAD_UNKNOWN_EV },
        { "{\"ev\":\"am\",\"sym\":\"A\"}", PWS_BAD_UNKNOWN_EV },
        { "{\"ev\":\"status\"}", PWS_BAD_MISSING },
        { "{\"ev\":\"status\",\"status\":1}", PWS_BAD_TYPE },
        { "{\"ev\":\"status\",\"status\":\"x\",\"message\":[]}",
          PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1,\"s\":1}",
          PWS_BAD_MISSING },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"h\":1,\"l\":1,\"c\":1,\"v\":1,"
          "\"s\":1}", PWS_BAD_MISSING },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1}", PWS_BAD_MISSING },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"s\":1}", PWS_BAD_MISSING },
        { "{\"ev\":\"AM\",\"sym\":5,\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":1}", PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":\"1\",\"h\":1,\"l\":1,"
          "\"c\":1,\"v\":1,\"s\":1}", PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":\"1\"}", PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":1.5e12}", PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":null,\"s\":1}", PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"vw\":\"x\",\"s\":1}", PWS_BAD_TYPE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":0,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":-2,"
          "\"v\":1,\"s\":1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":2,\"c\":1,"
          "\"v\":1,\"s\":1}", PWS_BAD_VALUE },     /* high < low */
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":-1,\"s\":1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":-1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"A B\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"v\":1,\"s\":1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
          "\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1,\"s\":1}", PWS_BAD_VALUE },
        { "{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,"
          "\"dv\":\"abc\",\"s\":1}", PWS_BAD_MISSING },
    };
    char frame[1024];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(frame, sizeof frame, "[%s," AM_GTE "]", cases[i].ev);
        assert_int_equal(s_parse(frame), 1);
        assert_int_equal(s_r.nbar, 1);
        assert_string_equal(s_r.bar[0].sym, "GTE");
        if (s_c.bad[cases[i].kind] != 1 || s_nbad() != 1)
            fail_msg("case %zu %s: expected one '%s'", i, cases[i].ev,
                     polygon_ws_bad_name(cases[i].kind));
    }
    /* Decimal volume stands in for a missing "v". */
    assert_int_equal(s_parse("[{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1,\"h\":1,"
                             "\"l\":1,\"c\":1,\"dv\":\"4989.5\",\"s\":1}]"),
                     1);
    assert_float_equal(s_r.bar[0].vol, 4989.5, 0);
}

static void test_bad_frames(void **state)
{
    static const char *frames[] = {
        "", " ", "[", "]", "{", "[{", "[{\"ev\":", "[{\"ev\":\"AM\"",
        "[{\"ev\":\"AM\",}]", "[1,]", "nul", "[NaN]",
        "[{\"ev\":\"AM\",\"sym\":\"A\",\"o\":NaN}]",
        "[{\"ev\":\"AM\",\"sym\":\"A\",\"o\":1e999}]",
        "\xff\xfe[]", "[\"\xc3\x28\"]", "[] []", "garbage",
    };

    (void)state;
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        if (s_parse(frames[i]) != ERR_PARSE)
            fail_msg("frame %zu '%s' accepted", i, frames[i]);
        assert_int_equal(s_c.bad[PWS_BAD_JSON], 1);
        assert_int_equal(s_r.norder, 0);
    }
    /* Valid JSON that is not a batch. */
    static const char *scalars[] = { "42", "\"x\"", "null", "true" };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        assert_int_equal(s_parse(scalars[i]), ERR_PARSE);
        assert_int_equal(s_c.bad[PWS_BAD_NOT_ARRAY], 1);
    }
    /* An empty batch is fine. */
    assert_int_equal(s_parse("[]"), 0);
    assert_int_equal(s_nbad(), 0);
    /* A NUL byte inside a frame. */
    {
        static const char nul[] = "[{\"ev\":\"st\0tus\"}]";
        struct polygon_ws_handler h = { s_rec_status, s_rec_bar, &s_r };
        memset(&s_c, 0, sizeof s_c);
        assert_int_equal(polygon_ws_parse(nul, sizeof nul - 1,
                                          POLYGON_WS_FRAME_MAX, &h, &s_c),
                         ERR_PARSE);
        /* NULL data with zero length. */
        assert_int_equal(polygon_ws_parse(NULL, 0, 10, NULL, &s_c),
                         ERR_PARSE);
    }
}

/* Every strict prefix of a good frame is refused; none crashes. */
static void test_truncated(void **state)
{
    const char *full = "[{\"ev\":\"status\",\"status\":\"connected\","
                       "\"message\":\"Connected Successfully\"}," AM_GTE "]";
    size_t n = strlen(full);
    struct polygon_ws_counts c = { 0 };

    (void)state;
    for (size_t k = 0; k < n; k++) {
        char *p = malloc(k ? k : 1);   /* exact size: ASan sees overreads */
        assert_non_null(p);
        memcpy(p, full, k);
        assert_int_equal(polygon_ws_parse(p, k, POLYGON_WS_FRAME_MAX, NULL,
                                          &c), ERR_PARSE);
        free(p);
    }
    assert_int_equal(c.bad[PWS_BAD_JSON], n);
    assert_int_equal(s_parse(full), 2);
}

static void test_deep_nesting(void **state)
{
    size_t n = 100000;
    char *p = malloc(n + 1);

    (void)state;
    assert_non_null(p);
    memset(p, '[', n);
    p[n] = 0;
    assert_int_equal(s_parse(p), ERR_PARSE);
    free(p);
}

/* A 10 MB frame: over the default cap it is refused without parsing;
 * under a raised cap its ~50k bars all come through. */
static void test_10mb_frame(void **state)
{
    size_t cap = 11u << 20, off = 0, nev = 0;
    char *p = malloc(cap);
    struct polygon_ws_counts c = { 0 };
    struct polygon_ws_handler h = { NULL, NULL, NULL };
    int rc;

    (void)state;
    assert_non_null(p);
    p[off++] = '[';
    while (off < 10u * 1000 * 1000) {
        off += (size_t)snprintf(p + off, cap - off, "%s{\"ev\":\"AM\","
            "\"sym\":\"S%zu\",\"v\":100,\"vw\":10.1,\"o\":10,\"c\":10.2,"
            "\"h\":10.5,\"l\":9.5,\"z\":5,\"s\":%zu,\"e\":%zu}",
            nev ? "," : "", nev % 5000, 1600000000000 + nev * 60000,
            1600000060000 + nev * 60000);
        nev++;
    }
    p[off++] = ']';
    assert_true(off > 10u * 1000 * 1000);
    assert_true(POLYGON_WS_FRAME_MAX < off);
    assert_int_equal(polygon_ws_parse(p, off, POLYGON_WS_FRAME_MAX, &h, &c),
                     ERR_TOO_LARGE);
    assert_int_equal(c.bad[PWS_BAD_TOO_LARGE], 1);
    assert_int_equal(c.events, 0);
    rc = polygon_ws_parse(p, off, 16u << 20, &h, &c);
    assert_int_equal(rc, (int)nev);
    assert_int_equal(c.bars, nev);
    /* Cut in the middle: one JSON error, nothing delivered. */
    assert_int_equal(polygon_ws_parse(p, off / 2, 16u << 20, &h, &c),
                     ERR_PARSE);
    assert_int_equal(c.bad[PWS_BAD_JSON], 1);
    assert_int_equal(c.bars, nev);
    free(p);
}

/* ==== State machine: fake transport ===================================== */

struct fake {
    int connects, closes, connect_rc, send_rc;
    char sent[8][512];
    int nsent;
    int nbar, last_sym;
    struct bar last;
    int resumed;
    int64_t resumed_t[4];
    int transitions;
};

static struct fake F;

static int f_connect(void *arg)
{
    (void)arg;
    F.connects++;
    return F.connect_rc;
}

static int f_send(void *arg, const char *text, size_t len)
{
    (void)arg;
    assert_int_equal(strlen(text), len);
    if (F.send_rc)
        return F.send_rc;
    assert_true(F.nsent < 8);
    snprintf(F.sent[F.nsent++], sizeof F.sent[0], "%s", text);
    return 0;
}

static void f_close(void *arg)
{
    (void)arg;
    F.closes++;
}

static void f_bar(void *arg, int sym, const struct bar *b)
{
    (void)arg;
    F.nbar++;
    F.last_sym = sym;
    F.last = *b;
}

static void f_resumed(void *arg, const int64_t *last_t, int nsym)
{
    (void)arg;
    F.resumed++;
    assert_true(nsym <= 4);
    memcpy(F.resumed_t, last_t, (size_t)nsym * sizeof *last_t);
}

static void f_state(void *arg, int from, int to)
{
    (void)arg;
    assert_int_not_equal(from, to);
    F.transitions++;
}

static const struct polygon_ws_io s_io = {
    f_connect, f_send, f_close, f_bar, f_resumed, f_state, NULL, NULL
};
static const char *s_syms[] = { "MSFT", "AAPL" };

#define ST(s, m) "{\"ev\":\"status\",\"status\":\"" s "\"," \
                 "\"message\":\"" m "\"}"
#define CONNECTED "[" ST("connected", "Connected Successfully") "]"
#define AUTH_OK "[" ST("auth_success", "authenticated") "]"
#define ACK(t) "[" ST("success", "subscribed to: " t) "]"
#define BAR(sym, t) "[{\"ev\":\"AM\",\"sym\":\"" sym "\",\"o\":1,\"h\":2," \
                    "\"l\":1,\"c\":2,\"v\":3,\"s\":" #t "}]"

static polygon_ws_t *s_new(struct polygon_ws_cfg *cfg)
{
    char err[ERR_LEN];
    polygon_ws_t *ws;

    memset(&F, 0, sizeof F);
    ws = polygon_ws_new(cfg, &s_io, err);
    assert_non_null(ws);
    return ws;
}

static void s_cfg(struct polygon_ws_cfg *cfg)
{
    polygon_ws_cfg_defaults(cfg);
    cfg->api_key = "KEY\"1";        /* needs JSON escaping */
    cfg->symbols = s_syms;
    cfg->nsym = 2;
    cfg->seed = 42;
}

static void s_frame(polygon_ws_t *ws, const char *text, int64_t now)
{
    polygon_ws_frame(ws, text, strlen(text), now);
}

/* Runs start .. streaming at time t0 with the normal order. */
static void s_to_streaming(polygon_ws_t *ws, int64_t t0)
{
    int c0 = F.connects, s0 = F.nsent;

    if (polygon_ws_state(ws) == PWS_STOPPED)
        assert_int_equal(polygon_ws_start(ws, t0), 0);
    else
        polygon_ws_tick(ws, t0);
    assert_int_equal(F.connects, c0 + 1);
    assert_int_equal(polygon_ws_state(ws), PWS_CONNECTING);
    polygon_ws_opened(ws, t0 + 1);
    assert_int_equal(polygon_ws_state(ws), PWS_AWAIT_CONNECTED);
    assert_int_equal(F.nsent, s0);          /* waits for `connected` */
    s_frame(ws, CONNECTED, t0 + 2);
    assert_int_equal(polygon_ws_state(ws), PWS_AUTHENTICATING);
    assert_string_equal(F.sent[s0],
                        "{\"action\":\"auth\",\"params\":\"KEY\\\"1\"}");
    s_frame(ws, AUTH_OK, t0 + 3);
    assert_int_equal(polygon_ws_state(ws), PWS_SUBSCRIBING);
    assert_string_equal(F.sent[s0 + 1], "{\"action\":\"subscribe\","
                        "\"params\":\"AM.MSFT,AM.AAPL\"}");
    s_frame(ws, ACK("AM.MSFT"), t0 + 4);
    assert_int_equal(polygon_ws_state(ws), PWS_SUBSCRIBING);
    s_frame(ws, ACK("AM.AAPL"), t0 + 5);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
}

/* ==== State machine: tests ============================================= */

static void test_sm_new_validation(void **state)
{
    struct polygon_ws_cfg cfg;
    struct polygon_ws_io io = s_io;
    const char *dup[] = { "A", "B", "A" };
    const char *bad[] = { "A", "B,C" };
    char err[ERR_LEN];

    (void)state;
    s_cfg(&cfg);
    cfg.api_key = "";
    assert_null(polygon_ws_new(&cfg, &io, err));
    assert_non_null(strstr(err, "key"));
    s_cfg(&cfg);
    cfg.symbols = dup;
    cfg.nsym = 3;
    assert_null(polygon_ws_new(&cfg, &io, err));
    assert_non_null(strstr(err, "twice"));
    cfg.symbols = bad;
    cfg.nsym = 2;
    assert_null(polygon_ws_new(&cfg, &io, err));
    assert_non_null(strstr(err, "B,C"));
    s_cfg(&cfg);
    cfg.channel = "T";
    assert_null(polygon_ws_new(&cfg, &io, err));
    s_cfg(&cfg);
    cfg.backoff_max_ms = 1;
    assert_null(polygon_ws_new(&cfg, &io, err));
    s_cfg(&cfg);
    cfg.nsym = 0;
    assert_null(polygon_ws_new(&cfg, &io, err));
    s_cfg(&cfg);
    io.send = NULL;
    assert_null(polygon_ws_new(&cfg, &io, err));
    /* destroy is idempotent */
    polygon_ws_t *ws = s_new(&cfg);
    polygon_ws_destroy(&ws);
    assert_null(ws);
    polygon_ws_destroy(&ws);
}

static void test_sm_happy_path(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;
    const struct polygon_ws_stats *st;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);
    assert_int_equal(polygon_ws_state(ws), PWS_STOPPED);
    s_to_streaming(ws, 1000);
    assert_int_equal(F.resumed, 0);     /* first connection: no gap */
    assert_int_equal(polygon_ws_last_bar(ws, 0), -1);
    s_frame(ws, BAR("AAPL", 60000), 2000);
    assert_int_equal(F.nbar, 1);
    assert_int_equal(F.last_sym, 1);
    assert_string_equal(F.last.sym, "AAPL");
    assert_int_equal(polygon_ws_last_bar(ws, 1), 60000);
    assert_int_equal(polygon_ws_last_bar(ws, 0), -1);
    assert_int_equal(polygon_ws_last_bar(ws, 7), -1);
    /* A re-sent (corrected) bar passes through; last time stays. */
    s_frame(ws, BAR("AAPL", 60000), 2100);
    s_frame(ws, BAR("AAPL", 0), 2100);
    assert_int_equal(F.nbar, 3);
    assert_int_equal(polygon_ws_last_bar(ws, 1), 60000);
    /* Symbol not subscribed: counted, dropped. */
    s_frame(ws, BAR("IBM", 60000), 2200);
    assert_int_equal(F.nbar, 3);
    st = polygon_ws_stats(ws);
    assert_int_equal(st->unknown_sym, 1);
    assert_int_equal(st->parse.bars, 4);
    assert_int_equal(st->connects, 1);
    assert_int_equal(st->reconnects, 0);
    /* A broken frame while streaming changes nothing. */
    s_frame(ws, "[{\"ev\":\"AM\"", 2300);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    assert_int_equal(st->parse.bad[PWS_BAD_JSON], 1);
    assert_true(F.transitions >= 5);
    polygon_ws_stop(ws);
    assert_int_equal(polygon_ws_state(ws), PWS_STOPPED);
    assert_int_equal(F.closes, 1);
    s_frame(ws, BAR("AAPL", 120000), 2400);      /* ignored after stop */
    assert_int_equal(F.nbar, 3);
    polygon_ws_tick(ws, 999999);
    assert_int_equal(F.connects, 1);
    assert_int_equal(polygon_ws_next_ms(ws, 0), -1);
    polygon_ws_destroy(&ws);
}

/* Go-style: auth goes out on open; the answer may precede `connected`. */
static void test_sm_auth_before_connected(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    cfg.auth_on_open = 1;
    cfg.channel = "A";
    ws = s_new(&cfg);
    polygon_ws_start(ws, 0);
    polygon_ws_opened(ws, 1);
    assert_int_equal(F.nsent, 1);
    assert_non_null(strstr(F.sent[0], "\"auth\""));
    assert_int_equal(polygon_ws_state(ws), PWS_AUTHENTICATING);
    s_frame(ws, AUTH_OK, 2);
    assert_int_equal(polygon_ws_state(ws), PWS_SUBSCRIBING);
    assert_non_null(strstr(F.sent[1], "\"A.MSFT,A.AAPL\""));
    s_frame(ws, CONNECTED, 3);          /* late: no second auth */
    assert_int_equal(F.nsent, 2);
    assert_int_equal(polygon_ws_state(ws), PWS_SUBSCRIBING);
    /* Data before the acks means the subscription works. */
    s_frame(ws, "[{\"ev\":\"A\",\"sym\":\"MSFT\",\"o\":1,\"h\":1,\"l\":1,"
            "\"c\":1,\"v\":1,\"s\":5000}]", 4);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    assert_int_equal(F.nbar, 1);
    assert_int_equal(F.last.tf, 1);
    s_frame(ws, ACK("A.MSFT"), 5);      /* late acks are harmless */
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    assert_int_equal(polygon_ws_stats(ws)->late_status, 2);
    polygon_ws_destroy(&ws);
}

/* The spec's "success" for connect, the 2019 "success" for auth, and a
 * whole handshake in one frame. */
static void test_sm_success_variants(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);
    polygon_ws_start(ws, 0);
    polygon_ws_opened(ws, 1);
    s_frame(ws, "[" ST("success", "Connected Successfully") "]", 2);
    assert_int_equal(polygon_ws_state(ws), PWS_AUTHENTICATING);
    s_frame(ws, "[" ST("success", "authenticated") ","
            ST("success", "subscribed to: AM.MSFT") ","
            ST("success", "subscribed to: AM.AAPL") "]", 3);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    assert_int_equal(F.nsent, 2);
    polygon_ws_destroy(&ws);
}

static void test_sm_auth_failed_is_fatal(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;
    const char *msg;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);
    polygon_ws_start(ws, 0);
    polygon_ws_opened(ws, 1);
    s_frame(ws, CONNECTED, 2);
    s_frame(ws, "[" ST("auth_failed", "authentication failed") ","
            ST("success", "subscribed to: AM.MSFT") "]", 3);
    assert_int_equal(polygon_ws_state(ws), PWS_FAILED);
    assert_int_equal(polygon_ws_error(ws, &msg), POLYGON_WS_ERR_AUTH);
    assert_non_null(strstr(msg, "authentication failed"));
    assert_int_equal(F.closes, 1);
    assert_int_equal(F.nsent, 1);       /* no subscribe */
    polygon_ws_closed(ws, 4);           /* late close: ignored */
    polygon_ws_tick(ws, 1000000);
    assert_int_equal(F.connects, 1);    /* never retried */
    polygon_ws_stop(ws);
    assert_int_equal(polygon_ws_state(ws), PWS_FAILED);
    assert_int_equal(polygon_ws_start(ws, 0), POLYGON_WS_ERR_AUTH);
    polygon_ws_destroy(&ws);
}

/* max_connections: another client holds the key's connection. Not fatal
 * (it may be this feeder's own restart whose old link lingers): a long
 * wait, then the usual re-auth and re-subscribe. */
static void test_sm_max_connections_waits_long(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;
    int64_t d;

    (void)state;
    s_cfg(&cfg);
    cfg.kicked_backoff_ms = 60000;
    ws = s_new(&cfg);
    s_to_streaming(ws, 0);
    s_frame(ws, "[" ST("max_connections", "Maximum number of connections "
            "exceeded.") "]", 100);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(polygon_ws_error(ws, NULL), 0);
    assert_int_equal(F.closes, 1);
    assert_int_equal(polygon_ws_stats(ws)->kicked, 1);
    d = polygon_ws_next_ms(ws, 100);
    assert_int_equal(d, 60000);         /* the normal backoff is < 500 */
    polygon_ws_tick(ws, 100 + d - 1);
    assert_int_equal(F.connects, 1);
    s_to_streaming(ws, 100 + d);
    assert_int_equal(F.connects, 2);
    assert_int_equal(F.resumed, 1);
    polygon_ws_destroy(&ws);
}

static void test_sm_subscribe_denied(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);                   /* one refused, one granted */
    polygon_ws_start(ws, 0);
    polygon_ws_opened(ws, 0);
    s_frame(ws, CONNECTED AUTH_OK, 0);  /* not JSON: two arrays */
    assert_int_equal(polygon_ws_state(ws), PWS_AWAIT_CONNECTED);
    s_frame(ws, CONNECTED, 0);
    s_frame(ws, AUTH_OK, 0);
    s_frame(ws, "[" ST("error", "not authorized") "]", 1);
    s_frame(ws, ACK("AM.AAPL"), 2);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    polygon_ws_destroy(&ws);

    ws = s_new(&cfg);                   /* every topic refused */
    polygon_ws_start(ws, 0);
    polygon_ws_opened(ws, 0);
    s_frame(ws, CONNECTED, 0);
    s_frame(ws, AUTH_OK, 0);
    s_frame(ws, "[" ST("error", "not authorized") ","
            ST("error", "not authorized") "]", 1);
    assert_int_equal(polygon_ws_error(ws, NULL), POLYGON_WS_ERR_PLAN);
    polygon_ws_destroy(&ws);
}

/* Seeded backoff: doubling from base, capped, jitter in [d/2, d], the
 * same for the same seed. */
static void test_sm_backoff_deterministic(void **state)
{
    struct polygon_ws_cfg cfg;
    int64_t got[2][10];

    (void)state;
    s_cfg(&cfg);
    cfg.backoff_base_ms = 1000;
    cfg.backoff_max_ms = 16000;
    for (int run = 0; run < 2; run++) {
        polygon_ws_t *ws = s_new(&cfg);
        int64_t now = 0, d = 1000;
        polygon_ws_start(ws, now);
        for (int i = 0; i < 10; i++) {
            polygon_ws_closed(ws, now);         /* connection refused */
            assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
            got[run][i] = polygon_ws_next_ms(ws, now);
            assert_true(got[run][i] >= d / 2 && got[run][i] <= d);
            polygon_ws_tick(ws, now + got[run][i] - 1);
            assert_int_equal(F.connects, i + 1);
            now += got[run][i];
            polygon_ws_tick(ws, now);
            assert_int_equal(F.connects, i + 2);
            assert_int_equal(polygon_ws_state(ws), PWS_CONNECTING);
            if (d < 16000)
                d *= 2;
        }
        assert_int_equal(polygon_ws_stats(ws)->reconnects, 10);
        polygon_ws_destroy(&ws);
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
    /* Another seed, another sequence. */
    cfg.seed = 43;
    {
        polygon_ws_t *ws = s_new(&cfg);
        int same = 1;
        int64_t now = 0;
        polygon_ws_start(ws, 0);
        for (int i = 0; i < 10; i++) {
            polygon_ws_closed(ws, now);
            if (polygon_ws_next_ms(ws, now) != got[0][i])
                same = 0;
            now += polygon_ws_next_ms(ws, now);
            polygon_ws_tick(ws, now);
        }
        assert_false(same);
        polygon_ws_destroy(&ws);
    }
}

/* A drop while streaming: backoff restarts from base, then a full
 * re-auth and re-subscribe, and `resumed` reports the last bars. */
static void test_sm_reconnect_resubscribes(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;
    int64_t d;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);
    s_to_streaming(ws, 0);
    s_frame(ws, BAR("MSFT", 120000), 10);
    s_frame(ws, BAR("MSFT", 180000), 11);
    polygon_ws_closed(ws, 100);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.closes, 0);      /* transport already closed */
    d = polygon_ws_next_ms(ws, 100);
    assert_true(d >= 250 && d <= 500);
    F.nsent = 0;
    s_to_streaming(ws, 100 + d);        /* sends auth + subscribe again */
    assert_int_equal(F.resumed, 1);
    assert_int_equal(F.resumed_t[0], 180000);
    assert_int_equal(F.resumed_t[1], -1);
    assert_int_equal(polygon_ws_stats(ws)->reconnects, 1);
    /* A link dropped before any bar and within stable_ms was not a
     * success: the next wait doubles. */
    s_frame(ws, "[" ST("force_disconnect", "bye") "]", 5000);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.closes, 1);
    d = polygon_ws_next_ms(ws, 5000);
    assert_true(d >= 500 && d <= 1000);
    /* A link that carried a bar was: back to the base delay. */
    s_to_streaming(ws, 5000 + d);
    s_frame(ws, BAR("MSFT", 240000), 6000 + d);
    s_frame(ws, "[" ST("force_disconnect", "bye") "]", 6001 + d);
    d = polygon_ws_next_ms(ws, 6001 + d);
    assert_true(d >= 250 && d <= 500);
    /* So was a quiet link that streamed for stable_ms. */
    s_to_streaming(ws, 10000);          /* streaming from 10005 */
    polygon_ws_activity(ws, 10005 + cfg.stable_ms - 1);
    polygon_ws_closed(ws, 10005 + cfg.stable_ms);
    d = polygon_ws_next_ms(ws, 10005 + cfg.stable_ms);
    assert_true(d >= 250 && d <= 500);
    polygon_ws_destroy(&ws);
}

/* A second bar on an AM link (or a minute bar on an A link) is not what
 * was subscribed: skipped and counted, never delivered. */
static void test_sm_wrong_channel_skipped(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);
    s_to_streaming(ws, 0);
    s_frame(ws, "[{\"ev\":\"A\",\"sym\":\"MSFT\",\"o\":1,\"h\":1,"
            "\"l\":1,\"c\":1,\"v\":1,\"s\":60000}]", 10);
    assert_int_equal(F.nbar, 0);
    assert_int_equal(polygon_ws_stats(ws)->wrong_channel, 1);
    s_frame(ws, BAR("MSFT", 60000), 11);
    assert_int_equal(F.nbar, 1);
    polygon_ws_destroy(&ws);
}

/* Events after a disconnect status in the same frame are ignored. */
static void test_sm_slow_consumer_rest_of_frame(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    ws = s_new(&cfg);
    s_to_streaming(ws, 0);
    s_frame(ws, "[" ST("slow_consumer", "") ",{\"ev\":\"AM\",\"sym\":"
            "\"MSFT\",\"o\":1,\"h\":1,\"l\":1,\"c\":1,\"v\":1,\"s\":1}]", 10);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.nbar, 0);
    assert_int_equal(F.closes, 1);
    polygon_ws_destroy(&ws);
}

static void test_sm_read_deadline(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    cfg.read_timeout_ms = 30000;
    ws = s_new(&cfg);
    s_to_streaming(ws, 0);              /* last frame at 5 */
    assert_int_equal(polygon_ws_next_ms(ws, 5), 30000);
    polygon_ws_tick(ws, 30004);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    polygon_ws_activity(ws, 30000);     /* a pong */
    polygon_ws_tick(ws, 59999);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    s_frame(ws, "[]", 50000);           /* any frame counts */
    polygon_ws_tick(ws, 79999);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    polygon_ws_tick(ws, 80000);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.closes, 1);
    assert_int_equal(polygon_ws_stats(ws)->timeouts, 1);
    polygon_ws_destroy(&ws);
}

static void test_sm_handshake_timeout(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;

    (void)state;
    s_cfg(&cfg);
    cfg.handshake_ms = 1000;
    ws = s_new(&cfg);
    polygon_ws_start(ws, 0);            /* never opens */
    assert_int_equal(polygon_ws_next_ms(ws, 200), 800);
    polygon_ws_tick(ws, 999);
    assert_int_equal(polygon_ws_state(ws), PWS_CONNECTING);
    polygon_ws_tick(ws, 1000);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.closes, 1);
    polygon_ws_tick(ws, 2000);          /* reconnect, then stall in auth */
    assert_int_equal(F.connects, 2);
    polygon_ws_opened(ws, 2000);
    s_frame(ws, CONNECTED, 2001);
    assert_int_equal(polygon_ws_state(ws), PWS_AUTHENTICATING);
    polygon_ws_tick(ws, 3000);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(polygon_ws_stats(ws)->timeouts, 2);
    /* auth_timeout from the server is transient too. */
    polygon_ws_tick(ws, 10000);
    polygon_ws_opened(ws, 10000);
    s_frame(ws, "[" ST("auth_timeout", "No authentication request "
            "received.") "]", 10001);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(polygon_ws_error(ws, NULL), 0);
    polygon_ws_destroy(&ws);
}

static void test_sm_transport_failures(void **state)
{
    struct polygon_ws_cfg cfg;
    polygon_ws_t *ws;
    const char *msg;

    (void)state;
    s_cfg(&cfg);
    cfg.max_reconnects = 3;
    ws = s_new(&cfg);
    F.connect_rc = ERR_IO;              /* connect refused at once */
    assert_int_equal(polygon_ws_start(ws, 0), 0);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.closes, 0);
    for (int64_t now = 0; polygon_ws_state(ws) == PWS_BACKOFF;) {
        now += polygon_ws_next_ms(ws, now);
        polygon_ws_tick(ws, now);
    }
    assert_int_equal(polygon_ws_error(ws, &msg), POLYGON_WS_ERR_RETRIES);
    assert_non_null(strstr(msg, "3 tries"));
    assert_int_equal(F.connects, 4);
    polygon_ws_destroy(&ws);

    s_cfg(&cfg);
    ws = s_new(&cfg);                   /* send fails: drop, retry */
    polygon_ws_start(ws, 0);
    polygon_ws_opened(ws, 0);
    F.send_rc = ERR_IO;
    s_frame(ws, CONNECTED, 1);
    assert_int_equal(polygon_ws_state(ws), PWS_BACKOFF);
    assert_int_equal(F.closes, 1);
    F.send_rc = 0;
    polygon_ws_tick(ws, 100000);
    assert_int_equal(polygon_ws_state(ws), PWS_CONNECTING);
    polygon_ws_opened(ws, 100000);
    s_frame(ws, CONNECTED, 100001);
    assert_int_equal(polygon_ws_state(ws), PWS_AUTHENTICATING);
    /* Frames and opens out of place are ignored. */
    polygon_ws_opened(ws, 100002);
    assert_int_equal(polygon_ws_state(ws), PWS_AUTHENTICATING);
    polygon_ws_destroy(&ws);
}

/* --symbols '*': one topic, CH.*, and each symbol numbered by the
 * feeder's callback as its first bar comes. */
static char s_seen[4][SYM_MAX];
static int s_nseen;

static int f_symbol(void *arg, const char *name)
{
    (void)arg;
    for (int i = 0; i < s_nseen; i++)
        if (strcmp(s_seen[i], name) == 0)
            return i;
    if (s_nseen == 3 || strcmp(name, "NOPE") == 0)
        return ERR_TOO_LARGE;       /* the feeder does not take it */
    snprintf(s_seen[s_nseen], SYM_MAX, "%s", name);
    return s_nseen++;
}

static void test_sm_every_symbol(void **state)
{
    struct polygon_ws_cfg cfg;
    struct polygon_ws_io io = s_io;
    polygon_ws_t *ws;
    char err[ERR_LEN];

    (void)state;
    s_cfg(&cfg);
    cfg.all = 1;
    cfg.nsym = 0;
    cfg.symbols = NULL;
    cfg.channel = "A";
    assert_null(polygon_ws_new(&cfg, &io, err));    /* no callback */
    assert_non_null(strstr(err, "callback"));
    io.symbol = f_symbol;
    memset(&F, 0, sizeof F);
    s_nseen = 0;
    ws = polygon_ws_new(&cfg, &io, err);
    assert_non_null(ws);
    assert_int_equal(polygon_ws_start(ws, 1000), 0);
    polygon_ws_opened(ws, 1001);
    s_frame(ws, CONNECTED, 1002);
    s_frame(ws, AUTH_OK, 1003);
    assert_int_equal(F.nsent, 2);
    assert_string_equal(F.sent[1], "{\"action\":\"subscribe\","
                        "\"params\":\"A.*\"}");
    s_frame(ws, ACK("A.*"), 1004);              /* one topic, one ack */
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    assert_int_equal(polygon_ws_nsym(ws), 0);
#define SEC(sym, t) "[{\"ev\":\"A\",\"sym\":\"" sym "\",\"o\":1," \
                    "\"h\":2,\"l\":1,\"c\":2,\"v\":3,\"s\":" #t "}]"
    s_frame(ws, SEC("IBM", 1000), 1100);
    assert_int_equal(F.nbar, 1);
    assert_int_equal(F.last_sym, 0);
    s_frame(ws, SEC("BRK.B", 1000), 1100);
    assert_int_equal(F.last_sym, 1);
    s_frame(ws, SEC("IBM", 2000), 1200);
    assert_int_equal(F.nbar, 3);
    assert_int_equal(F.last_sym, 0);
    assert_int_equal(polygon_ws_nsym(ws), 2);
    assert_int_equal(polygon_ws_last_bar(ws, 0), 2000);
    assert_int_equal(polygon_ws_last_bar(ws, 1), 1000);
    /* One the feeder refuses: skipped and counted, nothing numbered. */
    s_frame(ws, SEC("NOPE", 2000), 1300);
    assert_int_equal(F.nbar, 3);
    assert_int_equal(polygon_ws_stats(ws)->unknown_sym, 1);
    assert_int_equal(polygon_ws_nsym(ws), 2);
    /* A reconnect subscribes A.* again and resumes every known one. */
    polygon_ws_closed(ws, 1400);
    polygon_ws_tick(ws, 1400 + 60000);
    polygon_ws_opened(ws, 61401);
    s_frame(ws, CONNECTED, 61402);
    s_frame(ws, AUTH_OK, 61403);
    assert_string_equal(F.sent[F.nsent - 1], "{\"action\":\"subscribe\","
                        "\"params\":\"A.*\"}");
    s_frame(ws, ACK("A.*"), 61404);
    assert_int_equal(F.resumed, 1);
    assert_int_equal(F.resumed_t[0], 2000);
    assert_int_equal(F.resumed_t[1], 1000);
#undef SEC
    polygon_ws_destroy(&ws);
}

/* A long list goes out in several subscribe messages of about
 * POLYGON_WS_SUB_BYTES, every topic once, in order; streaming begins
 * once each topic is acknowledged. */
static size_t s_sub_len[POLYGON_WS_SUB_MSGS + 1];
static int s_nsub;
static char *s_topics;
static size_t s_ntopics;

static int f_send_long(void *arg, const char *text, size_t len)
{
    const char *p = strstr(text, "\"params\":\"");
    size_t n;

    (void)arg;
    if (!strstr(text, "subscribe"))
        return 0;
    assert_non_null(p);
    p += 10;
    n = strlen(p) - 2;              /* without "} */
    assert_true(s_nsub < POLYGON_WS_SUB_MSGS);
    s_sub_len[s_nsub++] = n;
    memcpy(s_topics + s_ntopics, p, n);
    s_ntopics += n;
    s_topics[s_ntopics++] = ',';
    (void)len;
    return 0;
}

static void test_sm_long_list_split(void **state)
{
    enum { N = 12000 };
    struct polygon_ws_cfg cfg;
    struct polygon_ws_io io = s_io;
    char **names = calloc(N, sizeof *names), *want, *acks, err[ERR_LEN];
    size_t off = 0, aoff = 0;
    polygon_ws_t *ws;

    (void)state;
    want = malloc((size_t)N * 16);
    acks = malloc((size_t)N * 100);
    s_topics = malloc((size_t)N * 16);
    assert_true(names && want && acks && s_topics);
    aoff += (size_t)sprintf(acks, "[");
    for (int i = 0; i < N; i++) {
        names[i] = malloc(16);
        snprintf(names[i], 16, "T%05d", i);
        off += (size_t)sprintf(want + off, "AM.%s,", names[i]);
        aoff += (size_t)sprintf(acks + aoff, "%s" ST("success",
                                "subscribed to: AM.%s"), i ? "," : "",
                                names[i]);
    }
    sprintf(acks + aoff, "]");
    s_nsub = 0;
    s_ntopics = 0;
    s_cfg(&cfg);
    cfg.symbols = (const char *const *)names;
    cfg.nsym = N;
    io.send = f_send_long;
    memset(&F, 0, sizeof F);
    ws = polygon_ws_new(&cfg, &io, err);
    assert_non_null(ws);
    assert_int_equal(polygon_ws_start(ws, 1000), 0);
    polygon_ws_opened(ws, 1001);
    s_frame(ws, CONNECTED, 1002);
    s_frame(ws, AUTH_OK, 1003);
    assert_int_equal(polygon_ws_state(ws), PWS_SUBSCRIBING);
    assert_int_equal(s_nsub, 2);        /* about 108 KB of topics */
    for (int i = 0; i < s_nsub; i++)
        assert_true(s_sub_len[i] <= POLYGON_WS_SUB_BYTES);
    assert_int_equal(s_ntopics, off);
    assert_memory_equal(s_topics, want, off);
    s_frame(ws, acks, 1004);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    polygon_ws_destroy(&ws);
    for (int i = 0; i < N; i++)
        free(names[i]);
    free(names);
    free(want);
    free(acks);
    free(s_topics);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(polygon_ws_state_name(PWS_STREAMING), "streaming");
    assert_string_equal(polygon_ws_state_name(99), "?");
    assert_string_equal(polygon_ws_bad_name(PWS_BAD_JSON), "json");
    assert_string_equal(polygon_ws_bad_name(-1), "?");
    assert_string_equal(polygon_ws_status_name(PWS_ST_SLOW_CONSUMER),
                        "slow_consumer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_am),
        cmocka_unit_test(test_fixture_a),
        cmocka_unit_test(test_fixture_status_examples),
        cmocka_unit_test(test_fixture_transcript),
        cmocka_unit_test(test_fixture_mock_frames),
        cmocka_unit_test(test_mixed_batch_order),
        cmocka_unit_test(test_status_kinds),
        cmocka_unit_test(test_bad_events),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_10mb_frame),
        cmocka_unit_test(test_sm_new_validation),
        cmocka_unit_test(test_sm_happy_path),
        cmocka_unit_test(test_sm_auth_before_connected),
        cmocka_unit_test(test_sm_success_variants),
        cmocka_unit_test(test_sm_auth_failed_is_fatal),
        cmocka_unit_test(test_sm_max_connections_waits_long),
        cmocka_unit_test(test_sm_subscribe_denied),
        cmocka_unit_test(test_sm_backoff_deterministic),
        cmocka_unit_test(test_sm_wrong_channel_skipped),
        cmocka_unit_test(test_sm_reconnect_resubscribes),
        cmocka_unit_test(test_sm_slow_consumer_rest_of_frame),
        cmocka_unit_test(test_sm_read_deadline),
        cmocka_unit_test(test_sm_handshake_timeout),
        cmocka_unit_test(test_sm_transport_failures),
        cmocka_unit_test(test_sm_every_symbol),
        cmocka_unit_test(test_sm_long_list_split),
        cmocka_unit_test(test_names),
    };

    log_level = LL_ERROR + 1;           /* the tests provoke warnings */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
