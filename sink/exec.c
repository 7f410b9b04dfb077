/* exec.c -- the exec output: a long-running child process, in any
 * language, gets one JSON line per signal on its stdin (the file output's
 * line, sink_write_json).
 *
 *   livetrade-sink exec --sub ... -- python3 my_sink.py --flag
 *
 * Lines go through an in-memory queue and non-blocking writes, so a slow
 * child never blocks the sink. The queue holds at most --queue lines;
 * when it is full, new signals are refused (dropped, counted as failed,
 * with a rate-limited warning) until the child catches up: what was
 * accepted is delivered in order, and nothing accepted is dropped.
 *
 * Delivery: a line leaves the queue once the child has read it from the
 * pipe (the sink asks the kernel how much of the pipe is still unread,
 * FIONREAD). When the child dies, every line it had not read completely
 * is sent again, whole, to the next child: at least once. Lines it had
 * read into its own buffers but not acted on are gone with it; a child
 * that must not lose them reads its stdin unbuffered.
 *
 * The queue is durable (exec_spool.c): each line is appended to the spool
 * (--spool, default $XDG_STATE_HOME/livetrade/exec-spool.jsonl) before
 * write() returns it as taken, and marked done once written whole into
 * the child's stdin (the pipe's content outlives a killed sink), or due
 * again when that child died before reading it. At start the lines still
 * due go first, in order, to the child. So a sink that is killed loses
 * no line and sends again none that a child's pipe already had.
 *
 * A child that exits, for any reason, is started again after a delay that
 * doubles from --backoff-ms up to --backoff-max-ms, and returns to
 * --backoff-ms once a child has run for 10 s. Its exit status is logged;
 * its stdout and stderr are the sink's. On SIGINT/SIGTERM the sink gives
 * the child up to --stop-ms to read what is queued, closes its stdin,
 * waits for it to exit within --stop-ms more, then sends SIGTERM (and
 * SIGKILL a second later). The lines it had not read by then stay in the
 * spool for the next run; with --spool "" they are counted as lost.
 *
 * The child gets the sink's environment less livetrade's own secrets
 * (s_secret_env: API keys, webhook URLs, tokens), except those named
 * with --pass-env. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "exec_spool.h"
#include "log.h"
#include "sink.h"
#include "util.h"

extern char **environ;

#define TICK_BUSY_MS 10             /* timer while lines wait or a restart */
#define TICK_IDLE_MS 200            /* timer otherwise: notices an exit */
#define HEALTHY_MS 10000            /* a child up this long resets backoff */

static struct {
    struct opt_rest cmd;            /* after -- */
    int64_t queue;                  /* --queue, lines */
    int64_t backoff_ms, backoff_max_ms; /* --backoff-ms, --backoff-max-ms */
    int64_t stop_ms;                /* --stop-ms */
    const char *spool;              /* --spool; NULL: the default */
    struct opt_multi pass_env;      /* --pass-env */
} s_cfg = { { 0, NULL }, 10000, 100, 10000, 2000, NULL, { 0 } };

static const struct opt s_opts[] = {
    { "queue", OPT_INT, &s_cfg.queue, NULL, "N",
      "lines held for the child at most; beyond, new signals are dropped "
      "(default 10000)" },
    { "backoff-ms", OPT_INT, &s_cfg.backoff_ms, NULL, "MS",
      "first restart delay after the child exits (default 100)" },
    { "backoff-max-ms", OPT_INT, &s_cfg.backoff_max_ms, NULL, "MS",
      "longest restart delay (default 10000)" },
    { "stop-ms", OPT_INT, &s_cfg.stop_ms, NULL, "MS",
      "at exit: time for the child to read the queue, then to exit "
      "(default 2000 each)" },
    { "spool", OPT_STR, &s_cfg.spool, NULL, "FILE",
      "the queue, kept on disk so that a stop or kill loses nothing "
      "(default $XDG_STATE_HOME/livetrade/exec-spool.jsonl; \"\" for "
      "none)" },
    { "pass-env", OPT_MULTI, &s_cfg.pass_env, NULL, "NAME[,NAME...]",
      "secrets to leave in the child's environment (default: API keys, "
      "webhook URLs and tokens are removed; repeatable)" },
    { "", OPT_REST, &s_cfg.cmd, NULL, "CMD [ARGS...]",
      "the child command and its arguments (last; required)" },
    { 0 }
};

struct exec_out {
    char **argv;                    /* the command (borrowed from argv) */
    pid_t pid;                      /* 0: no child */
    int fd;                         /* its stdin, non-blocking; -1: none */
    int64_t started_ms;             /* mono time the child started */
    int64_t restart_at;             /* mono time of the next start; 0 */
    int64_t backoff;                /* current restart delay */
    struct exec_line *head, *tail;  /* queue, oldest first */
    struct exec_line *sent;         /* first line not fully written */
    size_t off;                     /* bytes of `sent` already written */
    size_t inpipe;                  /* bytes written, not known read */
    int64_t n;                      /* lines in the queue */
    int64_t saved;                  /* of them, spooled at exit */
    exec_spool_t *spool;            /* NULL: --spool "" */
    loop_t *loop;
    int timer;                      /* its id, -1 before attach */
    int busy;                       /* timer at TICK_BUSY_MS */
    int64_t closed_at;              /* mono time it closed its stdin, 0 */
    int warned_half;                /* said the queue is half full */
    uint64_t delivered, resent, dropped, starts, exits;
    struct log_limit lim_drop;
};

/* Links l at the tail of the queue. */
static void s_push(struct exec_out *x, struct exec_line *l)
{
    l->next = NULL;
    if (x->tail)
        x->tail->next = l;
    else
        x->head = l;
    x->tail = l;
    if (!x->sent)
        x->sent = l;                /* all before it are written */
    x->n++;
}

/* {==================== the spool ============================ */

/* Opens the spool (--spool, else the default; "": none) and queues the
 * lines a previous run left due. ERR_OK, or an ERR_* with err set. */
static int s_spool_open(struct exec_out *x, char *err)
{
    char dir[1024], path[1100];
    const char *p = s_cfg.spool;
    struct exec_line *due, *next;
    long long count = 0;

    if (p && !p[0])
        return ERR_OK;
    if (!p) {
        if (!xdg_dir("state", dir, sizeof dir) ||
            strfmt(path, sizeof path, "%s/exec-spool.jsonl", dir) < 0) {
            log_msg(LL_WARN, "exec: no spool (set HOME or XDG_STATE_HOME, "
                    "or --spool FILE): lines queued when the sink is "
                    "killed are lost");
            return ERR_OK;
        }
        p = path;
    }
    x->spool = exec_spool_open(p, &due, err);
    if (!x->spool)
        return ERR_IO;
    for (; due; due = next, count++) {
        next = due->next;
        s_push(x, due);
    }
    if (count)
        log_msg(LL_INFO, "exec: %lld lines saved by the last run (%s) go "
                "first to the child", count, p);
    return ERR_OK;
}

/* }========================================================== */

/* {==================== the child ============================ */

/* 1 if `cmd` can be run: a path to an executable, or a name on $PATH. */
static int s_runnable(const char *cmd)
{
    const char *path = getenv("PATH");
    char buf[4096];

    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0;
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        struct stat st;
        if (strfmt(buf, sizeof buf, "%.*s/%s", n ? (int)n : 1,
                   n ? path : ".", cmd) >= 0 && stat(buf, &st) == 0 &&
            S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return 1;
        path += n + (end ? 1 : 0);
    }
    return 0;
}

/* 1 if the environment entry `e` (NAME=VALUE) holds one of livetrade's
 * secrets: POLYGON_API_KEY, MASSIVE_API_KEY, APCA_*, *_WEBHOOK_URL, and
 * LIVETRADE_* names with KEY, TOKEN or SECRET in them (keys and their
 * paths). */
static int s_secret_env(const char *e)
{
    size_t n = strcspn(e, "=");
    char name[256];

    if (n >= sizeof name)
        return 0;
    memcpy(name, e, n);
    name[n] = '\0';
    if (strcmp(name, "POLYGON_API_KEY") == 0 ||
        strcmp(name, "MASSIVE_API_KEY") == 0 ||
        strncmp(name, "APCA_", 5) == 0 ||
        (n >= 12 && strcmp(name + n - 12, "_WEBHOOK_URL") == 0))
        return 1;
    return strncmp(name, "LIVETRADE_", 10) == 0 &&
           (strstr(name, "KEY") || strstr(name, "TOKEN") ||
            strstr(name, "SECRET"));
}

/* 1 if `e`'s name is listed in --pass-env (each value a comma list). */
static int s_passed(const char *e)
{
    size_t n = strcspn(e, "=");

    for (int i = 0; i < s_cfg.pass_env.n; i++)
        for (const char *p = s_cfg.pass_env.v[i]; *p;) {
            size_t k = strcspn(p, ",");
            if (k == n && strncmp(p, e, n) == 0)
                return 1;
            p += k + (p[k] == ',');
        }
    return 0;
}

/* The child's environment: the sink's, less its secrets not passed.
 * Malloc'd array of borrowed strings; NULL when out of memory. */
static char **s_child_env(void)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    env = malloc((n + 1) * sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!s_secret_env(environ[i]) || s_passed(environ[i]))
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

static void s_start(struct exec_out *x)
{
    char **env;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, dfl;
    int p[2], rc;

    x->restart_at = 0;
    if (pipe(p) != 0) {
        log_msg(LL_ERROR, "exec: pipe: %s; retrying", strerror(errno));
        x->restart_at = mono_ms() + x->backoff;
        return;
    }
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    /* The child starts with default signal handling and no mask (the
     * sink ignores SIGPIPE; exec would keep that). */
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                             POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], 0);
    env = s_child_env();
    rc = env ? posix_spawnp(&x->pid, x->argv[0], &fa, &attr, x->argv, env)
             : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[0]);
    if (rc != 0) {
        log_msg(LL_ERROR, "exec: cannot start %s: %s; retrying in %lld ms",
                x->argv[0], strerror(rc), (long long)x->backoff);
        close(p[1]);
        x->pid = 0;
        x->restart_at = mono_ms() + x->backoff;
        x->backoff = x->backoff * 2 > s_cfg.backoff_max_ms ?
            s_cfg.backoff_max_ms : x->backoff * 2;
        return;
    }
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    x->fd = p[1];
    x->started_ms = mono_ms();
    x->starts++;
    x->sent = x->head;
    x->off = 0;
    x->inpipe = 0;
    log_msg(LL_INFO, "exec: started %s (pid %d)%s", x->argv[0], (int)x->pid,
            x->n ? "; sending the queued lines" : "");
}

/* Frees the lines at the head the child has read from the pipe. */
static void s_account(struct exec_out *x)
{
    int unread = 0;
    size_t gone;

    if (x->fd < 0 || x->inpipe == 0 || ioctl(x->fd, FIONREAD, &unread) != 0)
        return;
    gone = x->inpipe - (size_t)unread;
    while (x->head && x->head != x->sent && gone >= x->head->len) {
        struct exec_line *l = x->head;
        gone -= l->len;
        x->inpipe -= l->len;
        x->head = l->next;
        if (!x->head)
            x->tail = NULL;
        if (x->spool)
            exec_spool_delivered(x->spool, l);
        free(l);
        x->n--;
        x->delivered++;
    }
}

static void s_describe_exit(int status, char *buf, size_t n)
{
    if (WIFEXITED(status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, n, "ended (status 0x%x)", status);
}

/* The child is gone (reaped with `status`): what it had not read goes
 * back to the queue (and is due again in the spool) for the next one,
 * started after the backoff. */
static void s_child_gone(struct exec_out *x, int status, int restart)
{
    char how[128];
    int64_t up = mono_ms() - x->started_ms;
    uint64_t again = 0;

    s_account(x);
    for (struct exec_line *l = x->head; l && l != x->sent; l = l->next)
        again++;                    /* written, not read */
    if (x->spool)
        exec_spool_mark(x->spool, "again", x->head, x->sent);
    if (x->sent && x->off)
        again++;                    /* written in part */
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
    x->pid = 0;
    x->closed_at = 0;
    x->exits++;
    x->sent = x->head;
    x->off = 0;
    x->inpipe = 0;
    if (restart)
        x->resent += again;
    s_describe_exit(status, how, sizeof how);
    if (up >= HEALTHY_MS)
        x->backoff = s_cfg.backoff_ms;
    if (!restart) {
        log_msg(LL_INFO, "exec: child %s %s", x->argv[0], how);
        return;
    }
    log_msg(LL_WARN, "exec: child %s %s after %lld ms; %llu lines it had "
            "not read will be sent again; restarting in %lld ms",
            x->argv[0], how, (long long)up, (unsigned long long)again,
            (long long)x->backoff);
    x->restart_at = mono_ms() + x->backoff;
    x->backoff = x->backoff * 2 > s_cfg.backoff_max_ms ?
        s_cfg.backoff_max_ms : x->backoff * 2;
}

/* Reaps the child if it exited; 1 if it did. */
static int s_reap(struct exec_out *x, int restart)
{
    int status;
    pid_t r;

    if (x->pid <= 0)
        return 0;
    r = waitpid(x->pid, &status, WNOHANG);
    if (r == x->pid) {
        s_child_gone(x, status, restart);
        return 1;
    }
    return 0;
}

/* Writes queued lines until the pipe is full; those written whole are
 * marked done in the spool. EPIPE: the child closed its stdin; it is
 * stopped, reaped by the timer and started again. */
static void s_flush(struct exec_out *x)
{
    struct exec_line *first = x->sent;

    while (x->fd >= 0 && !x->closed_at && x->sent) {
        struct exec_line *l = x->sent;
        ssize_t w = write(x->fd, l->data + x->off, l->len - x->off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE) {
                /* Exiting, most likely: the lines stay queued until it
                 * is reaped (s_tick stops it if it lingers). */
                x->closed_at = mono_ms();
            } else if (errno != EAGAIN) {
                log_msg(LL_ERROR, "exec: write to child pid %d: %s",
                        (int)x->pid, strerror(errno));
            }
            break;
        }
        x->inpipe += (size_t)w;
        x->off += (size_t)w;
        if (x->off == l->len) {
            x->sent = l->next;
            x->off = 0;
        }
    }
    if (x->spool && first != x->sent)
        exec_spool_mark(x->spool, "done", first, x->sent);
    s_account(x);
}

/* }========================================================== */

static void s_set_tick(struct exec_out *x)
{
    int busy = x->n > 0 || x->restart_at || x->closed_at;
    if (x->timer >= 0 && busy != x->busy) {
        x->busy = busy;
        loop_set_timer(x->loop, x->timer, busy ? TICK_BUSY_MS : TICK_IDLE_MS);
    }
}

static void s_tick(loop_t *loop, void *arg)
{
    struct exec_out *x = arg;
    (void)loop;

    s_reap(x, 1);
    if (x->pid && x->closed_at && mono_ms() - x->closed_at > 1000) {
        log_msg(LL_WARN, "exec: child pid %d closed its stdin but goes on "
                "running; stopping it", (int)x->pid);
        kill(x->pid, SIGTERM);
        x->closed_at = mono_ms();
    }
    if (!x->pid && x->restart_at && mono_ms() >= x->restart_at)
        s_start(x);
    s_flush(x);
    if (x->spool)
        exec_spool_compact(x->spool, x->head, x->sent, 0);
    if (x->n < s_cfg.queue / 4)
        x->warned_half = 0;
    s_set_tick(x);
}

static int s_open(void **state, char *info, char *err)
{
    struct exec_out *x;
    int rc;

    if (s_cfg.cmd.argc < 1) {
        snprintf(err, ERR_LEN, "exec: missing the command: exec [flags] "
                 "-- CMD [ARGS...]");
        return ERR_USAGE;
    }
    if (s_cfg.queue < 1 || s_cfg.backoff_ms < 1 || s_cfg.stop_ms < 0 ||
        s_cfg.backoff_max_ms < s_cfg.backoff_ms) {
        snprintf(err, ERR_LEN, "exec: --queue and --backoff-ms must be "
                 "positive, --backoff-max-ms at least --backoff-ms, "
                 "--stop-ms not negative");
        return ERR_USAGE;
    }
    if (!s_runnable(s_cfg.cmd.argv[0])) {
        snprintf(err, ERR_LEN, "exec: cannot run '%.150s': not an "
                 "executable file or not found on PATH", s_cfg.cmd.argv[0]);
        return ERR_USAGE;
    }
    x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    x->argv = s_cfg.cmd.argv;
    x->fd = -1;
    x->timer = -1;
    x->backoff = s_cfg.backoff_ms;
    x->lim_drop = (struct log_limit)LOG_LIMIT_INIT;
    rc = s_spool_open(x, err);
    if (rc != ERR_OK) {             /* the file stays as it is */
        free(x);
        return rc;
    }
    snprintf(info, ERR_LEN, "JSON Lines to the stdin of %.80s (queue %lld "
             "lines, spool %.100s)", x->argv[0], (long long)s_cfg.queue,
             x->spool ? exec_spool_path(x->spool) : "none");
    *state = x;
    return ERR_OK;
}

static int s_attach(void *state, loop_t *loop, char *err)
{
    struct exec_out *x = state;

    x->loop = loop;
    x->timer = loop_add_timer(loop, TICK_IDLE_MS, s_tick, x);
    if (x->timer < 0) {
        snprintf(err, ERR_LEN, "exec: no timer left in the event loop");
        return ERR_NOMEM;
    }
    s_start(x);
    s_set_tick(x);
    return ERR_OK;
}

static int s_write(void *state, const struct signal *s)
{
    struct exec_out *x = state;
    json_t *j;
    char *text;
    struct exec_line *l;

    if (x->n >= s_cfg.queue) {
        x->dropped++;
        log_limited(&x->lim_drop, LL_WARN, "exec: queue full (%lld lines "
                    "the child has not read); dropping new signals, %llu "
                    "dropped so far", (long long)x->n,
                    (unsigned long long)x->dropped);
        errno = ENOBUFS;
        return ERR_TOO_LARGE;
    }
    j = msg_signal_to_json(s);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    l = text ? exec_line_new(text, strlen(text)) : NULL;
    free(text);
    if (!l) {
        errno = ENOMEM;
        return ERR_NOMEM;
    }
    snprintf(l->id, sizeof l->id, "%s", s->id);
    snprintf(l->eng, sizeof l->eng, "%s", s->eng);
    l->seq = s->seq;
    if (x->spool)                   /* a failure is logged; it still goes */
        exec_spool_add(x->spool, l);
    s_push(x, l);
    if (x->n >= s_cfg.queue / 2 && !x->warned_half) {
        x->warned_half = 1;
        log_msg(LL_WARN, "exec: the child is not keeping up: %lld lines "
                "queued (limit %lld)", (long long)x->n,
                (long long)s_cfg.queue);
    }
    s_flush(x);
    s_set_tick(x);
    return ERR_OK;
}

/* The signals in the spool, delivered or due, for the pipeline's
 * duplicate filter and state: one replayed after a kill is not queued
 * again. */
static void s_seen(void *state, void (*fn)(void *arg, const char *eng,
                                           const char *id, uint64_t seq),
                   void *arg)
{
    struct exec_out *x = state;

    if (!x->spool)
        return;
    exec_spool_seen(x->spool, fn, arg);
    for (const struct exec_line *l = x->head; l; l = l->next)
        if (l->id[0])
            fn(arg, l->eng, l->id, l->seq);
}

static void s_close(void **state)
{
    struct exec_out *x = *state;
    int64_t until;
    int status;

    if (!x)
        return;
    /* Time for the child to read the queue. */
    until = mono_ms() + s_cfg.stop_ms;
    while (x->pid && x->n > 0 && mono_ms() < until) {
        struct timespec ts = { 0, 5 * 1000000L };
        s_flush(x);
        if (s_reap(x, 0))
            break;
        if (x->n > 0)
            nanosleep(&ts, NULL);
    }
    if (x->fd >= 0) {
        s_account(x);
        close(x->fd);               /* EOF for the child */
        x->fd = -1;
    }
    if (x->pid) {
        until = mono_ms() + s_cfg.stop_ms;
        while (x->pid && mono_ms() < until) {
            struct timespec ts = { 0, 5 * 1000000L };
            if (!s_reap(x, 0))
                nanosleep(&ts, NULL);
        }
    }
    if (x->pid) {
        log_msg(LL_WARN, "exec: child pid %d still running %lld ms after "
                "its stdin closed; sending SIGTERM", (int)x->pid,
                (long long)s_cfg.stop_ms);
        kill(x->pid, SIGTERM);
        until = mono_ms() + 1000;
        while (x->pid && mono_ms() < until) {
            struct timespec ts = { 0, 5 * 1000000L };
            if (!s_reap(x, 0))
                nanosleep(&ts, NULL);
        }
        if (x->pid) {
            kill(x->pid, SIGKILL);
            if (waitpid(x->pid, &status, 0) == x->pid)
                s_child_gone(x, status, 0);
        }
    }
    if (x->spool && exec_spool_compact(x->spool, x->head, x->sent, 1) == 0) {
        if (x->n)
            log_msg(LL_INFO, "exec: %lld lines the child had not read are "
                    "saved in %s for the next run", (long long)x->n,
                    exec_spool_path(x->spool));
        x->saved = x->n;
    }
    exec_spool_destroy(&x->spool);
    if (x->starts)                  /* it ran */
        log_msg(x->n > x->saved ? LL_WARN : LL_INFO, "exec: %llu lines "
                "delivered, %llu sent again after a restart, %llu dropped "
                "(queue full), %llu starts, %llu exits, %lld saved, %lld "
                "lost at exit", (unsigned long long)x->delivered,
                (unsigned long long)x->resent,
                (unsigned long long)x->dropped,
                (unsigned long long)x->starts,
                (unsigned long long)x->exits, (long long)x->saved,
                (long long)(x->n - x->saved));
    exec_line_free_all(x->head);
    free(x);
    *state = NULL;
}

const struct sink_ops sink_exec = {
    .name = "exec",
    .summary = "pipe signals as JSON Lines to a long-running command",
    .usage = "[--queue N] [--backoff-ms MS] [--backoff-max-ms MS] "
             "[--stop-ms MS] [--spool FILE] -- CMD [ARGS...]",
    .opts = s_opts,
    .open = s_open,
    .attach = s_attach,
    .write = s_write,
    .close = s_close,
    .seen = s_seen,
};
