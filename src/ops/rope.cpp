// Wan's 3-axis rotary position embedding.
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

Tensor rope_3d(const Tensor& x, int64_t grid_f, int64_t grid_h, int64_t grid_w, double theta) {
  constexpr const char* kOp = "rope_3d";
  require_defined(x, kOp, "x");
  require(x.ndim() == 4 && x.dim(3) % 2 == 0, kOp, "x must be [B, L, H, D] with D even, got " + x.str());
  require(grid_f >= 0 && grid_h >= 0 && grid_w >= 0, kOp, "negative grid size");
  require(grid_f * grid_h * grid_w <= x.dim(1), kOp,
          "grid " + std::to_string(grid_f) + "x" + std::to_string(grid_h) + "x" + std::to_string(grid_w) +
              " has more tokens than x " + x.str());
  require(theta > 0, kOp, "theta must be positive");
  Tensor xf = f32(x, kOp);
  Tensor y = Tensor::empty(x.shape());
  cpu::rope_3d(fptr(xf), y.data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), grid_f, grid_h, grid_w, theta);
  return y;
}

}  // namespace wan22::ops
