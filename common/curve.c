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
#define NAME_MAX_LEN 64

/* An authorised client key. */
struct client_key {
    uint8_t key[32];                /* binary */
    char name[NAME_MAX_LEN];        /* its file's name less .pub */
    unsigned allow;                 /* CURVE_EP_* bits; 0: every one */
};

static const char *s_ep_names[] = { "feeder-pub", "feeder-rep",
                                    "engine-pub", "engine-rep" };
#define EP_COUNT (sizeof s_ep_names / sizeof *s_ep_names)

/* The key files of a role: its own pair, then the older single pair that
 * served every role. */
static const char *const s_role_names[] = { "", "feeder", "engine" };
#define ROLE_OK(r) ((r) == BUS_FEEDER || (r) == BUS_ENGINE)

/* The server keys of one role, as this host holds them. */
struct role_keys {
    int has_pub;                    /* connecting sockets can check it */
    int has_sec;                    /* this host can bind as the role */
    char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1];
};

static struct {
    int on;
    int role;                       /* BUS_FEEDER, BUS_ENGINE: what this
                                       program binds; 0: nothing */
    char dir[256];                  /* the key directory, for messages */
    struct role_keys rk[3];         /* by BUS_FEEDER, BUS_ENGINE */
    char client_pub[CURVE_KEY_LEN + 1], client_sec[CURVE_KEY_LEN + 1];
    struct client_key *keys;
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

int curve_allow_parse(const char *list, unsigned *bits, char *err)
{
    const char *p = list;

    *bits = 0;
    while (*p) {
        size_t len = strcspn(p, ", ");
        size_t i;
        for (i = 0; i < EP_COUNT; i++)
            if (strlen(s_ep_names[i]) == len &&
                strncmp(p, s_ep_names[i], len) == 0)
                break;
        if (len && i == EP_COUNT) {
            snprintf(err, ERR_LEN, "'%.*s' is not an endpoint name (one of "
                     "feeder-pub, feeder-rep, engine-pub, engine-rep)",
                     (int)(len > 40 ? 40 : len), p);
            return ERR_PARSE;
        }
        if (len)
            *bits |= 1u << i;
        p += len;
        p += strspn(p, ", ");
    }
    if (!*bits) {
        snprintf(err, ERR_LEN, "an empty endpoint list (give one or more "
                 "of feeder-pub, feeder-rep, engine-pub, engine-rep)");
        return ERR_PARSE;
    }
    return 0;
}

/* The allow line of an authorised key's file into k->allow (0 without
 * one). 0, or ERR_PARSE naming the file. */
static int s_read_allow(const char *path, struct client_key *k, char *err)
{
    char line[512], list[400], why[ERR_LEN];
    FILE *f = fopen(path, "r");
    int rc = 0;

    k->allow = 0;
    if (!f)
        return 0;                   /* curve_read said it all */
    while (rc == 0 && fgets(line, sizeof line, f)) {
        if (sscanf(line, " allow = \"%399[^\"]\"", list) != 1)
            continue;
        if (curve_allow_parse(list, &k->allow, why)) {
            snprintf(err, ERR_LEN, "CURVE key %.100s: allow: %.120s",
                     path, why);
            rc = ERR_PARSE;
        }
    }
    fclose(f);
    return rc;
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
        if (!rc)
            rc = s_read_allow(path, &C.keys[C.nkeys], err);
        if (rc) {
            closedir(d);
            return rc;
        }
        snprintf(C.keys[C.nkeys].name, NAME_MAX_LEN, "%.*s",
                 (int)(len - 4), de->d_name);
        if (!zmq_z85_decode(C.keys[C.nkeys].key, key)) {
            closedir(d);
            snprintf(err, ERR_LEN, "CURVE key %.200s: not Z85", path);
            return ERR_PARSE;
        }
        C.nkeys++;
    }
    closedir(d);
    return 0;
}

static const struct client_key *s_known(const uint8_t *key)
{
    for (size_t i = 0; i < C.nkeys; i++)
        if (memcmp(C.keys[i].key, key, 32) == 0)
            return &C.keys[i];
    return NULL;
}

/* The CURVE_EP_* bit of a ZAP domain (a bound socket's endpoint name),
 * 0 if it is none of them. */
static unsigned s_ep_bit(const void *domain, size_t len)
{
    for (size_t i = 0; i < EP_COUNT; i++)
        if (strlen(s_ep_names[i]) == len &&
            memcmp(domain, s_ep_names[i], len) == 0)
            return 1u << i;
    return 0;
}

/* The endpoint names of `bits`, comma separated, in buf[n]. */
static const char *s_ep_list(unsigned bits, char *buf, size_t n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < EP_COUNT && off < n; i++)
        if (bits & (1u << i))
            off += (size_t)snprintf(buf + off, n - off, "%s%s",
                                    off ? "," : "", s_ep_names[i]);
    return buf;
}

/* ZAP (RFC 27): version, request id, domain, address, identity,
 * mechanism, then the client's 32-byte public key for CURVE. */
static void *s_zap(void *arg)
{
    struct log_limit lim = LOG_LIMIT_INIT;
    (void)arg;

    for (;;) {
        zmq_msg_t part[8];
        const struct client_key *k = NULL;
        unsigned ep = 0;
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
        if (n >= 7 && zmq_msg_size(&part[5]) == 5 &&
            memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
            zmq_msg_size(&part[6]) == 32)
            k = s_known(zmq_msg_data(&part[6]));
        if (k)
            ep = s_ep_bit(zmq_msg_data(&part[2]), zmq_msg_size(&part[2]));
        ok = k && (!k->allow || (k->allow & ep));
        if (!ok) {
            char addr[64] = "?", list[80];
            if (n >= 4)
                snprintf(addr, sizeof addr, "%.*s",
                         (int)zmq_msg_size(&part[3]),
                         (const char *)zmq_msg_data(&part[3]));
            if (!k)
                log_limited(&lim, LL_WARN, "CURVE: refused a client from "
                            "%s: its key is not in authorized/", addr);
            else
                log_limited(&lim, LL_WARN, "CURVE: refused a client (%s) "
                            "from %s on %.*s: authorized/%s.pub allows it "
                            "only %s", k->name, addr,
                            (int)zmq_msg_size(&part[2]),
                            (const char *)zmq_msg_data(&part[2]), k->name,
                            s_ep_list(k->allow, list, sizeof list));
        }
        zmq_send(C.zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(C.zap, n >= 2 ? zmq_msg_data(&part[1]) : "",
                 n >= 2 ? zmq_msg_size(&part[1]) : 0, ZMQ_SNDMORE);
        zmq_send(C.zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
        zmq_send(C.zap, ok ? "OK" : k ? "endpoint not allowed" :
                 "key not authorised", ok ? 2 : k ? 20 : 18, ZMQ_SNDMORE);
        zmq_send(C.zap, "", 0, ZMQ_SNDMORE);
        zmq_send(C.zap, "", 0, 0);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
    next:;
    }
}

/* 1 if DIR/NAME exists, with its path in path[n]. */
static int s_has(const char *dir, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Loads the server keys of `role` into C.rk[role]: the secret from
 * ROLE.key, else the older server.key; the public key from ROLE.pub,
 * ROLE.key, server.pub or server.key, the first there. Sets *old when the
 * older pair stands in. 0 (even with no key: not every host needs every
 * role's), or ERR_IO / ERR_PARSE naming the file. */
static int s_load_role(const char *dir, int role, int *old, char *err)
{
    struct role_keys *k = &C.rk[role];
    char path[1200], name[32], pub[CURVE_KEY_LEN + 1];
    int rc, found;

    memset(k, 0, sizeof *k);
    snprintf(name, sizeof name, "%s.key", s_role_names[role]);
    found = s_has(dir, name, path, sizeof path);
    if (!found && s_has(dir, "server.key", path, sizeof path))
        found = *old = 1;
    if (found) {
        rc = curve_read(path, k->pub, k->sec, err);
        if (rc)
            return rc;
        k->has_pub = k->has_sec = 1;
    }
    snprintf(name, sizeof name, "%s.pub", s_role_names[role]);
    found = s_has(dir, name, path, sizeof path);
    if (!found && !k->has_pub && s_has(dir, "server.pub", path, sizeof path))
        found = *old = 1;
    if (found) {
        rc = curve_read(path, pub, NULL, err);
        if (rc)
            return rc;
        memcpy(k->pub, pub, sizeof pub);
        k->has_pub = 1;
    }
    return 0;
}

int curve_enable(const char *dir, char *err)
{
    char path[1200];
    sigset_t all, oldmask;
    int rc, zero = 0, old = 0;

    if (!zmq_has("curve")) {
        snprintf(err, ERR_LEN, "--curve: this libzmq has no CURVE support");
        return ERR_IO;
    }
    if (access(dir, X_OK) != 0) {
        snprintf(err, ERR_LEN, "CURVE key directory %.200s: %s", dir,
                 strerror(errno));
        return ERR_IO;
    }
    snprintf(C.dir, sizeof C.dir, "%.*s", (int)sizeof C.dir - 1, dir);
    rc = s_load_role(dir, BUS_FEEDER, &old, err);
    if (!rc)
        rc = s_load_role(dir, BUS_ENGINE, &old, err);
    if (!rc && !C.rk[BUS_FEEDER].has_pub && !C.rk[BUS_ENGINE].has_pub)
        snprintf(err, ERR_LEN, "CURVE: %.80s has no server key: neither "
                 "feeder.pub nor engine.pub (nor an older server.pub; "
                 "livetrade keygen writes them)", dir), rc = ERR_IO;
    if (!rc && C.role && !C.rk[C.role].has_sec)
        snprintf(err, ERR_LEN, "CURVE: %.60s has no %s.key (nor an older "
                 "server.key): it can only connect, not bind a %s's "
                 "endpoints; give the %s a key directory with %s.key "
                 "(livetrade keygen)", dir, s_role_names[C.role],
                 s_role_names[C.role], s_role_names[C.role],
                 s_role_names[C.role]), rc = ERR_IO;
    if (!rc) {
        snprintf(path, sizeof path, "%s/client.key", dir);
        rc = curve_read(path, C.client_pub, C.client_sec, err);
    }
    if (!rc && C.role)              /* else it binds nothing */
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
    pthread_sigmask(SIG_SETMASK, &all, &oldmask);
    C.started = pthread_create(&C.thread, NULL, s_zap, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    if (!C.started) {
        snprintf(err, ERR_LEN, "CURVE: cannot start the ZAP handler");
        return ERR_IO;
    }
    C.on = 1;
    log_msg(LL_INFO, "CURVE on: keys from %s, %zu authorised client key(s)%s",
            dir, C.nkeys, C.role ? "" : " (connects, binds nothing)");
    if (old)
        log_msg(LL_INFO, "CURVE: %s holds the older single server key "
                "pair (server.key, server.pub): it stands for both the "
                "feeder's and the engine's; livetrade keygen writes one "
                "pair per role", dir);
    return 0;
}

int curve_flag(const char *prog, const char *dir)
{
    char err[ERR_LEN];

    if (!dir || !*dir)
        return 0;
    /* The programs that bind bus endpoints, and the names of those. */
    if (strstr(prog, "feeder"))
        C.role = BUS_FEEDER;
    else if (strstr(prog, "engine"))
        C.role = BUS_ENGINE;
    if (curve_enable(dir, err) == 0)
        return 0;
    fprintf(stderr, "%s: --curve: %s\n", prog, err);
    return 2;
}

int curve_on(void)
{
    return C.on;
}

int curve_apply(void *sock, int peer, char *err)
{
    char domain[32];
    int one = 1, type = 0;
    size_t tlen = sizeof type;
    const struct role_keys *k;

    if (!C.on)
        return 0;
    if (!peer) {
        if (!C.role) {              /* no secret: cannot act as a server */
            snprintf(err, ERR_LEN, "CURVE: only a feeder or an engine "
                     "binds bus endpoints");
            return -1;
        }
        k = &C.rk[C.role];
        /* The ZAP domain names the endpoint, for the allow lists. */
        zmq_getsockopt(sock, ZMQ_TYPE, &type, &tlen);
        snprintf(domain, sizeof domain, "%s-%s", s_role_names[C.role],
                 type == ZMQ_XPUB || type == ZMQ_PUB ? "pub" : "rep");
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->sec,
                           CURVE_KEY_LEN) ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain))) {
            snprintf(err, ERR_LEN, "CURVE: %s", zmq_strerror(errno));
            return -1;
        }
        return 0;
    }
    if (!ROLE_OK(peer) || !C.rk[peer].has_pub) {
        const char *r = ROLE_OK(peer) ? s_role_names[peer] : "?";
        snprintf(err, ERR_LEN, "CURVE: %.80s has no %s.pub (nor an older "
                 "server.pub): it cannot connect to a %s; copy %s.pub "
                 "there from the livetrade keygen directory", C.dir, r, r,
                 r);
        return -1;
    }
    k = &C.rk[peer];
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->pub, CURVE_KEY_LEN) ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, C.client_pub,
                       CURVE_KEY_LEN) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, C.client_sec,
                       CURVE_KEY_LEN)) {
        snprintf(err, ERR_LEN, "CURVE: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int curve_peers(int *peers)
{
    const struct role_keys *f = &C.rk[BUS_FEEDER], *e = &C.rk[BUS_ENGINE];

    peers[0] = f->has_pub || !C.on ? BUS_FEEDER : BUS_ENGINE;
    peers[1] = BUS_ENGINE;
    return C.on && f->has_pub && e->has_pub &&
           strcmp(f->pub, e->pub) != 0 ? 2 : 1;
}

void curve_stop(void)
{
    if (C.started)
        pthread_join(C.thread, NULL);
    C.started = 0;
    C.on = 0;
    C.role = 0;
    memset(C.rk, 0, sizeof C.rk);
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
