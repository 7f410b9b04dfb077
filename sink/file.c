/* file.c -- the file output: signals as JSON Lines, appended to --path.
 *
 * One compact JSON object per line, the same line `console --json`
 * prints. The file is opened in append mode and created if missing (mode
 * 0600), so runs accumulate in one file. A symbolic link as --path is
 * refused: nothing is written or cut through one.
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

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "sink.h"

struct file_out {
    FILE *f;                        /* opened for append */
    char path[1024];                /* for messages */
};

/* If a previous run died in the middle of a line, the file does not end
 * in '\n': the torn line is cut off (its signal comes again from the
 * engine's journal, as the state file was not past it). */
static void s_cut_torn_line(struct file_out *fo)
{
    int fd = open_private(fo->path, O_RDWR);   /* never a link's target */
    struct stat st;
    char buf[4096];
    off_t end, keep = 0;

    if (fd < 0)
        return;                     /* write-only file: cannot check */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
        pread(fd, buf, 1, st.st_size - 1) != 1 || buf[0] == '\n') {
        close(fd);
        return;
    }
    for (end = st.st_size; end > 0 && !keep;) {
        off_t from = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - from), from);
        if (n <= 0)
            break;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') {
                keep = from + i + 1;
                break;
            }
        end = from;
    }
    if (ftruncate(fd, keep) == 0)
        log_msg(LL_WARN, "%s: last line was incomplete (a previous run was "
                "cut short): %lld bytes removed; that signal is written "
                "again from the engine's journal", fo->path,
                (long long)(st.st_size - keep));
    else
        log_msg(LL_WARN, "%s: last line is incomplete and cannot be cut "
                "off: %s", fo->path, strerror(errno));
    close(fd);
}

/* The signals at the end of the file (its last SEEN_BYTES), for the
 * pipeline's duplicate filter and state. */
#define SEEN_BYTES (1 << 20)
static void s_seen(void *state, void (*fn)(void *arg, const char *eng,
                                           const char *id, uint64_t seq),
                   void *arg)
{
    struct file_out *fo = state;
    struct stat st;
    char line[65536];
    long size;
    FILE *f;

    if (stat(fo->path, &st) != 0 || !S_ISREG(st.st_mode) ||
        !(f = fopen(fo->path, "r")))
        return;                     /* a pipe or device holds nothing */
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > SEEN_BYTES) {
        fseek(f, size - SEEN_BYTES, SEEK_SET);
        if (!fgets(line, sizeof line, f)) {     /* a partial first line */
            fclose(f);
            return;
        }
    } else {
        rewind(f);
    }
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *eng = json_string_value(json_object_get(j, "engine"));
        json_t *seq = json_object_get(j, "seq");
        if (id && eng && json_is_integer(seq) && json_integer_value(seq) > 0)
            fn(arg, eng, id, (uint64_t)json_integer_value(seq));
        json_decref(j);
    }
    fclose(f);
}

static int s_state_path(void *state, char *out, size_t n)
{
    struct file_out *fo = state;
    return strfmt(out, n, "%s.state", fo->path) < 0 ? -1 : 0;
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
    s_cut_torn_line(fo);
    fd = open_private(fo->path, O_WRONLY | O_APPEND | O_CREAT);
    if (fd >= 0)
        fo->f = fdopen(fd, "a");
    if (!fo->f) {
        snprintf(err, ERR_LEN, "cannot open %s for appending: %s",
                 s_cfg.path, errno == ELOOP ? "it is a symbolic link "
                 "(refused; give the real path)" : strerror(errno));
        if (fd >= 0)
            close(fd);
        free(fo);
        return ERR_IO;
    }
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
    .seen = s_seen,
    .state_path = s_state_path,
};
