/* indicator_lib.c -- what each indicator kind computes, one step per
 * bar, and the building blocks they share.
 *
 * Numerics. Window sums (SMA, WMA, STDDEV, BBANDS) are kept as Kahan-
 * compensated sliding sums of x - k, where k is the window mean at the
 * last exact recomputation. The sums are recomputed exactly from the
 * window each time it has turned over (every n bars: 2-3 passes over n
 * values, so amortised O(1) per bar), so no error accumulates over
 * millions of bars, and k stays within the range of the recent values:
 * the variance loses no digits to cancellation (prices near 1.07 with a
 * standard deviation of 1e-4 would lose eight of them with plain sums of
 * x and x^2, and a shift kept for longer while prices trend would lose
 * them too). When the variance collapses within a window (two equal
 * closes after a jump), the sums are recomputed at once as well. Recursive averages (EMA, Wilder) are contractions:
 * their rounding errors decay instead of adding up. Rolling maxima and
 * minima use a monotonic deque (amortised O(1), exact).
 *
 * NaN. A NaN in a window makes a window value NaN until it leaves the
 * window (pandas with min_periods = n). Recursive kinds start at their
 * source's first valid value, and skip a later NaN (the output is NaN on
 * that bar; the state is kept). */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "indicator.h"

#define ROLL_COLLAPSE 1e4          /* recompute when the variance is this
                                       much smaller than the sums it is
                                       the difference of */
#define ROLL_S2 1                   /* s_roll: keep the sum of squares */
#define ROLL_W 2                    /* s_roll: keep the weighted sum */

/* {==================== building blocks ====================== */

/* Kahan: adds x to (sum, comp); the total is sum - comp. */
static void s_kahan(double *sum, double *comp, double x)
{
    double y = x - *comp;
    double t = *sum + y;
    *comp = (t - *sum) - y;
    *sum = t;
}

void indicator_roll_init(struct ind_roll *r)
{
    r->k = r->s1 = r->c1 = r->s2 = r->c2 = r->w = r->cw = 0;
    r->nan = 0;
    r->ok = 0;
    r->next_sync = 0;
}

/* Exact sums over the window of values i-n+1 .. i of v (no NaN). */
static void s_roll_sync(struct ind_roll *r, const struct series *v, size_t i,
                        size_t n, int want)
{
    size_t lo = i + 1 - n;
    double s = 0, c = 0;

    for (size_t j = lo; j <= i; j++)
        s_kahan(&s, &c, SERIES_AT(v, j));
    r->k = (s - c) / (double)n;
    r->s1 = r->c1 = r->s2 = r->c2 = r->w = r->cw = 0;
    for (size_t j = lo; j <= i; j++) {
        double d = SERIES_AT(v, j) - r->k;
        s_kahan(&r->s1, &r->c1, d);
        if (want & ROLL_S2)
            s_kahan(&r->s2, &r->c2, d * d);
        if (want & ROLL_W)
            s_kahan(&r->w, &r->cw, (double)(j - lo + 1) * d);
    }
    r->ok = 1;
    r->next_sync = i + n;
}

/* Moves the window to end at index i. Returns 1 if it is full and free
 * of NaN (the sums are then valid), else 0. */
static int s_roll(struct ind_roll *r, const struct series *v, size_t i,
                  size_t n, int want)
{
    double d, od;

    r->nan += isnan(SERIES_AT(v, i));
    if (i >= n)
        r->nan -= isnan(SERIES_AT(v, i - n));
    if (i + 1 < n || r->nan) {
        r->ok = 0;
        return 0;
    }
    if (!r->ok || i >= r->next_sync) {
        s_roll_sync(r, v, i, n, want);
        return 1;
    }
    d = SERIES_AT(v, i) - r->k;
    od = SERIES_AT(v, i - n) - r->k;
    if (want & ROLL_W) {
        /* Every weight drops by one (minus the old sum), the new value
         * comes in with weight n. */
        s_kahan(&r->w, &r->cw, -(r->s1 - r->c1));
        s_kahan(&r->w, &r->cw, (double)n * d);
    }
    s_kahan(&r->s1, &r->c1, d);
    s_kahan(&r->s1, &r->c1, -od);
    if (want & ROLL_S2) {
        double s1 = r->s1 - r->c1, s2, m2;
        s_kahan(&r->s2, &r->c2, d * d);
        s_kahan(&r->s2, &r->c2, -od * od);
        /* When the variance collapses (a flat stretch after a move), it
         * is the difference of two much larger sums and would keep only
         * the digits they have in common: recompute, at most once per
         * eighth of a window (amortised O(1) on any data). */
        s2 = r->s2 - r->c2;
        m2 = s2 - s1 * s1 / (double)n;
        if (!(s2 <= ROLL_COLLAPSE * m2) && i >= r->next_sync - n + n / 8)
            s_roll_sync(r, v, i, n, want);
    }
    return 1;
}

static double s_roll_mean(const struct ind_roll *r, size_t n)
{
    return r->k + (r->s1 - r->c1) / (double)n;
}

/* Variance with ddof degrees of freedom subtracted from n. */
static double s_roll_var(const struct ind_roll *r, size_t n, int ddof)
{
    double s1 = r->s1 - r->c1;
    double var = ((r->s2 - r->c2) - s1 * s1 / (double)n) /
                 (double)(n - (size_t)ddof);
    return var > 0 ? var : 0;
}

void indicator_ema_init(struct ind_ema *e, int n, double alpha)
{
    e->n = n;
    e->seeded = 0;
    e->alpha = alpha;
    e->sum = e->comp = e->prev = 0;
}

/* Takes x into the seed (the mean of the first n values); 1 once the
 * seed is complete, with e->prev set to it. */
static int s_seed(struct ind_ema *e, double x)
{
    s_kahan(&e->sum, &e->comp, x);
    if (++e->seeded < e->n)
        return 0;
    e->prev = (e->sum - e->comp) / e->n;
    return 1;
}

/* EMA: seed, then ema = a*x + (1-a)*ema. NaN x: NaN, state kept. */
static double s_ema(struct ind_ema *e, double x)
{
    if (isnan(x))
        return NAN;
    if (e->seeded < e->n)
        return s_seed(e, x) ? e->prev : NAN;
    e->prev = e->alpha * x + (1.0 - e->alpha) * e->prev;
    return e->prev;
}

/* Wilder's average: seed, then avg = (avg*(n-1) + x)/n. */
static double s_wilder(struct ind_ema *e, double x)
{
    if (isnan(x))
        return NAN;
    if (e->seeded < e->n)
        return s_seed(e, x) ? e->prev : NAN;
    e->prev = (e->prev * (e->n - 1) + x) / e->n;
    return e->prev;
}

int indicator_deque_init(struct ind_deque *d, int n, int max)
{
    d->idx = malloc((size_t)n * sizeof *d->idx);
    d->head = d->len = 0;
    d->cap = (size_t)n;
    d->max = max;
    d->nan = 0;
    return d->idx ? ERR_OK : ERR_NOMEM;
}

void indicator_deque_free(struct ind_deque *d)
{
    free(d->idx);
    d->idx = NULL;
    d->cap = d->len = 0;
}

/* Moves the window to end at index i; 1 if it is full and free of NaN,
 * the extreme then being value d->idx[d->head] of v. The deque holds the
 * indices (value numbers) of the window, oldest first, whose values are
 * strictly decreasing (max) or increasing (min): each index enters and
 * leaves once. */
static int s_deque(struct ind_deque *d, const struct series *v, size_t i,
                   size_t n)
{
    double x = SERIES_AT(v, i);

    d->nan += isnan(x);
    if (i >= n)
        d->nan -= isnan(SERIES_AT(v, i - n));
    while (d->len && d->idx[d->head] + n <= i) {
        d->head = (d->head + 1) % d->cap;
        d->len--;
    }
    if (!isnan(x)) {
        while (d->len) {
            double b = SERIES_AT(v, d->idx[(d->head + d->len - 1) %
                                            d->cap]);
            if (d->max ? b > x : b < x)
                break;
            d->len--;
        }
        d->idx[(d->head + d->len) % d->cap] = i;
        d->len++;
    }
    return !(i + 1 < n || d->nan);
}

static double s_deque_value(const struct ind_deque *d,
                            const struct series *v)
{
    return SERIES_AT(v, d->idx[d->head]);
}

/* }========================================================== */

/* {==================== the kinds ============================ */

#define SRC(k) (ind->src[k])
#define IN(k) SERIES_AT(ind->src[k], i) /* source k at this bar */
#define OUT(j) SERIES_AT(&ind->out[j], i)
#define WIN ((size_t)ind->n)

/* SMA(x, n): mean of the last n values. First value at n-1. */
static void s_step_sma(struct indicator *ind, size_t i)
{
    if (s_roll(&ind->roll, SRC(0), i, WIN, 0))
        OUT(0) = s_roll_mean(&ind->roll, WIN);
}

/* EMA(x, n): seeded with the mean of the first n values (first value at
 * n-1, as TA-Lib), then ema = a*x + (1-a)*ema, a = 2/(n+1). */
static void s_step_ema(struct indicator *ind, size_t i)
{
    OUT(0) = s_ema(&ind->ema[0], IN(0));
}

/* WMA(x, n): weights 1..n, the newest n, over their sum n(n+1)/2. */
static void s_step_wma(struct indicator *ind, size_t i)
{
    if (s_roll(&ind->roll, SRC(0), i, WIN, ROLL_W))
        OUT(0) = ind->roll.k + (ind->roll.w - ind->roll.cw) /
                 ((double)WIN * (double)(WIN + 1) / 2.0);
}

/* RSI(x, n), Wilder: the first average gain and loss are the means of the
 * first n changes, then avg = (avg*(n-1) + g)/n. First value at n.
 * rsi = 100*g/(g+l); 50 when both are 0. */
static void s_step_rsi(struct indicator *ind, size_t i)
{
    double x = IN(0), d, g, l;

    if (isnan(x))
        return;
    if (!ind->have_last) {
        ind->last = x;
        ind->have_last = 1;
        return;
    }
    d = x - ind->last;
    ind->last = x;
    g = s_wilder(&ind->wil[0], d > 0 ? d : 0);
    l = s_wilder(&ind->wil[1], d < 0 ? -d : 0);
    if (isnan(g))
        return;
    OUT(0) = g + l > 0 ? 100.0 * g / (g + l) : 50.0;
}

/* MACD(x, fast, slow, signal): macd = EMA(fast) - EMA(slow), signal =
 * EMA(macd, signal) from the first macd value, hist = macd - signal. */
static void s_step_macd(struct indicator *ind, size_t i)
{
    double x = IN(0);
    double m = s_ema(&ind->ema[0], x) - s_ema(&ind->ema[1], x);
    double s = s_ema(&ind->ema[2], m);

    OUT(0) = m;
    OUT(1) = s;
    OUT(2) = m - s;
}

/* BBANDS(x, n, k): middle = SMA(n), upper/lower = middle +/- k * the
 * population standard deviation (ddof 0, as TA-Lib) of the window. */
static void s_step_bbands(struct indicator *ind, size_t i)
{
    double mid, sd;

    if (!s_roll(&ind->roll, SRC(0), i, WIN, ROLL_S2))
        return;
    mid = s_roll_mean(&ind->roll, WIN);
    sd = sqrt(s_roll_var(&ind->roll, WIN, 0));
    OUT(0) = mid + ind->p[1] * sd;
    OUT(1) = mid;
    OUT(2) = mid - ind->p[1] * sd;
}

/* ATR(high, low, close, n): Wilder's average of the true range
 * max(h-l, |h-c'|, |l-c'|), c' the previous close; the first bar has no
 * true range, so the first value is at n (as TA-Lib). */
static void s_step_atr(struct indicator *ind, size_t i)
{
    double h = IN(0), l = IN(1), c = IN(2), tr;

    if (isnan(h) || isnan(l) || isnan(c))
        return;
    if (!ind->have_last) {
        ind->last = c;
        ind->have_last = 1;
        return;
    }
    tr = h - l;
    if (fabs(h - ind->last) > tr)
        tr = fabs(h - ind->last);
    if (fabs(l - ind->last) > tr)
        tr = fabs(l - ind->last);
    ind->last = c;
    OUT(0) = s_wilder(&ind->wil[0], tr);
}

/* STDDEV(x, n): sample standard deviation (ddof 1) of the last n values,
 * as pandas' rolling(n).std(). n >= 2; first value at n-1. */
static void s_step_stddev(struct indicator *ind, size_t i)
{
    if (s_roll(&ind->roll, SRC(0), i, WIN, ROLL_S2))
        OUT(0) = sqrt(s_roll_var(&ind->roll, WIN, 1));
}

/* HIGHEST / LOWEST(x, n): max / min of the last n values. */
static void s_step_extreme(struct indicator *ind, size_t i)
{
    if (s_deque(&ind->dq[0], SRC(0), i, WIN))
        OUT(0) = s_deque_value(&ind->dq[0], SRC(0));
}

/* ROC(x, n) = 100*(x/x[-n] - 1); MOM(x, n) = x - x[-n]. First at n. */
static void s_step_roc(struct indicator *ind, size_t i)
{
    if (i >= WIN)
        OUT(0) = 100.0 * (IN(0) / SERIES_AT(SRC(0), i - WIN) - 1.0);
}

static void s_step_mom(struct indicator *ind, size_t i)
{
    if (i >= WIN)
        OUT(0) = IN(0) - SERIES_AT(SRC(0), i - WIN);
}

/* STOCH(high, low, close, k, d): %K = 100*(c - LL)/(HH - LL) over the
 * last k bars (50 when HH = LL), %D = SMA(%K, d). */
static void s_step_stoch(struct indicator *ind, size_t i)
{
    int ok = s_deque(&ind->dq[0], SRC(0), i, WIN);
    double c = IN(2);

    ok &= s_deque(&ind->dq[1], SRC(1), i, WIN);
    if (ok && !isnan(c)) {
        double hh = s_deque_value(&ind->dq[0], SRC(0));
        double ll = s_deque_value(&ind->dq[1], SRC(1));
        OUT(0) = hh > ll ? 100.0 * (c - ll) / (hh - ll) : 50.0;
    }
    if (s_roll(&ind->roll, &ind->out[0], i, (size_t)ind->p[1], 0))
        OUT(1) = s_roll_mean(&ind->roll, (size_t)ind->p[1]);
}

/* DONCHIAN(high, low, n): upper = highest high, lower = lowest low of
 * the last n bars, middle = (upper + lower)/2. */
static void s_step_donchian(struct indicator *ind, size_t i)
{
    int ok = s_deque(&ind->dq[0], SRC(0), i, WIN);

    ok &= s_deque(&ind->dq[1], SRC(1), i, WIN);
    if (!ok)
        return;
    OUT(0) = s_deque_value(&ind->dq[0], SRC(0));
    OUT(2) = s_deque_value(&ind->dq[1], SRC(1));
    OUT(1) = (OUT(0) + OUT(2)) / 2.0;
}

#undef SRC
#undef IN
#undef OUT
#undef WIN

/* }========================================================== */

const struct ind_info indicator_kinds[IND_NKINDS] = {
    [IND_SMA] = { "SMA", 1, { "Close" }, 1, 1, { "n" }, { 0 },
                  1, { "sma" }, s_step_sma },
    [IND_EMA] = { "EMA", 1, { "Close" }, 1, 1, { "n" }, { 0 },
                  1, { "ema" }, s_step_ema },
    [IND_WMA] = { "WMA", 1, { "Close" }, 1, 1, { "n" }, { 0 },
                  1, { "wma" }, s_step_wma },
    [IND_RSI] = { "RSI", 1, { "Close" }, 1, 0, { "n" }, { 14 },
                  1, { "rsi" }, s_step_rsi },
    [IND_MACD] = { "MACD", 1, { "Close" }, 3, 0,
                   { "fast", "slow", "signal" }, { 12, 26, 9 },
                   3, { "macd", "signal", "hist" }, s_step_macd },
    [IND_BBANDS] = { "BBANDS", 1, { "Close" }, 2, 0, { "n", "k" },
                     { 20, 2 }, 3, { "upper", "middle", "lower" },
                     s_step_bbands },
    [IND_ATR] = { "ATR", 3, { "High", "Low", "Close" }, 1, 0, { "n" },
                  { 14 }, 1, { "atr" }, s_step_atr },
    [IND_STDDEV] = { "STDDEV", 1, { "Close" }, 1, 1, { "n" }, { 0 },
                     1, { "stddev" }, s_step_stddev },
    [IND_HIGHEST] = { "HIGHEST", 1, { "Close" }, 1, 1, { "n" }, { 0 },
                      1, { "highest" }, s_step_extreme },
    [IND_LOWEST] = { "LOWEST", 1, { "Close" }, 1, 1, { "n" }, { 0 },
                     1, { "lowest" }, s_step_extreme },
    [IND_ROC] = { "ROC", 1, { "Close" }, 1, 0, { "n" }, { 10 },
                  1, { "roc" }, s_step_roc },
    [IND_MOM] = { "MOM", 1, { "Close" }, 1, 0, { "n" }, { 10 },
                  1, { "mom" }, s_step_mom },
    [IND_STOCH] = { "STOCH", 3, { "High", "Low", "Close" }, 2, 0,
                    { "k", "d" }, { 14, 3 }, 2, { "k", "d" },
                    s_step_stoch },
    [IND_DONCHIAN] = { "DONCHIAN", 2, { "High", "Low" }, 1, 0, { "n" },
                       { 20 }, 3, { "upper", "middle", "lower" },
                       s_step_donchian },
    [IND_EXTERNAL] = { "I", 0, { NULL }, 0, 0, { NULL }, { 0 },
                       1, { "value" }, NULL },
};
