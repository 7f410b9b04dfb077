/* fuzz_polygon_rest.c -- a Polygon REST aggregates page: polygon_rest_parse
 * (results, next_url), every bar it keeps checked again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../feeder/polygon_rest.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct polygon_bars out = { NULL, 0, 0, 100000, 0 };
    char *next = NULL, err[ERR_LEN];

    polygon_rest_parse((const char *)data, size, "AAPL", 60,
                       "http://127.0.0.1/v2/aggs", &out, &next, err);
    for (size_t i = 0; i < out.n; i++)
        if (msg_bar_check(&out.v[i], err) != ERR_OK)
            abort();
    free(out.v);
    free(next);
    return 0;
}
