/* The gofer protocol's bytes (gofer/protocol.ts is the schema): requests
 * decoded with every length bounded before it is used and every message
 * consumed exactly, and replies encoded. The errno each bad request gets is
 * the one protocol.ts's decodeRequest gives (test/gofer-protocol.test.ts
 * fuzzes both decoders against each other). */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <string.h>

struct reader {
  const uint8_t *msg;
  size_t pos, end;
};

static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static size_t remaining(const struct reader *r) {
  return r->end - r->pos;
}

/* The offset of the next n bytes, or -1 (EINVAL: truncated). */
static long take(struct reader *r, size_t n) {
  if (n > remaining(r)) return -1;
  size_t at = r->pos;
  r->pos += n;
  return (long)at;
}

#define TRY(expr)          \
  do {                     \
    int err_ = (expr);     \
    if (err_ != 0) return err_; \
  } while (0)

static int read_u32(struct reader *r, uint32_t *out) {
  long at = take(r, 4);
  if (at < 0) return EINVAL;
  *out = get_u32(r->msg + at);
  return 0;
}

static int read_i64big(struct reader *r, int64_t *out) {
  long at = take(r, 8);
  if (at < 0) return EINVAL;
  *out = (int64_t)get_u64(r->msg + at);
  return 0;
}

/* A u64 the client handles as a JS number: at most 2^53-1. */
static int read_u64_safe(struct reader *r, uint64_t *out) {
  long at = take(r, 8);
  if (at < 0) return EINVAL;
  uint64_t v = get_u64(r->msg + at);
  if ((v >> 32) > 0x1fffff) return EINVAL;
  *out = v;
  return 0;
}

/* An i64 the client handles as a JS number: ±(2^53-1). */
static int read_i64_safe(struct reader *r, int64_t *out) {
  long at = take(r, 8);
  if (at < 0) return EINVAL;
  int64_t v = (int64_t)get_u64(r->msg + at);
  const int64_t max_safe = ((int64_t)1 << 53) - 1;
  if (v < -max_safe || v > max_safe) return EINVAL;
  *out = v;
  return 0;
}

/* A u32-length-prefixed byte string of at most max bytes (too_long if longer). */
static int read_string(struct reader *r, uint32_t max, int too_long, const uint8_t **bytes, uint32_t *length) {
  uint32_t n;
  TRY(read_u32(r, &n));
  if (n > max) return too_long;
  long at = take(r, n);
  if (at < 0) return EINVAL;
  *bytes = r->msg + at;
  *length = n;
  return 0;
}

static int read_path(struct reader *r, struct gofer_path *p) {
  uint32_t count;
  TRY(read_u32(r, &count));
  if (count > MAX_COMPONENTS) return ENAMETOOLONG;
  /* Each component takes at least 5 bytes (length + one byte). */
  if ((uint64_t)count * 5 > remaining(r)) return EINVAL;
  uint32_t joined = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *name;
    uint32_t length;
    TRY(read_string(r, GOFER_NAME_MAX, ENAMETOOLONG, &name, &length));
    if (length == 0) return EINVAL;
    if (memchr(name, 0, length) || memchr(name, '/', length)) return EINVAL;
    if ((length == 1 && name[0] == '.') || (length == 2 && name[0] == '.' && name[1] == '.')) return EINVAL;
    uint32_t at = joined + (i > 0 ? 1 : 0);
    joined = at + length;
    if (joined > MAX_PATH_BYTES) return ENAMETOOLONG;
    if (i > 0) p->joined[at - 1] = '/';
    memcpy(p->joined + at, name, length);
    p->start[i] = (uint16_t)at;
  }
  p->joined[joined] = 0;
  p->count = count;
  p->length = joined;
  return 0;
}

static int read_target(struct reader *r, char *out) {
  const uint8_t *bytes;
  uint32_t length;
  TRY(read_string(r, MAX_SYMLINK_TARGET_BYTES, ENAMETOOLONG, &bytes, &length));
  if (length == 0) return ENOENT;
  if (memchr(bytes, 0, length)) return EINVAL;
  memcpy(out, bytes, length);
  out[length] = 0;
  return 0;
}

static int read_xname(struct reader *r, char *out) {
  const uint8_t *bytes;
  uint32_t length;
  TRY(read_string(r, MAX_XATTR_NAME_BYTES, ERANGE, &bytes, &length));
  if (length == 0 || memchr(bytes, 0, length)) return ERANGE;
  memcpy(out, bytes, length);
  out[length] = 0;
  return 0;
}

static int read_timespec(struct reader *r, struct gofer_timespec *t) {
  TRY(read_i64big(r, &t->sec));
  return read_u32(r, &t->nsec);
}

static int read_groups(struct reader *r, struct gofer_request *req) {
  uint32_t count;
  TRY(read_u32(r, &count));
  if (count > MAX_GROUPS) return EINVAL;
  if ((uint64_t)count * 4 > remaining(r)) return EINVAL;
  for (uint32_t i = 0; i < count; i++) TRY(read_u32(r, &req->groups[i]));
  req->ngroups = count;
  return 0;
}

static int read_bytes(struct reader *r, struct gofer_request *req) {
  uint32_t length;
  TRY(read_u32(r, &length));
  if (length > MAX_XATTR_BYTES) return E2BIG;
  long at = take(r, length);
  if (at < 0) return EINVAL;
  req->value = r->msg + at;
  req->value_length = length;
  return 0;
}

/* The op's request fields, in schema order (protocol.ts OPS). */
static int read_fields(struct reader *r, struct gofer_request *q) {
  switch (q->op) {
    case OP_WALK:
    case OP_STATFS:
    case OP_READLINK:
    case OP_LISTXATTR:
    case OP_BIND_SOCKET:
    case OP_SOCKET_TARGET:
      return read_path(r, &q->path);
    case OP_OPEN:
      TRY(read_path(r, &q->path));
      TRY(read_u32(r, &q->flags));
      return read_u32(r, &q->mode);
    case OP_MKDIR:
    case OP_CHMOD:
    case OP_ACCESS:
      TRY(read_path(r, &q->path));
      return read_u32(r, &q->mode);
    case OP_MKNOD:
      TRY(read_path(r, &q->path));
      TRY(read_u32(r, &q->mode));
      return read_u64_safe(r, &q->dev);
    case OP_UNLINK:
      TRY(read_path(r, &q->path));
      return read_u32(r, &q->flags);
    case OP_RENAME:
      TRY(read_path(r, &q->path));
      TRY(read_path(r, &q->path2));
      return read_u32(r, &q->flags);
    case OP_SYMLINK:
      TRY(read_target(r, q->target));
      return read_path(r, &q->path);
    case OP_LINK:
      TRY(read_path(r, &q->path));
      return read_path(r, &q->path2);
    case OP_CHOWN:
      TRY(read_path(r, &q->path));
      TRY(read_u32(r, &q->uid));
      return read_u32(r, &q->gid);
    case OP_UTIMES:
      TRY(read_path(r, &q->path));
      TRY(read_timespec(r, &q->atime));
      return read_timespec(r, &q->mtime);
    case OP_TRUNCATE:
      TRY(read_path(r, &q->path));
      return read_i64_safe(r, &q->length);
    case OP_GETDENTS:
      TRY(read_path(r, &q->path));
      return read_i64big(r, &q->offset);
    case OP_GETXATTR:
    case OP_REMOVEXATTR:
      TRY(read_path(r, &q->path));
      return read_xname(r, q->xname);
    case OP_SETXATTR:
      TRY(read_path(r, &q->path));
      TRY(read_xname(r, q->xname));
      TRY(read_bytes(r, q));
      return read_u32(r, &q->flags);
    case OP_REOPEN_FD:
      return read_u32(r, &q->flags);
    case OP_CHMOD_FD:
      TRY(read_u32(r, &q->mode));
      return read_u32(r, &q->flags);
    case OP_CHOWN_FD:
      TRY(read_u32(r, &q->uid));
      TRY(read_u32(r, &q->gid));
      return read_u32(r, &q->flags);
    case OP_UTIMES_FD:
      TRY(read_timespec(r, &q->atime));
      TRY(read_timespec(r, &q->mtime));
      return read_u32(r, &q->flags);
    case OP_CREDS:
      TRY(read_u32(r, &q->uid));
      TRY(read_u32(r, &q->gid));
      TRY(read_groups(r, q));
      return read_u64_safe(r, &q->dev);
  }
  return EINVAL;
}

bool wire_op_known(uint32_t opcode) {
  return (opcode >= OP_WALK && opcode <= OP_CREDS) || (opcode >= OP_ACCESS && opcode <= OP_REOPEN_FD);
}

bool wire_op_takes_fd(uint32_t opcode) {
  return opcode == OP_BIND_SOCKET || opcode == OP_CHMOD_FD || opcode == OP_CHOWN_FD || opcode == OP_UTIMES_FD ||
         opcode == OP_REOPEN_FD;
}

int wire_decode_request(const uint8_t *msg, size_t length, struct gofer_request *req, bool *id_known, bool *op_known) {
  struct reader r = {msg, 0, length};
  uint32_t word0;
  *id_known = *op_known = false;
  TRY(read_u32(&r, &word0));
  TRY(read_u32(&r, &req->id));
  *id_known = *op_known = true;
  req->op = (uint16_t)(word0 & 0xffff);
  if (word0 >> 16 != PROTOCOL_VERSION) return EINVAL;
  if (!wire_op_known(req->op)) return EINVAL;
  TRY(read_fields(&r, req));
  if (remaining(&r) != 0) return EINVAL;
  return 0;
}

/* ------------------------------------------------------------------------ */

static uint8_t *room(struct wire_writer *w, size_t n) {
  if (w->overflow || n > w->cap - w->pos) {
    w->overflow = true;
    return NULL;
  }
  uint8_t *at = w->buf + w->pos;
  w->pos += n;
  return at;
}

void wire_u8(struct wire_writer *w, uint8_t v) {
  uint8_t *p = room(w, 1);
  if (p) p[0] = v;
}

void wire_u32(struct wire_writer *w, uint32_t v) {
  uint8_t *p = room(w, 4);
  if (!p) return;
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

void wire_u64(struct wire_writer *w, uint64_t v) {
  wire_u32(w, (uint32_t)v);
  wire_u32(w, (uint32_t)(v >> 32));
}

void wire_raw(struct wire_writer *w, const void *bytes, size_t n) {
  uint8_t *p = room(w, n);
  if (p && n) memcpy(p, bytes, n);
}

void wire_zeros(struct wire_writer *w, size_t n) {
  uint8_t *p = room(w, n);
  if (p) memset(p, 0, n);
}

void wire_string(struct wire_writer *w, const void *bytes, uint32_t n) {
  wire_u32(w, n);
  wire_raw(w, bytes, n);
}

void wire_begin_reply(struct wire_writer *w, uint8_t *buf, size_t cap, uint32_t opcode, uint32_t id, int errno_value) {
  w->buf = buf;
  w->pos = 0;
  w->cap = cap;
  w->overflow = false;
  wire_u32(w, (uint32_t)PROTOCOL_VERSION << 16 | (opcode & 0xffff));
  wire_u32(w, id);
  wire_u32(w, (uint32_t)errno_value);
}

size_t wire_error_reply(uint8_t *buf, size_t cap, uint32_t opcode, uint32_t id, int errno_value) {
  struct wire_writer w;
  wire_begin_reply(&w, buf, cap, opcode, id, errno_value);
  /* walk reports how far it got even on error: zeros (found, statx, no target). */
  if ((opcode & 0xffff) == OP_WALK) {
    wire_zeros(&w, 4 + WIRE_STATX_BYTES + 4);
  }
  return w.pos;
}
