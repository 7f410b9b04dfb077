/* run.c -- `livetrade run`: the whole pipeline in one command.
 *
 * Makes a private directory for the ipc endpoints, starts the console sink,
 * the engine and the feeder (in that order, so the sink is listening when
 * the first signals come), then waits until --duration has passed, SIGINT
 * or SIGTERM arrives, or a child exits on its own. It then stops the
 * children upstream first -- feeder, engine, sink -- so each can drain what
 * the one before it sent, and removes the directory. More SIGINT/SIGTERMs
 * while it stops change nothing (proc_supervisor()).
 *
 * --data-source csv replays a CSV file: the feeder exits at its end
 * (--exit-when-done), which ends the run like --duration.
 *
 * While it runs, its endpoints are recorded for `livetrade status`
 * (runrec.h).
 *
 * Exit code: 0 if every child exited 0 after being asked to stop (or was
 * ended by that SIGTERM before it could catch it; a csv feeder also on its
 * own at the end of the file); 1 if one failed to start, exited on its
 * own, exited non-zero or was killed (one line per child says which and
 * how); 2 on bad flags. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "cmd.h"
#include "config.h"
#include "csv.h"
#include "err.h"
#include "flags.h"
#include "log.h"
#include "proc.h"
#include "run.h"
#include "runrec.h"
#include "util.h"

/* Socket files in the private directory; the longest bounds its path. */
static const char *const s_socks[] = {
    "bars.ipc", "history.ipc", "signals.ipc", "engine.ipc"
};
#define LONGEST_SOCK "/history.ipc"

static struct run s_run;

/* ===== set-up ======================================================== */

/* Finds the directory of the children's binaries and checks they are
 * there: $LIVETRADE_BIN_DIR, else the directory of this executable. */
static int s_locate(struct run *r, char *err)
{
    static const char *const progs[] = {
        "livetrade-sink", "livetrade-engine", "livetrade-feeder"
    };
    const char *env = getenv("LIVETRADE_BIN_DIR");
    char path[PATH_MAX];

    if (env && *env) {
        if (strfmt(r->bindir, sizeof r->bindir, "%s", env) < 0) {
            strfmt(err, ERR_LEN, "LIVETRADE_BIN_DIR is too long");
            return ERR_TOO_LARGE;
        }
    } else {
        ssize_t n = readlink("/proc/self/exe", r->bindir,
                             sizeof r->bindir - 1);
        char *slash;
        if (n <= 0) {
            strfmt(err, ERR_LEN, "cannot find my own executable (%s); "
                   "set LIVETRADE_BIN_DIR", strerror(errno));
            return ERR_IO;
        }
        r->bindir[n] = '\0';
        slash = strrchr(r->bindir, '/');
        if (slash == r->bindir)
            slash[1] = '\0';
        else if (slash)
            *slash = '\0';
    }
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        int e = ENAMETOOLONG;
        if (strfmt(path, sizeof path, "%s/%s", r->bindir, progs[i]) >= 0) {
            if (access(path, X_OK) == 0)
                continue;
            e = errno;
        }
        strfmt(err, ERR_LEN, "cannot run %s/%s: %s (build with make, or "
               "set LIVETRADE_BIN_DIR)", r->bindir, progs[i], strerror(e));
        return ERR_NOTFOUND;
    }
    return 0;
}

/* Creates the private ipc directory and the endpoint strings. */
static int s_make_dir(struct run *r, char *err)
{
    const size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
    const char *tmp = getenv("TMPDIR");
    char base[PATH_MAX];
    size_t len;

    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (strfmt(base, sizeof base, "%s", tmp) < 0)
        base[0] = '\0';
    len = strlen(base);
    while (len > 1 && base[len - 1] == '/')
        base[--len] = '\0';
    if (!len || len + strlen("/livetrade-XXXXXX" LONGEST_SOCK) > sun_max) {
        strfmt(err, ERR_LEN, "TMPDIR '%.100s' is too long for ipc socket "
               "paths (%zu characters at most); use a shorter one", tmp,
               sun_max - strlen("/livetrade-XXXXXX" LONGEST_SOCK));
        return ERR_TOO_LARGE;
    }
    strfmt(r->dir, sizeof r->dir, "%s/livetrade-XXXXXX", base);
    if (!mkdtemp(r->dir)) {
        strfmt(err, ERR_LEN, "cannot create a directory in %s: %s", base,
               strerror(errno));
        r->dir[0] = '\0';
        return ERR_IO;
    }
    strfmt(r->ep_bars, EP_MAX, "ipc://%s/bars.ipc", r->dir);
    strfmt(r->ep_hist, EP_MAX, "ipc://%s/history.ipc", r->dir);
    strfmt(r->ep_sig, EP_MAX, "ipc://%s/signals.ipc", r->dir);
    strfmt(r->ep_eng, EP_MAX, "ipc://%s/engine.ipc", r->dir);
    return 0;
}

/* Removes the engine's journal of this run (its files and lock). */
static void s_remove_journal(const struct run *r)
{
    char path[PATH_MAX];
    struct dirent *de;
    DIR *d = opendir(r->a_journal);

    if (!d)
        return;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' &&
            strfmt(path, sizeof path, "%s/%s", r->a_journal, de->d_name) >= 0)
            unlink(path);
    closedir(d);
    rmdir(r->a_journal);
}

/* Removes the sockets the children may have left and the directory. */
static void s_remove_dir(const struct run *r)
{
    char path[PATH_MAX];

    if (!r->dir[0])
        return;
    s_remove_journal(r);
    for (size_t i = 0; i < sizeof s_socks / sizeof s_socks[0]; i++)
        if (strfmt(path, sizeof path, "%s/%s", r->dir, s_socks[i]) >= 0)
            unlink(path);
    if (rmdir(r->dir) < 0)
        fprintf(stderr, PROG ": cannot remove %s: %s\n", r->dir,
                strerror(errno));
}

/* Fills the three children's argv (see DESIGN.md for their flags). */
static int s_build(struct run *r)
{
    char path[PATH_MAX];
    struct child *c;
    int rc = 0;

    strfmt(path, sizeof path, "%s/livetrade-sink", r->bindir);
    c = &r->sink;
    rc |= child_init(c, "sink", path);
    child_arg(c, "console");
    child_arg(c, "--sub");
    child_arg(c, r->ep_sig);
    child_arg(c, "--replay");               /* what the console missed */
    child_arg(c, r->ep_eng);
    child_arg(c, "--state");                /* one run: nothing to resume */
    child_arg(c, "");
    if (r->json)
        child_arg(c, "--json");
    if (r->flat_closes)
        child_arg(c, "--flat-closes");
    if (r->flags.verbose)
        child_arg(c, "--verbose");

    strfmt(path, sizeof path, "%s/livetrade-engine", r->bindir);
    c = &r->engine;
    rc |= child_init(c, "engine", path);
    child_arg(c, "--strategy");
    child_arg(c, r->strategy);
    child_arg(c, "--symbols");
    child_arg(c, r->syms);
    child_arg(c, "--sub");
    child_arg(c, r->ep_bars);
    /* csv: no history to ask for, so the engine is live before the first
     * bar and every bar of the file reaches the strategy as it would in
     * livetrade backtest (a bar published while a warm-up request is
     * under way would count as history instead). */
    child_arg(c, "--history");
    child_arg(c, r->csv ? "" : r->ep_hist);
    child_arg(c, "--pub");
    child_arg(c, r->ep_sig);
    child_arg(c, "--rep");
    child_arg(c, r->ep_eng);
    child_arg(c, "--wait-subscribers");     /* the console sees it all */
    child_arg(c, "1");
    strfmt(r->a_journal, sizeof r->a_journal, "%s/journal", r->dir);
    child_arg(c, "--journal");              /* this run's, removed after */
    child_arg(c, r->a_journal);
    if (r->lookback != NO_LOOKBACK) {
        strfmt(r->a_lookback, sizeof r->a_lookback, "%lld",
               (long long)r->lookback);
        child_arg(c, "--lookback");
        child_arg(c, r->a_lookback);
    }
    for (int i = 0; i < r->params.n; i++) {
        child_arg(c, "--param");
        child_arg(c, r->params.v[i]);
    }
    if (r->flags.verbose)
        child_arg(c, "--verbose");

    strfmt(path, sizeof path, "%s/livetrade-feeder", r->bindir);
    c = &r->feeder;
    rc |= child_init(c, "feeder", path);
    strfmt(r->a_seed, sizeof r->a_seed, "%lld", (long long)r->seed);
    run_fmt_double(r->a_interval, sizeof r->a_interval, r->interval);
    strfmt(r->a_timeframe, sizeof r->a_timeframe, "%lld",
           (long long)r->timeframe);
    child_arg(c, "--source");
    child_arg(c, r->source);
    child_arg(c, "--symbols");
    child_arg(c, r->syms);
    child_arg(c, "--pub");
    child_arg(c, r->ep_bars);
    child_arg(c, "--rep");
    child_arg(c, r->ep_hist);
    if (!r->csv) {
        child_arg(c, "--timeframe");
        child_arg(c, r->a_timeframe);
    }
    if (r->history != NO_LOOKBACK) {
        strfmt(r->a_history, sizeof r->a_history, "%lld",
               (long long)r->history);
        child_arg(c, "--history");
        child_arg(c, r->a_history);
    }
    if (strcmp(r->source, "polygon") == 0) {
        /* The feeder reads the API key from the environment or .env. */
        const char *const pass[][2] = {
            { "--rest-url", r->rest_url }, { "--ws-url", r->ws_url },
            { "--ca-file", r->ca_file }, { "--feed", r->feed },
            { "--rate", r->rate }, { "--market", r->market }
        };
        for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++)
            if (pass[i][1]) {
                child_arg(c, pass[i][0]);
                child_arg(c, pass[i][1]);
            }
    } else if (r->csv) {
        /* The engine's subscription comes before the first live bar, and
         * the feeder exits once the file is replayed (run then stops the
         * engine and the sink, which drain what they have). */
        child_arg(c, "--data");
        child_arg(c, r->data);
        child_arg(c, "--interval");
        child_arg(c, r->a_interval);
        child_arg(c, "--wait-subscribers");
        child_arg(c, "1");
        child_arg(c, "--exit-when-done");
    } else {
        child_arg(c, "--seed");
        child_arg(c, r->a_seed);
        child_arg(c, "--interval");
        child_arg(c, r->a_interval);
    }
    if (r->flags.verbose)
        child_arg(c, "--verbose");
    return rc ? ERR_TOO_LARGE : 0;
}

/* ===== supervision =================================================== */

/* 1 if `c` is a csv feeder that exited 0 on its own: the file has been
 * replayed (--exit-when-done), which ends the run as --duration would. */
static int s_replayed(const struct run *r, const struct child *c)
{
    return r->csv && c == &r->feeder && !c->asked && child_clean(c);
}

/* Says once, when `c` has been reaped, whether it ended as it should. */
static void s_judge(struct run *r, const struct child *c)
{
    char how[128];

    child_describe(c, how, sizeof how);
    log_msg(LL_DEBUG, "%s (pid %d) %s", c->name, (int)c->pid, how);
    if (s_replayed(r, c))
        return;                     /* the end of the CSV file */
    if (!c->asked) {
        fprintf(stderr, PROG ": %s %s%s\n", c->name, how,
                child_clean(c) ? " before it was asked to stop" : "");
        r->failed = 1;
    } else if (c->killed) {
        r->failed = 1;              /* s_stop said so already */
    } else if (WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGTERM) {
        /* Our SIGTERM came before the program had set up its handler
         * (it had only just started): stopped as asked, nothing lost. */
    } else if (!child_clean(c)) {
        fprintf(stderr, PROG ": %s %s\n", c->name, how);
        r->failed = 1;
    }
}

/* Reaps every child that has exited; returns the first that did so
 * without being asked, or NULL. */
static struct child *s_reap_all(struct run *r)
{
    struct child *kids[] = { &r->sink, &r->engine, &r->feeder };
    struct child *early = NULL;

    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
        if (!child_reap(kids[i]))
            continue;
        s_judge(r, kids[i]);
        if (!kids[i]->asked && (!early || s_replayed(r, early)))
            early = kids[i];
    }
    return early;
}

static void s_log_argv(const struct child *c)
{
    char line[2048];
    size_t len = 0;

    if (log_level > LL_DEBUG)
        return;
    line[0] = '\0';
    for (int i = 0; i < c->argc; i++) {
        int n = strfmt(line + len, sizeof line - len, "%s%s", i ? " " : "",
                       c->argv[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    log_msg(LL_DEBUG, "started %s (pid %d): %s", c->name, (int)c->pid, line);
}

/* Starts sink, engine, feeder; stops at the first that cannot start. */
static int s_start(struct run *r)
{
    struct child *kids[] = { &r->sink, &r->engine, &r->feeder };
    char err[ERR_LEN];

    for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++) {
        if (child_start(kids[i], err) != 0) {
            fprintf(stderr, PROG ": %s\n", err);
            return ERR_IO;
        }
        s_log_argv(kids[i]);
    }
    return 0;
}

/* Waits for the end of --duration, a signal, or a child's early exit, and
 * says which in r->why. */
static void s_supervise(struct run *r, double t0)
{
    double end = t0 + r->duration * 60.0;

    for (;;) {
        struct child *early = s_reap_all(r);
        double left;

        if (early && s_replayed(r, early)) {
            strfmt(r->why, sizeof r->why, "end of the CSV file");
            return;
        }
        if (early) {
            strfmt(r->why, sizeof r->why, "%s exited", early->name);
            return;
        }
        if (proc_stop) {
            strfmt(r->why, sizeof r->why, "%s received",
                   proc_stop_reason());
            return;
        }
        left = end - mono_sec();
        if (left <= 0) {
            strfmt(r->why, sizeof r->why, "duration reached");
            return;
        }
        child_pause(left);
    }
}

/* A SIGINT/SIGTERM that comes while the children are being stopped
 * changes nothing (they drain within GRACE_SEC each, then are killed);
 * says so once, so an impatient user knows it is in hand. */
static void s_patience(struct run *r)
{
    if (proc_signals > r->signals_seen && !r->said_patience) {
        fprintf(stderr, PROG ": %s received; already stopping (each "
                "program has %g s to drain)\n", proc_stop_reason(),
                GRACE_SEC);
        r->said_patience = 1;
    }
    r->signals_seen = proc_signals;
}

/* "duration reached; stopping the feeder and the sink": why, and the
 * programs still running. */
static void s_say_stopping(const struct run *r)
{
    const struct child *kids[] = { &r->feeder, &r->engine, &r->sink };
    const char *names[3];
    char list[96] = "";
    int n = 0;

    for (int i = 0; i < 3; i++)
        if (kids[i]->state == CHILD_RUNNING)
            names[n++] = kids[i]->name;
    if (n == 0)
        return;
    for (int i = 0, len = 0; i < n; i++) {
        int w = strfmt(list + len, sizeof list - (size_t)len, "%sthe %s",
                       i == 0 ? "" : i == n - 1 ? " and " : ", ", names[i]);
        if (w < 0)
            break;
        len += w;
    }
    fprintf(stderr, PROG ": %s; stopping %s\n", r->why, list);
}

/* SIGTERM, then up to GRACE_SEC for `c` to exit, then SIGKILL. */
static void s_stop(struct run *r, struct child *c)
{
    double end;

    if (c->state != CHILD_RUNNING)
        return;
    log_msg(LL_DEBUG, "stopping %s (pid %d)", c->name, (int)c->pid);
    child_kill(c, SIGTERM);
    end = mono_sec() + GRACE_SEC;
    while (c->state == CHILD_RUNNING) {
        double left = end - mono_sec();
        if (left <= 0) {
            fprintf(stderr, PROG ": %s did not stop within %g s; killing "
                    "it\n", c->name, GRACE_SEC);
            child_kill(c, SIGKILL);
            child_reap_wait(c);
            s_judge(r, c);
            break;
        }
        child_pause(left);
        s_patience(r);
        s_reap_all(r);
    }
}

int cmd_run(int argc, char **argv)
{
    struct run *r = &s_run;
    char err[ERR_LEN];
    double t0;
    int rc;

    memset(r, 0, sizeof *r);
    proc_supervisor();              /* a 2nd signal must not strand us */
    rc = run_parse(r, argc, argv, err);
    if (rc) {
        run_free(r);
        return rc == 1 ? 0 : proc_usage_error(PROG, err);
    }
    /* The settings were checked here; the children need not say it all
     * again (config.h). */
    setenv("LIVETRADE_SETTINGS_CHECKED", "1", 1);
    rc = s_locate(r, err);
    if (rc == 0)
        rc = s_make_dir(r, err);
    if (rc == 0 && s_build(r) != 0) {
        strfmt(err, ERR_LEN, "program path too long in %s", r->bindir);
        rc = ERR_TOO_LARGE;
    }
    if (rc) {
        fprintf(stderr, PROG ": %s\n", err);
        s_remove_dir(r);
        run_free(r);
        return 1;
    }

    {
        /* Where `livetrade status` finds this run's endpoints. */
        const char *eps[] = { r->ep_hist, r->ep_eng };
        if (runrec_write(r->dir, eps, 2, r->rec, err) != 0)
            fprintf(stderr, PROG ": %s; livetrade status will need "
                    "--endpoints %s,%s\n", err, r->ep_hist, r->ep_eng);
    }
    child_setup();
    if (r->csv)
        fprintf(stderr, PROG ": running %s on %s for %g min at most (csv "
                "data from %s, ipc in %s)\n", r->strategy, r->syms,
                r->duration, r->data, r->dir);
    else
        fprintf(stderr, PROG ": running %s on %s for %g min (%s data, ipc "
                "in %s)\n", r->strategy, r->syms, r->duration, r->source,
                r->dir);
    t0 = mono_sec();
    if (s_start(r) == 0) {
        s_supervise(r, t0);
    } else {
        strfmt(r->why, sizeof r->why, "a program failed to start");
        r->failed = 1;
    }
    r->signals_seen = proc_signals;
    s_say_stopping(r);
    /* Upstream first, so each stage can drain what it was sent. */
    s_stop(r, &r->feeder);
    s_stop(r, &r->engine);
    s_stop(r, &r->sink);
    runrec_remove(r->rec);
    s_remove_dir(r);
    fprintf(stderr, PROG ": stopped after %.1f s (%s), exit status %d\n",
            mono_sec() - t0, r->why, r->failed ? 1 : 0);
    run_free(r);
    return r->failed ? 1 : 0;
}
