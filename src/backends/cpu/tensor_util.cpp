// Tensor plumbing for the CPU kernels: strided gathers with on-the-fly dtype conversion.
#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cpu/cpu_kernels.h"
#include "core/thread_pool.h"

namespace wan22::cpu {

namespace {
constexpr int64_t kConvertGrain = 1 << 15;

// Reads element at byte address p of dtype t as float.
inline float load_one(const char* p, DType t) {
  float v;
  convert_to_f32(p, t, &v, 1);
  return v;
}
}  // namespace

void convert_f32(const void* src, DType t, float* dst, int64_t n) {
  if (n <= 0) return;
  const size_t es = dtype_size(t);
  const char* s = static_cast<const char*>(src);
  parallel_for(0, n, kConvertGrain, [&](int64_t b, int64_t e) {
    convert_to_f32(s + b * static_cast<int64_t>(es), t, dst + b, static_cast<size_t>(e - b));
  });
}

void gather_f32(const Tensor& x, float* dst) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const DType t = x.dtype();
  const int64_t es = static_cast<int64_t>(dtype_size(t));
  const char* base = static_cast<const char*>(x.raw_data());
  if (x.is_contiguous()) {
    convert_f32(base, t, dst, n);
    return;
  }
  // Drop size-1 dims and merge dims that are contiguous with each other.
  Shape shape, strides;
  for (int d = 0; d < x.ndim(); ++d) {
    if (x.shape()[d] == 1) continue;
    if (!shape.empty() && strides.back() == x.strides()[d] * x.shape()[d]) {
      shape.back() *= x.shape()[d];
      strides.back() = x.strides()[d];
    } else {
      shape.push_back(x.shape()[d]);
      strides.push_back(x.strides()[d]);
    }
  }
  if (shape.empty()) {
    dst[0] = load_one(base, t);
    return;
  }
  const int nd = static_cast<int>(shape.size());
  const int64_t inner = shape.back(), inner_stride = strides.back();
  const int64_t rows = n / inner;
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / inner), [&](int64_t rb, int64_t re) {
    std::vector<float> tmp;
    for (int64_t r = rb; r < re; ++r) {
      int64_t rem = r, off = 0;
      for (int d = nd - 2; d >= 0; --d) {
        off += (rem % shape[d]) * strides[d];
        rem /= shape[d];
      }
      const char* src = base + off * es;
      float* out = dst + r * inner;
      if (inner_stride == 1) {
        convert_to_f32(src, t, out, static_cast<size_t>(inner));
      } else if (t == DType::kF32) {
        const float* s = reinterpret_cast<const float*>(src);
        for (int64_t i = 0; i < inner; ++i) out[i] = s[i * inner_stride];
      } else {
        for (int64_t i = 0; i < inner; ++i) out[i] = load_one(src + i * inner_stride * es, t);
      }
    }
  });
}

Tensor to_f32(const Tensor& x, const char* op) {
  if (!x.defined()) throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": undefined tensor");
  if (!x.device().is_cpu()) {
    throw Error(ErrorCode::kUnsupported, std::string(op) + ": CPU backend got a device tensor " + x.str());
  }
  if (x.dtype() == DType::kF32 && x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), DType::kF32);
  gather_f32(x, out.data<float>());
  return out;
}

}  // namespace wan22::cpu
