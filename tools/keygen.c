/* keygen.c -- `livetrade keygen DIR [--name NAME]`: CURVE keys for the bus
 * (curve.h). Creates DIR (mode 0700) with the deployment's server key
 * pairs, one per role, unless they are there already, then a client key
 * pair for this host or program, authorised at once:
 *
 *   DIR/feeder.key  DIR/feeder.pub        (kept if present)
 *   DIR/engine.key  DIR/engine.pub        (kept if present)
 *   DIR/client.key                        (--name client, the default)
 *   DIR/authorized/client.pub
 *
 * With --name NAME the client pair is DIR/NAME.key and the public key
 * goes to DIR/authorized/NAME.pub: copy DIR to another host, rename that
 * host's NAME.key to client.key there, and it may connect.
 *
 * --allow LIST (endpoint names: feeder-pub, feeder-rep, engine-pub,
 * engine-rep) writes `allow = "LIST"` into authorized/NAME.pub: the key
 * may then use only those endpoints (a sink: engine-pub,engine-rep).
 * A host holds the secret key only of the role it runs: a feeder's host
 * feeder.key and engine.pub, an engine's engine.key and feeder.pub, a
 * host that only connects (a sink) the .pub files and its client.key.
 * A directory of the older layout (server.key, one pair for every role)
 * is kept as it is: new role pairs there would lock out the hosts that
 * hold its server.pub. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "curve.h"
#include "err.h"
#include "flags.h"
#include "proc.h"
#include "util.h"

#define PROG "livetrade keygen"

/* The role pairs of DIR, each written unless there; none in a directory
 * of the older layout. 0, or ERR_IO with a reason. */
static int s_server_pairs(const char *dir, char *err)
{
    static const char *const roles[] = { "feeder", "engine" };
    char path[1200], pub[1200];
    int rc, any = 0;

    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.key", dir, roles[i]);
        any |= access(path, F_OK) == 0;
    }
    snprintf(path, sizeof path, "%s/server.key", dir);
    if (!any && access(path, F_OK) == 0) {
        printf("server key pair: %s (kept: the older layout, one pair for "
               "every role)\n", path);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.key", dir, roles[i]);
        snprintf(pub, sizeof pub, "%s/%s.pub", dir, roles[i]);
        if (access(path, F_OK) == 0) {
            printf("%s key pair: %s (kept)\n", roles[i], path);
            continue;
        }
        rc = curve_write_pair(path, pub, err);
        if (rc)
            return rc;
        printf("%s key pair: %s (secret), %s\n", roles[i], path, pub);
    }
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    const char *name = "client", *allow = NULL;
    char err[ERR_LEN], path[1200], pub[1200], dirbuf[1100];
    const char *dir;
    const struct opt opts[] = {
        { "name", OPT_STR, &name, NULL, "NAME",
          "the client key's name (default client)" },
        { "allow", OPT_STR, &allow, NULL, "LIST",
          "endpoints the key may use: feeder-pub, feeder-rep, engine-pub, "
          "engine-rep (default: all)" },
        { 0 }
    };
    struct flags fl = {
        .prog = PROG, .usage = PROG " DIR [--name NAME] [--allow LIST]",
        .tables = { opts },
    };
    const char *pos[2];
    unsigned bits;
    int npos = 0, rc;
    FILE *f;

    rc = flags_parse(&fl, argc, argv, 1, pos, 2, &npos, err);
    if (rc == 1) {
        flags_usage(&fl);
        return 0;
    }
    if (rc)
        return proc_usage_error(PROG, err);
    if (npos != 1)
        return proc_usage_error(PROG, "give one directory, e.g. "
                                "livetrade keygen /etc/livetrade/curve");
    if (!*name || strchr(name, '/') || strcmp(name, "server") == 0 ||
        strcmp(name, "feeder") == 0 || strcmp(name, "engine") == 0)
        return proc_usage_error(PROG, "--name must be a plain file name "
                                "other than server, feeder and engine");
    if (allow && curve_allow_parse(allow, &bits, err)) {
        char line[ERR_LEN + 16];
        snprintf(line, sizeof line, "--allow: %s", err);
        return proc_usage_error(PROG, line);
    }
    dir = pos[0];
    if (strfmt(dirbuf, sizeof dirbuf, "%s/authorized", dir) < 0)
        return proc_usage_error(PROG, "directory name too long");
    if (mkdir_p(dirbuf, err)) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    chmod(dir, 0700);
    rc = s_server_pairs(dir, err);
    if (rc) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(pub, sizeof pub, "%s/authorized/%s.pub", dir, name);
    if (curve_write_pair(path, pub, err)) {
        fprintf(stderr, PROG ": %s%s\n", err, errno == EEXIST ?
                " (remove it first to make a new one)" : "");
        return 1;
    }
    if (allow) {
        f = fopen(pub, "a");
        if (!f || fprintf(f, "    allow = \"%s\"\n", allow) < 0 ||
            fclose(f) != 0) {
            fprintf(stderr, PROG ": %s: %s\n", pub, strerror(errno));
            return 1;
        }
    }
    printf("client key pair: %s (secret), authorised as %s%s%s\n", path,
           pub, allow ? " for " : "", allow ? allow : "");
    return 0;
}
