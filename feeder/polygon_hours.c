/* polygon_hours.c -- when a market is open (see polygon_hours.h). */
#include "polygon_hours.h"
#include "source.h"

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t s_days(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Day number of the n-th (1-based) Sunday of month m of year y. */
static int64_t s_sunday(int64_t y, int m, int n)
{
    int64_t d = s_days(y, m, 1);
    int64_t wd = ((d % 7) + 7 + 4) % 7;     /* 0 = Sunday */

    return d + (7 - wd) % 7 + 7 * (n - 1);
}

static int64_t s_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int polygon_market_open(int market, int64_t utc_ms)
{
    const int64_t day = 86400000LL, hour = 3600000LL;
    int64_t days = s_floor_div(utc_ms, day), y, local, ld, mins, wd;
    int64_t z, era, doe, yoe, doy, mp;

    if (market == SOURCE_MARKET_ALWAYS)
        return 1;
    /* The civil year of `days` (inverse of s_days). */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    y = yoe + era * 400 + (mp >= 10);
    /* US daylight time: 2nd Sunday of March 02:00 EST (07:00 UTC) to the
     * 1st Sunday of November 02:00 EDT (06:00 UTC). */
    local = utc_ms - 5 * hour;
    if (utc_ms >= s_sunday(y, 3, 2) * day + 7 * hour &&
        utc_ms < s_sunday(y, 11, 1) * day + 6 * hour)
        local = utc_ms - 4 * hour;
    ld = s_floor_div(local, day);
    wd = ((ld % 7) + 7 + 4) % 7;
    mins = (local - ld * day) / 60000;
    if (market == SOURCE_MARKET_FOREX)     /* Sun 17:00 to Fri 17:00 */
        return wd == 6 ? 0 : wd == 0 ? mins >= 17 * 60 :
               wd == 5 ? mins < 17 * 60 : 1;
    if (wd == 0 || wd == 6)
        return 0;
    return mins >= 9 * 60 + 30 && mins < 16 * 60;
}
