/* keygen.c -- `livetrade keygen DIR [--name NAME]`: CURVE keys for the bus
 * (curve.h). Creates DIR (mode 0700) with the deployment's server key
 * pair unless it is there already, then a client key pair for this host
 * or program, authorised at once:
 *
 *   DIR/server.key  DIR/server.pub        (kept if present)
 *   DIR/client.key                        (--name client, the default)
 *   DIR/authorized/client.pub
 *
 * With --name NAME the client pair is DIR/NAME.key and the public key
 * goes to DIR/authorized/NAME.pub: copy DIR to another host, rename that
 * host's NAME.key to client.key there, and it may connect. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "proc.h"
#include "util.h"

#define PROG "livetrade keygen"

int cmd_keygen(int argc, char **argv)
{
    const char *name = "client";
    char err[ERR_LEN], path[1200], pub[1200], dirbuf[1100];
    const char *dir;
    const struct opt opts[] = {
        { "name", OPT_STR, &name, NULL, "NAME",
          "the client key's name (default client)" },
        { NULL, 0, NULL, NULL, NULL, NULL }
    };
    const char *pos[2];
    int npos = 0, rc;

    rc = config_parse(opts, argc, argv, 1, pos, 2, &npos, err);
    if (rc == 1) {
        config_usage(PROG " DIR [--name NAME]", opts);
        return 0;
    }
    if (rc)
        return proc_usage_error(PROG, err);
    if (npos != 1)
        return proc_usage_error(PROG, "give one directory, e.g. "
                                "livetrade keygen /etc/livetrade/curve");
    if (!*name || strchr(name, '/') || strcmp(name, "server") == 0)
        return proc_usage_error(PROG, "--name must be a plain file name "
                                "other than server");
    dir = pos[0];
    if (strfmt(dirbuf, sizeof dirbuf, "%s/authorized", dir) < 0)
        return proc_usage_error(PROG, "directory name too long");
    if (mkdir_p(dirbuf, err)) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    chmod(dir, 0700);
    snprintf(path, sizeof path, "%s/server.key", dir);
    snprintf(pub, sizeof pub, "%s/server.pub", dir);
    if (access(path, F_OK) != 0) {
        if (curve_write_pair(path, pub, err)) {
            fprintf(stderr, PROG ": %s\n", err);
            return 1;
        }
        printf("server key pair: %s (secret), %s\n", path, pub);
    } else {
        printf("server key pair: %s (kept)\n", path);
    }
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(pub, sizeof pub, "%s/authorized/%s.pub", dir, name);
    if (curve_write_pair(path, pub, err)) {
        fprintf(stderr, PROG ": %s%s\n", err, errno == EEXIST ?
                " (remove it first to make a new one)" : "");
        return 1;
    }
    printf("client key pair: %s (secret), authorised as %s\n", path, pub);
    return 0;
}
