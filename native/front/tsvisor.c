/* tsvisor's front end: the executable that clients run (bin/tsvisor-runtime
 * links here), which execs Node on the bundled CLI (dist/bundle/main.cjs).
 *
 * It exists for start-up time. A shell script cost two forks to find its
 * own folder; and Node 20 reads and parses every certificate named by
 * NODE_EXTRA_CA_CERTS as it starts, before any JavaScript runs (about 45 ms
 * for Debian's 140-certificate bundle on a 2-vCPU VM, where Node's whole
 * start is 20 ms). tsvisor makes no TLS connection, so the front end moves
 * that variable aside, under TSVISOR_SAVED_NODE_EXTRA_CA_CERTS, and the CLI
 * puts it back first of all (cli/client-env.ts): what tsvisor runs (hooks,
 * `do`'s program) sees the environment it was given.
 *
 * Node is $TSVISOR_NODE when set, else `node` on PATH. Every argument is
 * passed on as it is. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HIDDEN_VAR "NODE_EXTRA_CA_CERTS"
#define SAVED_VAR "TSVISOR_SAVED_NODE_EXTRA_CA_CERTS"
/* From build/Release/tsvisor to the package root. */
#define CLI_FROM_ROOT "/dist/bundle/main.cjs"

static int fail(const char *what, const char *detail) {
  fprintf(stderr, "tsvisor: %s: %s\n", what, detail);
  return 127;
}

int main(int argc, char **argv) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return fail("cannot find this executable (/proc/self/exe)", strerror(errno));
  exe[n] = '\0';
  /* exe is ROOT/build/Release/tsvisor: three dirname()s give ROOT. */
  char *root = dirname(dirname(dirname(exe)));
  char cli[PATH_MAX];
  if (snprintf(cli, sizeof cli, "%s%s", root, CLI_FROM_ROOT) >= (int)sizeof cli) return fail("path too long", root);
  if (access(cli, R_OK) != 0) return fail(cli, "not built (run npm ci, or npm run build)");

  const char *certs = getenv(HIDDEN_VAR);
  if (certs) {
    if (setenv(SAVED_VAR, certs, 1) != 0 || unsetenv(HIDDEN_VAR) != 0) return fail("environment", strerror(errno));
  }

  const char *node = getenv("TSVISOR_NODE");
  if (!node || !*node) node = "node";
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) return fail("out of memory", "");
  args[0] = (char *)node;
  args[1] = cli;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execvp(node, args);
  return fail(node, strerror(errno));
}
