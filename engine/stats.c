/* stats.c -- backtesting.py 0.6.6's statistics (_stats.py compute_stats),
 * reproduced with the numpy/pandas behaviour they rely on:
 *
 *  - sums are numpy's pairwise sums; pandas' mean/var skip NaN and give
 *    NaN when nothing (var: at most one value) is left;
 *  - annualisation: the data period is the median of the last 100 time
 *    steps (_data_period); 7, 31 and 365 whole days mean weekly (52),
 *    monthly (12) and yearly (1) data resampled per calendar week
 *    (Mon-Sun), month and year (what 0.6.6 does with pandas >= 2.2;
 *    Debian's pandas 1.5 raises there); anything else is resampled per
 *    calendar day with 252 periods a year, or 365 when more than
 *    2/7 * 0.6 of the bars fall on a Saturday or Sunday. Returns are
 *    pct_change().dropna() of the last equity of each period;
 *  - CAGR over (days + seconds / 86400) / 365.25 years of Duration;
 *  - Beta = np.cov(log returns of equity, of close)[0,1] / [1,1];
 *  - drawdown episodes as compute_drawdown_duration_peaks, including its
 *    fallback (no episode: both series are dd with 0 -> NaN, so the two
 *    durations come out as plain numbers);
 *  - durations as pandas Timedeltas: means truncated to the nanosecond,
 *    then ceil()ed to the resolution of the data period (a day for daily
 *    bars, an hour for hourly ones; a day below two bars).
 *
 * Bar times must be ascending epoch milliseconds (UTC, as backtesting.py's
 * naive index). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "stats.h"

#define NS_US   1000LL
#define NS_MS   1000000LL
#define NS_S    1000000000LL
#define NS_MIN  (60 * NS_S)
#define NS_HOUR (60 * NS_MIN)
#define NS_DAY  (24 * NS_HOUR)
#define MS_DAY  86400000LL
#define PW_BLOCK 128            /* numpy's pairwise summation block */
#define PERIOD_BARS 100         /* _data_period looks at the last 100 */

/* {====================================================================
 * numpy / pandas reductions
 * ==================================================================== */

/* np.add.reduce on a contiguous float64 array. */
static double s_sum(const double *a, size_t n)
{
    double r[8], res = 0.;
    size_t i;

    if (n < 8) {
        for (i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= PW_BLOCK) {
        for (i = 0; i < 8; i++)
            r[i] = a[i];
        for (i = 8; i < n - (n % 8); i += 8)
            for (size_t k = 0; k < 8; k++)
                r[k] += a[i + k];
        res = ((r[0] + r[1]) + (r[2] + r[3])) +
              ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    i = n / 2;
    i -= i % 8;
    return s_sum(a, i) + s_sum(a + i, n - i);
}

/* Series.mean() of values that hold no NaN. */
static double s_mean(const double *a, size_t n)
{
    return n ? s_sum(a, n) / (double)n : NAN;
}

/* Series.var(ddof=1) of values that hold no NaN (pandas' nanvar: mean,
 * then the sum of squared deviations). a is overwritten. */
static double s_var(double *a, size_t n)
{
    double avg;

    if (n <= 1)
        return NAN;
    avg = s_sum(a, n) / (double)n;
    for (size_t i = 0; i < n; i++)
        a[i] = (avg - a[i]) * (avg - a[i]);
    return s_sum(a, n) / (double)(n - 1);
}

/* backtesting.py's geometric_mean: NaN counts as 0, any 1 + r <= 0 gives
 * 0, no values give NaN. tmp holds n values. */
static double s_gmean(const double *r, size_t n, double *tmp)
{
    for (size_t i = 0; i < n; i++) {
        tmp[i] = (isnan(r[i]) ? 0 : r[i]) + 1;
        if (tmp[i] <= 0)
            return 0;
    }
    if (!n)
        return NAN;
    for (size_t i = 0; i < n; i++)
        tmp[i] = log(tmp[i]);
    return exp(s_sum(tmp, n) / (double)n) - 1;
}

/* Python's `x or nan` for a float. */
static double s_or_nan(double x)
{
    return x == 0 ? NAN : x;
}

/* }==================================================================== */

/* {====================================================================
 * Time
 * ==================================================================== */

static int64_t s_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Proleptic Gregorian date of a day number (0 = 1970-01-01). */
static void s_civil(int64_t days, int64_t *yr, int *mon, int *day)
{
    int64_t z = days + 719468, era, doe, yoe, doy, mp;

    era = s_floordiv(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    *yr = yoe + era * 400 + (*mon <= 2);
}

/* Day of the week, Monday = 0 (1970-01-01 was a Thursday). */
static int s_weekday(int64_t ms)
{
    int64_t d = s_floordiv(ms, MS_DAY) + 3;

    return (int)(d - s_floordiv(d, 7) * 7);
}

/* pd.Timedelta.resolution_string, as a unit in ns: the smallest non-zero
 * component (a day for zero). */
static int64_t s_resolution(int64_t ns)
{
    if (ns < 0)
        ns = -ns;
    if (ns % NS_US)
        return 1;
    if (ns / NS_US % 1000)
        return NS_US;
    if (ns / NS_MS % 1000)
        return NS_MS;
    if (ns / NS_S % 60)
        return NS_S;
    if (ns / NS_MIN % 60)
        return NS_MIN;
    if (ns / NS_HOUR % 24)
        return NS_HOUR;
    return NS_DAY;
}

/* pd.Timedelta.ceil(unit). */
static int64_t s_ceil(int64_t ns, int64_t unit)
{
    int64_t r = ns % unit;

    if (!r)
        return ns;
    return r > 0 ? ns + (unit - r) : ns - r;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* _data_period: median step over the last 100 bars, in ns; 0 with fewer
 * than two bars. */
static int64_t s_period_ns(const double *t, size_t n)
{
    int64_t d[PERIOD_BARS];
    size_t first = n > PERIOD_BARS ? n - PERIOD_BARS : 0, k = 0;

    for (size_t i = first + 1; i < n; i++)
        d[k++] = ((int64_t)t[i] - (int64_t)t[i - 1]) * NS_MS;
    if (!k)
        return 0;
    qsort(d, k, sizeof *d, cmp_i64);
    if (k % 2)
        return d[k / 2];
    return d[k / 2 - 1] / 2 + d[k / 2] / 2;     /* ms * 1e6: both even */
}

/* Truncated mean of durations given in ms, in ns (pandas' Timedelta mean:
 * the float mean of the nanoseconds, truncated). */
static int64_t s_mean_ns(int64_t sum_ms, int64_t count)
{
    int64_t q = sum_ms / count, r = sum_ms % count;

    return q * NS_MS + r * NS_MS / count;
}

static double s_ns_to_ms(int64_t ns)
{
    return (double)(ns / NS_MS) + (double)(ns % NS_MS) / 1e6;
}

static int64_t s_ms_to_ns(double ms)
{
    double whole = floor(ms);

    return (int64_t)whole * NS_MS + llround((ms - whole) * 1e6);
}

/* }==================================================================== */

/* {====================================================================
 * The statistics
 * ==================================================================== */

struct out {
    struct stat_row *st;
    int n, max;
};

static void s_put(struct out *o, const char *name, enum stat_kind kind,
                  double v)
{
    if (o->n < o->max) {
        o->st[o->n].name = name;
        o->st[o->n].kind = kind;
        o->st[o->n].v = v;
    }
    o->n++;
}

/* Annualisation inputs: the period returns and their count per year. */
struct annual {
    double a;                   /* periods a year */
    double g;                   /* geometric mean period return */
    double var;                 /* their variance, ddof=1 */
    double down;                /* sqrt(mean(min(r, 0)^2)) */
};

/* Calendar period of a bar time for resample(freq).last(). */
static int64_t s_period_key(int64_t ms, int freq_days)
{
    int64_t days = s_floordiv(ms, MS_DAY), yr;
    int mon, day;

    switch (freq_days) {
    case 7:
        return s_floordiv(days + 3, 7);     /* weeks Monday..Sunday */
    case 31:
        s_civil(days, &yr, &mon, &day);
        return yr * 12 + mon - 1;
    case 365:
        s_civil(days, &yr, &mon, &day);
        return yr;
    default:
        return days;
    }
}

static void s_annual(const struct stats_input *in, int64_t period_ns,
                     double *x, double *r, struct annual *an)
{
    int freq_days = (int)(period_ns / NS_DAY);
    size_t weekend = 0, nx = 0, nr = 0;
    int64_t key = 0;

    for (size_t i = 0; i < in->n; i++)
        weekend += s_weekday((int64_t)in->time_ms[i]) >= 5;
    an->a = freq_days == 7 ? 52 : freq_days == 31 ? 12 :
            freq_days == 365 ? 1 :
            (double)weekend / (double)in->n > 2.0 / 7 * .6 ? 365 : 252;
    if (freq_days != 7 && freq_days != 31 && freq_days != 365)
        freq_days = 1;

    /* resample(freq).last().dropna() */
    for (size_t i = 0; i < in->n; i++) {
        int64_t k = s_period_key((int64_t)in->time_ms[i], freq_days);
        double e = in->equity[i];

        if (isnan(e))
            continue;
        if (nx && k == key)
            x[nx - 1] = e;
        else
            x[nx++] = e;
        key = k;
    }
    /* .pct_change().dropna() */
    for (size_t i = 1; i < nx; i++) {
        double v = x[i] / x[i - 1] - 1;

        if (!isnan(v))
            r[nr++] = v;
    }
    an->g = s_gmean(r, nr, x);
    for (size_t i = 0; i < nr; i++)
        x[i] = r[i] < 0 ? r[i] * r[i] : 0;
    an->down = sqrt(s_mean(x, nr));
    an->var = s_var(r, nr);
}

/* np.cov(eq_log_ret, mkt_log_ret): [0,1] / [1,1]; NaN below 3 bars. */
static double s_beta(const struct stats_input *in, double *el, double *ml)
{
    size_t m = in->n - 1;
    double me, mm, c01, c11;

    if (in->n < 3)
        return NAN;
    for (size_t i = 0; i < m; i++) {
        el[i] = log(in->equity[i + 1] / in->equity[i]);
        ml[i] = log(in->close[i + 1] / in->close[i]);
    }
    me = s_mean(el, m);
    mm = s_mean(ml, m);
    for (size_t i = 0; i < m; i++) {
        el[i] = (el[i] - me) * (ml[i] - mm);
        ml[i] = (ml[i] - mm) * (ml[i] - mm);
    }
    c01 = s_sum(el, m) / (double)(m - 1);
    c11 = s_sum(ml, m) / (double)(m - 1);
    return c01 / c11;
}

/* Drawdown depth and episodes (compute_drawdown_duration_peaks). */
struct drawdown {
    double max_dd;              /* -nan_to_num(max dd) */
    double avg_dd;              /* -mean(episode depth) * 100 */
    enum stat_kind dur_kind;    /* STAT_NUMBER in the no-episode fallback */
    double max_dur, avg_dur;    /* ms (or plain numbers, see above) */
};

static void s_drawdown(const struct stats_input *in, int64_t unit,
                       double *dd, struct drawdown *d)
{
    double peak = NAN, ddmax = NAN, depth_sum = 0;
    int64_t dur_max = 0, dur_sum = 0, episodes = 0;
    size_t n = in->n, prev = SIZE_MAX, ndepth = 0, k = 0;
    int nan_seen = 0;

    /* dd = 1 - equity / np.maximum.accumulate(equity) */
    for (size_t i = 0; i < n; i++) {
        double e = in->equity[i];

        if (i == 0 || (!isnan(peak) && (isnan(e) || e > peak)))
            peak = e;
        dd[i] = 1 - e / peak;
        if (isnan(dd[i]))
            nan_seen = 1;
        else if (isnan(ddmax) || dd[i] > ddmax)
            ddmax = dd[i];
    }
    d->max_dd = -(nan_seen ? 0 : ddmax);

    /* An episode runs from a bar at a peak (dd == 0) to the next bar at a
     * peak, or to the last bar, when there is at least one bar between. */
    for (size_t i = 0; i < n; i++) {
        if (dd[i] != 0 && i != n - 1)
            continue;
        if (prev != SIZE_MAX && i > prev + 1) {
            int64_t dur = (int64_t)in->time_ms[i] -
                          (int64_t)in->time_ms[prev];
            double depth = NAN;

            for (size_t j = prev; j <= i; j++)
                if (!isnan(dd[j]) && (isnan(depth) || dd[j] > depth))
                    depth = dd[j];
            if (!isnan(depth)) {
                depth_sum += depth;
                ndepth++;
            }
            dur_max = (!episodes || dur > dur_max) ? dur : dur_max;
            dur_sum += dur;
            episodes++;
        }
        prev = i;
    }
    if (episodes) {
        d->avg_dd = ndepth ? -(depth_sum / (double)ndepth) * 100 : NAN;
        d->dur_kind = STAT_DURATION;
        d->max_dur = s_ns_to_ms(s_ceil(dur_max * NS_MS, unit));
        d->avg_dur = s_ns_to_ms(s_ceil(s_mean_ns(dur_sum, episodes),
                                       unit));
        return;
    }

    /* No episode: backtesting.py returns dd.replace(0, nan) for both the
     * durations and the depths, so the "durations" are plain numbers. */
    d->max_dur = NAN;
    for (size_t i = 0; i < n; i++)
        if (dd[i] != 0 && !isnan(dd[i])) {
            if (isnan(d->max_dur) || dd[i] > d->max_dur)
                d->max_dur = dd[i];
            dd[k++] = dd[i];
        }
    d->dur_kind = STAT_NUMBER;
    d->avg_dur = s_mean(dd, k);
    d->avg_dd = -d->avg_dur * 100;
}

/* Per-trade statistics. */
struct tradestats {
    double win_rate, best, worst, avg, pf, expectancy, sqn, kelly;
    double max_dur, avg_dur;    /* ms; NaN without trades */
    double commissions;         /* sum over the trades */
};

/* The trades' values matching `sel` (1: > 0, -1: < 0, 0: not NaN) into
 * out; returns how many. */
static size_t s_pick(const struct stats_input *in, int use_pnl, int sel,
                     double *out)
{
    size_t k = 0;

    for (size_t i = 0; i < in->ntrades; i++) {
        double v = use_pnl ? in->trades[i].pnl : in->trades[i].return_pct;

        if (sel > 0 ? v > 0 : sel < 0 ? v < 0 : !isnan(v))
            out[k++] = v;
    }
    return k;
}

static void s_trades(const struct stats_input *in, int64_t unit,
                     double *a, double *b, struct tradestats *ts)
{
    size_t n = in->ntrades, nwin = 0, na, nb;
    int64_t dmax = 0, dsum = 0;
    double mean;

    ts->commissions = 0;
    ts->best = ts->worst = NAN;
    for (size_t i = 0; i < n; i++) {
        const struct stats_trade *t = &in->trades[i];
        int64_t dur = t->exit_time - t->entry_time;
        double r = t->return_pct;

        ts->commissions += t->commission;
        nwin += t->pnl > 0;
        if (!isnan(r) && (isnan(ts->best) || r > ts->best))
            ts->best = r;
        if (!isnan(r) && (isnan(ts->worst) || r < ts->worst))
            ts->worst = r;
        dmax = (i == 0 || dur > dmax) ? dur : dmax;
        dsum += dur;
    }
    ts->win_rate = n ? (double)nwin / (double)n : NAN;
    ts->best *= 100;
    ts->worst *= 100;
    ts->max_dur = n ? s_ns_to_ms(s_ceil(dmax * NS_MS, unit)) : NAN;
    ts->avg_dur = n ? s_ns_to_ms(s_ceil(s_mean_ns(dsum, (int64_t)n), unit))
                    : NAN;

    /* returns (fractions): geometric mean (NaN as 0), profit factor,
     * arithmetic mean */
    for (size_t i = 0; i < n; i++)
        b[i] = in->trades[i].return_pct;
    ts->avg = s_gmean(b, n, a) * 100;
    na = s_pick(in, 0, 1, a);
    nb = s_pick(in, 0, -1, b);
    ts->pf = s_sum(a, na) / s_or_nan(fabs(s_sum(b, nb)));
    na = s_pick(in, 0, 0, a);
    ts->expectancy = s_mean(a, na) * 100;

    /* P&L: SQN = sqrt(n) * mean / std(ddof=1); Kelly */
    na = s_pick(in, 1, 0, a);
    mean = s_mean(a, na);
    ts->sqn = sqrt((double)n) * mean / s_or_nan(sqrt(s_var(a, na)));
    na = s_pick(in, 1, 1, a);
    nb = s_pick(in, 1, -1, b);
    ts->kelly = ts->win_rate - (1 - ts->win_rate) /
                (s_mean(a, na) / -s_mean(b, nb));
}

int stats_compute(const struct stats_input *in, struct stat_row *st, int max)
{
    struct out o = { st, 0, max };
    struct annual an;
    struct drawdown dd;
    struct tradestats ts;
    size_t n = in->n, nbuf;
    double *a, *b, e0, elast, peak, ret, bh, ann, vol, years, beta, c0;
    int64_t t0, t1, dur_ms, days, period, unit;
    size_t exposed = 0;

    if (!n || !in->equity || !in->time_ms || !in->close ||
        in->warmup < 0 || (size_t)in->warmup >= n ||
        (in->ntrades && !in->trades))
        return ERR_INVALID;
    nbuf = n > in->ntrades ? n : in->ntrades;
    a = malloc(2 * nbuf * sizeof *a);
    if (!a)
        return ERR_NOMEM;
    b = a + nbuf;

    t0 = (int64_t)in->time_ms[0];
    t1 = (int64_t)in->time_ms[n - 1];
    dur_ms = t1 - t0;
    period = s_period_ns(in->time_ms, n);
    unit = s_resolution(period);

    s_put(&o, "Start", STAT_TIME, (double)t0);
    s_put(&o, "End", STAT_TIME, (double)t1);
    s_put(&o, "Duration", STAT_DURATION, (double)dur_ms);

    /* Exposure: bars inside some closed trade's [EntryBar, ExitBar] */
    memset(a, 0, n * sizeof *a);
    for (size_t i = 0; i < in->ntrades; i++) {
        int64_t lo = in->trades[i].entry_bar, hi = in->trades[i].exit_bar;

        lo = lo < 0 ? 0 : lo;
        for (int64_t k = lo; k <= hi && k < (int64_t)n; k++)
            a[k] = 1;
    }
    for (size_t i = 0; i < n; i++)
        exposed += a[i] != 0;
    s_put(&o, "Exposure Time [%]", STAT_NUMBER,
          (double)exposed / (double)n * 100);

    e0 = in->equity[0];
    elast = in->equity[n - 1];
    peak = e0;
    for (size_t i = 1; i < n && !isnan(peak); i++)
        peak = (in->equity[i] > peak || isnan(in->equity[i]))
               ? in->equity[i] : peak;
    s_put(&o, "Equity Final [$]", STAT_NUMBER, elast);
    s_put(&o, "Equity Peak [$]", STAT_NUMBER, peak);

    s_trades(in, unit, a, b, &ts);
    if (ts.commissions != 0)
        s_put(&o, "Commissions [$]", STAT_NUMBER, ts.commissions);
    ret = (elast - e0) / e0 * 100;
    c0 = in->close[in->warmup];
    bh = (in->close[n - 1] - c0) / c0 * 100;
    s_put(&o, "Return [%]", STAT_NUMBER, ret);
    s_put(&o, "Buy & Hold Return [%]", STAT_NUMBER, bh);

    s_annual(in, period, a, b, &an);
    ann = pow(1 + an.g, an.a) - 1;
    vol = sqrt(pow(an.var + (1 + an.g) * (1 + an.g), an.a) -
               pow(1 + an.g, 2 * an.a)) * 100;
    /* Timedelta.days + Timedelta.seconds / 86400: milliseconds dropped */
    days = s_floordiv(dur_ms, MS_DAY);
    years = ((double)days + (double)((dur_ms - days * MS_DAY) / 1000) /
             86400) / 365.25;
    s_put(&o, "Return (Ann.) [%]", STAT_NUMBER, ann * 100);
    s_put(&o, "Volatility (Ann.) [%]", STAT_NUMBER, vol);
    s_put(&o, "CAGR [%]", STAT_NUMBER,
          years != 0 ? (pow(elast / e0, 1 / years) - 1) * 100 : NAN);
    s_put(&o, "Sharpe Ratio", STAT_NUMBER, ann * 100 / s_or_nan(vol));
    s_put(&o, "Sortino Ratio", STAT_NUMBER, ann / (an.down * sqrt(an.a)));

    s_drawdown(in, unit, a, &dd);
    beta = s_beta(in, a, b);
    s_put(&o, "Calmar Ratio", STAT_NUMBER, ann / s_or_nan(-dd.max_dd));
    s_put(&o, "Alpha [%]", STAT_NUMBER, ret - beta * bh);
    s_put(&o, "Beta", STAT_NUMBER, beta);
    s_put(&o, "Max. Drawdown [%]", STAT_NUMBER, dd.max_dd * 100);
    s_put(&o, "Avg. Drawdown [%]", STAT_NUMBER, dd.avg_dd);
    s_put(&o, "Max. Drawdown Duration", dd.dur_kind, dd.max_dur);
    s_put(&o, "Avg. Drawdown Duration", dd.dur_kind, dd.avg_dur);

    s_put(&o, "# Trades", STAT_COUNT, (double)in->ntrades);
    s_put(&o, "Win Rate [%]", STAT_NUMBER, ts.win_rate * 100);
    s_put(&o, "Best Trade [%]", STAT_NUMBER, ts.best);
    s_put(&o, "Worst Trade [%]", STAT_NUMBER, ts.worst);
    s_put(&o, "Avg. Trade [%]", STAT_NUMBER, ts.avg);
    s_put(&o, "Max. Trade Duration", STAT_DURATION, ts.max_dur);
    s_put(&o, "Avg. Trade Duration", STAT_DURATION, ts.avg_dur);
    s_put(&o, "Profit Factor", STAT_NUMBER, ts.pf);
    s_put(&o, "Expectancy [%]", STAT_NUMBER, ts.expectancy);
    s_put(&o, "SQN", STAT_NUMBER, ts.sqn);
    s_put(&o, "Kelly Criterion", STAT_NUMBER, ts.kelly);

    free(a);
    return o.n <= max ? o.n : ERR_TOO_LARGE;
}

/* }==================================================================== */

/* {====================================================================
 * Output
 * ==================================================================== */

/* "2004-08-19 00:00:00" (sep ' ', str(Timestamp)) or "2004-08-19T00:00:00"
 * (sep 'T', isoformat()); ".ffffff" only when there are milliseconds. */
static void s_fmt_time(char *buf, size_t size, int64_t ms, char sep)
{
    int64_t days = s_floordiv(ms, MS_DAY), in_day = ms - days * MS_DAY, yr;
    int mon, day;
    int len;

    s_civil(days, &yr, &mon, &day);
    len = snprintf(buf, size, "%04" PRId64 "-%02d-%02d%c%02d:%02d:%02d",
                   yr, mon, day, sep, (int)(in_day / 3600000),
                   (int)(in_day / 60000 % 60), (int)(in_day / 1000 % 60));
    if (in_day % 1000 && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len, ".%06d",
                 (int)(in_day % 1000) * 1000);
}

/* str(pd.Timedelta): "3116 days 00:00:00", "-1 days +23:00:00",
 * "0 days 00:00:00.500000". */
static void s_fmt_duration(char *buf, size_t size, int64_t ns)
{
    int64_t days = s_floordiv(ns, NS_DAY), rest = ns - days * NS_DAY;
    int64_t sub = rest % NS_S;
    int len;

    len = snprintf(buf, size, "%" PRId64 " days%s%02d:%02d:%02d", days,
                   days < 0 ? " +" : " ", (int)(rest / NS_HOUR),
                   (int)(rest / NS_MIN % 60), (int)(rest / NS_S % 60));
    if (!sub || len < 0 || (size_t)len >= size)
        return;
    if (sub % 1000)
        snprintf(buf + len, size - (size_t)len, ".%09d", (int)sub);
    else
        snprintf(buf + len, size - (size_t)len, ".%06d", (int)(sub / 1000));
}

/* One value as pandas prints it in backtesting.py's Series (display
 * precision 5, trailing zeros trimmed; other values after a space). */
static void s_fmt_value(char *buf, size_t size, const struct stat_row *s)
{
    size_t len;

    switch (s->kind) {
    case STAT_TIME:
        buf[0] = ' ';
        s_fmt_time(buf + 1, size - 1, (int64_t)s->v, ' ');
        return;
    case STAT_DURATION:
        buf[0] = ' ';
        if (isnan(s->v))
            snprintf(buf + 1, size - 1, "NaN");
        else
            s_fmt_duration(buf + 1, size - 1, s_ms_to_ns(s->v));
        return;
    case STAT_COUNT:
        snprintf(buf, size, " %.0f", s->v);
        return;
    case STAT_NUMBER:
        if (isnan(s->v)) {
            snprintf(buf, size, " NaN");
            return;
        }
        snprintf(buf, size, "% .5f", s->v);
        if (!isfinite(s->v))
            return;
        len = strlen(buf);
        while (len > 0 && buf[len - 1] == '0')
            buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '.' && len + 1 < size) {
            buf[len] = '0';
            buf[len + 1] = '\0';
        }
        return;
    }
}

void stats_print(FILE *f, const struct stat_row *st, int n)
{
    char buf[64];
    size_t wname = 0, wval = 0;

    for (int i = 0; i < n; i++) {
        size_t l = strlen(st[i].name);

        wname = l > wname ? l : wname;
        s_fmt_value(buf, sizeof buf, &st[i]);
        l = strlen(buf);
        wval = l > wval ? l : wval;
    }
    for (int i = 0; i < n; i++) {
        s_fmt_value(buf, sizeof buf, &st[i]);
        fprintf(f, "%-*s   %*s\n", (int)wname, st[i].name, (int)wval, buf);
    }
}

json_t *stats_json(const struct stat_row *st, int n)
{
    json_t *o = json_object();
    char buf[64];

    if (!o)
        return NULL;
    for (int i = 0; i < n; i++) {
        json_t *v = NULL;

        switch (st[i].kind) {
        case STAT_TIME:
            s_fmt_time(buf, sizeof buf, (int64_t)st[i].v, 'T');
            v = json_string(buf);
            break;
        case STAT_DURATION:
            if (isnan(st[i].v)) {
                v = json_null();
                break;
            }
            s_fmt_duration(buf, sizeof buf, s_ms_to_ns(st[i].v));
            v = json_string(buf);
            break;
        case STAT_COUNT:
            v = json_integer((json_int_t)st[i].v);
            break;
        case STAT_NUMBER:
            v = isfinite(st[i].v) ? json_real(st[i].v) : json_null();
            break;
        }
        if (!v || json_object_set_new(o, st[i].name, v)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* }==================================================================== */
