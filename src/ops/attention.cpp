// Scaled dot-product attention, [B, L, H, D] layout (Wan), flash-style on the CPU.
#include <cmath>

#include "ops/ops.h"
#include "ops/op_util.h"

namespace wan22::ops {

using namespace detail;

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  constexpr const char* kOp = "attention";
  require_defined(q, kOp, "q");
  require_defined(k, kOp, "k");
  require_defined(v, kOp, "v");
  require(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4, kOp,
          "need q [B,Lq,H,D], k/v [B,Lk,H,D]; got q " + q.str() + ", k " + k.str() + ", v " + v.str());
  const int64_t B = q.dim(0), Lq = q.dim(1), H = q.dim(2), D = q.dim(3), Lk = k.dim(1);
  require(k.dim(0) == B && k.dim(2) == H && k.dim(3) == D && v.shape() == k.shape(), kOp,
          "mismatched q " + q.str() + ", k " + k.str() + ", v " + v.str());
  require(opt.k_lens.empty() || static_cast<int64_t>(opt.k_lens.size()) == B, kOp,
          "k_lens has " + std::to_string(opt.k_lens.size()) + " entries for batch " + std::to_string(B));
  for (int64_t len : opt.k_lens) require(len >= 0, kOp, "negative k_len " + std::to_string(len));
  require(opt.head_slice >= 0, kOp, "negative head_slice");
  Tensor bias;
  int64_t bias_batch = 0;
  if (opt.bias) {
    const Tensor& bt = *opt.bias;
    require(bt.defined() && bt.ndim() == 4 && (bt.dim(0) == 1 || bt.dim(0) == B) && bt.dim(1) == H &&
                bt.dim(2) == Lq && bt.dim(3) == Lk,
            kOp, "bias " + (bt.defined() ? bt.str() : std::string("undefined")) + " must be [1 or " +
                     std::to_string(B) + ", " + std::to_string(H) + ", " + std::to_string(Lq) + ", " +
                     std::to_string(Lk) + "]");
    bias = f32(bt, kOp);
    bias_batch = bt.dim(0);
  }
  Tensor qf = f32(q, kOp), kf = f32(k, kOp), vf = f32(v, kOp);
  Tensor out = Tensor::empty(q.shape());
  cpu::AttentionParams p;
  p.B = B;
  p.Lq = Lq;
  p.Lk = Lk;
  p.H = H;
  p.D = D;
  p.scale = opt.scale != 0.0f ? opt.scale : static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  p.bias = opt.bias ? bias.data<float>() : nullptr;
  p.bias_batch = bias_batch;
  p.k_lens = opt.k_lens.empty() ? nullptr : opt.k_lens.data();
  p.head_slice = opt.head_slice;
  cpu::attention(fptr(qf), fptr(kf), fptr(vf), out.data<float>(), p);
  return out;
}

}  // namespace wan22::ops
