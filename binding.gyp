{
  "targets": [
    {
      "target_name": "tsvisor_native",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/notify.cc",
        "native/addon/memory.cc",
        "native/addon/fdpass.cc",
        "native/addon/fsops.cc",
        "native/addon/ptrace.cc",
        "native/addon/net.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall"]
    },
    {
      "target_name": "tsvisor-launcher",
      "type": "executable",
      "sources": [
        "native/launcher/main.c",
        "native/launcher/jail.c",
        "native/launcher/gofer_root.c",
        "native/launcher/userns.c",
        "native/launcher/mounts.c",
        "native/launcher/util.c",
        "native/launcher/terminal.c",
        "native/launcher/exec_helper.c",
        "native/launcher/caps.c",
        "native/launcher/seccomp_profile.c",
        "native/launcher/hook.c"
      ],
      "cflags": ["-O2", "-Wall", "-std=gnu11"]
    },
    {
      "target_name": "tsvisor-gofer",
      "type": "executable",
      "sources": [
        "native/gofer/main.c",
        "native/gofer/wire.c",
        "native/gofer/ops.c",
        "native/gofer/identity.c",
        "native/gofer/jail.c"
      ],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    },
    {
      "target_name": "tsvisor",
      "type": "executable",
      "sources": ["native/front/tsvisor.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
