/* fuzz_bar.c -- a bar message body from the bus: msgpack decoding and
 * msg_bar_unpack (with msg_bar_check), as the engine and sinks take it. */
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "mp.h"
#include "msg_bar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mp_body body;
    static int ready;
    const msgpack_object *o;
    char err[ERR_LEN];
    struct bar b;

    if (!ready) {
        mp_body_init(&body);
        ready = 1;
    }
    o = mp_body_decode(&body, data, size);
    if (o && msg_bar_unpack(o, &b, err) == ERR_OK) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msg_bar_pack(&pk, &b);              /* what passed must pack again */
        msgpack_sbuffer_destroy(&sb);
    }
    return 0;
}
