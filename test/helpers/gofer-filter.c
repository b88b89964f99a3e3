// gofer-filter OUTPUT: the gofer's seccomp policy exactly as native/gofer/jail.c
// builds it (this helper is compiled with that file): OUTPUT gets the raw BPF
// program, stdout one "NR NAME" line per syscall the gofer may make. Used by
// test/gofer-jail.test.ts to run the very program in filter-probe.c.
#define _GNU_SOURCE
#include <linux/filter.h>
#include <stdio.h>

#include "../../native/gofer/gofer.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gofer-filter OUTPUT\n");
    return 2;
  }
  struct sock_filter prog[BPF_MAXINSNS];
  size_t length = gofer_jail_build(prog, BPF_MAXINSNS);
  if (length == 0) return 1;
  FILE *out = fopen(argv[1], "wb");
  if (!out || fwrite(prog, sizeof prog[0], length, out) != length || fclose(out) != 0) return 1;
  const int *numbers;
  const char *const *names;
  size_t count = gofer_jail_allowed(&numbers, &names);
  for (size_t i = 0; i < count; i++) printf("%d %s\n", numbers[i], names[i]);
  return 0;
}
