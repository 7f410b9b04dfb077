/* msg_status.h -- the status request every program answers on its
 * request endpoint, and what every status reply shares (README.md, "Wire
 * protocol"):
 *
 *   request  {ver:1, type:"status"}
 *   reply    {ver:1, type:"status", prog:"livetrade-feeder"|"livetrade-
 *             engine", pub, ..., its counters (counters.h),
 *             symbols:[{sym, last_t, live, ...}, ...]}
 *
 * The rest of a reply is the program's own (feeder.c, engine/serve.c). */
#ifndef LT_MSG_STATUS_H
#define LT_MSG_STATUS_H

#include <msgpack.h>

void msg_status_pack_request(msgpack_packer *pk);
/* Packs ver, type and prog: the first 3 of the reply map's `npairs`. */
void msg_status_pack_head(msgpack_packer *pk, uint32_t npairs,
                          const char *prog);
/* The reply's per-symbol maps (an array), or NULL if it has none. */
const msgpack_object *msg_status_symbols(const msgpack_object *reply);

#endif
