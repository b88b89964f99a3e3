// Shared helpers for the addon's small files. Every exported function is
// synchronous and returns a number: >= 0 on success, -errno on failure. The
// TypeScript side turns negative numbers into errnos; nothing here throws on a
// failed syscall, because a failed syscall is an answer, not an exception.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstdint>

namespace tsvisor {

inline Napi::Number Ret(Napi::Env env, long long v) { return Napi::Number::New(env, (double)v); }
inline Napi::Number Err(Napi::Env env) { return Napi::Number::New(env, -(double)errno); }

inline int32_t ArgInt(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
inline int64_t ArgI64(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
// Addresses arrive as JS numbers: user-space addresses on x86_64 are < 2^47,
// well inside a double's 53-bit exact range.
inline uint64_t ArgAddr(const Napi::CallbackInfo& info, size_t i) {
  return (uint64_t)info[i].As<Napi::Number>().Int64Value();
}

void InitNotify(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitFdPass(Napi::Env env, Napi::Object exports);
void InitFsOps(Napi::Env env, Napi::Object exports);
void InitPtrace(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);

}  // namespace tsvisor
