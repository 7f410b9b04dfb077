/* web_int.h -- the web output's (web.c) store of bars and signals per
 * symbol and its checks of --listen and --token, shared with the unit
 * tests. Not for use outside the web output. */
#ifndef LT_SINK_WEB_INT_H
#define LT_SINK_WEB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "msg_bar.h"
#include "util.h"
#include "web_ind.h"

struct wbar {
    int64_t t;                      /* bar start, epoch ms */
    double o, h, l, c, v;
    uint64_t seq, pub;              /* the feeder's, to see gaps */
};

enum { HIST_NONE, HIST_ASKED, HIST_DONE, HIST_FAILED };

/* A symbol's request to the worker: history, or indicators. */
struct wreq {
    int state;                      /* HIST_* */
    int again;                      /* a gap was seen while asking */
    int64_t retry;                  /* mono ms of the next try */
    int warned;                     /* a failure was logged */
};

struct wsym {
    char sym[SYM_MAX];
    int64_t tf;                     /* seconds, from the last bar */
    struct wbar *bars;              /* ring of cap bars, oldest at head */
    size_t cap, head, n;
    char **sigs;                    /* ring of scap signal JSONs (owned) */
    size_t scap, shead, sn;
    web_ind_t *ind;                 /* the engine's indicator lines */
    struct wreq hist, indreq;       /* bars from the feeders, indicator
                                       values from the engines */
};

/* 1 if the token can go in a URL and a cookie as it is. */
int web_token_ok(const char *t);
/* Parses --listen into host (IPv4 text, "" for all addresses) and port;
 * *loopback set for 127.0.0.0/8. 0 or ERR_USAGE with a reason. */
int web_listen_parse(const char *spec, char *host, size_t hn, int *port,
                     int *loopback, char *err);

/* Bar i of the symbol's ring, 0 the oldest held. */
struct wbar *web_bar_at(struct wsym *y, size_t i);
/* Frees a symbol and all it holds; sets *y_p to NULL. Idempotent. */
void web_sym_free(struct wsym **y_p);
/* Adds a bar at the end; a bar with the time of the last one replaces
 * it. 0, or -1 for a bar older than the last one. */
int web_push_bar(struct wsym *y, const struct wbar *b);
/* Merges history bars (oldest first) with those held; held ones win a
 * tie. Keeps the newest max_bars. 0 or ERR_NOMEM. */
int web_merge(struct wsym *y, const struct bar *h, size_t nh);
/* Keeps `json` (taken over) as the symbol's newest signal. */
void web_push_signal(struct wsym *y, char *json);

#endif
