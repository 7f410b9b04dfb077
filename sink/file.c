/* file.c -- the file output: signals as JSON Lines, appended to --path.
 *
 * One compact JSON object per line, the same line `console --json`
 * prints. The file is opened in append mode and created if missing, so
 * runs accumulate in one file.
 *
 * Durability: each line is flushed (fflush) as soon as it is written, so
 * a reader tailing the file sees it at once and a crash or kill of this
 * process loses nothing already handed over. Lines are not fsync'ed one
 * by one: that would cost a disk flush (milliseconds) per signal, and
 * what a power failure could take is recoverable -- the engine journals
 * every signal and sinks drop replayed ids. One fdatasync runs at close. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "sink.h"

struct file_out {
    FILE *f;                        /* opened for append */
    char path[1024];                /* for messages */
};

/* If a previous run died in the middle of a line, the file does not end
 * in '\n'; start on a fresh line so the torn record stays on its own. */
static void s_end_torn_line(struct file_out *fo)
{
    int fd = open(fo->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char last;

    if (fd < 0)
        return;                     /* write-only file: cannot check */
    if (fstat(fd, &st) == 0 && st.st_size > 0 &&
        pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') {
        log_msg(LL_WARN, "%s: last line is incomplete (a previous run was "
                "cut short); starting on a new line", fo->path);
        fputc('\n', fo->f);
        fflush(fo->f);
    }
    close(fd);
}

/* Settings from the file output's own flags. */
static struct {
    const char *path;               /* --path */
} s_cfg;

static const struct opt s_opts[] = {
    { "path", OPT_STR, &s_cfg.path, NULL, "FILE",
      "JSON Lines file to append to (created if missing; required)" },
    { 0 }
};

static int s_open(void **state, char *info, char *err)
{
    struct file_out *fo;
    int fd;

    if (!s_cfg.path || !s_cfg.path[0]) {
        snprintf(err, ERR_LEN, "file: --path is required");
        return ERR_USAGE;
    }
    fo = calloc(1, sizeof *fo);
    if (!fo) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    if (strfmt(fo->path, sizeof fo->path, "%s", s_cfg.path) < 0) {
        snprintf(err, ERR_LEN, "file: path too long");
        free(fo);
        return ERR_USAGE;
    }
    fd = open(fo->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        fo->f = fdopen(fd, "a");
    if (!fo->f) {
        snprintf(err, ERR_LEN, "cannot open %s for appending: %s",
                 s_cfg.path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(fo);
        return ERR_IO;
    }
    s_end_torn_line(fo);
    snprintf(info, ERR_LEN, "appending JSON Lines to %s", s_cfg.path);
    *state = fo;
    return ERR_OK;
}

static int s_write(void *state, const struct signal *s)
{
    struct file_out *fo = state;
    return sink_write_json(fo->f, s);
}

static void s_close(void **state)
{
    struct file_out *fo = *state;

    if (!fo)
        return;
    /* EINVAL: a pipe or device (--path /dev/stdout) has nothing to sync. */
    if (fflush(fo->f) != 0 ||
        (fdatasync(fileno(fo->f)) != 0 && errno != EINVAL))
        log_msg(LL_ERROR, "%s: %s", fo->path, strerror(errno));
    if (fclose(fo->f) != 0)
        log_msg(LL_ERROR, "%s: close: %s", fo->path, strerror(errno));
    free(fo);
    *state = NULL;
}

const struct sink_ops sink_file = {
    .name = "file",
    .summary = "append signals as JSON Lines to a file",
    .usage = "--path FILE",
    .opts = s_opts,
    .open = s_open,
    .write = s_write,
    .close = s_close,
};
