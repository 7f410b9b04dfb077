/* polygon_hours.h -- when a market is open, for the polygon source's feed
 * health: a silent symbol is reported only while its market is open.
 *
 *   if (polygon_market_open(SOURCE_MARKET_US_EQUITIES, wall_ms())) ...
 *
 * Pure functions of UTC time: no time zone database, no locale. */
#ifndef LT_FEEDER_POLYGON_HOURS_H
#define LT_FEEDER_POLYGON_HOURS_H

#include <stdint.h>

/* 1 if `market` (SOURCE_MARKET_*, source.h) is open at utc_ms (epoch ms):
 * always; US equities' regular hours, Monday to Friday 09:30-16:00
 * America/New_York; or forex, Sunday 17:00 to Friday 17:00 New York
 * time. New York time is taken from UTC by the US daylight-time
 * rule in force since 2007 (second Sunday of March to first Sunday of
 * November, at 02:00 local). Exchange holidays and early closes are not
 * known: they count as open. 0 otherwise. */
int polygon_market_open(int market, int64_t utc_ms);

#endif
