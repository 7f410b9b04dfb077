/* polygon_source.h -- source_polygon: Polygon.io (Massive) aggregates, a
 * push source (source.h). REST history at open, then the WebSocket feed
 * (polygon_ws over polygon_lws), with gaps after a (re)connect filled
 * through REST so the bus sees every bar once, in order.
 *
 * Rule for bars that do not advance their symbol: a bar once published
 * never changes on the bus. A WebSocket bar at the time of the last bar
 * with other values is a correction: logged (rate-limited) and counted,
 * not published; an equal one or an older one is a duplicate, counted.
 *
 * Timeframes that are multiples of 60 s are built from minute bars, and
 * the history cache and feed health are described in polygon.c. */
#ifndef LT_FEEDER_POLYGON_SOURCE_H
#define LT_FEEDER_POLYGON_SOURCE_H

#include "source.h"

#define POLYGON_TF_MAX 86400        /* longest timeframe, s (aggregated) */

extern const struct source_ops source_polygon;

#endif
