/* runrec.c -- the records of running pipelines (see runrec.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "runrec.h"
#include "util.h"

#define RUNS_MAX 64                 /* records read at most */

char *runrec_dir(char *out, size_t n)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");

    if (rt && *rt == '/')
        return strfmt(out, n, "%s/livetrade", rt) < 0 ? NULL : out;
    return xdg_dir("state", out, n);
}

int runrec_write(const char *rundir, const char *const *eps, int neps,
                 char *rec, char *err)
{
    char dir[PATH_MAX], tmp[PATH_MAX];
    FILE *f;
    int rc = 0;

    rec[0] = '\0';
    if (!runrec_dir(dir, sizeof dir)) {
        strfmt(err, ERR_LEN, "no directory for the run's record (set "
               "XDG_RUNTIME_DIR, XDG_STATE_HOME or HOME)");
        return ERR_IO;
    }
    if (mkdir_p(dir, err))
        return ERR_IO;
    if (strfmt(rec, PATH_MAX, "%s/run-%d", dir, (int)getpid()) < 0 ||
        strfmt(tmp, sizeof tmp, "%s.tmp", rec) < 0) {
        strfmt(err, ERR_LEN, "%s: name too long", dir);
        rec[0] = '\0';
        return ERR_IO;
    }
    /* Written aside and renamed: status never reads half a record. */
    f = fopen(tmp, "w");
    if (!f) {
        strfmt(err, ERR_LEN, "cannot write %s: %s", tmp, strerror(errno));
        rec[0] = '\0';
        return ERR_IO;
    }
    fprintf(f, "pid %d\ndir %s\n", (int)getpid(), rundir);
    for (int i = 0; i < neps; i++)
        fprintf(f, "status %s\n", eps[i]);
    if (fclose(f) != 0 || rename(tmp, rec) != 0) {
        strfmt(err, ERR_LEN, "cannot write %s: %s", rec, strerror(errno));
        unlink(tmp);
        rec[0] = '\0';
        rc = ERR_IO;
    }
    return rc;
}

void runrec_remove(const char *rec)
{
    if (rec && *rec)
        unlink(rec);
}

/* Reads one record into eps[*n..]; removes it if its run is gone. */
static void s_read(const char *path, char (*eps)[RUNREC_EP_MAX], int max,
                   int *n)
{
    char line[PATH_MAX + 16];
    char got[RUNS_MAX][RUNREC_EP_MAX];
    int ngot = 0, dir_ok = 0;
    int64_t pid = 0;
    struct stat st;
    FILE *f = fopen(path, "r");

    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "pid ", 4) == 0 &&
            (parse_int64(line + 4, &pid) != 0 || pid > INT_MAX))
            pid = 0;
        else if (strncmp(line, "dir ", 4) == 0)
            dir_ok = stat(line + 4, &st) == 0 && S_ISDIR(st.st_mode);
        else if (strncmp(line, "status ", 7) == 0 && ngot < RUNS_MAX &&
                 strfmt(got[ngot], RUNREC_EP_MAX, "%s", line + 7) >= 0)
            ngot++;
    }
    fclose(f);
    if (pid <= 0 || !dir_ok || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
        unlink(path);               /* the run was killed: stale */
        return;
    }
    for (int i = 0; i < ngot && *n < max; i++)
        memcpy(eps[(*n)++], got[i], RUNREC_EP_MAX);
}

int runrec_find(char (*eps)[RUNREC_EP_MAX], int max, char *where,
                size_t where_n)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct dirent *de;
    DIR *d;
    int n = 0, seen = 0;

    where[0] = '\0';
    if (!runrec_dir(dir, sizeof dir))
        return 0;
    strfmt(where, where_n, "%s", dir);
    d = opendir(dir);
    if (!d)
        return 0;
    while ((de = readdir(d)) != NULL && seen < RUNS_MAX) {
        const char *nm = de->d_name;
        if (strncmp(nm, "run-", 4) != 0 || strchr(nm, '.'))
            continue;
        seen++;
        if (strfmt(path, sizeof path, "%s/%s", dir, nm) >= 0)
            s_read(path, eps, max, &n);
    }
    closedir(d);
    return n;
}
