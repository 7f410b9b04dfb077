/* test_spool_files.h -- file helpers for the unit tests of spools
 * (test_spool.c, test_exec_spool.c): read a file whole, write one, and
 * remove a spool with its lock and its temporary directory. Include
 * after cmocka.h. */
#ifndef LT_TEST_SPOOL_FILES_H
#define LT_TEST_SPOOL_FILES_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *s_read_file(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void s_write_file(const char *path, const char *mode,
                         const char *text)
{
    FILE *f = fopen(path, mode);

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Removes the spool at path, its lock, and dir with what is left in it
 * (an empty subdirectory). */
static void s_remove(const char *dir, const char *path)
{
    char p[256];
    const char *slash = strrchr(path, '/');

    unlink(path);
    snprintf(p, sizeof p, "%s.lock", path);
    unlink(p);
    snprintf(p, sizeof p, "%.*s", (int)(slash - path), path);
    if (strcmp(p, dir) != 0)
        rmdir(p);
    rmdir(dir);
}

#endif
