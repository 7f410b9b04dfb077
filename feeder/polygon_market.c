/* polygon_market.c -- the Polygon markets and their symbol forms (see
 * polygon_market.h). */
#include "polygon_market.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "source.h"

/* Quote currencies a crypto ticker without a separator (X:BTCUSD) is
 * split before; longer ones first, so USDT wins over USD. */
static const char *const s_quotes[] = {
    "USDT", "USDC", "BUSD", "DAI", "USD", "EUR", "GBP", "JPY", "CAD",
    "AUD", "CHF", "BTC", "ETH", NULL
};

static int s_prefixed(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* A copy of s upper-cased, with '-' and '/' left out and then the
 * prefix p dropped (if it has it), in out[SYM_MAX]. */
static void s_squash(const char *s, const char *p, char *out)
{
    size_t o = 0;

    for (; *s && o + 1 < SYM_MAX; s++)
        if (*s != '-' && *s != '/')
            out[o++] = (char)toupper((unsigned char)*s);
    out[o] = '\0';
    if (s_prefixed(out, p))
        memmove(out, out + strlen(p), o - strlen(p) + 1);
}

static void s_key_stocks(const char *sym, char *out)
{
    snprintf(out, SYM_MAX, "%s", sym);
}

static void s_key_crypto(const char *sym, char *out)
{
    s_squash(sym, "X:", out);
}

static void s_key_forex(const char *sym, char *out)
{
    s_squash(sym, "C:", out);
}

static void s_key_indices(const char *sym, char *out)
{
    snprintf(out, SYM_MAX, "%s%s", s_prefixed(sym, "I:") ? "" : "I:", sym);
}

static const struct polygon_market s_markets[] = {
    { "stocks", "/stocks", 1, "AM", "A", SOURCE_MARKET_US_EQUITIES,
      s_key_stocks },
    { "crypto", "/crypto", 0, "XA", "XAS", SOURCE_MARKET_ALWAYS,
      s_key_crypto },
    { "forex", "/forex", 0, "CA", "CAS", SOURCE_MARKET_FOREX,
      s_key_forex },
    { "indices", "/indices", 1, "AM", "A", SOURCE_MARKET_US_EQUITIES,
      s_key_indices },
};

#define NMARKETS (sizeof s_markets / sizeof s_markets[0])

const struct polygon_market *polygon_market_find(const char *name)
{
    for (size_t i = 0; name && i < NMARKETS; i++)
        if (strcmp(name, s_markets[i].name) == 0)
            return &s_markets[i];
    return NULL;
}

const char *polygon_market_names(void)
{
    return "stocks, crypto, forex or indices";
}

/* 1 if s[0..n) is 1..n letters and digits. */
static int s_alnum(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Splits a currency pair (prefix p dropped, upper-cased) into base and
 * quote: at its one '-' or '/', else, with `fixed` 3, three letters each,
 * else (fixed 0) before a known quote currency. 0 or -1. */
static int s_pair(const char *sym, const char *p, int fixed,
                  char *base, char *quote)
{
    char u[SYM_MAX];
    const char *sep;
    size_t n = 0, b;

    for (; sym[n] && n + 1 < SYM_MAX; n++)
        u[n] = (char)toupper((unsigned char)sym[n]);
    u[n] = '\0';
    if (s_prefixed(u, p)) {
        b = strlen(p);
        memmove(u, u + b, n - b + 1);
        n -= b;
    }
    sep = strpbrk(u, "-/");
    if (sep) {
        b = (size_t)(sep - u);
        if (strpbrk(sep + 1, "-/"))
            return -1;
    } else if (fixed) {
        b = n == 2 * (size_t)fixed ? (size_t)fixed : 0;
    } else {
        b = 0;
        for (int k = 0; s_quotes[k] && !b; k++) {
            size_t q = strlen(s_quotes[k]);
            if (n >= q + 2 && strcmp(u + n - q, s_quotes[k]) == 0)
                b = n - q;
        }
    }
    if (b == 0)
        return -1;
    if (!s_alnum(u, b) || !s_alnum(u + b + (sep ? 1 : 0),
                                   n - b - (sep ? 1 : 0)))
        return -1;
    if (fixed && (b != (size_t)fixed || n - b - (sep ? 1 : 0) !=
                  (size_t)fixed))
        return -1;
    memcpy(base, u, b);
    base[b] = '\0';
    snprintf(quote, SYM_MAX, "%s", u + b + (sep ? 1 : 0));
    return 0;
}

int polygon_market_bus(const struct polygon_market *m, const char *sym,
                       char *out, char *err)
{
    char base[SYM_MAX], quote[SYM_MAX];
    int len = 0;

    if (strcmp(sym, "*") == 0) {       /* every symbol: as it is */
        snprintf(out, SYM_MAX, "*");
        return 0;
    }
    if (strcmp(m->name, "stocks") == 0) {
        len = snprintf(out, SYM_MAX, "%s", sym);
    } else if (strcmp(m->name, "crypto") == 0) {
        if (s_pair(sym, "X:", 0, base, quote)) {
            snprintf(err, ERR_LEN, "--market crypto: cannot read '%.40s' "
                     "as a pair: give it as BASE-QUOTE, e.g. BTC-USD", sym);
            return ERR_USAGE;
        }
        len = snprintf(out, SYM_MAX, "%s-%s", base, quote);
    } else if (strcmp(m->name, "forex") == 0) {
        if (s_pair(sym, "C:", 3, base, quote)) {
            snprintf(err, ERR_LEN, "--market forex: cannot read '%.40s' "
                     "as a pair: give it as BASE-QUOTE, e.g. EUR-USD", sym);
            return ERR_USAGE;
        }
        len = snprintf(out, SYM_MAX, "%s-%s", base, quote);
    } else {                        /* indices */
        len = snprintf(out, SYM_MAX, "%s%s",
                       s_prefixed(sym, "I:") ? "" : "I:", sym);
        if (len < SYM_MAX && !s_alnum(out + 2, strlen(out + 2))) {
            snprintf(err, ERR_LEN, "--market indices: '%.40s' is not an "
                     "index ticker such as I:SPX or SPX", sym);
            return ERR_USAGE;
        }
    }
    if (len < 0 || len >= SYM_MAX || !symbol_valid(out)) {
        snprintf(err, ERR_LEN, "--market %s: symbol '%.40s' is too long",
                 m->name, sym);
        return ERR_USAGE;
    }
    return 0;
}

/* The bus form of a pair, BASE-QUOTE, with the '-' as `sep` (or left out
 * when sep is 0) and `prefix` before it, in out[SYM_MAX]. */
static void s_repair(const char *bus, const char *prefix, char sep,
                     char *out)
{
    const char *dash = strchr(bus, '-');
    int b = dash ? (int)(dash - bus) : (int)strlen(bus);

    if (!dash)
        snprintf(out, SYM_MAX, "%s%s", prefix, bus);
    else if (sep)
        snprintf(out, SYM_MAX, "%s%.*s%c%s", prefix, b, bus, sep, dash + 1);
    else
        snprintf(out, SYM_MAX, "%s%.*s%s", prefix, b, bus, dash + 1);
}

void polygon_market_rest(const struct polygon_market *m, const char *bus,
                         char *out)
{
    if (strcmp(m->name, "crypto") == 0)
        s_repair(bus, "X:", 0, out);
    else if (strcmp(m->name, "forex") == 0)
        s_repair(bus, "C:", 0, out);
    else
        snprintf(out, SYM_MAX, "%s", bus);
}

void polygon_market_ws(const struct polygon_market *m, const char *bus,
                       char *out)
{
    if (strcmp(m->name, "forex") == 0)
        s_repair(bus, "", '/', out);
    else
        snprintf(out, SYM_MAX, "%s", bus);
}
