/* spool.c -- a file of lines appended to and read back at the next start
 * (see spool.h): its lock, the append, the read-back and the rewrite,
 * with one failure policy for every output that keeps one. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "spool_int.h"
#include "util.h"

/* {==================== plain files =================== */

/* Writes all of buf to fd. 0, or -1 with errno set. */
static int s_write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            errno = EIO;
        if (k <= 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Syncs the directory holding `path`, so a rename in it is durable. */
static int s_sync_dir(const char *path)
{
    char dir[SPOOL_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, rc;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 :
                 (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

int spool_file_append(const char *path, const char *buf, size_t n)
{
    int fd = open_private(path, O_RDWR | O_APPEND | O_CREAT);
    struct stat st;
    char last;
    int rc, e;

    if (fd < 0)
        return -1;
    rc = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0 &&
        pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
        rc = s_write_all(fd, "\n", 1);
    if (rc == 0)
        rc = s_write_all(fd, buf, n);
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

int spool_file_replace(FILE *f, const char *tmp, const char *path)
{
    int rc = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0 ? 0
                                                                   : -1;
    int e = rc ? (errno ? errno : EIO) : 0;

    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = e;
        return -1;
    }
    /* Renamed: the file is in place even if the directory cannot be
     * synced (some file systems refuse); only a power cut may undo it. */
    s_sync_dir(path);
    return 0;
}

/* }==================================================== */

/* {==================== open and close ================ */

/* A reason for a failed open of `path` in err: a symbolic link is
 * named as such. */
static void s_open_error(const char *what, const char *path, char *err)
{
    if (errno == ELOOP)
        snprintf(err, ERR_LEN, "%s %.150s is a symbolic link (refused: "
                 "give the file itself)", what, path);
    else
        snprintf(err, ERR_LEN, "cannot open %s %.150s: %s", what, path,
                 strerror(errno));
}

spool_t *spool_open(const char *path, const char *who, char *err)
{
    spool_t *self = calloc(1, sizeof *self);
    char dir[SPOOL_PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->fd = self->lock_fd = -1;
    self->lim_io = (struct log_limit)LOG_LIMIT_INIT;
    snprintf(self->who, sizeof self->who, "%s", who);
    if (strfmt(self->path, sizeof self->path, "%s", path) < 0) {
        snprintf(err, ERR_LEN, "--spool: path too long");
        goto fail;
    }
    snprintf(self->lock, sizeof self->lock, "%s.lock", path);
    if (slash && slash != path) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        if (mkdir_p(dir, err) != 0)
            goto fail;
    }
    self->lock_fd = open_private(self->lock, O_RDWR | O_CREAT);
    if (self->lock_fd < 0) {
        s_open_error("the lock file", self->lock, err);
        goto fail;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, ERR_LEN, "the spool %.150s is in use by another "
                 "livetrade-sink %.16s (give each its own --spool)", path,
                 self->who);
        goto fail;
    }
    return self;
fail:
    spool_destroy(&self);
    return NULL;
}

void spool_destroy(spool_t **self_p)
{
    spool_t *self = *self_p;

    if (!self)
        return;
    if (self->fd >= 0) {
        if (fdatasync(self->fd) != 0)
            log_msg(LL_ERROR, "%s: %s: %s", self->who, self->path,
                    strerror(errno));
        close(self->fd);
    }
    if (self->lock_fd >= 0)
        close(self->lock_fd);       /* releases the lock */
    free(self);
    *self_p = NULL;
}

const char *spool_path(const spool_t *self)
{
    return self->path;
}

uint64_t spool_lines(const spool_t *self)
{
    return self->lines;
}

/* }==================================================== */

/* {==================== reading back ================== */

/* One WARN line for the lines a read-back skipped: `bad` of `no`, the
 * first at `first`; `torn`: the last one was cut short. */
static void s_warn_skipped(const spool_t *self, uint64_t bad,
                           uint64_t first, uint64_t no, int torn)
{
    if (torn)
        log_msg(LL_WARN, "%s: spool %s: its last line (line %llu) is "
                "damaged, cut short by a crash; using the %llu lines "
                "before it (%llu unreadable lines skipped)", self->who,
                self->path, (unsigned long long)no,
                (unsigned long long)(no - 1), (unsigned long long)bad);
    else
        log_msg(LL_WARN, "%s: spool %s: %llu unreadable lines skipped "
                "(the first is line %llu of %llu)", self->who, self->path,
                (unsigned long long)bad, (unsigned long long)first,
                (unsigned long long)no);
}

int spool_read(spool_t *self, spool_line_fn *fn, void *arg, char *err)
{
    int fd = open_private(self->path, O_RDONLY);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t no = 0, bad = 0, first = 0;
    int rc = 0, torn = 0, warn = !self->reads++;

    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (e == ENOENT)
            return 0;
        errno = e;
        s_open_error("the spool", self->path, err);
        errno = e;
        return -1;
    }
    while (rc >= 0 && (n = getline(&line, &cap, f)) > 0) {
        no++;
        torn = line[n - 1] != '\n';
        if (n == 1 && !torn)
            continue;               /* empty */
        rc = torn || (size_t)n > SPOOL_LINE_MAX ? 1 :
             fn(arg, line, (size_t)n, no);
        if (rc == 1 && !bad++)
            first = no;
    }
    free(line);
    fclose(f);
    if (rc < 0) {
        snprintf(err, ERR_LEN, "reading the spool %.150s: %s", self->path,
                 rc == ERR_NOMEM ? "out of memory" : err_str(rc));
        errno = rc == ERR_NOMEM ? ENOMEM : EIO;
        return -1;
    }
    if (bad && warn)
        s_warn_skipped(self, bad, first, no, torn);
    return 0;
}

/* }==================================================== */

/* {==================== appending and rewriting ======= */

int spool_append(spool_t *self, const char *buf, size_t n, uint64_t lines)
{
    if (self->broken || self->fd < 0) {
        errno = self->broken ? self->broken_errno : EBADF;
        return -1;
    }
    if (s_write_all(self->fd, buf, n) != 0) {
        self->broken = 1;
        self->broken_errno = errno;
        self->retry_at = mono_ms() + SPOOL_RETRY_MS;
        log_limited(&self->lim_io, LL_ERROR, "%s: cannot append to the "
                    "spool %s: %s; what is taken from now on is lost if "
                    "the sink is killed, until it can be rewritten",
                    self->who, self->path, strerror(errno));
        return -1;
    }
    self->lines += lines;
    self->appended += lines;
    return 0;
}

int spool_rewrite(spool_t *self, spool_write_fn *fn, void *arg)
{
    char tmp[SPOOL_PATH_MAX + 16];
    FILE *f = tmp_private(self->path, tmp, sizeof tmp);
    long lines;
    int fd, e;

    if (!f)
        return -1;
    errno = 0;
    lines = fn(arg, f);
    if (lines < 0) {
        e = errno ? errno : EIO;
        fclose(f);
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (spool_file_replace(f, tmp, self->path) != 0)
        return -1;
    fd = open_private(self->path, O_WRONLY | O_APPEND);
    e = errno;
    if (self->fd >= 0)
        close(self->fd);
    self->fd = fd;
    self->lines = (uint64_t)lines;
    self->appended = 0;
    self->broken = fd < 0;
    self->broken_errno = e;
    self->retry_at = mono_ms() + SPOOL_RETRY_MS;
    errno = e;
    return fd < 0 ? -1 : 0;
}

int spool_compact(spool_t *self, spool_write_fn *fn, void *arg, int force)
{
    if (!force && (self->broken ? mono_ms() < self->retry_at :
                   self->appended < SPOOL_COMPACT_LINES))
        return self->broken ? -1 : 0;
    if (spool_rewrite(self, fn, arg) == 0)
        return 1;
    log_limited(&self->lim_io, LL_ERROR, "%s: cannot rewrite the spool "
                "%s: %s", self->who, self->path, strerror(errno));
    self->retry_at = mono_ms() + SPOOL_RETRY_MS;
    if (self->broken)
        return -1;
    self->appended = 0;             /* intact: try after as many again */
    return 0;
}

/* }==================================================== */
