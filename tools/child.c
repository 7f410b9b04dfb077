/* child.c -- start, watch and stop supervised programs (see child.h). */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "child.h"
#include "err.h"
#include "util.h"

static sigset_t s_wait_mask;        /* mask while sleeping in child_pause */

/* Only there so SIGCHLD interrupts pselect; the loop reaps. */
static void s_on_chld(int sig)
{
    (void)sig;
}

void child_setup(void)
{
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_chld;
    sa.sa_flags = SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &s_wait_mask);
    /* Whatever we inherited, these three must get through while we wait. */
    sigdelset(&s_wait_mask, SIGCHLD);
    sigdelset(&s_wait_mask, SIGINT);
    sigdelset(&s_wait_mask, SIGTERM);
}

int child_init(struct child *c, const char *name, const char *path)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    if (strfmt(c->path, sizeof c->path, "%s", path) < 0)
        return ERR_TOO_LARGE;
    c->argv[0] = c->path;
    c->argc = 1;
    return 0;
}

void child_arg(struct child *c, const char *arg)
{
    assert(c->argc < CHILD_ARGV_MAX - 1);
    c->argv[c->argc++] = arg;
}

/* Runs in the forked child: only async-signal-safe calls from here on. */
static void s_exec(struct child *c, pid_t parent, int errfd)
{
    struct sigaction sa;
    sigset_t none;
    ssize_t w;
    int fd, e;

    setpgid(0, 0);
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)        /* the supervisor died before prctl */
        _exit(1);
#else
    (void)parent;
#endif
    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0 && fd != STDIN_FILENO) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    /* Ignored signals stay ignored across exec; caught ones must not fire
     * here before exec. Start the program with defaults and no mask. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    execv(c->path, (char *const *)c->argv);
    e = errno;
    w = write(errfd, &e, sizeof e);     /* nothing to do if this fails */
    (void)w;
    _exit(127);
}

int child_start(struct child *c, char *err)
{
    int fds[2], e = 0;
    pid_t parent = getpid(), pid;
    ssize_t n;

    assert(c->state == CHILD_NEW);
    c->argv[c->argc] = NULL;
    /* A close-on-exec pipe tells a failed exec (errno arrives) from a
     * successful one (EOF). */
    if (pipe(fds) < 0) {
        strfmt(err, ERR_LEN, "pipe: %s", strerror(errno));
        return ERR_IO;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        strfmt(err, ERR_LEN, "cannot start %s: fork: %s", c->name,
               strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return ERR_IO;
    }
    if (pid == 0) {
        close(fds[0]);
        s_exec(c, parent, fds[1]);
    }
    close(fds[1]);
    setpgid(pid, pid);              /* also in the child: whoever is first */
    c->pid = pid;
    c->state = CHILD_RUNNING;
    do
        n = read(fds[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(fds[0]);
    if (n == (ssize_t)sizeof e) {
        strfmt(err, ERR_LEN, "cannot start %s (%s): %s", c->name, c->path,
               strerror(e));
        child_reap_wait(c);
        return ERR_IO;
    }
    return 0;
}

int child_reap(struct child *c)
{
    pid_t r;
    int st;

    if (c->state != CHILD_RUNNING)
        return 0;
    do
        r = waitpid(c->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0)                      /* ECHILD: someone else reaped it */
        st = 0xff00;                /* report as "exited with status 255" */
    c->status = st;
    c->state = CHILD_EXITED;
    return 1;
}

void child_reap_wait(struct child *c)
{
    pid_t r;
    int st = 0xff00;

    if (c->state != CHILD_RUNNING)
        return;
    do
        r = waitpid(c->pid, &st, 0);
    while (r < 0 && errno == EINTR);
    c->status = st;
    c->state = CHILD_EXITED;
}

void child_kill(struct child *c, int sig)
{
    if (c->state != CHILD_RUNNING)
        return;
    if (sig == SIGTERM)
        c->asked = 1;
    if (sig == SIGKILL) {
        c->killed = 1;
        /* The whole group: nothing the child started may outlive it. */
        if (kill(-c->pid, sig) == 0)
            return;
    }
    kill(c->pid, sig);
}

void child_pause(double sec)
{
    struct timespec ts;

    if (sec <= 0)
        return;
    if (sec > 86400)                /* callers loop; keeps tv_sec small */
        sec = 86400;
    ts.tv_sec = (time_t)sec;
    ts.tv_nsec = (long)((sec - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec > 999999999L)
        ts.tv_nsec = 999999999L;
    pselect(0, NULL, NULL, NULL, &ts, &s_wait_mask);
}

void child_describe(const struct child *c, char *buf, size_t n)
{
    if (c->state != CHILD_EXITED)
        snprintf(buf, n, "is still running");
    else if (WIFEXITED(c->status))
        snprintf(buf, n, "exited with status %d", WEXITSTATUS(c->status));
    else if (WIFSIGNALED(c->status))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(c->status),
                 strsignal(WTERMSIG(c->status)));
    else
        snprintf(buf, n, "ended with wait status 0x%x", c->status);
}

int child_clean(const struct child *c)
{
    return c->state == CHILD_EXITED && WIFEXITED(c->status) &&
           WEXITSTATUS(c->status) == 0;
}
