// Node-API bindings for the data-plane helpers. Arguments are Uint8Arrays viewing simulated memory.
#include <napi.h>
#include "dataplane.h"

namespace {

Napi::Value CsumPartial(const Napi::CallbackInfo& info) {
  auto buf = info[0].As<Napi::Uint8Array>();
  size_t off = info[1].As<Napi::Number>().Uint32Value();
  size_t len = info[2].As<Napi::Number>().Uint32Value();
  uint32_t initial = info[3].As<Napi::Number>().Uint32Value();
  if (off + len > buf.ByteLength()) {
    Napi::RangeError::New(info.Env(), "csumPartial: range outside buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), pciov::csum_partial(buf.Data() + off, len, initial));
}

Napi::Value RxWriteback(const Napi::CallbackInfo& info) {
  auto ring = info[0].As<Napi::Uint8Array>();
  size_t first = info[1].As<Napi::Number>().Uint32Value();
  size_t count = info[2].As<Napi::Number>().Uint32Value();
  size_t ring_len = info[3].As<Napi::Number>().Uint32Value();
  uint32_t len = info[4].As<Napi::Number>().Uint32Value();
  uint32_t vlan = info[5].As<Napi::Number>().Uint32Value();
  if (ring_len == 0 || ring_len * 16 > ring.ByteLength()) {
    Napi::RangeError::New(info.Env(), "rxWriteback: ring outside buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  pciov::rx_writeback(ring.Data(), first, count, ring_len, static_cast<uint16_t>(len), static_cast<uint16_t>(vlan));
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("csumPartial", Napi::Function::New(env, CsumPartial));
  exports.Set("rxWriteback", Napi::Function::New(env, RxWriteback));
  exports.Set("abi", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace

NODE_API_MODULE(pciov_native, Init)
