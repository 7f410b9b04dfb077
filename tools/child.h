/* child.h -- start, watch and stop the programs a front end supervises.
 *
 *   child_setup();                       once, after proc_init()
 *   child_init(&c, "engine", path);
 *   child_arg(&c, "--verbose");          argv, no shell involved
 *   rc = child_start(&c, err);
 *   while (...) { child_pause(left); child_reap(&c); ... }
 *   child_kill(&c, SIGTERM);
 *
 * Each child runs in its own process group, so a Ctrl-C typed at the
 * terminal reaches only the supervisor, which then stops the children in
 * the order it chooses. Each child also gets SIGTERM from the kernel if the
 * supervisor dies without stopping it, so none is left behind.
 *
 * child_setup() blocks SIGCHLD, SIGINT and SIGTERM; they are delivered only
 * inside child_pause(), which therefore never misses one (pselect). */
#ifndef LT_CHILD_H
#define LT_CHILD_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define CHILD_ARGV_MAX 192      /* arguments + the terminating NULL */

enum child_state {
    CHILD_NEW = 0,              /* not started */
    CHILD_RUNNING,              /* started, not reaped yet */
    CHILD_EXITED                /* reaped; `status` is valid */
};

struct child {
    const char *name;               /* short name for messages: "engine" */
    char path[PATH_MAX];            /* program to execv */
    const char *argv[CHILD_ARGV_MAX];   /* argv[0] is `path` */
    int argc;                       /* entries used in argv */
    enum child_state state;
    pid_t pid;                      /* valid once started */
    int status;                     /* waitpid status once CHILD_EXITED */
    int asked;                      /* SIGTERM sent: an exit is expected */
    int killed;                     /* SIGKILL sent after the grace time */
};

/* Installs the SIGCHLD handler and blocks SIGCHLD, SIGINT and SIGTERM
 * (handlers for the last two come from proc_init()). */
void child_setup(void);

/* Prepares `c`; `name` must outlive it. `path` is copied; argv[0] is set
 * to it. Returns 0, or ERR_TOO_LARGE if `path` is too long. */
int child_init(struct child *c, const char *name, const char *path);

/* Appends one argument; `arg` must outlive the child's start. Too many
 * arguments is a programming error. */
void child_arg(struct child *c, const char *arg);

/* Forks and execs the child with stdin from /dev/null, stdout and stderr
 * inherited. Returns 0 once the exec succeeded, else ERR_IO with the
 * reason in `err` (a failed exec is detected here, not later). */
int child_start(struct child *c, char *err);

/* Non-blocking: returns 1 if `c` has just exited (state becomes
 * CHILD_EXITED and `status` is set), else 0. */
int child_reap(struct child *c);

/* Blocks until `c` exits; for after SIGKILL. */
void child_reap_wait(struct child *c);

/* Sends `sig` if `c` is running: SIGTERM sets `asked`; SIGKILL sets
 * `killed` and goes to the child's whole process group. */
void child_kill(struct child *c, int sig);

/* Sleeps up to `sec` seconds or until a signal (a child exiting, SIGINT,
 * SIGTERM) is delivered, whichever comes first. */
void child_pause(double sec);

/* "exited with status 1", "killed by signal 11 (Segmentation fault)". */
void child_describe(const struct child *c, char *buf, size_t n);

/* 1 if `c` exited with status 0. */
int child_clean(const struct child *c);

#endif
