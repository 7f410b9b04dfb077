/* lwslog.c -- libwebsockets' log lines through livetrade's log. */
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "lwslog.h"

void lwslog_emit(int level, const char *line)
{
    size_t n = strlen(line);

    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_msg(level == LLL_ERR ? LL_WARN : LL_DEBUG, "lws: %.*s", (int)n,
            line);
}

void lwslog_init(void)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, lwslog_emit);
}
