/* alert_format.c -- the alert output's pure parts: destinations from the
 * command line, redaction, chat text, webhook templates, request bodies,
 * reading signals back from JSON, and the retry policy's arithmetic.
 * Nothing here does I/O, so the unit tests drive all of it. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "alert.h"
#include "util.h"

static const char s_redacted[] = "REDACTED";

const char *alert_kind_name(int kind)
{
    switch (kind) {
    case ALERT_SLACK: return "slack";
    case ALERT_DISCORD: return "discord";
    case ALERT_TELEGRAM: return "telegram";
    case ALERT_WEBHOOK: return "webhook";
    }
    return "?";
}

/* {==================== destinations ================== */

/* Length of "scheme://" in url, or 0 if it is not http(s). */
static size_t s_scheme_len(const char *url)
{
    if (strncasecmp(url, "http://", 7) == 0)
        return 7;
    if (strncasecmp(url, "https://", 8) == 0)
        return 8;
    return 0;
}

/* Where the authority (user info, host, port) of an http(s) URL ends. */
static const char *s_authority_end(const char *url)
{
    const char *p = url + s_scheme_len(url);
    return p + strcspn(p, "/?#");
}

void alert_redact_url(const char *url, char *out, size_t n)
{
    size_t sch = s_scheme_len(url);
    const char *host = url + sch, *end, *at;

    if (n == 0)
        return;
    if (!sch) {
        snprintf(out, n, "%s", s_redacted);
        return;
    }
    end = s_authority_end(url);
    at = memchr(host, '@', (size_t)(end - host));
    if (at)
        host = at + 1;              /* user:password@ never shown */
    snprintf(out, n, "%.*s%.*s%s", (int)sch, url, (int)(end - host), host,
             *end && strcmp(end, "/") != 0 ? "/REDACTED" : "");
}

char *alert_scrub(const char *text, const char *secret, char *out, size_t n)
{
    size_t sl = secret ? strlen(secret) : 0, o = 0;

    if (n == 0)
        return out;
    for (const char *p = text; *p && o + 1 < n;) {
        if (sl && strncmp(p, secret, sl) == 0) {
            for (size_t i = 0; s_redacted[i] && o + 1 < n; i++)
                out[o++] = s_redacted[i];
            p += sl;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    return out;
}

/* 1 if every byte of s is printable ASCII other than space. */
static int s_url_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

static int s_check_url(const char *url, const char *what, char *err)
{
    size_t sch = s_scheme_len(url);

    if (!sch || s_authority_end(url) == url + sch) {
        snprintf(err, ERR_LEN, "%s: expected an http:// or https:// URL",
                 what);
        return ERR_USAGE;
    }
    if (!s_url_chars(url)) {
        snprintf(err, ERR_LEN, "%s: the URL has spaces or control "
                 "characters", what);
        return ERR_USAGE;
    }
    if (strlen(url) >= ALERT_URL_MAX - 64) {
        snprintf(err, ERR_LEN, "%s: the URL is too long", what);
        return ERR_USAGE;
    }
    return 0;
}

static int s_charset(const char *s, const char *extra)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return 0;
    return 1;
}

int alert_dest_parse(struct alert_dest *d, int kind, const char *arg,
                     const char *api, char *err)
{
    char flag[32], red[ALERT_NAME_MAX];
    uint64_t h;

    memset(d, 0, sizeof *d);
    d->kind = kind;
    snprintf(flag, sizeof flag, "--%s", alert_kind_name(kind));
    if (kind == ALERT_TELEGRAM) {
        const char *colon = strrchr(arg, ':');
        char token[256];
        size_t tl = colon ? (size_t)(colon - arg) : 0;
        int rc = s_check_url(api, "--telegram-api", err);
        if (rc)
            return rc;
        if (!colon || tl == 0 || !colon[1]) {
            snprintf(err, ERR_LEN, "--telegram: expected BOT_TOKEN:CHAT_ID");
            return ERR_USAGE;
        }
        if (tl >= sizeof token) {
            snprintf(err, ERR_LEN, "--telegram: the bot token is too long");
            return ERR_USAGE;
        }
        memcpy(token, arg, tl);
        token[tl] = '\0';
        /* A bot token is "<bot id>:<secret>"; anything else (say, a token
         * given without its chat id) is refused without being shown. */
        if (strspn(token, "0123456789") == 0 ||
            token[strspn(token, "0123456789")] != ':' ||
            !s_charset(token + strspn(token, "0123456789") + 1, "_-")) {
            snprintf(err, ERR_LEN, "--telegram: expected BOT_TOKEN:CHAT_ID, "
                     "the token as BotFather gives it (123456:ABC-DEF...)");
            return ERR_USAGE;
        }
        if (strlen(colon + 1) >= sizeof d->chat ||
            !s_charset(colon + 1, "@_-")) {
            snprintf(err, ERR_LEN, "--telegram: bad chat id '%.64s' "
                     "(a number or @channelname)", colon + 1);
            return ERR_USAGE;
        }
        snprintf(d->chat, sizeof d->chat, "%s", colon + 1);
        snprintf(d->secret, sizeof d->secret, "%s", token);
        snprintf(d->url, sizeof d->url, "%.*s/bot%s/sendMessage",
                 (int)(strlen(api) - (api[strlen(api) - 1] == '/')), api,
                 token);
        alert_redact_url(api, red, sizeof red);
        snprintf(d->name, sizeof d->name, "telegram chat %.40s (%.100s)",
                 d->chat, red);
        d->rate_n = 1;
        d->rate_ms = 1000;
    } else {
        int rc = s_check_url(arg, flag, err);
        const char *end;
        if (rc)
            return rc;
        snprintf(d->url, sizeof d->url, "%s", arg);
        end = s_authority_end(arg);
        if (*end && strcmp(end, "/") != 0)
            snprintf(d->secret, sizeof d->secret, "%s", end);
        alert_redact_url(arg, red, sizeof red);
        snprintf(d->name, sizeof d->name, "%s %.140s", alert_kind_name(kind),
                 red);
        d->rate_n = kind == ALERT_DISCORD ? 5 : kind == ALERT_SLACK ? 1 : 5;
        d->rate_ms = kind == ALERT_DISCORD ? 2000 : 1000;
    }
    h = hash_str(HASH_INIT, alert_kind_name(kind));
    h = hash_str(h, d->url);
    h = hash_str(h, d->chat);
    snprintf(d->key, sizeof d->key, "%s-%016llx", alert_kind_name(kind),
             (unsigned long long)h);
    return 0;
}

/* }==================================================== */

/* {==================== text and numbers ============== */

/* A double as its shortest text that reads back the same; "null" for
 * NaN and infinities. */
static void s_num(double v, char *buf, size_t n)
{
    double mag = fabs(v);
    int p0;

    if (!isfinite(v)) {
        snprintf(buf, n, "null");
        return;
    }
    /* Start at the integer digits, so 10 is "10" rather than "1e+01". */
    p0 = mag >= 1 && mag < 1e17 ? (int)floor(log10(mag)) + 1 : 1;
    for (int p = p0; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* The bar time as "2026-01-02T15:04:05Z" (iso) or "2026-01-02 15:04:05
 * UTC"; "?" if out of range. */
static void s_bar_time(int64_t t_ms, char *buf, size_t n, int iso)
{
    char t[32];

    if (utc_text(t, sizeof t, t_ms, iso ? UTC_ISO : UTC_PLAIN))
        snprintf(buf, n, "?");
    else
        snprintf(buf, n, "%s%s", t, iso ? "" : " UTC");
}

static const char *s_label(int act)
{
    switch (act) {
    case SIG_BUY: return "\xf0\x9f\x93\x88 BUY";    /* chart up */
    case SIG_SELL: return "\xf0\x9f\x93\x89 SELL";  /* chart down */
    case SIG_CLOSE: return "\xe2\x9c\x96 CLOSE";    /* heavy x */
    }
    return "?";
}

/* Appends with snprintf semantics; *o stops growing once n is reached. */
static void s_add(char *out, size_t n, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void s_add(char *out, size_t n, size_t *o, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*o + 1 >= n)
        return;
    va_start(ap, fmt);
    k = vsnprintf(out + *o, n - *o, fmt, ap);
    va_end(ap);
    if (k > 0)
        *o = *o + (size_t)k < n ? *o + (size_t)k : n - 1;
}

char *alert_text(const struct signal *s, char *out, size_t n)
{
    static const char *const names[] = { "size", "limit", "stop", "sl",
                                         "tp" };
    const double vals[] = { s->size, s->limit, s->stop, s->sl, s->tp };
    char px[40], when[40], v[40];
    size_t o = 0;

    if (n == 0)
        return out;
    out[0] = '\0';
    s_num(s->px, px, sizeof px);
    s_bar_time(s->t, when, sizeof when, 0);
    s_add(out, n, &o, "%s %s @ %s | confidence %.0f%% | %s | bar %s",
          s_label(s->act), s->sym, px,
          isfinite(s->conf) ? s->conf * 100.0 : 0.0, s->strat, when);
    for (int i = 0; i < 5; i++)
        if (isfinite(vals[i])) {
            s_num(vals[i], v, sizeof v);
            s_add(out, n, &o, " | %s %s", names[i], v);
        }
    if (s->tag[0])
        s_add(out, n, &o, " | tag %s", s->tag);
    for (int i = 0; i < s->nind; i++) {
        s_num(s->ind[i].v, v, sizeof v);
        s_add(out, n, &o, "%s%s=%s", i ? " " : "\n", s->ind[i].name, v);
    }
    s_add(out, n, &o, "\nid %s", s->id);
    return out;
}

/* }==================================================== */

/* {==================== templates ===================== */

/* A bounded growing buffer. */
struct s_buf {
    char *p;
    size_t len, cap, max;
};

static int s_put(struct s_buf *b, const char *data, size_t n)
{
    int rc = grow((void **)&b->p, &b->cap, b->len + n + 1, 1, b->max);

    if (rc)
        return rc;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* A string's JSON escaping, without the quotes. */
static int s_put_escaped(struct s_buf *b, const char *s)
{
    int rc = 0;

    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            rc = s_put(b, e, 2);
        } else if (c == '\n') {
            rc = s_put(b, "\\n", 2);
        } else if (c == '\t') {
            rc = s_put(b, "\\t", 2);
        } else if (c == '\r') {
            rc = s_put(b, "\\r", 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(e, sizeof e, "\\u%04x", c);
            rc = s_put(b, e, 6);
        } else {
            rc = s_put(b, (const char *)&c, 1);
        }
    }
    return rc;
}

static int s_put_json(struct s_buf *b, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = text ? s_put(b, text, strlen(text)) : ERR_NOMEM;

    free(text);
    json_decref(j);
    return rc;
}

static int s_put_num(struct s_buf *b, double v)
{
    char t[40];
    s_num(v, t, sizeof t);
    return s_put(b, t, strlen(t));
}

static int s_put_int(struct s_buf *b, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    return s_put(b, t, strlen(t));
}

/* The field `name` of `s` into b; ERR_NOTFOUND if there is no such
 * field. */
static int s_field(struct s_buf *b, const char *name, const struct signal *s)
{
    char t[2048];

    if (strncmp(name, "ind.", 4) == 0) {
        for (int i = 0; i < s->nind; i++)
            if (strcmp(s->ind[i].name, name + 4) == 0)
                return s_put_num(b, s->ind[i].v);
        return name[4] ? s_put(b, "null", 4) : ERR_NOTFOUND;
    }
    if (strcmp(name, "id") == 0)
        return s_put_escaped(b, s->id);
    if (strcmp(name, "engine") == 0)
        return s_put_escaped(b, s->eng);
    if (strcmp(name, "strategy") == 0)
        return s_put_escaped(b, s->strat);
    if (strcmp(name, "symbol") == 0)
        return s_put_escaped(b, s->sym);
    if (strcmp(name, "action") == 0)
        return s_put_escaped(b, signal_action_name(s->act));
    if (strcmp(name, "ACTION") == 0) {
        const char *a = signal_action_name(s->act);
        size_t i = 0;
        for (; a[i] && i + 1 < sizeof t; i++)
            t[i] = (char)toupper((unsigned char)a[i]);
        t[i] = '\0';
        return s_put_escaped(b, t);
    }
    if (strcmp(name, "bar_ts") == 0)
        return s_put_int(b, (long long)s->t);
    if (strcmp(name, "time") == 0) {
        s_bar_time(s->t, t, sizeof t, 1);
        return s_put_escaped(b, t);
    }
    if (strcmp(name, "ordinal") == 0)
        return s_put_int(b, s->ord);
    if (strcmp(name, "price") == 0)
        return s_put_num(b, s->px);
    if (strcmp(name, "size") == 0)
        return s_put_num(b, s->size);
    if (strcmp(name, "limit") == 0)
        return s_put_num(b, s->limit);
    if (strcmp(name, "stop") == 0)
        return s_put_num(b, s->stop);
    if (strcmp(name, "sl") == 0)
        return s_put_num(b, s->sl);
    if (strcmp(name, "tp") == 0)
        return s_put_num(b, s->tp);
    if (strcmp(name, "tag") == 0)
        return s_put_escaped(b, s->tag);
    if (strcmp(name, "confidence") == 0)
        return s_put_num(b, s->conf);
    if (strcmp(name, "confidence_pct") == 0)
        return s_put_int(b, isfinite(s->conf) ? llround(s->conf * 100.0)
                                              : 0);
    if (strcmp(name, "seq") == 0)
        return s_put_int(b, (long long)s->seq);
    if (strcmp(name, "pub") == 0)
        return s_put_int(b, (long long)s->pub);
    if (strcmp(name, "ts") == 0)
        return s_put_int(b, (long long)s->ts);
    if (strcmp(name, "text") == 0)
        return s_put_escaped(b, alert_text(s, t, sizeof t));
    if (strcmp(name, "indicators") == 0) {
        json_t *j = msg_signal_to_json(s), *ind = NULL;
        if (j)
            ind = json_incref(json_object_get(j, "indicators"));
        json_decref(j);
        return s_put_json(b, ind);
    }
    if (strcmp(name, "signal") == 0)
        return s_put_json(b, msg_signal_to_json(s));
    return ERR_NOTFOUND;
}

/* Length of the field name at p ("symbol", "ind.sma1") when p holds
 * "{name}", else 0. */
static size_t s_field_len(const char *p)
{
    size_t n = 0;

    if (*p != '{' || !(isalpha((unsigned char)p[1]) || p[1] == '_'))
        return 0;
    while (isalnum((unsigned char)p[1 + n]) || p[1 + n] == '_' ||
           p[1 + n] == '.')
        n++;
    return p[1 + n] == '}' && n < SIG_NAME + 4 ? n : 0;
}

int alert_template_expand(const char *tmpl, const struct signal *s,
                          char **out, size_t *len, char *err)
{
    struct s_buf b = { NULL, 0, 0, ALERT_BODY_MAX };
    const char *p = tmpl;
    int rc = s_put(&b, "", 0);

    *out = NULL;
    *len = 0;
    while (*p && !rc) {
        const char *lit = strchr(p, '{');
        size_t nl;
        if (!lit)
            lit = p + strlen(p);
        rc = s_put(&b, p, (size_t)(lit - p));
        p = lit;
        if (rc || !*p)
            break;
        nl = s_field_len(p);
        if (nl == 0) {              /* a brace of the JSON around */
            rc = s_put(&b, p, 1);
            p++;
        } else {
            char name[SIG_NAME + 8];
            memcpy(name, p + 1, nl);
            name[nl] = '\0';
            rc = s_field(&b, name, s);
            if (rc == ERR_NOTFOUND) {
                snprintf(err, ERR_LEN, "template: unknown field {%s}", name);
                rc = ERR_PARSE;
            }
            p += nl + 2;
        }
    }
    if (rc == ERR_TOO_LARGE)
        snprintf(err, ERR_LEN, "template: the body would exceed %u bytes",
                 ALERT_BODY_MAX);
    else if (rc == ERR_NOMEM)
        snprintf(err, ERR_LEN, "out of memory");
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* A signal with every field set, for checking templates. */
static void s_sample(struct signal *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "0123456789abcdef");
    snprintf(s->eng, sizeof s->eng, "engine \"1\"");
    snprintf(s->strat, sizeof s->strat, "sma_cross");
    snprintf(s->sym, sizeof s->sym, "AAPL");
    s->t = 1795620000000;
    s->px = 213.56;
    s->size = s->limit = s->stop = s->sl = s->tp = NAN;
    snprintf(s->tag, sizeof s->tag, "a \\ tag");
    s->conf = 0.5;
    s->nind = 1;
    snprintf(s->ind[0].name, SIG_NAME, "sma1");
    s->ind[0].v = NAN;
    s->seq = 1;
    s->pub = 2;
    s->ts = 1795620000001;
}

int alert_template_check(const char *tmpl, char *err)
{
    struct signal s;
    json_error_t je;
    json_t *j;
    char *body;
    size_t len;
    int rc;

    s_sample(&s);
    rc = alert_template_expand(tmpl, &s, &body, &len, err);
    if (rc) {
        char why[ERR_LEN];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, ERR_LEN, "--template: %.230s", why);
        return ERR_USAGE;
    }
    j = json_loadb(body, len, JSON_DECODE_ANY, &je);
    free(body);
    if (!j) {
        snprintf(err, ERR_LEN, "--template does not give JSON (for a "
                 "sample signal: %s at offset %d)", je.text, je.position);
        return ERR_USAGE;
    }
    json_decref(j);
    return 0;
}

/* Discord's marks are escaped because a strategy "sma_cross" and an
 * indicator "rsi_fast" would otherwise turn what lies between into
 * italics. */
void alert_markup(int kind, const char *in, char *out, size_t n)
{
    size_t o = 0;

    for (; *in && o + 6 < n; in++) {
        const char *ent = NULL;
        if (kind == ALERT_SLACK)
            ent = *in == '&' ? "&amp;" : *in == '<' ? "&lt;"
                : *in == '>' ? "&gt;" : NULL;
        if (ent) {
            memcpy(out + o, ent, strlen(ent));
            o += strlen(ent);
            continue;
        }
        if (kind == ALERT_DISCORD && strchr("\\*_~`|>", *in))
            out[o++] = '\\';
        out[o++] = *in;
    }
    out[o] = '\0';
}

int alert_payload(const struct alert_dest *d, const struct signal *s,
                  char **body, size_t *len, char *err)
{
    char raw[2048], text[4096];
    json_t *j = NULL;
    int64_t chat;

    *body = NULL;
    *len = 0;
    if (d->kind == ALERT_WEBHOOK && d->tmpl)
        return alert_template_expand(d->tmpl, s, body, len, err);
    if (d->kind == ALERT_WEBHOOK) {
        j = msg_signal_to_json(s);
    } else {
        alert_text(s, raw, sizeof raw);
        alert_markup(d->kind, raw, text, sizeof text);
        if (d->kind == ALERT_SLACK)
            j = json_pack("{s:s}", "text", text);
        else if (d->kind == ALERT_DISCORD)
            j = json_pack("{s:s,s:{s:[]}}", "content", text,
                          "allowed_mentions", "parse");   /* pings none */
        else if (parse_int64(d->chat, &chat) == 0)
            j = json_pack("{s:I,s:s}", "chat_id", (json_int_t)chat, "text",
                          text);
        else
            j = json_pack("{s:s,s:s}", "chat_id", d->chat, "text", text);
    }
    *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!*body) {
        snprintf(err, ERR_LEN, "cannot encode the request body");
        return ERR_NOMEM;
    }
    *len = strlen(*body);
    return 0;
}

/* }==================================================== */

/* {==================== signals from JSON ============= */

static int s_jstr(const json_t *o, const char *key, char *out, size_t n,
                  int required)
{
    const json_t *v = json_object_get(o, key);

    if (!v && !required) {
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= n)
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A number, null (NaN) or, if `required` is 0, absent (NaN). */
static int s_jnum(const json_t *o, const char *key, double *out,
                  int required)
{
    const json_t *v = json_object_get(o, key);

    if (!v && !required) {
        *out = NAN;
        return 0;
    }
    if (json_is_null(v)) {
        *out = NAN;
        return 0;
    }
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 0;
}

static int s_jint(const json_t *o, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int alert_signal_from_json(const json_t *o, struct signal *s, char *err)
{
    const char *bad = NULL;
    char act[16];
    int64_t ord = 0, seq = 0, pub = 0;
    const json_t *ind;
    const char *k;
    json_t *v;

    memset(s, 0, sizeof *s);
    if (!json_is_object(o))
        bad = "not an object";
    else if (s_jstr(o, "id", s->id, sizeof s->id, 1) || !s->id[0])
        bad = "id";
    else if (s_jstr(o, "engine", s->eng, sizeof s->eng, 1))
        bad = "engine";
    else if (s_jstr(o, "strategy", s->strat, sizeof s->strat, 1))
        bad = "strategy";
    else if (s_jstr(o, "symbol", s->sym, sizeof s->sym, 1) ||
             !symbol_valid(s->sym))
        bad = "symbol";
    else if (s_jstr(o, "action", act, sizeof act, 1) ||
             (s->act = msg_signal_action_parse(act)) < 0)
        bad = "action";
    else if (s_jint(o, "bar_ts", &s->t))
        bad = "bar_ts";
    else if (s_jint(o, "ordinal", &ord) || ord < 0 || ord > 1000000)
        bad = "ordinal";
    else if (s_jnum(o, "price", &s->px, 1) || !isfinite(s->px))
        bad = "price";
    else if (s_jnum(o, "size", &s->size, 1))
        bad = "size";
    else if (s_jnum(o, "limit", &s->limit, 0) ||
             s_jnum(o, "stop", &s->stop, 0) || s_jnum(o, "sl", &s->sl, 0) ||
             s_jnum(o, "tp", &s->tp, 0) ||
             s_jnum(o, "position", &s->pos, 0))
        bad = "limit/stop/sl/tp/position";
    else if (s_jstr(o, "tag", s->tag, sizeof s->tag, 0))
        bad = "tag";
    else if (s_jnum(o, "confidence", &s->conf, 1))
        bad = "confidence";
    else if (s_jint(o, "seq", &seq) || s_jint(o, "pub", &pub) ||
             s_jint(o, "ts", &s->ts))
        bad = "seq/pub/ts";
    if (!bad) {
        ind = json_object_get(o, "indicators");
        if (!json_is_object(ind) || json_object_size(ind) > SIG_MAX_IND)
            bad = "indicators";
    }
    if (bad) {
        snprintf(err, ERR_LEN, "bad signal: %s", bad);
        return ERR_PARSE;
    }
    s->ord = (int)ord;
    s->seq = (uint64_t)seq;
    s->pub = (uint64_t)pub;
    json_object_foreach((json_t *)ind, k, v) {
        struct sig_ind *x = &s->ind[s->nind];
        if (strlen(k) >= SIG_NAME ||
            (!json_is_number(v) && !json_is_null(v))) {
            snprintf(err, ERR_LEN, "bad signal: indicator");
            return ERR_PARSE;
        }
        snprintf(x->name, SIG_NAME, "%s", k);
        x->v = json_is_number(v) ? json_number_value(v) : NAN;
        s->nind++;
    }
    return 0;
}

/* }==================================================== */

/* {==================== retry policy ================== */

int64_t alert_retry_after_ms(const char *value, int64_t now_s)
{
    char v[128];
    size_t n;
    double sec;
    time_t t;

    while (*value == ' ' || *value == '\t')
        value++;
    n = strlen(value);
    while (n && isspace((unsigned char)value[n - 1]))
        n--;
    if (n == 0 || n >= sizeof v)
        return -1;
    memcpy(v, value, n);
    v[n] = '\0';
    if (parse_double(v, &sec) == 0)
        return isfinite(sec) && sec >= 0 && sec < 1e9
                   ? (int64_t)ceil(sec * 1000.0) : -1;
    t = curl_getdate(v, NULL);
    if (t == (time_t)-1)
        return -1;
    return t > now_s ? ((int64_t)t - now_s) * 1000 : 0;
}

int64_t alert_body_retry_after_ms(const char *body, size_t len)
{
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *v = json_object_get(j, "retry_after");
    int64_t ms = -1;

    if (!v)                         /* Telegram: parameters.retry_after */
        v = json_object_get(json_object_get(j, "parameters"),
                            "retry_after");

    if (json_is_number(v) && json_number_value(v) >= 0 &&
        json_number_value(v) < 1e9)
        ms = (int64_t)ceil(json_number_value(v) * 1000.0);
    json_decref(j);
    return ms;
}

int alert_status_retryable(long status)
{
    return status == 408 || status == 425 || status == 429 ||
           (status >= 500 && status <= 599);
}

/* }==================================================== */
