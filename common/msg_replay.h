/* msg_replay.h -- the engine's replay of its journal, both sides of it:
 * a sink asks for the signals it missed, the engine answers from its
 * journal (README.md, "Wire protocol").
 *
 *   request  {ver:1, type:"replay", after:S[, n:N]}     signals seq > S
 *            {ver:1, type:"replay", since_ts:T[, n:N]}  published at T
 *                                                       or later
 *   reply    {ver:1, type:"replay", eng, first:F, last:L,
 *             signals:[signal, ...]}                    oldest first, at
 *            most N; F and L the oldest and newest seq the journal holds
 *   error    {ver:1, type:"error", error:"..."} */
#ifndef LT_MSG_REPLAY_H
#define LT_MSG_REPLAY_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

struct replay_req {
    uint64_t after;                 /* signals with seq > after ... */
    int64_t since_ts;               /* ... or, >= 0: published at or
                                       after this epoch ms */
    uint64_t n;                     /* at most; 0: the engine's most */
};

/* A replay reply's head; `signals` points into the decoded reply. */
struct replay_reply {
    uint64_t first, last;
    const msgpack_object *signals;  /* an array */
};

void msg_replay_pack_request(msgpack_packer *pk, const struct replay_req *r);
/* Parses a decoded request map whose type is "replay"; n is set to `max`
 * when not given and cut to it. 0 or ERR_PARSE with a reason in
 * err[ERR_LEN]. */
int msg_replay_req_parse(const msgpack_object *o, uint64_t max,
                         struct replay_req *r, char *err);

/* Packs the reply map up to its last key, "signals": the caller packs
 * the array of signals next. */
void msg_replay_pack_reply_head(msgpack_packer *pk, const char *eng,
                                uint64_t first, uint64_t last);
/* Reads a decoded reply. 0; or -1 with `why` (the engine's error, or
 * "not a replay reply") when it is not one. */
int msg_replay_reply_parse(const msgpack_object *o, struct replay_reply *r,
                           char *why, size_t whylen);

#endif
