/* fuzz_polygon_ws.c -- a Polygon WebSocket text frame: polygon_ws_parse,
 * every bar it delivers checked again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../feeder/polygon_ws.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fuzz_bar(void *arg, const struct bar *b)
{
    char err[ERR_LEN];
    (void)arg;
    if (msg_bar_check(b, err) != ERR_OK)
        abort();                        /* a bad bar got through */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct polygon_ws_handler h = { NULL, s_fuzz_bar, NULL };
    struct polygon_ws_counts c;

    memset(&c, 0, sizeof c);
    polygon_ws_parse((const char *)data, size, 1 << 20, &h, &c);
    return 0;
}
