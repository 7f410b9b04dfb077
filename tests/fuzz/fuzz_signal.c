/* fuzz_signal.c -- a signal message body from the bus: msgpack decoding,
 * msg_signal_unpack, and for a good one its JSON line (what sinks write);
 * the same body as an indicator message (ind|, the web sink). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "mp.h"
#include "msg_ind.h"
#include "msg_signal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mp_body body;
    static int ready;
    const msgpack_object *o;
    char err[ERR_LEN];
    struct signal s;
    struct ind_msg m;

    if (!ready) {
        mp_body_init(&body);
        ready = 1;
    }
    o = mp_body_decode(&body, data, size);
    if (o && msg_signal_unpack(o, &s, err) == ERR_OK) {
        json_t *j = msg_signal_to_json(&s);
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        free(line);
        json_decref(j);
    }
    if (o)
        msg_ind_unpack(o, &m, err);
    return 0;
}
