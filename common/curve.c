/* curve.c -- CURVE keys and the ZAP handler (see curve.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "curve.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define AUTHORIZED_MAX 4096

static struct {
    int on;
    char server_pub[CURVE_KEY_LEN + 1], server_sec[CURVE_KEY_LEN + 1];
    char client_pub[CURVE_KEY_LEN + 1], client_sec[CURVE_KEY_LEN + 1];
    uint8_t (*keys)[32];            /* authorised client keys, binary */
    size_t nkeys;
    void *zap;                      /* REP, the handler thread's */
    pthread_t thread;
    int started;
} C;

int curve_read(const char *path, char *public_key, char *secret_key,
               char *err)
{
    char line[256], buf[CURVE_KEY_LEN + 2];
    int got_pub = 0, got_sec = secret_key == NULL;
    FILE *f = fopen(path, "r");

    if (!f) {
        snprintf(err, ERR_LEN, "CURVE key %.200s: %s", path, strerror(errno));
        return ERR_IO;
    }
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, " public-key = \"%41[^\"]\"", buf) == 1 &&
            strlen(buf) == CURVE_KEY_LEN) {
            memcpy(public_key, buf, CURVE_KEY_LEN + 1);
            got_pub = 1;
        } else if (secret_key &&
                   sscanf(line, " secret-key = \"%41[^\"]\"", buf) == 1 &&
                   strlen(buf) == CURVE_KEY_LEN) {
            memcpy(secret_key, buf, CURVE_KEY_LEN + 1);
            got_sec = 1;
        }
    }
    fclose(f);
    if (!got_pub || !got_sec) {
        snprintf(err, ERR_LEN, "CURVE key %.150s: no %s line (%s = \"<40 "
                 "Z85 characters>\")", path, got_pub ? "secret-key" :
                 "public-key", got_pub ? "secret-key" : "public-key");
        return ERR_PARSE;
    }
    return 0;
}

int curve_write_pair(const char *key_path, const char *pub_path, char *err)
{
    char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1];
    FILE *f;
    int fd;

    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, ERR_LEN, "this libzmq has no CURVE support");
        return ERR_IO;
    }
    fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        snprintf(err, ERR_LEN, "%.200s: %s", key_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ERR_IO;
    }
    fprintf(f, "#   livetrade CURVE key pair: keep this file secret\n"
            "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
            pub, sec);
    if (fclose(f) != 0) {
        snprintf(err, ERR_LEN, "%.200s: %s", key_path, strerror(errno));
        return ERR_IO;
    }
    if (!pub_path)
        return 0;
    f = fopen(pub_path, "w");
    if (!f) {
        snprintf(err, ERR_LEN, "%.200s: %s", pub_path, strerror(errno));
        return ERR_IO;
    }
    fprintf(f, "#   livetrade CURVE public key\ncurve\n"
            "    public-key = \"%s\"\n", pub);
    if (fclose(f) != 0) {
        snprintf(err, ERR_LEN, "%.200s: %s", pub_path, strerror(errno));
        return ERR_IO;
    }
    return 0;
}

/* Reads DIR/authorized/ *.pub into C.keys. */
static int s_load_authorized(const char *dir, char *err)
{
    char path[1200], key[CURVE_KEY_LEN + 1];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof path, "%s/authorized", dir);
    d = opendir(path);
    if (!d) {
        snprintf(err, ERR_LEN, "CURVE: %.200s: %s", path, strerror(errno));
        return ERR_IO;
    }
    C.keys = calloc(AUTHORIZED_MAX, sizeof *C.keys);
    if (!C.keys) {
        closedir(d);
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    while ((de = readdir(d)) != NULL && C.nkeys < AUTHORIZED_MAX) {
        size_t len = strlen(de->d_name);
        int rc;
        if (len < 5 || strcmp(de->d_name + len - 4, ".pub") != 0)
            continue;
        snprintf(path, sizeof path, "%s/authorized/%s", dir, de->d_name);
        rc = curve_read(path, key, NULL, err);
        if (rc) {
            closedir(d);
            return rc;
        }
        if (!zmq_z85_decode(C.keys[C.nkeys], key)) {
            closedir(d);
            snprintf(err, ERR_LEN, "CURVE key %.200s: not Z85", path);
            return ERR_PARSE;
        }
        C.nkeys++;
    }
    closedir(d);
    return 0;
}

static int s_known(const uint8_t *key)
{
    for (size_t i = 0; i < C.nkeys; i++)
        if (memcmp(C.keys[i], key, 32) == 0)
            return 1;
    return 0;
}

/* ZAP (RFC 27): version, request id, domain, address, identity,
 * mechanism, then the client's 32-byte public key for CURVE. */
static void *s_zap(void *arg)
{
    struct log_limit lim = LOG_LIMIT_INIT;
    (void)arg;

    for (;;) {
        zmq_msg_t part[8];
        int n = 0, more = 1, ok;
        while (more && n < 8) {
            zmq_msg_init(&part[n]);
            if (zmq_msg_recv(&part[n], C.zap, 0) < 0) {
                zmq_msg_close(&part[n]);
                for (int i = 0; i < n; i++)
                    zmq_msg_close(&part[i]);
                if (zmq_errno() == EINTR)
                    goto next;
                zmq_close(C.zap);   /* ETERM: the context is ending */
                return NULL;
            }
            more = zmq_msg_more(&part[n]);
            n++;
        }
        ok = n >= 7 && zmq_msg_size(&part[5]) == 5 &&
             memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
             zmq_msg_size(&part[6]) == 32 && s_known(zmq_msg_data(&part[6]));
        if (!ok) {
            char addr[64] = "?";
            if (n >= 4)
                snprintf(addr, sizeof addr, "%.*s",
                         (int)zmq_msg_size(&part[3]),
                         (const char *)zmq_msg_data(&part[3]));
            log_limited(&lim, LL_WARN, "CURVE: refused a client from %s: "
                        "its key is not in authorized/", addr);
        }
        zmq_send(C.zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(C.zap, n >= 2 ? zmq_msg_data(&part[1]) : "",
                 n >= 2 ? zmq_msg_size(&part[1]) : 0, ZMQ_SNDMORE);
        zmq_send(C.zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(C.zap, ok ? "OK" : "key not authorised", ok ? 2 : 18,
                 ZMQ_SNDMORE);
        zmq_send(C.zap, "", 0, ZMQ_SNDMORE);
        zmq_send(C.zap, "", 0, 0);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
    next:;
    }
}

int curve_enable(const char *dir, char *err)
{
    char path[1200];
    sigset_t all, old;
    int rc, zero = 0;

    if (!zmq_has("curve")) {
        snprintf(err, ERR_LEN, "--curve: this libzmq has no CURVE support");
        return ERR_IO;
    }
    snprintf(path, sizeof path, "%s/server.key", dir);
    rc = curve_read(path, C.server_pub, C.server_sec, err);
    if (!rc) {
        snprintf(path, sizeof path, "%s/client.key", dir);
        rc = curve_read(path, C.client_pub, C.client_sec, err);
    }
    if (!rc)
        rc = s_load_authorized(dir, err);
    if (rc)
        return rc;
    C.zap = zmq_socket(bus_ctx(), ZMQ_REP);
    if (!C.zap || zmq_setsockopt(C.zap, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_bind(C.zap, ZAP_ENDPOINT) != 0) {
        snprintf(err, ERR_LEN, "CURVE: ZAP handler: %s",
                 zmq_strerror(zmq_errno()));
        return ERR_IO;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    C.started = pthread_create(&C.thread, NULL, s_zap, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!C.started) {
        snprintf(err, ERR_LEN, "CURVE: cannot start the ZAP handler");
        return ERR_IO;
    }
    C.on = 1;
    log_msg(LL_INFO, "CURVE on: keys from %s, %zu authorised client key(s)",
            dir, C.nkeys);
    return 0;
}

int curve_flag(const char *prog, const char *dir)
{
    char err[ERR_LEN];

    if (!dir || !*dir)
        return 0;
    if (curve_enable(dir, err) == 0)
        return 0;
    fprintf(stderr, "%s: --curve: %s\n", prog, err);
    return 2;
}

int curve_on(void)
{
    return C.on;
}

int curve_apply(void *sock, int server)
{
    int one = 1;

    if (!C.on)
        return 0;
    if (server)
        return zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
               zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, C.server_sec,
                              CURVE_KEY_LEN) ||
               zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "livetrade", 9) ? -1 : 0;
    return zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, C.server_pub,
                          CURVE_KEY_LEN) ||
           zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, C.client_pub,
                          CURVE_KEY_LEN) ||
           zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, C.client_sec,
                          CURVE_KEY_LEN) ? -1 : 0;
}

void curve_stop(void)
{
    if (C.started)
        pthread_join(C.thread, NULL);
    C.started = 0;
    C.on = 0;
    free(C.keys);
    C.keys = NULL;
    C.nkeys = 0;
}

int curve_endpoint_public(const char *ep)
{
    char host[256];
    const char *h, *colon;
    size_t len;

    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    h = ep + 6;
    colon = strrchr(h, ':');
    len = colon ? (size_t)(colon - h) : strlen(h);
    if (len >= sizeof host)
        return 1;
    memcpy(host, h, len);
    host[len] = '\0';
    if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
        strncmp(host, "127.", 4) == 0)
        return 0;
    return 1;
}
