/* proc.c -- signal handling and start-up shared by every program. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "util.h"

volatile sig_atomic_t proc_stop;
volatile sig_atomic_t proc_reload;
volatile sig_atomic_t proc_usr1;
volatile sig_atomic_t proc_signal;
volatile sig_atomic_t proc_signals;
static unsigned s_grace = PROC_STOP_GRACE_S;
static volatile sig_atomic_t s_supervisor;  /* no exit on a 2nd signal */

static void s_on_hup(int sig)
{
    (void)sig;
    proc_reload = 1;
}

static void s_on_usr1(int sig)
{
    (void)sig;
    proc_usr1 = 1;
}

static void s_on_signal(int sig)
{
    proc_signal = sig;
    proc_signals++;
    if (s_supervisor) {
        proc_stop = 1;              /* the supervisor bounds its stop */
        return;
    }
    if (proc_stop)
        _exit(1);                   /* second signal: give up draining */
    proc_stop = 1;
    alarm(s_grace);                 /* draining is bounded */
}

/* Draining took longer than PROC_STOP_GRACE_S: give up (async-safe). */
static void s_on_alarm(int sig)
{
    static const char msg[] = "livetrade: still draining after the stop "
        "signal's grace period (LIVETRADE_STOP_GRACE_S); exiting\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(1);
    _exit(1);
}

void proc_init(const char *prog)
{
    struct sigaction sa;

    const char *g = getenv("LIVETRADE_STOP_GRACE_S");
    int64_t v;

    log_init(prog);
    if (g && parse_int64(g, &v) == 0 && v >= 1 && v <= 3600)
        s_grace = (unsigned)v;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = s_on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = s_on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

void proc_supervisor(void)
{
    s_supervisor = 1;
}

const char *proc_stop_reason(void)
{
    if (!proc_stop || !proc_signal)
        return "asked";
    return proc_signal == SIGINT ? "SIGINT" : "SIGTERM";
}

int proc_usage_error(const char *prog, const char *msg)
{
    fprintf(stderr, "%s: %s\n", prog, msg);
    return 2;
}
