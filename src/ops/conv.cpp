// conv3d / conv2d (zero padding, any stride) and nearest 2-D upsampling.
#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

namespace {
std::string ints(const int* v, int n) {
  std::string s = "{";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "}";
}
}  // namespace

Tensor conv3d(const Tensor& x, const Tensor& w, const Tensor* bias, std::array<int, 3> stride,
              std::array<int, 6> pad) {
  constexpr const char* kOp = "conv3d";
  require_defined(x, kOp, "x");
  require_defined(w, kOp, "w");
  require(x.ndim() == 5 && w.ndim() == 5 && x.dim(1) == w.dim(1), kOp,
          "need x [N,C,T,H,W] and w [O,C,kt,kh,kw]; got x " + x.str() + ", w " + w.str());
  for (int s : stride) require(s > 0, kOp, "stride must be positive, got " + ints(stride.data(), 3));
  for (int p : pad) require(p >= 0, kOp, "padding must be non-negative, got " + ints(pad.data(), 6));
  cpu::Conv3dParams p;
  p.N = x.dim(0);
  p.C = x.dim(1);
  p.T = x.dim(2);
  p.H = x.dim(3);
  p.W = x.dim(4);
  p.O = w.dim(0);
  p.kt = w.dim(2);
  p.kh = w.dim(3);
  p.kw = w.dim(4);
  p.stride = {stride[0], stride[1], stride[2]};
  p.pad = {pad[0], pad[1], pad[2], pad[3], pad[4], pad[5]};
  const int64_t tp = p.T + pad[0] + pad[1], hp = p.H + pad[2] + pad[3], wp = p.W + pad[4] + pad[5];
  require(tp >= p.kt && hp >= p.kh && wp >= p.kw && p.kt > 0 && p.kh > 0 && p.kw > 0, kOp,
          "kernel " + w.str() + " larger than padded input " + x.str() + " with pad " + ints(pad.data(), 6));
  p.To = (tp - p.kt) / stride[0] + 1;
  p.Ho = (hp - p.kh) / stride[1] + 1;
  p.Wo = (wp - p.kw) / stride[2] + 1;
  Tensor bf;
  if (bias) {
    require(bias->defined() && bias->numel() == p.O, kOp,
            "bias " + (bias->defined() ? bias->str() : std::string("undefined")) + " for w " + w.str());
    bf = f32(*bias, kOp);
  }
  Tensor xf = f32(x, kOp), wf = f32(w, kOp);
  Tensor y = Tensor::empty({p.N, p.O, p.To, p.Ho, p.Wo});
  cpu::conv3d(fptr(xf), fptr(wf), bias ? fptr(bf) : nullptr, y.data<float>(), p);
  return y;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, std::array<int, 2> stride,
              std::array<int, 4> pad) {
  constexpr const char* kOp = "conv2d";
  require_defined(x, kOp, "x");
  require_defined(w, kOp, "w");
  require(x.ndim() == 4 && w.ndim() == 4 && x.dim(1) == w.dim(1), kOp,
          "need x [N,C,H,W] and w [O,C,kh,kw]; got x " + x.str() + ", w " + w.str());
  Tensor y = conv3d(x.unsqueeze(2), w.unsqueeze(2), bias, {1, stride[0], stride[1]},
                    {0, 0, pad[0], pad[1], pad[2], pad[3]});
  return y.squeeze(2);
}

Tensor upsample_nearest2d(const Tensor& x, int scale_h, int scale_w) {
  constexpr const char* kOp = "upsample_nearest2d";
  require_defined(x, kOp, "x");
  require(x.ndim() >= 2, kOp, "x must be [..., H, W], got " + x.str());
  require(scale_h >= 1 && scale_w >= 1, kOp,
          "scales must be >= 1, got " + std::to_string(scale_h) + ", " + std::to_string(scale_w));
  Tensor xf = f32(x, kOp);
  Shape out_shape = x.shape();
  const int64_t H = x.dim(-2), W = x.dim(-1);
  out_shape[x.ndim() - 2] = H * scale_h;
  out_shape[x.ndim() - 1] = W * scale_w;
  Tensor y = Tensor::empty(out_shape);
  if (x.numel() > 0)
    cpu::upsample_nearest2d(fptr(xf), y.data<float>(), x.numel() / (H * W), H, W, scale_h, scale_w);
  return y;
}

}  // namespace wan22::ops
