// Constant / replicate padding of any dims.
#include <algorithm>

#include "core/thread_pool.h"
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, float value) {
  constexpr const char* kOp = "pad";
  require_defined(x, kOp, "x");
  const int nd = x.ndim();
  require(static_cast<int>(pads.size()) == 2 * nd, kOp,
          std::to_string(pads.size()) + " pad values for " + x.str() + " (need 2 per dim)");
  require(nd >= 1, kOp, "cannot pad a 0-d tensor");
  Shape out_shape = x.shape();
  for (int d = 0; d < nd; ++d) {
    require(pads[2 * d] >= 0 && pads[2 * d + 1] >= 0, kOp, "negative padding for dim " + std::to_string(d));
    if (mode == PadMode::kReplicate && (pads[2 * d] > 0 || pads[2 * d + 1] > 0))
      require(x.shape()[d] > 0, kOp, "replicate padding of an empty dim of " + x.str());
    out_shape[d] += pads[2 * d] + pads[2 * d + 1];
  }
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(out_shape);
  const int64_t total = y.numel();
  if (total == 0) return y;
  const float* px = fptr(xf);
  float* py = y.data<float>();
  const Shape& in = x.shape();
  const Shape in_strides = contiguous_strides(in);
  const int64_t Wo = out_shape[nd - 1], Wi = in[nd - 1];
  const int64_t left = pads[2 * nd - 2];
  const int64_t rows = total / Wo;
  parallel_for(0, rows, std::max<int64_t>(1, 4096 / Wo), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      float* dst = py + r * Wo;
      // Source row offset, or -1 when this row lies in a constant pad.
      int64_t rem = r, off = 0;
      bool inside = true;
      for (int d = nd - 2; d >= 0; --d) {
        int64_t o = rem % out_shape[d];
        rem /= out_shape[d];
        int64_t i = o - pads[2 * d];
        if (i < 0 || i >= in[d]) {
          if (mode == PadMode::kConstant) {
            inside = false;
            break;
          }
          i = std::clamp<int64_t>(i, 0, in[d] - 1);
        }
        off += i * in_strides[d];
      }
      if (!inside) {
        std::fill(dst, dst + Wo, value);
        continue;
      }
      const float* src = px + off;
      for (int64_t o = 0; o < Wo; ++o) {
        const int64_t i = o - left;
        if (i >= 0 && i < Wi) {
          dst[o] = src[i];
        } else if (mode == PadMode::kConstant) {
          dst[o] = value;
        } else {
          dst[o] = src[std::clamp<int64_t>(i, 0, Wi - 1)];
        }
      }
    }
  });
  return y;
}

}  // namespace wan22::ops
