#include "models/vae/vae_reshape.h"

#include "core/status.h"
#include "ops/ops.h"

namespace wan22::models::vae {

Tensor patchify(const Tensor& x, int p) {
  if (p == 1) return x;
  WAN22_CHECK(x.ndim() == 5, "patchify: expected [N, C, F, H, W], got " + x.str());
  const int64_t n = x.dim(0), c = x.dim(1), f = x.dim(2), h = x.dim(3), w = x.dim(4);
  WAN22_CHECK(h % p == 0 && w % p == 0,
              "patchify: height and width of " + x.str() + " must be multiples of " + std::to_string(p));
  // [n, c, f, h/p, q, w/p, r] -> [n, c, r, q, f, h/p, w/p]
  Tensor v = x.contiguous().view({n, c, f, h / p, p, w / p, p});
  return v.permute({0, 1, 6, 4, 2, 3, 5}).contiguous().view({n, c * p * p, f, h / p, w / p});
}

Tensor unpatchify(const Tensor& x, int p) {
  if (p == 1) return x;
  WAN22_CHECK(x.ndim() == 5, "unpatchify: expected [N, C, F, H, W], got " + x.str());
  const int64_t n = x.dim(0), cpp = x.dim(1), f = x.dim(2), h = x.dim(3), w = x.dim(4);
  WAN22_CHECK(cpp % (p * p) == 0, "unpatchify: channels of " + x.str() + " not a multiple of p^2");
  const int64_t c = cpp / (p * p);
  // [n, c, r, q, f, h, w] -> [n, c, f, h, q, w, r]
  Tensor v = x.contiguous().view({n, c, p, p, f, h, w});
  return v.permute({0, 1, 4, 5, 3, 6, 2}).contiguous().view({n, c, f, h * p, w * p});
}

Tensor avg_down_3d(const Tensor& x, int64_t out_channels, int ft, int fs) {
  WAN22_CHECK(x.ndim() == 5, "AvgDown3D: expected [N, C, T, H, W], got " + x.str());
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t factor = static_cast<int64_t>(ft) * fs * fs;
  WAN22_CHECK((c * factor) % out_channels == 0, "AvgDown3D: in_channels * factor not divisible by out_channels");
  const int64_t group = c * factor / out_channels;
  Tensor in = x;
  const int64_t pad_t = (ft - x.dim(2) % ft) % ft;
  if (pad_t > 0) in = ops::pad(x, {0, 0, 0, 0, pad_t, 0, 0, 0, 0, 0});
  const int64_t t = in.dim(2), h = in.dim(3), w = in.dim(4);
  WAN22_CHECK(h % fs == 0 && w % fs == 0, "AvgDown3D: spatial size of " + x.str() + " not divisible by " +
                                              std::to_string(fs));
  const int64_t to = t / ft, ho = h / fs, wo = w / fs;
  if (group == 1 && factor == 1) return in;
  // [n, c, to, ft, ho, fs, wo, fs] -> [n, c, ft, fs, fs, to, ho, wo] -> [n, out, group, to, ho, wo]
  Tensor folded = in.contiguous()
                      .view({n, c, to, ft, ho, fs, wo, fs})
                      .permute({0, 1, 3, 5, 7, 2, 4, 6})
                      .contiguous()
                      .view({n, out_channels, group, to, ho, wo});
  return ops::mean(folded, 2);
}

Tensor dup_up_3d(const Tensor& x, int64_t out_channels, int ft, int fs, bool first_chunk) {
  WAN22_CHECK(x.ndim() == 5, "DupUp3D: expected [N, C, T, H, W], got " + x.str());
  const int64_t n = x.dim(0), c = x.dim(1), t = x.dim(2), h = x.dim(3), w = x.dim(4);
  const int64_t factor = static_cast<int64_t>(ft) * fs * fs;
  WAN22_CHECK((out_channels * factor) % c == 0, "DupUp3D: out_channels * factor not divisible by in_channels");
  const int64_t repeats = out_channels * factor / c;
  Tensor rep = repeats == 1 ? x.contiguous() : ops::repeat_interleave(x, repeats, 1);
  // [n, out, ft, fs, fs, t, h, w] -> [n, out, t, ft, h, fs, w, fs]
  Tensor out = rep.view({n, out_channels, ft, fs, fs, t, h, w})
                   .permute({0, 1, 5, 2, 6, 3, 7, 4})
                   .contiguous()
                   .view({n, out_channels, t * ft, h * fs, w * fs});
  if (first_chunk) out = out.slice(2, ft - 1, t * ft).contiguous();
  return out;
}

}  // namespace wan22::models::vae
