/* fuzz_request.c -- a request to a feeder or an engine: msgpack decoding,
 * then the history, indicators and replay request parsers. */
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "history.h"
#include "mp.h"
#include "msg_ind.h"
#include "msg_replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mp_body body;
    static int ready;
    const msgpack_object *o;
    struct history_req r;
    char err[ERR_LEN];
    struct replay_req rr;
    int64_t points;
    char sym[SYM_MAX];

    if (!ready) {
        mp_body_init(&body);
        ready = 1;
    }
    o = mp_body_decode(&body, data, size);
    if (!o)
        return 0;
    if (mp_is(mp_get(o, "type"), "history"))
        history_req_parse(o, &r, err);
    else if (mp_is(mp_get(o, "type"), "indicators"))
        msg_ind_req_parse(o, sym, &points, err);
    else
        msg_replay_req_parse(o, 10000, &rr, err);
    return 0;
}
