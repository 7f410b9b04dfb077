/* curve.h -- ZeroMQ CURVE on the bus: encryption, and only authorised
 * keys may connect.
 *
 *   curve_enable("/etc/livetrade/curve", err);   before any bus socket
 *   ... bus_bind_pub() / bus_connect_sub() / bus_request() apply it ...
 *   bus_term();                                  ends the ZAP handler too
 *
 * A key directory (`livetrade keygen DIR` writes one) holds:
 *   feeder.key        the feeders' server key pair: what a feeder binds
 *                     (feeder-pub, feeder-rep) uses it; keep it secret,
 *                     only on the hosts that run a feeder
 *   engine.key        the engines' server key pair, the same for what an
 *                     engine binds (engine-pub, engine-rep); only on the
 *                     hosts that run an engine
 *   feeder.pub, engine.pub  their public keys: a connecting socket checks
 *                     the key of the role it connects to (an engine's
 *                     --sub and --history: feeder.pub; a sink's --sub and
 *                     --replay: engine.pub; --bars: feeder.pub)
 *   client.key        this program's own key pair, used to connect
 *   authorized/NAME.pub  the client keys that bound sockets accept; an
 *                     optional line `allow = "engine-pub,engine-rep"`
 *                     limits NAME to those endpoints
 * A host holds the secret key only of what it binds: one that holds
 * engine.key alone cannot pass for a feeder, and the reverse. A feeder
 * whose directory has no feeder.key, or an engine without engine.key, is
 * refused at start (curve_flag); any other program binds nothing with
 * CURVE.
 * An older directory with one pair, server.key and server.pub, still
 * works: that pair stands for every role it has no ROLE.key / ROLE.pub of
 * (ROLE files win), and curve_enable says so in one INFO line.
 *
 * Endpoint names (the ZAP domain of each bound socket): feeder-pub (the
 * feeder's --pub, bars), feeder-rep (its --rep: history, status),
 * engine-pub (the engine's --pub: signals, indicator values), engine-rep
 * (its --rep: replay, status, indicators).
 * Key files are text: `public-key = "<40 Z85 characters>"` and, in .key
 * files, `secret-key = "<40 Z85 characters>"` (the lines CZMQ's
 * certificates use).
 *
 * Bound sockets act as CURVE servers and ask a ZAP handler (a thread of
 * this process, on inproc://zeromq.zap.01) about each client's key: one
 * not in authorized/, or whose allow line leaves out the endpoint, is
 * refused, and logged (rate-limited) with the key's name. Connecting
 * sockets act as CURVE clients with client.key and the public key of the
 * role they connect to; a server that cannot prove it holds that role's
 * secret key gets no handshake, so it can neither read nor inject
 * anything. */
#ifndef LT_CURVE_H
#define LT_CURVE_H

#include <stddef.h>

#define CURVE_KEY_LEN 40            /* Z85 characters of a key */

/* Loads DIR's keys and starts the ZAP handler. 0, or ERR_IO / ERR_PARSE
 * with a reason naming the file in err[ERR_LEN]. */
int curve_enable(const char *dir, char *err);
/* For a program's --curve flag: enables CURVE from dir unless dir is NULL
 * or empty. 0, or 2 (the bad-usage exit code) after one line "prog: ...".
 */
int curve_flag(const char *prog, const char *dir);
#define CURVE_OPT_HELP "CURVE key directory (livetrade keygen): encrypt " \
    "and authenticate every bus socket"

/* Parses an allow list ("engine-pub,engine-rep": endpoint names among
 * feeder-pub, feeder-rep, engine-pub, engine-rep) into bits. 0, or
 * ERR_PARSE with a reason in err[ERR_LEN]. */
int curve_allow_parse(const char *list, unsigned *bits, char *err);

/* 1 once curve_enable succeeded. */
int curve_on(void);
/* Makes `sock` a CURVE server (peer 0: a bound socket, with the key of
 * this program's role) or a client of a `peer` (BUS_FEEDER, BUS_ENGINE:
 * the role it connects to, whose public key it expects); no-op without
 * curve_enable. 0, or -1 with one line in err[ERR_LEN] (a missing key
 * named). */
int curve_apply(void *sock, int peer, char *err);
/* For a program that asks both kinds (livetrade status): the roles whose
 * distinct server keys this directory holds, in peers[2]; returns how
 * many (2 with feeder and engine keys that differ; 1 with one key for
 * both, or one of them only, or without CURVE). */
int curve_peers(int *peers);
/* Stops the ZAP handler; called by bus_term after the context ended. */
void curve_stop(void);

/* Writes a new key pair: path.key (mode 0600, public and secret) and, if
 * pub_path is not NULL, pub_path with the public key only. 0, or ERR_IO
 * with a reason. */
int curve_write_pair(const char *key_path, const char *pub_path, char *err);
/* Reads the public key (and, if secret is not NULL, the secret key) of a
 * key file into 41-byte buffers. 0, or ERR_IO / ERR_PARSE. */
int curve_read(const char *path, char *public_key, char *secret_key,
               char *err);

/* Handshake watch: a CURVE mismatch (--curve on one side only, keys of
 * another deployment, a client key not authorised) only shows as a
 * silence; libzmq tells it through socket monitor events, which these
 * read. Without CURVE too: a program without --curve talking to one with
 * it is the commonest case.
 *
 *   curve_watch_open(&w, req);           before zmq_connect
 *   ... no reply in time ...
 *   if (curve_watch_why(&w, ep, why, sizeof why)) say why;
 *   curve_watch_close(&w, req);          before zmq_close(req)
 */
struct curve_watch {
    void *pair;                     /* the monitor's events, or NULL */
    int failed;                     /* ZMQ_EVENT_HANDSHAKE_FAILED_*, 0 */
    unsigned value;                 /* its value (protocol error, ZAP) */
    int connected;                  /* a connection was made */
    int succeeded;                  /* a handshake succeeded */
    int dropped;                    /* closed before any handshake did */
};

/* Starts watching `sock`. 0, or -1 (then curve_watch_why says nothing). */
int curve_watch_open(struct curve_watch *w, void *sock);
/* Reads the events so far; 1 and one line in buf ("CURVE mismatch likely
 * on EP: why (what to do)") if they point at CURVE, else 0. */
int curve_watch_why(struct curve_watch *w, const char *ep, char *buf,
                    size_t n);
/* Stops watching; `sock` still open (or NULL if it is closed). */
void curve_watch_close(struct curve_watch *w, void *sock);

/* For a socket that lives as long as the program (a subscriber, a bound
 * publisher or request endpoint): a thread logs a warning when one of its
 * handshakes fails ("CURVE mismatch likely: bars from EP failed the
 * handshake: ..."), at most once a minute per socket. `what` says what
 * the socket is for; `server` is 1 for a bound socket. */
void curve_watch_log(void *sock, const char *what, int server);
/* Ends that thread; bus_term() calls it after the context ended. */
void curve_watch_stop(void);

/* 1 if a tcp:// endpoint binds beyond loopback (0.0.0.0, *, an address
 * outside 127.0.0.0/8 and ::1); 0 for loopback, ipc:// and inproc://. */
int curve_endpoint_public(const char *endpoint);

#endif
