/* err.c -- names for livetrade's error codes. */
#include "err.h"

const char *err_str(int err)
{
    switch (err) {
    case ERR_OK: return "no error";
    case ERR_NOMEM: return "out of memory";
    case ERR_PARSE: return "malformed input";
    case ERR_INVALID: return "invalid value";
    case ERR_TOO_LARGE: return "too large";
    case ERR_IO: return "I/O error";
    case ERR_TIMEOUT: return "timed out";
    case ERR_NOTFOUND: return "not found";
    case ERR_OLD: return "out of order";
    case ERR_LUA: return "strategy error";
    case ERR_USAGE: return "bad usage";
    }
    return "unknown error";
}
