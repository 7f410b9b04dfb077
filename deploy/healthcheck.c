/* livetrade-healthcheck: asks a feeder or engine for its status on its
 * request endpoint (--rep) and exits 0 when a status reply comes back in
 * time, 1 otherwise. Made for container health checks, where no Python is
 * at hand:
 *
 *     livetrade-healthcheck tcp://127.0.0.1:5558 [TIMEOUT_MS]
 *
 * The request is the one of the wire protocol, {"ver":1,"type":"status"};
 * the reply must be a msgpack map whose "type" is "status". Nothing is
 * printed on success; a failure prints one line on stderr.
 *
 * Built on its own (deploy/Dockerfile):
 *     cc -std=c11 -O2 -o livetrade-healthcheck deploy/healthcheck.c \
 *        $(pkg-config --cflags --libs libzmq msgpack)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#define TIMEOUT_MS_DEFAULT 3000

/* 1 if obj is a map with "type" == "status", else 0. */
static int s_is_status(const msgpack_object *obj)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object *k = &obj->via.map.ptr[i].key;
        const msgpack_object *v = &obj->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR)
            continue;
        if (k->via.str.size == 4 && memcmp(k->via.str.ptr, "type", 4) == 0)
            return v->via.str.size == 6 &&
                   memcmp(v->via.str.ptr, "status", 6) == 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *ep;
    long timeout = TIMEOUT_MS_DEFAULT;
    int rc = 1, linger = 0, n;
    void *ctx = NULL, *sock = NULL;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_unpacked msg;
    zmq_msg_t reply;
    zmq_pollitem_t item;
    char *end;

    if (argc < 2 || argc > 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: livetrade-healthcheck ENDPOINT "
                "[TIMEOUT_MS]\n");
        return 2;
    }
    ep = argv[1];
    if (argc == 3) {
        timeout = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || timeout <= 0 ||
            timeout > 600000) {
            fprintf(stderr, "livetrade-healthcheck: TIMEOUT_MS must be "
                    "1..600000\n");
            return 2;
        }
    }

    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "ver", 3);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "status", 6);
    msgpack_unpacked_init(&msg);
    zmq_msg_init(&reply);

    ctx = zmq_ctx_new();
    if (!ctx)
        goto out;
    sock = zmq_socket(ctx, ZMQ_REQ);
    if (!sock)
        goto out;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(sock, ep) != 0) {
        fprintf(stderr, "livetrade-healthcheck: %s: %s\n", ep,
                zmq_strerror(zmq_errno()));
        goto out;
    }
    if (zmq_send(sock, sbuf.data, sbuf.size, 0) < 0)
        goto out;
    item = (zmq_pollitem_t){ .socket = sock, .events = ZMQ_POLLIN };
    n = zmq_poll(&item, 1, timeout);
    if (n <= 0) {
        fprintf(stderr, "livetrade-healthcheck: %s: no reply in %ld ms\n",
                ep, timeout);
        goto out;
    }
    if (zmq_msg_recv(&reply, sock, 0) < 0)
        goto out;
    if (msgpack_unpack_next(&msg, zmq_msg_data(&reply), zmq_msg_size(&reply),
                            NULL) == MSGPACK_UNPACK_SUCCESS &&
        s_is_status(&msg.data))
        rc = 0;
    else
        fprintf(stderr, "livetrade-healthcheck: %s: not a status reply\n",
                ep);
out:
    zmq_msg_close(&reply);
    msgpack_unpacked_destroy(&msg);
    msgpack_sbuffer_destroy(&sbuf);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}
