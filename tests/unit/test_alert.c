/* test_alert.c -- the alert output's pure parts: destinations from flags,
 * redaction, chat text, webhook templates, request bodies, signals read
 * back from JSON, and the retry policy's arithmetic; and its files: what
 * a spool and a dead-letter file left by an earlier run give back. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../sink/alert.h"
#include "spool_int.h"

static void s_make(struct signal *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "3c1f0a9b7d2e4f60");
    snprintf(s->eng, sizeof s->eng, "eng-1");
    snprintf(s->strat, sizeof s->strat, "sma_cross");
    snprintf(s->sym, sizeof s->sym, "AAPL");
    s->act = SIG_BUY;
    s->t = 1795620000000;           /* 2026-11-25 15:20:00 UTC */
    s->px = 213.56;
    s->size = s->limit = s->stop = s->sl = s->tp = s->pos = NAN;
    s->conf = 0.54;
    s->nind = 2;
    snprintf(s->ind[0].name, SIG_NAME, "sma1");
    s->ind[0].v = 213.84;
    snprintf(s->ind[1].name, SIG_NAME, "sma2");
    s->ind[1].v = NAN;
    s->seq = 12;
    s->pub = 42;
    s->ts = 1795620000500;
}

/* Expands `t` for s and returns it in a static buffer ("ERR: ..." on
 * error). */
static const char *s_expand(const char *t, const struct signal *s)
{
    static char out[8192];
    char err[ERR_LEN], *body;
    size_t len;

    if (alert_template_expand(t, s, &body, &len, err) != 0) {
        snprintf(out, sizeof out, "ERR: %s", err);
        return out;
    }
    assert_int_equal(len, strlen(body));
    snprintf(out, sizeof out, "%s", body);
    free(body);
    return out;
}

static void test_redact(void **state)
{
    char out[ALERT_NAME_MAX];
    (void)state;

    alert_redact_url("https://hooks.slack.com/services/T0/B0/XYZ", out,
                     sizeof out);
    assert_string_equal(out, "https://hooks.slack.com/REDACTED");
    alert_redact_url("http://user:pw@h.example:8080/x?token=1", out,
                     sizeof out);
    assert_string_equal(out, "http://h.example:8080/REDACTED");
    alert_redact_url("https://example.com?key=1", out, sizeof out);
    assert_string_equal(out, "https://example.com/REDACTED");
    alert_redact_url("https://example.com/", out, sizeof out);
    assert_string_equal(out, "https://example.com");
    alert_redact_url("ftp://x/y", out, sizeof out);
    assert_string_equal(out, "REDACTED");

    alert_scrub("POST /bot1:abc/sendMessage failed for /bot1:abc", "1:abc",
                out, sizeof out);
    assert_string_equal(out, "POST /botREDACTED/sendMessage failed for "
                        "/botREDACTED");
    alert_scrub("nothing", "", out, sizeof out);
    assert_string_equal(out, "nothing");
}

static void test_dest_parse(void **state)
{
    struct alert_dest d, d2;
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(alert_dest_parse(&d, ALERT_SLACK,
                                      "https://hooks.slack.com/services/T/B/S",
                                      NULL, err), 0);
    assert_string_equal(d.name, "slack https://hooks.slack.com/REDACTED");
    assert_string_equal(d.secret, "/services/T/B/S");
    assert_int_equal(d.rate_n, 1);
    assert_int_equal(d.rate_ms, 1000);
    assert_true(strncmp(d.key, "slack-", 6) == 0);
    assert_null(strstr(d.key, "S"));
    /* The key is stable and tells destinations apart. */
    assert_int_equal(alert_dest_parse(&d2, ALERT_SLACK,
                                      "https://hooks.slack.com/services/T/B/S",
                                      NULL, err), 0);
    assert_string_equal(d.key, d2.key);
    assert_int_equal(alert_dest_parse(&d2, ALERT_SLACK,
                                      "https://hooks.slack.com/services/T/B/X",
                                      NULL, err), 0);
    assert_string_not_equal(d.key, d2.key);

    assert_int_equal(alert_dest_parse(&d, ALERT_DISCORD,
                                      "https://discord.com/api/webhooks/1/t",
                                      NULL, err), 0);
    assert_int_equal(d.rate_n, 5);
    assert_int_equal(d.rate_ms, 2000);

    assert_int_equal(alert_dest_parse(&d, ALERT_TELEGRAM,
                                      "123456:AA-b_c:-100200",
                                      "https://api.telegram.org/", err), 0);
    assert_string_equal(d.url, "https://api.telegram.org/bot123456:AA-b_c"
                        "/sendMessage");
    assert_string_equal(d.chat, "-100200");
    assert_string_equal(d.secret, "123456:AA-b_c");
    assert_null(strstr(d.name, "AA-b_c"));
    assert_int_equal(alert_dest_parse(&d, ALERT_TELEGRAM, "123456:tok:@news",
                                      "http://127.0.0.1:9", err), 0);
    assert_string_equal(d.chat, "@news");

    /* Refused, and the secret is never in the reason. */
    assert_int_equal(alert_dest_parse(&d, ALERT_TELEGRAM, "123456:SECRET",
                                      "https://api.telegram.org", err),
                     ERR_USAGE);
    assert_null(strstr(err, "SECRET"));
    assert_int_equal(alert_dest_parse(&d, ALERT_TELEGRAM, "SECRET",
                                      "https://api.telegram.org", err),
                     ERR_USAGE);
    assert_null(strstr(err, "SECRET"));
    assert_int_equal(alert_dest_parse(&d, ALERT_SLACK, "hooks/SECRET", NULL,
                                      err), ERR_USAGE);
    assert_null(strstr(err, "SECRET"));
    assert_int_equal(alert_dest_parse(&d, ALERT_WEBHOOK,
                                      "http://h/a SECRET", NULL, err),
                     ERR_USAGE);
    assert_null(strstr(err, "SECRET"));
    assert_int_equal(alert_dest_parse(&d, ALERT_WEBHOOK, "http:///x", NULL,
                                      err), ERR_USAGE);
}

static void test_text(void **state)
{
    struct signal s;
    char out[1024];
    (void)state;

    s_make(&s);
    alert_text(&s, out, sizeof out);
    assert_string_equal(out, "\xf0\x9f\x93\x88 BUY AAPL @ 213.56 | "
                        "confidence 54% | sma_cross | bar 2026-11-25 "
                        "15:20:00 UTC\nsma1=213.84 sma2=null\n"
                        "id 3c1f0a9b7d2e4f60");
    s.act = SIG_CLOSE;
    s.size = 10;
    s.sl = 200.5;
    snprintf(s.tag, sizeof s.tag, "swing");
    alert_text(&s, out, sizeof out);
    assert_non_null(strstr(out, "CLOSE AAPL @ 213.56"));
    assert_non_null(strstr(out, " | size 10 | sl 200.5 | tag swing\n"));
    /* Cut, still terminated. */
    alert_text(&s, out, 12);
    assert_int_equal(strlen(out), 11);
    /* A bar before 1970 is in the second it began, not the one after. */
    s.t = -1500;
    alert_text(&s, out, sizeof out);
    assert_non_null(strstr(out, " | bar 1969-12-31 23:59:58 UTC"));
    assert_string_equal(s_expand("{time}", &s), "1969-12-31T23:59:58Z");
}

static void test_template(void **state)
{
    struct signal s;
    (void)state;

    s_make(&s);
    assert_string_equal(s_expand("{\"t\":\"{ACTION} {symbol} @ {price}\","
                                 "\"c\":{confidence},\"p\":{confidence_pct},"
                                 "\"bar\":{bar_ts},\"time\":\"{time}\"}", &s),
                        "{\"t\":\"BUY AAPL @ 213.56\",\"c\":0.54,\"p\":54,"
                        "\"bar\":1795620000000,"
                        "\"time\":\"2026-11-25T15:20:00Z\"}");
    assert_string_equal(s_expand("[{size},{limit},{ind.sma1},{ind.sma2},"
                                 "{ind.none},{seq},{pub},{ts}]", &s),
                        "[null,null,213.84,null,null,12,42,1795620000500]");
    /* Strings are JSON-escaped, without quotes. */
    snprintf(s.tag, sizeof s.tag, "a \"b\"\\c\nd");
    assert_string_equal(s_expand("\"{tag}\"", &s),
                        "\"a \\\"b\\\"\\\\c\\nd\"");
    /* Braces that are not {field} are the JSON's own. */
    assert_string_equal(s_expand("{ } {} {\"a\":{ {1}", &s),
                        "{ } {} {\"a\":{ {1}");
    assert_string_equal(s_expand("", &s), "");
    /* Numbers: the shortest text that reads back the same. */
    s.px = 10;
    s.size = 0.1;
    s.limit = 1e21;
    s.stop = -2.5e-7;
    assert_string_equal(s_expand("{price} {size} {limit} {stop}", &s),
                        "10 0.1 1e+21 -2.5e-07");
    s_make(&s);
    assert_string_equal(s_expand("{nope}", &s),
                        "ERR: template: unknown field {nope}");
    assert_non_null(strstr(s_expand("{indicators}", &s), "\"sma1\":213.84"));
    {
        json_t *j = json_loads(s_expand("{signal}", &s), 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "id")),
                            s.id);
        json_decref(j);
    }
}

static void test_template_check(void **state)
{
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(alert_template_check("{\"s\":\"{symbol}\",\"x\":"
                                          "{signal}}", err), 0);
    assert_int_equal(alert_template_check("{price}", err), 0);
    assert_int_equal(alert_template_check("{\"s\":{symbol}}", err),
                     ERR_USAGE);
    assert_non_null(strstr(err, "does not give JSON"));
    assert_int_equal(alert_template_check("{\"s\":\"{sym}\"}", err),
                     ERR_USAGE);
    assert_non_null(strstr(err, "unknown field {sym}"));
}

static json_t *s_payload(int kind, const char *arg, const char *tmpl)
{
    struct alert_dest d;
    struct signal s;
    char err[ERR_LEN], *body;
    size_t len;
    json_t *j;

    assert_int_equal(alert_dest_parse(&d, kind, arg, "https://api.t.org",
                                      err), 0);
    d.tmpl = tmpl;
    s_make(&s);
    assert_int_equal(alert_payload(&d, &s, &body, &len, err), 0);
    j = json_loadb(body, len, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

static void test_payloads(void **state)
{
    json_t *j;
    (void)state;

    j = s_payload(ALERT_SLACK, "https://h/x", NULL);
    assert_int_equal(json_object_size(j), 1);
    assert_non_null(strstr(json_string_value(json_object_get(j, "text")),
                           "BUY AAPL @ 213.56"));
    json_decref(j);
    j = s_payload(ALERT_DISCORD, "https://h/x", NULL);
    assert_int_equal(json_object_size(j), 2);
    /* No mention pings anyone (@everyone in a tag included). */
    assert_int_equal(json_array_size(json_object_get(
        json_object_get(j, "allowed_mentions"), "parse")), 0);
    assert_true(json_is_array(json_object_get(
        json_object_get(j, "allowed_mentions"), "parse")));
    /* Markdown marks escaped. */
    assert_non_null(strstr(json_string_value(json_object_get(j, "content")),
                           " sma\\_cross "));
    json_decref(j);
    {
        char out[64];
        alert_markup(ALERT_SLACK, "a<b & c>d_e", out, sizeof out);
        assert_string_equal(out, "a&lt;b &amp; c&gt;d_e");
        alert_markup(ALERT_DISCORD, "a*b_c~d`e|f>g\\h<", out, sizeof out);
        assert_string_equal(out, "a\\*b\\_c\\~d\\`e\\|f\\>g\\\\h<");
        alert_markup(ALERT_TELEGRAM, "a*b_c<", out, sizeof out);
        assert_string_equal(out, "a*b_c<");
    }
    j = s_payload(ALERT_TELEGRAM, "1:a:-1001", NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "chat_id")),
                     -1001);
    assert_true(json_is_string(json_object_get(j, "text")));
    json_decref(j);
    j = s_payload(ALERT_TELEGRAM, "1:a:@chan", NULL);
    assert_string_equal(json_string_value(json_object_get(j, "chat_id")),
                        "@chan");
    json_decref(j);
    /* Generic: the signal's JSON object, or the template. */
    j = s_payload(ALERT_WEBHOOK, "https://h/x", NULL);
    assert_string_equal(json_string_value(json_object_get(j, "symbol")),
                        "AAPL");
    assert_string_equal(json_string_value(json_object_get(j, "action")),
                        "buy");
    json_decref(j);
    j = s_payload(ALERT_WEBHOOK, "https://h/x", "{\"s\":\"{symbol}\"}");
    assert_string_equal(json_string_value(json_object_get(j, "s")), "AAPL");
    json_decref(j);
}

static void test_signal_from_json(void **state)
{
    struct signal s, r;
    char err[ERR_LEN];
    json_t *j;
    (void)state;

    s_make(&s);
    s.act = SIG_SELL;
    s.limit = 210.5;
    s.tp = 230;
    snprintf(s.tag, sizeof s.tag, "t1");
    j = msg_signal_to_json(&s);
    assert_int_equal(alert_signal_from_json(j, &r, err), 0);
    json_decref(j);
    assert_string_equal(r.id, s.id);
    assert_string_equal(r.eng, s.eng);
    assert_string_equal(r.strat, s.strat);
    assert_string_equal(r.sym, s.sym);
    assert_int_equal(r.act, SIG_SELL);
    assert_int_equal(r.t, s.t);
    assert_true(r.px == s.px);
    assert_true(isnan(r.size) && isnan(r.stop) && isnan(r.sl));
    assert_true(r.limit == 210.5 && r.tp == 230);
    assert_string_equal(r.tag, "t1");
    assert_true(r.conf == s.conf);
    assert_int_equal(r.nind, 2);
    assert_string_equal(r.ind[0].name, "sma1");
    assert_true(r.ind[0].v == 213.84);
    assert_true(isnan(r.ind[1].v));
    assert_int_equal(r.seq, 12);
    assert_int_equal(r.pub, 42);
    assert_int_equal(r.ts, s.ts);

    j = json_loads("{\"id\":\"x\"}", 0, NULL);
    assert_int_equal(alert_signal_from_json(j, &r, err), ERR_PARSE);
    json_decref(j);
    assert_int_equal(alert_signal_from_json(NULL, &r, err), ERR_PARSE);
}

static void test_retry_policy(void **state)
{
    (void)state;

    assert_int_equal(alert_retry_after_ms("1", 0), 1000);
    assert_int_equal(alert_retry_after_ms(" 2.5 \r\n", 0), 2500);
    assert_int_equal(alert_retry_after_ms("0", 0), 0);
    assert_int_equal(alert_retry_after_ms("soon", 0), -1);
    assert_int_equal(alert_retry_after_ms("-3", 0), -1);
    assert_int_equal(alert_retry_after_ms("", 0), -1);
    /* An HTTP date: 2015-10-21 07:28:00 UTC is 1445412480. */
    assert_int_equal(alert_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT",
                                          1445412470), 10000);
    assert_int_equal(alert_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT",
                                          1445412490), 0);

    assert_int_equal(alert_body_retry_after_ms("{\"retry_after\": 0.25}",
                                               21), 250);
    assert_int_equal(alert_body_retry_after_ms(
                         "{\"ok\":false,\"parameters\":{\"retry_after\":3}}",
                         43), 3000);
    assert_int_equal(alert_body_retry_after_ms("{}", 2), -1);
    assert_int_equal(alert_body_retry_after_ms("junk", 4), -1);
    assert_int_equal(alert_body_retry_after_ms(NULL, 0), -1);

    assert_true(alert_status_retryable(500));
    assert_true(alert_status_retryable(503));
    assert_true(alert_status_retryable(429));
    assert_true(alert_status_retryable(408));
    assert_false(alert_status_retryable(400));
    assert_false(alert_status_retryable(404));
    assert_false(alert_status_retryable(301));
}

/* {==================== spool and dead letters ======== */

struct s_found_log {
    int n;
    char what[32][48];              /* "done|due|dead <dest> <id>" */
};

static int s_on_found(void *arg, int found, int dest, const char *id,
                      const struct signal *s)
{
    struct s_found_log *log = arg;
    static const char *const names[] = { "done", "dead", "due" };

    assert_true(found == ALERT_FOUND_DONE ? s == NULL
                                          : strcmp(s->id, id) == 0);
    if (log->n < 32)
        snprintf(log->what[log->n++], 48, "%s %d %s", names[found], dest,
                 id);
    return found != ALERT_FOUND_DONE;
}

static void s_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *s_read_file(const char *path)
{
    static char buf[16384];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;

    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* A signal's JSON line for the files, with id "00000000000000" + n. */
static void s_sig_json(char *out, size_t n, int i)
{
    snprintf(out, n, "{\"ver\":1,\"id\":\"%016d\",\"engine\":\"e\","
             "\"strategy\":\"s\",\"symbol\":\"AAPL\",\"action\":"
             "\"buy\",\"bar_ts\":%d,\"ordinal\":0,\"price\":1.5,"
             "\"size\":null,\"confidence\":0.5,\"indicators\":{},"
             "\"seq\":%d,\"pub\":1,\"ts\":1}", i, i, i);
}

static void test_files_recover(void **state)
{
    char dir[] = "/tmp/lt-alert-unit-XXXXXX", spool[128], dead[128];
    char text[8192], sig[512], err[ERR_LEN];
    const char *keys[] = { "webhook-a", "webhook-b" };
    struct alert_files f;
    struct s_found_log log = { 0, { { 0 } } };
    size_t o = 0;
    int n;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(spool, sizeof spool, "%s/spool.jsonl", dir);
    snprintf(dead, sizeof dead, "%s/dead.jsonl", dir);
    /* Signal 1: delivered to a, due to b. Signal 2: due to a and to c
     * (no longer configured). Signal 3: delivered to a, dead for b.
     * A torn last line. A dead letter for b (signal 4), one for a that
     * was delivered since (signal 3), one for c. */
    for (int i = 1; i <= 3; i++) {
        s_sig_json(sig, sizeof sig, i);
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "{\"add\":%s,\"to\":[\"webhook-a\",\"%s\"]}\n",
                              sig, i == 2 ? "webhook-c" : "webhook-b");
    }
    o += (size_t)snprintf(text + o, sizeof text - o,
                          "{\"done\":\"%016d\",\"to\":\"webhook-a\"}\n"
                          "{\"done\":\"%016d\",\"to\":\"webhook-a\"}\n"
                          "{\"dead\":\"%016d\",\"to\":\"webhook-b\"}\n"
                          "{\"add\":{\"ver\":1,\"id", 1, 3, 3);
    s_write_file(spool, text);
    o = 0;
    for (int i = 3; i <= 5; i++) {
        s_sig_json(sig, sizeof sig, i == 5 ? 4 : i);
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "{\"to\":\"%s\",\"error\":\"x\","
                              "\"signal\":%s}\n", i == 3 ? "webhook-a"
                              : i == 4 ? "webhook-b" : "webhook-c", sig);
    }
    s_write_file(dead, text);

    assert_int_equal(alert_files_open(&f, spool, dead, keys, 2, err), 0);
    n = alert_files_recover(&f, s_on_found, &log, err);
    assert_int_equal(n, 3);
    assert_int_equal(log.n, 5);
    assert_string_equal(log.what[0], "done 0 0000000000000001");
    assert_string_equal(log.what[1], "done 0 0000000000000003");
    assert_string_equal(log.what[2], "dead 1 0000000000000004");
    assert_string_equal(log.what[3], "due 1 0000000000000001");
    assert_string_equal(log.what[4], "due 0 0000000000000002");
    /* Delivered since: gone from the dead letters; c's stays, and c's
     * share of signal 2 joined it. */
    {
        const char *d = s_read_file(dead);
        assert_null(strstr(d, "\"to\":\"webhook-a\""));
        assert_non_null(strstr(d, "\"to\":\"webhook-b\""));
        assert_non_null(strstr(d, "\"to\":\"webhook-c\",\"error\":\"x\""));
        assert_non_null(strstr(d, "destination no longer configured"));
    }
    /* The spool keeps the delivered ids and what is still due, only. */
    assert_string_equal(s_read_file(spool),
                        "{\"done\":\"0000000000000001\","
                        "\"to\":\"webhook-a\"}\n"
                        "{\"done\":\"0000000000000003\","
                        "\"to\":\"webhook-a\"}\n"
                        "{\"add\":{\"ver\":1,\"id\":\"0000000000000001\","
                        "\"engine\":\"e\",\"strategy\":\"s\",\"symbol\":"
                        "\"AAPL\",\"action\":\"buy\",\"bar_ts\":1,"
                        "\"ordinal\":0,\"price\":1.5,\"size\":null,"
                        "\"confidence\":0.5,\"indicators\":{},\"seq\":1,"
                        "\"pub\":1,\"ts\":1},\"to\":[\"webhook-b\"]}\n"
                        "{\"add\":{\"ver\":1,\"id\":\"0000000000000002\","
                        "\"engine\":\"e\",\"strategy\":\"s\",\"symbol\":"
                        "\"AAPL\",\"action\":\"buy\",\"bar_ts\":2,"
                        "\"ordinal\":0,\"price\":1.5,\"size\":null,"
                        "\"confidence\":0.5,\"indicators\":{},\"seq\":2,"
                        "\"pub\":1,\"ts\":1},\"to\":[\"webhook-a\"]}\n");
    /* Outcomes append. */
    alert_spool_mark(&f, "done", "webhook-b", "0000000000000001");
    assert_non_null(strstr(s_read_file(spool),
                           "{\"done\":\"0000000000000001\","
                           "\"to\":\"webhook-b\"}\n"));
    /* A spool that has grown enough is rewritten while running: signal
     * 1 is settled, 2 still due to a, 5 (added now) due to b. */
    {
        struct signal s5;
        int both[] = { 0, 1 };
        const char *text2;
        s_make(&s5);
        snprintf(s5.id, sizeof s5.id, "0000000000000005");
        assert_int_equal(alert_spool_add(&f, &s5, both, 2), 0);
        alert_spool_mark(&f, "done", "webhook-a", "0000000000000005");
        alert_spool_compact(&f);    /* not yet: a few lines only */
        assert_int_equal(f.sp->appended, 3);
        f.sp->appended = SPOOL_COMPACT_LINES;
        alert_spool_compact(&f);
        assert_int_equal(f.sp->appended, 0);
        text2 = s_read_file(spool);
        assert_null(strstr(text2, "\"id\":\"0000000000000001\""));
        assert_non_null(strstr(text2, "\"id\":\"0000000000000002\""));
        assert_non_null(strstr(text2, "\"id\":\"0000000000000005\""));
        assert_non_null(strstr(text2, "\"to\":[\"webhook-b\"]}\n"));
        assert_non_null(strstr(text2, "{\"done\":\"0000000000000005\","
                               "\"to\":\"webhook-a\"}\n"));
        /* Appends go to the new file. */
        alert_spool_mark(&f, "dead", "webhook-b", "0000000000000005");
        assert_non_null(strstr(s_read_file(spool), "{\"dead\":"
                               "\"0000000000000005\",\"to\":"
                               "\"webhook-b\"}\n"));
    }
    /* Closed (idempotent), the lock is released. */
    alert_files_close(&f);
    alert_files_close(&f);
    assert_int_equal(alert_files_open(&f, spool, dead, keys, 2, err), 0);
    alert_files_close(&f);

    unlink(spool);
    unlink(dead);
    snprintf(text, sizeof text, "%s.lock", spool);
    unlink(text);
    rmdir(dir);
}

static void test_files_lock(void **state)
{
    char dir[] = "/tmp/lt-alert-unit-XXXXXX", spool[128], dead[128];
    char err[ERR_LEN];
    const char *keys[] = { "webhook-a" };
    struct alert_files f, g;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(spool, sizeof spool, "%s/sub/spool.jsonl", dir);
    snprintf(dead, sizeof dead, "%s/dead.jsonl", dir);
    assert_int_equal(alert_files_open(&f, spool, dead, keys, 1, err), 0);
    assert_int_equal(alert_files_open(&g, spool, dead, keys, 1, err),
                     ERR_IO);
    assert_non_null(strstr(err, "in use by another"));
    alert_files_close(&g);
    assert_int_equal(alert_files_open(&g, spool, spool, keys, 1, err),
                     ERR_USAGE);
    alert_files_close(&f);
    snprintf(err, sizeof err, "%s.lock", spool);
    unlink(err);
    snprintf(err, sizeof err, "%s/sub", dir);
    rmdir(err);
    rmdir(dir);
}

/* }==================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_dest_parse),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_template),
        cmocka_unit_test(test_template_check),
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_signal_from_json),
        cmocka_unit_test(test_retry_policy),
        cmocka_unit_test(test_files_recover),
        cmocka_unit_test(test_files_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
