// Entry point of the tsvisor native addon: each file registers one family.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tsvisor::InitNotify(env, exports);
  tsvisor::InitMemory(env, exports);
  tsvisor::InitFdPass(env, exports);
  tsvisor::InitFsOps(env, exports);
  tsvisor::InitPtrace(env, exports);
  tsvisor::InitNet(env, exports);
  return exports;
}

NODE_API_MODULE(tsvisor_native, Init)
