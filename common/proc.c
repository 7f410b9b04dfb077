/* proc.c -- signal handling and start-up shared by every program. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

volatile sig_atomic_t proc_stop;
volatile sig_atomic_t proc_reload;

static void s_on_hup(int sig)
{
    (void)sig;
    proc_reload = 1;
}

static void s_on_signal(int sig)
{
    (void)sig;
    if (proc_stop)
        _exit(1);                   /* second signal: give up draining */
    proc_stop = 1;
}

void proc_init(const char *prog)
{
    struct sigaction sa;

    log_init(prog);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = s_on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int proc_usage_error(const char *prog, const char *msg)
{
    fprintf(stderr, "%s: %s\n", prog, msg);
    return 2;
}
