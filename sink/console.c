/* console.c -- the console output: one readable line per signal on
 * stdout, or with --json one compact JSON object per line.
 *
 *   #12  2026-11-25 15:20:01  AAPL   📈 BUY   @ 187.23  conf 72%  \
 *       sma1=186.90 sma2=186.41                       (one line)
 *   #13  2026-11-25 15:21:01  MSFT   ✖ CLOSE  @ 412.50  conf 80%  \
 *       pos 10  size=10  sl=400.00  tp=430.00  tag=exit  rsi=71.25
 *
 * Running number, bar time (UTC), symbol, action, reference price,
 * confidence, the position found (closes, and buys or sells that found
 * one), the order fields that were given, indicator values (NaN as
 * "nan"). Colours (green buy, red sell, yellow close, dim indicators)
 * are ANSI escapes, used with --color always, or by default (auto) when
 * stdout is a terminal and NO_COLOR is not set. Strings from the bus
 * are printed with control characters replaced, so a signal cannot
 * drive the terminal. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "sink.h"
#include "util.h"

#define CONSOLE_LINE 4096           /* enough for 16 indicators and a tag */

struct console {
    FILE *out;                      /* stdout */
    int json;                       /* JSON Lines instead of text */
    int color;                      /* ANSI colours */
    unsigned long long n;           /* signals printed so far */
};

/* An append-only view of the caller's buffer; `trunc` once it is full. */
struct out {
    char *buf;
    size_t n, len;
    int trunc;
};

static void s_put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (o->trunc)
        return;
    va_start(ap, fmt);
    r = vsnprintf(o->buf + o->len, o->n - o->len, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= o->n - o->len) {
        o->len = o->n - 1;          /* vsnprintf wrote what fitted */
        o->trunc = 1;
        return;
    }
    o->len += (size_t)r;
}

static void s_putc(struct out *o, char c)
{
    if (o->trunc)
        return;
    if (o->len + 1 >= o->n) {
        o->trunc = 1;
        return;
    }
    o->buf[o->len++] = c;
    o->buf[o->len] = '\0';
}

/* Appends a string from the bus with C0 controls, DEL and UTF-8 encoded
 * C1 controls (U+0080..U+009F) replaced by '?'. */
static void s_put_clean(struct out *o, const char *s)
{
    for (; *s && !o->trunc; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
            (unsigned char)s[1] <= 0x9f) {
            s_putc(o, '?');
            s++;
        } else if (c < 0x20 || c == 0x7f) {
            s_putc(o, '?');
        } else {
            s_putc(o, (char)c);
        }
    }
}

/* A price or indicator value with a precision that suits its size. */
static void s_put_num(struct out *o, double v)
{
    double a = fabs(v);

    if (isnan(v))
        s_put(o, "nan");
    else if (isinf(v))
        s_put(o, "%sinf", v < 0 ? "-" : "");
    else if (a == 0 || (a >= 1 && a < 1e6))
        s_put(o, "%.2f", v);
    else if (a >= 1e6)
        s_put(o, "%.0f", v);
    else if (a >= 0.01)
        s_put(o, "%.4f", v);
    else
        s_put(o, "%.4g", v);
}

/* The bar time as "YYYY-MM-DD HH:MM:SS" UTC, or a note of the same width
 * if it is out of range. */
static void s_put_time(struct out *o, int64_t t_ms)
{
    char stamp[32];

    if (utc_text(stamp, sizeof stamp, t_ms, UTC_PLAIN) ||
        strlen(stamp) != 19)
        s_put(o, "(time out of range)");
    else
        s_put(o, "%s", stamp);
}

int console_format(const struct signal *s, unsigned long long number,
                   int color, char *buf, size_t n)
{
    static const struct {
        const char *mark;           /* arrow or cross */
        int width;                  /* its width in terminal columns */
        const char *word;
        const char *color;
    } acts[] = {
        [SIG_BUY] = { "\xf0\x9f\x93\x88", 2, "BUY", CONSOLE_BUY },  /* 📈 */
        [SIG_SELL] = { "\xf0\x9f\x93\x89", 2, "SELL", CONSOLE_SELL }, /* 📉 */
        [SIG_CLOSE] = { "\xe2\x9c\x96", 1, "CLOSE", CONSOLE_CLOSE }, /* ✖ */
    };
    struct out o = { buf, n, 0, 0 };
    const char *mark = "?", *word = "?", *col = "";
    int width = 1;

    if (n == 0)
        return -1;
    buf[0] = '\0';
    if (s->act >= SIG_BUY && s->act <= SIG_CLOSE) {
        mark = acts[s->act].mark;
        width = acts[s->act].width;
        word = acts[s->act].word;
        col = acts[s->act].color;
    }
    s_put(&o, "#%-3llu ", number);
    s_put_time(&o, s->t);
    s_put(&o, "  ");
    s_put_clean(&o, s->sym);
    s_put(&o, "%*s", strlen(s->sym) < 6 ? (int)(6 - strlen(s->sym)) : 0, "");
    /* The arrows are two columns wide, the cross one: pad to line up. */
    s_put(&o, " %s%s %s%s%*s @ ", color ? col : "", mark, word,
          color ? CONSOLE_OFF : "", (int)(5 - strlen(word)) + (2 - width), "");
    s_put_num(&o, s->px);
    s_put(&o, "  conf %.0f%%", s->conf * 100);
    /* The position the signal found, where it tells something: what a
     * close closes, what a buy or sell adds to or turns round. */
    if (!isnan(s->pos) && (s->act == SIG_CLOSE || s->pos != 0))
        s_put(&o, "  pos %g", s->pos);
    if (!isnan(s->size))
        s_put(&o, "  size=%g", s->size);
    if (!isnan(s->limit)) {
        s_put(&o, "  limit=");
        s_put_num(&o, s->limit);
    }
    if (!isnan(s->stop)) {
        s_put(&o, "  stop=");
        s_put_num(&o, s->stop);
    }
    if (!isnan(s->sl)) {
        s_put(&o, "  sl=");
        s_put_num(&o, s->sl);
    }
    if (!isnan(s->tp)) {
        s_put(&o, "  tp=");
        s_put_num(&o, s->tp);
    }
    if (s->tag[0]) {
        s_put(&o, "  tag=");
        s_put_clean(&o, s->tag);
    }
    if (s->nind > 0) {
        s_put(&o, "  %s", color ? CONSOLE_DIM : "");
        for (int i = 0; i < s->nind && i < SIG_MAX_IND; i++) {
            s_put(&o, "%s", i ? " " : "");
            s_put_clean(&o, s->ind[i].name);
            s_put(&o, "=");
            s_put_num(&o, s->ind[i].v);
        }
        s_put(&o, "%s", color ? CONSOLE_OFF : "");
    }
    if (o.trunc) {
        /* Never leave the terminal dim or coloured after a cut line. */
        if (color && n > sizeof CONSOLE_OFF)
            memcpy(buf + n - sizeof CONSOLE_OFF, CONSOLE_OFF,
                   sizeof CONSOLE_OFF);
        return -1;
    }
    return (int)o.len;
}

/* Settings from the console's own flags. */
static struct {
    int json;                       /* --json */
    const char *color;              /* --color auto|always|never */
} s_cfg = { 0, "auto" };

static const struct opt s_opts[] = {
    { "json", OPT_BOOL, &s_cfg.json, NULL, NULL,
      "one compact JSON object per line instead of text" },
    { "color", OPT_STR, &s_cfg.color, NULL, "auto|always|never",
      "ANSI colours; auto: when stdout is a terminal and NO_COLOR is unset" },
    { 0 }
};

static int s_open(void **state, char *info, char *err)
{
    struct console *c;
    int color;

    if (strcmp(s_cfg.color, "always") == 0)
        color = 1;
    else if (strcmp(s_cfg.color, "never") == 0)
        color = 0;
    else if (strcmp(s_cfg.color, "auto") == 0)
        color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    else {
        snprintf(err, ERR_LEN, "bad value '%s' for --color: expected auto, "
                 "always or never", s_cfg.color);
        return ERR_USAGE;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    c->out = stdout;
    c->json = s_cfg.json;
    c->color = color && !s_cfg.json;
    snprintf(info, ERR_LEN, "%s on stdout",
             c->json ? "JSON Lines" : c->color ? "text, coloured" : "text");
    *state = c;
    return ERR_OK;
}

static int s_write(void *state, const struct signal *s)
{
    struct console *c = state;
    char line[CONSOLE_LINE];

    if (c->json)
        return sink_write_json(c->out, s);
    /* A line too long for the buffer is printed cut, not dropped. */
    console_format(s, c->n + 1, c->color, line, sizeof line);
    fputs(line, c->out);
    fputc('\n', c->out);
    if (fflush(c->out) != 0 || ferror(c->out)) {
        int e = errno;
        clearerr(c->out);
        errno = e;
        return ERR_IO;
    }
    c->n++;
    return ERR_OK;
}

static void s_close(void **state)
{
    struct console *c = *state;
    if (c) {
        fflush(c->out);
        free(c);
        *state = NULL;
    }
}

const struct sink_ops sink_console = {
    .name = "console",
    .summary = "print signals on stdout, as text or JSON Lines",
    .usage = "[--json] [--color auto|always|never]",
    .opts = s_opts,
    .open = s_open,
    .write = s_write,
    .close = s_close,
    .quiet_flat_closes = 1,
};
