/* livetrade.c -- the one-command front end: `livetrade <command> ...`.
 *
 * Subcommands live in a table; each is a function declared in cmd.h. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "err.h"
#include "proc.h"
#include "util.h"

struct cmd {
    const char *name;               /* as typed: "run" */
    int (*fn)(int argc, char **argv);
    const char *summary;            /* one line for the usage text */
};

static const struct cmd s_cmds[] = {
    { "run", cmd_run,
      "run feeder, engine and a console sink as one pipeline" },
    { "backtest", cmd_backtest,
      "run a strategy over a CSV file; print backtesting.py's statistics" },
    { "keygen", cmd_keygen,
      "write CURVE keys that encrypt and authenticate the bus" },
    { "status", cmd_status,
      "show every component it can reach: up or down, counters, symbols" },
    { NULL, NULL, NULL }
};

static void s_usage(FILE *f)
{
    fprintf(f, "usage: livetrade <command> [flags]\n\ncommands:\n");
    for (const struct cmd *c = s_cmds; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\nSee 'livetrade <command> --help' for a command's "
               "flags.\n");
}

int main(int argc, char **argv)
{
    char err[ERR_LEN], names[128] = "";
    const char *name;
    size_t len = 0;

    proc_init("livetrade");
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
        strcmp(name, "help") == 0) {
        s_usage(stdout);
        return 0;
    }
    for (const struct cmd *c = s_cmds; c->name; c++) {
        int n;
        if (strcmp(c->name, name) == 0)
            return c->fn(argc - 1, argv + 1);
        n = strfmt(names + len, sizeof names - len, "%s%s",
                   c == s_cmds ? "" : ", ", c->name);
        if (n > 0)
            len += (size_t)n;
    }
    strfmt(err, sizeof err, "unknown command '%s' (expected %s)", name,
           names);
    return proc_usage_error("livetrade", err);
}
