/* err.h -- livetrade's one error enum. Append only; never renumber. */
#ifndef LT_ERR_H
#define LT_ERR_H

enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,       /* allocation failed */
    ERR_PARSE = -2,       /* malformed input (msgpack, JSON, flag value) */
    ERR_INVALID = -3,     /* well-formed but invalid (NaN price, high < low) */
    ERR_TOO_LARGE = -4,   /* a bounded buffer or queue would overflow */
    ERR_IO = -5,          /* OS or socket failure */
    ERR_TIMEOUT = -6,     /* no answer in time */
    ERR_NOTFOUND = -7,    /* unknown symbol, key or file */
    ERR_OLD = -8,         /* out of order: older than what was seen */
    ERR_LUA = -9,         /* strategy error */
    ERR_USAGE = -10       /* bad command line */
};

#define ERR_LEN 256       /* size of the caller buffers that take messages */

const char *err_str(int err);

#endif
