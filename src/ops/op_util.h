// Private helpers shared by the op files (argument checks, f32 conversion, broadcasting).
#pragma once
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "core/tensor.h"

namespace wan22::ops::detail {

[[noreturn]] inline void fail(const char* op, const std::string& msg) {
  throw Error(ErrorCode::kInvalidArgument, std::string(op) + ": " + msg);
}
inline void require(bool cond, const char* op, const std::string& msg) {
  if (!cond) fail(op, msg);
}
inline void require_defined(const Tensor& t, const char* op, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is undefined");
}
// Contiguous f32 CPU copy (or x itself).
inline Tensor f32(const Tensor& x, const char* op) { return cpu::to_f32(x, op); }
inline const float* fptr(const Tensor& t) { return t.data<float>(); }

inline int norm_dim(int dim, int nd, const char* op) {
  const int d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd) fail(op, "dim " + std::to_string(dim) + " out of range for " + std::to_string(nd) + "-d tensor");
  return d;
}

inline int64_t prod(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= s[i];
  return p;
}

// NumPy broadcasting of two shapes.
inline Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) fail(op, "shapes " + shape_str(a) + " and " + shape_str(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Element strides of a contiguous tensor of shape `in` read as the broadcast shape `out`.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  const Shape cs = contiguous_strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[lead + i] = in[i] == 1 ? 0 : cs[i];
  return st;
}

}  // namespace wan22::ops::detail
