/* lwslog.h -- libwebsockets' log lines through livetrade's log.
 *
 * libwebsockets logs to stderr in its own format by default. Every
 * program that makes a libwebsockets context calls lwslog_init() first:
 * from then on its errors and warnings (the only levels kept) come out as
 * livetrade log lines, "lws: TEXT", errors at WARN and warnings at
 * DEBUG. */
#ifndef LT_LWSLOG_H
#define LT_LWSLOG_H

/* Routes libwebsockets' log into log_msg. The setting is process-wide;
 * calling it again is harmless. */
void lwslog_init(void);

/* One libwebsockets line of level `level` (LLL_*) as a log line, its
 * trailing newline dropped (what lwslog_init installs). */
void lwslog_emit(int level, const char *line);

#endif
