/* tsvisor-launcher entry point: picks the mode. See launcher.h. */
#include "launcher.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "gofer") == 0) return gofer_root_main(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "app") == 0) {
    remember_arg_area(argc, argv);
    return jail_main(argc - 1, argv + 1);
  }
  if (argc >= 2 && strcmp(argv[1], "hook") == 0) return hook_main(argc - 1, argv + 1);
  fprintf(stderr, "usage: tsvisor-launcher gofer|app|hook ... (internal to tsvisor)\n");
  return 2;
}
