/* cmd.h -- the subcommands of `livetrade`. Each takes the arguments from
 * its own name on (argv[0] is "run") and returns the exit code: 0, 1 on
 * failure, 2 on bad usage. A new subcommand is one function here and one
 * entry in the table in livetrade.c. */
#ifndef LT_CMD_H
#define LT_CMD_H

/* `livetrade run`: feeder, engine and console sink under supervision. */
int cmd_run(int argc, char **argv);
/* `livetrade backtest`: a strategy over a CSV file, backtesting.py's
 * statistics and its trades, equity curve and calls in files. */
int cmd_backtest(int argc, char **argv);
/* `livetrade keygen`: CURVE keys for the bus (curve.h). */
int cmd_keygen(int argc, char **argv);
/* `livetrade status`: every component's status reply on one screen. */
int cmd_status(int argc, char **argv);

#endif
