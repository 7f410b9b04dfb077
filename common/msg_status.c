/* msg_status.c -- the status request and what every reply shares (see
 * msg_status.h). */
#include "mp.h"
#include "msg_status.h"

void msg_status_pack_request(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "status");
}

void msg_status_pack_head(msgpack_packer *pk, uint32_t npairs,
                          const char *prog)
{
    msgpack_pack_map(pk, npairs);
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "type", "status");
    mp_kstr(pk, "prog", prog);
}

const msgpack_object *msg_status_symbols(const msgpack_object *reply)
{
    const msgpack_object *a = mp_get(reply, "symbols");

    return a && a->type == MSGPACK_OBJECT_ARRAY ? a : NULL;
}
