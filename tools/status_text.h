/* status_text.h -- a status reply as `livetrade status` shows it. */
#ifndef LT_TOOLS_STATUS_TEXT_H
#define LT_TOOLS_STATUS_TEXT_H

#include <stdint.h>

#include <msgpack.h>

/* Prints the status reply o (a map) of endpoint ep: program, id and
 * instance, its key counters, a feeder's history progress, and at most
 * `rows` symbol rows with the stale ones named. */
void status_text(const char *ep, const msgpack_object *o, int64_t rows);

#endif
