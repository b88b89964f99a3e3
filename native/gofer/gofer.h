/* The gofer: the one process of a sandbox that opens host files. It serves
 * the tree below --root to the sentry over one SOCK_SEQPACKET socket, in the
 * protocol gofer/protocol.ts defines (that file is the schema; wire.c is its
 * C reading, byte for byte). Files: main.c (arguments, the serve loop),
 * wire.c (decode and encode), ops.c (the ops), identity.c (whose credentials
 * an op runs with), jail.c (the gofer's own seccomp filter). */
#ifndef TSVISOR_GOFER_H
#define TSVISOR_GOFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define PROTOCOL_VERSION 1
#define MAX_XATTR_BYTES 65536
#define MAX_GROUPS 16384
#define MAX_XATTR_NAME_BYTES 255
#define GOFER_PATH_MAX 4096
#define GOFER_NAME_MAX 255
#define MAX_MESSAGE_BYTES (MAX_XATTR_BYTES + 2 * GOFER_PATH_MAX)
#define MAX_PATH_BYTES (GOFER_PATH_MAX - 1)
#define MAX_COMPONENTS ((MAX_PATH_BYTES + 1) / 2)
#define MAX_SYMLINK_TARGET_BYTES (GOFER_PATH_MAX - 1)
#define DIRENTS_PAGE_BYTES 32768
#define WIRE_STATX_BYTES 256
#define WIRE_STATFS_BYTES 120
#define MAX_ERRNO 4095

enum gofer_op {
  OP_WALK = 1,
  OP_OPEN = 2,
  OP_MKDIR = 3,
  OP_MKNOD = 4,
  OP_UNLINK = 5,
  OP_RENAME = 6,
  OP_SYMLINK = 7,
  OP_LINK = 8,
  OP_CHMOD = 9,
  OP_CHOWN = 10,
  OP_UTIMES = 11,
  OP_TRUNCATE = 12,
  OP_STATFS = 13,
  OP_GETDENTS = 14,
  OP_READLINK = 15,
  OP_GETXATTR = 16,
  OP_LISTXATTR = 17,
  OP_SETXATTR = 18,
  OP_REMOVEXATTR = 19,
  OP_CREDS = 20,
  OP_ACCESS = 22,
  OP_BIND_SOCKET = 23,
  OP_SOCKET_TARGET = 24,
  OP_CHMOD_FD = 25,
  OP_CHOWN_FD = 26,
  OP_UTIMES_FD = 27,
  OP_REOPEN_FD = 28,
};

/* A path below the root as components; joined is "a/b/c" with its NUL ("" for the root). */
struct gofer_path {
  uint32_t count;
  uint32_t length;
  uint16_t start[MAX_COMPONENTS];
  char joined[MAX_PATH_BYTES + 1];
};

struct gofer_timespec {
  int64_t sec;
  uint32_t nsec;
};

/* A decoded request: the fields of its op (protocol.ts names them), the rest unused. */
struct gofer_request {
  uint32_t id;
  uint16_t op;
  struct gofer_path path;  /* path, or oldPath */
  struct gofer_path path2; /* newPath */
  uint32_t flags, mode;    /* flags: also the fd ops' AT_ flags */
  uint32_t uid, gid;       /* chown's and chownFd's uid/gid, creds' fsuid/fsgid */
  uint64_t dev;            /* mknod; creds' capabilities */
  int64_t length;          /* truncate */
  int64_t offset;          /* getdents */
  struct gofer_timespec atime, mtime;
  char target[MAX_SYMLINK_TARGET_BYTES + 1];
  char xname[MAX_XATTR_NAME_BYTES + 1];
  const uint8_t *value; /* setxattr's, inside the received message */
  uint32_t value_length;
  uint32_t ngroups;
  uint32_t groups[MAX_GROUPS];
};

/* wire.c */
struct wire_writer {
  uint8_t *buf;
  size_t pos, cap;
  bool overflow;
};

/* 0 on success, else the errno to answer with; *id_known / *op_known say
 * whether the header's id and opcode were read (the reply names them). */
int wire_decode_request(const uint8_t *msg, size_t length, struct gofer_request *req, bool *id_known, bool *op_known);
bool wire_op_known(uint32_t opcode);
bool wire_op_takes_fd(uint32_t opcode);
void wire_begin_reply(struct wire_writer *w, uint8_t *buf, size_t cap, uint32_t opcode, uint32_t id, int errno_value);
/* A reply carrying only errno (and walk's zeroed fields), as encodeErrorResponse. */
size_t wire_error_reply(uint8_t *buf, size_t cap, uint32_t opcode, uint32_t id, int errno_value);
void wire_u8(struct wire_writer *w, uint8_t v);
void wire_u32(struct wire_writer *w, uint32_t v);
void wire_u64(struct wire_writer *w, uint64_t v);
void wire_raw(struct wire_writer *w, const void *bytes, size_t n);
void wire_zeros(struct wire_writer *w, size_t n);
void wire_string(struct wire_writer *w, const void *bytes, uint32_t n);

/* identity.c */
struct identity {
  int own_error; /* -errno if the gofer's own capabilities could not be read */
  uint32_t permitted[2], inheritable[2];
};
void identity_init(struct identity *id);
int identity_assume(const struct identity *id, uint32_t fsuid, uint32_t fsgid, uint32_t ngroups,
                    const uint32_t *groups, uint64_t capabilities);

/* ops.c */
struct gofer_server {
  int root_fd;
  bool read_only;
  bool identity_lost; /* a creds op failed part way: serve no one until one succeeds */
  int request_fd;     /* the fd that came with the request (the socket and fd ops'), or -1 */
  int proc_fd_dir;    /* our own /proc/self/fd (O_PATH), where reopenFd opens; -errno if it could not be opened */
  struct identity identity;
  struct statx stx; /* WIRE_STATX_BYTES on the wire */
  uint8_t statfs_buf[WIRE_STATFS_BYTES];
  char link_buf[GOFER_PATH_MAX];
  char path_buf[GOFER_PATH_MAX];
  uint8_t dirent_buf[16384];
  uint8_t xattr_buf[MAX_XATTR_BYTES];
};
/* Handles one decoded request: the reply's length in out, *fd_out the fd to send (-1: none). */
size_t gofer_handle(struct gofer_server *s, const struct gofer_request *req, uint8_t *out, size_t cap, int *fd_out);

/* jail.c */
struct sock_filter;
/* The gofer's filter program into prog (room for cap instructions): its length. */
size_t gofer_jail_build(struct sock_filter *prog, size_t cap);
/* The allowed syscalls, for tests and review: count, and each number and name. */
size_t gofer_jail_allowed(const int **numbers, const char *const **names);
/* Installs the filter (no_new_privs first); NULL on success, else what failed, with *err its errno. */
const char *gofer_jail_enter(int *err);

#endif
