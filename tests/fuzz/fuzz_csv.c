/* fuzz_csv.c -- a CSV file for the csv feeder and backtests: csv_load
 * (both layouts, times, extra columns), read from an in-memory file. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "csv.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    struct csv_opts o = { 0 };
    struct csv_data d;
    char path[64], err[ERR_LEN];

    if (fd < 0)
        fd = memfd_create("fuzz.csv", 0);
    if (fd < 0 || ftruncate(fd, 0) != 0 ||
        pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    o.symbol = "GOOG";
    o.max_rows = 10000;
    csv_load(path, &o, &d, err);
    csv_data_free(&d);
    return 0;
}
