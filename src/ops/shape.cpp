// Shape ops: concat, split/chunk (views), permute (copy), repeat_interleave, embedding.
#include <cstring>

#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

namespace {
// A fresh contiguous f32 tensor (never sharing storage with x).
Tensor fresh_f32(const Tensor& x, const char* op) {
  Tensor f = f32(x, op);
  return f.storage() == x.storage() ? f.clone() : f;
}
}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  constexpr const char* kOp = "concat";
  require(!xs.empty(), kOp, "no tensors");
  for (const Tensor& t : xs) require_defined(t, kOp, "input");
  const int nd = xs[0].ndim();
  require(nd >= 1, kOp, "cannot concat 0-d tensors");
  const int d = norm_dim(dim, nd, kOp);
  Shape out_shape = xs[0].shape();
  out_shape[d] = 0;
  for (const Tensor& t : xs) {
    bool ok = t.ndim() == nd;
    for (int i = 0; ok && i < nd; ++i) ok = i == d || t.shape()[i] == xs[0].shape()[i];
    require(ok, kOp, "shape " + t.str() + " does not match " + xs[0].str() + " outside dim " + std::to_string(d));
    out_shape[d] += t.shape()[d];
  }
  Tensor y = Tensor::empty(out_shape);
  const int64_t outer = prod(out_shape, 0, d), inner = prod(out_shape, d + 1, nd);
  const int64_t out_row = out_shape[d] * inner;
  float* py = y.data<float>();
  int64_t col = 0;
  for (const Tensor& t : xs) {
    const int64_t n = t.shape()[d] * inner;
    if (n > 0 && outer > 0) {
      Tensor tf = f32(t, kOp);
      const float* src = fptr(tf);
      parallel_for(0, outer, std::max<int64_t>(1, 16384 / n), [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o)
          std::memcpy(py + o * out_row + col, src + o * n, static_cast<size_t>(n) * sizeof(float));
      });
    }
    col += n;
  }
  return y;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  constexpr const char* kOp = "split";
  require_defined(x, kOp, "x");
  const int d = norm_dim(dim, x.ndim(), kOp);
  int64_t total = 0;
  for (int64_t s : sizes) {
    require(s >= 0, kOp, "negative split size");
    total += s;
  }
  require(total == x.shape()[d], kOp,
          "sizes sum to " + std::to_string(total) + " but dim " + std::to_string(d) + " of " + x.str() + " is " +
              std::to_string(x.shape()[d]));
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int n, int dim) {
  constexpr const char* kOp = "chunk";
  require_defined(x, kOp, "x");
  require(n > 0, kOp, "number of chunks must be positive, got " + std::to_string(n));
  const int d = norm_dim(dim, x.ndim(), kOp);
  const int64_t L = x.shape()[d];
  // torch.chunk: chunks of ceil(L / n); the last may be smaller; may return fewer than n.
  const int64_t size = (L + n - 1) / n;
  std::vector<Tensor> out;
  if (size == 0) {
    for (int i = 0; i < n; ++i) out.push_back(x.narrow(d, 0, 0));
    return out;
  }
  for (int64_t start = 0; start < L; start += size) out.push_back(x.narrow(d, start, std::min(size, L - start)));
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  constexpr const char* kOp = "permute";
  require_defined(x, kOp, "x");
  require(static_cast<int>(dims.size()) == x.ndim(), kOp,
          std::to_string(dims.size()) + " dims for " + x.str());
  return fresh_f32(x.permute(dims), kOp);
}

Tensor repeat_interleave(const Tensor& x, int64_t repeats, int dim) {
  constexpr const char* kOp = "repeat_interleave";
  require_defined(x, kOp, "x");
  require(repeats >= 0, kOp, "negative repeats");
  const int d = norm_dim(dim, x.ndim(), kOp);
  Tensor xf = f32(x, kOp);
  Shape out_shape = x.shape();
  out_shape[d] *= repeats;
  Tensor y = Tensor::empty(out_shape);
  const int64_t outer = prod(x.shape(), 0, d), n = x.shape()[d], inner = prod(x.shape(), d + 1, x.ndim());
  if (y.numel() == 0) return y;
  const float* px = fptr(xf);
  float* py = y.data<float>();
  parallel_for(0, outer * n, std::max<int64_t>(1, 8192 / (inner * repeats)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* src = px + r * inner;
      float* dst = py + r * repeats * inner;
      for (int64_t k = 0; k < repeats; ++k)
        std::memcpy(dst + k * inner, src, static_cast<size_t>(inner) * sizeof(float));
    }
  });
  return y;
}

Tensor embedding(const Tensor& ids, const Tensor& table) {
  constexpr const char* kOp = "embedding";
  require_defined(ids, kOp, "ids");
  require_defined(table, kOp, "table");
  require(ids.dtype() == DType::kI32 || ids.dtype() == DType::kI64, kOp, "ids must be i32 or i64, got " + ids.str());
  require(table.ndim() == 2, kOp, "table must be [V, D], got " + table.str());
  require(ids.device().is_cpu() && table.device().is_cpu(), kOp, "CPU backend got a device tensor");
  require(dtype_is_float(table.dtype()), kOp, "table must be a float type, got " + table.str());
  const int64_t V = table.dim(0), D = table.dim(1);
  Tensor idc = ids.contiguous();
  const int64_t n = idc.numel();
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = ids.dtype() == DType::kI32 ? idc.data<int32_t>()[i] : idc.data<int64_t>()[i];
    require(id >= 0 && id < V, kOp, "id " + std::to_string(id) + " out of range for table " + table.str());
    rows[i] = id;
  }
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor y = Tensor::empty(out_shape);
  Tensor tc = table.contiguous();
  const char* base = static_cast<const char*>(tc.raw_data());
  const int64_t row_bytes = D * static_cast<int64_t>(dtype_size(tc.dtype()));
  float* py = y.data<float>();
  parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      convert_to_f32(base + rows[i] * row_bytes, tc.dtype(), py + i * D, static_cast<size_t>(D));
  });
  return y;
}

}  // namespace wan22::ops
