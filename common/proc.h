/* proc.h -- the process skeleton every livetrade program shares.
 *
 *   proc_init("livetrade-engine");       signals, logging
 *   ... parse flags, open sockets ...
 *   loop_run(loop);                      returns once proc_stop is set
 *   ... drain, close sockets, bus_term() ...
 *   return 0;
 *
 * SIGINT and SIGTERM only set proc_stop (the loop acts on it); SIGHUP only
 * sets proc_reload (programs that reload act on it, others ignore it),
 * and SIGUSR1 proc_usr1 (a demo or csv feeder ends its live feed);
 * SIGPIPE is ignored. Draining after the first SIGINT/SIGTERM is bounded:
 * a program still running PROC_STOP_GRACE_S seconds later (or
 * LIVETRADE_STOP_GRACE_S from the environment) exits 1. A second
 * SIGINT/SIGTERM while draining exits at once -- except in a supervisor
 * (proc_supervisor()), which bounds its own stop and must never leave its
 * children or files behind. */
#ifndef LT_PROC_H
#define LT_PROC_H

#include <signal.h>

#define PROC_STOP_GRACE_S 20        /* longest drain after a stop signal */

extern volatile sig_atomic_t proc_stop;     /* set by SIGINT/SIGTERM */
extern volatile sig_atomic_t proc_reload;   /* set by SIGHUP; the program
                                               clears it when it acts */
extern volatile sig_atomic_t proc_usr1;     /* set by SIGUSR1, likewise */
extern volatile sig_atomic_t proc_signal;   /* the last SIGINT/SIGTERM */
extern volatile sig_atomic_t proc_signals;  /* SIGINT/SIGTERMs so far */

void proc_init(const char *prog);
/* After proc_init(), for a program that supervises others (`livetrade
 * run`): every SIGINT/SIGTERM only sets proc_stop and counts in
 * proc_signals; none exits the program, and no grace alarm is set. */
void proc_supervisor(void);
/* Why the program is stopping, for its "stopping (...)" log line:
 * "SIGTERM", "SIGINT", or "asked" if no signal came (proc_stop unset). */
const char *proc_stop_reason(void);
/* Prints "PROG: msg" to stderr and returns 2 (the bad-usage exit code). */
int proc_usage_error(const char *prog, const char *msg);

#endif
