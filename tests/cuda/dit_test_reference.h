// The tiny DiT of the CUDA tests and its forward composed of CPU ops (f32, weights read back from
// the device): the reference of tests/cuda/test_cuda_dit*.cpp.
#pragma once
#include <cmath>
#include <vector>

#include "backends/cuda/dit_cuda.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

namespace wan22::test::dit_ref {

inline Tensor host(const Tensor& d) { return to_host(d); }

inline Tensor sinusoid(int64_t dim, const std::vector<double>& ts) {
  const int64_t half = dim / 2;
  Tensor s = Tensor::empty({static_cast<int64_t>(ts.size()), dim});
  for (size_t r = 0; r < ts.size(); ++r)
    for (int64_t i = 0; i < half; ++i) {
      const double f = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(half));
      s.data<float>()[r * dim + i] = static_cast<float>(std::cos(ts[r] * f));
      s.data<float>()[r * dim + half + i] = static_cast<float>(std::sin(ts[r] * f));
    }
  return s;
}

// y[l] = base[l] * (1 + scale[row(l)]) + shift[row(l)]; rows [R, dim] tensors; row(l) = (l < split)
// ? a : b.
inline Tensor modulate(const Tensor& base, const Tensor& shift, const Tensor& scale, int a, int b,
                       int64_t split) {
  const int64_t L = base.dim(0), D = base.dim(1);
  Tensor y = Tensor::empty({L, D});
  for (int64_t l = 0; l < L; ++l) {
    const int r = l < split ? a : b;
    for (int64_t c = 0; c < D; ++c)
      y.data<float>()[l * D + c] =
          base.data<float>()[l * D + c] * (1.0f + scale.data<float>()[r * D + c]) +
          shift.data<float>()[r * D + c];
  }
  return y;
}

inline void gated_add(Tensor& x, const Tensor& y, const Tensor* gate, int a, int b, int64_t split) {
  const int64_t L = x.dim(0), D = x.dim(1);
  for (int64_t l = 0; l < L; ++l) {
    const int r = l < split ? a : b;
    for (int64_t c = 0; c < D; ++c)
      x.data<float>()[l * D + c] +=
          (gate ? gate->data<float>()[r * D + c] : 1.0f) * y.data<float>()[l * D + c];
  }
}

inline Tensor rows(const Tensor& t, int64_t begin, int64_t end) {
  return t.slice(0, begin, end).contiguous();
}

// The reference forward on the CPU (f32 ops, weights read back from the device).
inline Tensor reference_forward(const cuda::DitConfig& cfg, cuda::DitWeights& w,
                                const Tensor& latent, const Tensor& context, double t,
                                bool first_frame_clean) {
  const int64_t D = cfg.dim, H = cfg.heads, hd = cfg.head_dim();
  const int64_t C = cfg.in_dim, F = latent.dim(1), Hl = latent.dim(2), Wl = latent.dim(3);
  const int64_t gh = Hl / 2, gw = Wl / 2, L = F * gh * gw;
  // first-frame tokens use row 1 (t = 0) when clean
  const int a = first_frame_clean ? 1 : 0, b = 0;
  const int64_t split = first_frame_clean ? gh * gw : 0;
  std::vector<double> ts = {t};
  if (first_frame_clean) ts.push_back(0.0);
  Tensor sin = sinusoid(cfg.freq_dim, ts);
  Tensor time1_w = host(w.time1_w), time1_b = host(w.time1_b), time2_w = host(w.time2_w),
         time2_b = host(w.time2_b);
  Tensor proj_w = host(w.proj_w), proj_b = host(w.proj_b);
  Tensor e = ops::linear(ops::silu(ops::linear(sin, time1_w, &time1_b)), time2_w, &time2_b);
  Tensor e0 = ops::linear(ops::silu(e), proj_w, &proj_b);  // [R, 6D]

  // patch embedding: rows (f, i, j), columns (c, a, b)
  Tensor patches = Tensor::empty({L, C * 4});
  for (int64_t f = 0; f < F; ++f)
    for (int64_t i = 0; i < gh; ++i)
      for (int64_t j = 0; j < gw; ++j)
        for (int64_t c = 0; c < C; ++c)
          for (int p = 0; p < 2; ++p)
            for (int q = 0; q < 2; ++q)
              patches.data<float>()[((f * gh + i) * gw + j) * C * 4 + c * 4 + p * 2 + q] =
                  latent.data<float>()[((c * F + f) * Hl + i * 2 + p) * Wl + j * 2 + q];
  Tensor pw = host(w.patch_w), pb = host(w.patch_b);
  Tensor x = ops::linear(patches, pw, &pb);
  Tensor t1w = host(w.text1_w), t1b = host(w.text1_b), t2w = host(w.text2_w), t2b = host(w.text2_b);
  Tensor ctx = ops::linear(ops::gelu_tanh(ops::linear(context, t1w, &t1b)), t2w, &t2b);

  for (auto& blk : w.blocks) {
    Tensor modw = host(blk.modulation).view({1, 6 * D});
    Tensor mod = ops::add(e0, modw);  // [R, 6D]
    auto chunk = [&](int c) { return mod.slice(1, c * D, (c + 1) * D).contiguous(); };
    Tensor qkv_w = host(blk.qkv_w), qkv_b = host(blk.qkv_b);
    Tensor nq = host(blk.norm_q), nk = host(blk.norm_k);
    Tensor xn =
        modulate(ops::layer_norm(x, nullptr, nullptr, cfg.eps), chunk(0), chunk(1), a, b, split);
    Tensor qkv = ops::linear(xn, qkv_w, &qkv_b);
    Tensor q = ops::rms_norm(qkv.slice(1, 0, D).contiguous(), &nq, cfg.eps);
    Tensor k = ops::rms_norm(qkv.slice(1, D, 2 * D).contiguous(), &nk, cfg.eps);
    Tensor v = qkv.slice(1, 2 * D, 3 * D).contiguous();
    q = ops::rope_3d(q.view({1, L, H, hd}), F, gh, gw);
    k = ops::rope_3d(k.view({1, L, H, hd}), F, gh, gw);
    Tensor att = ops::attention(q, k, v.view({1, L, H, hd})).view({L, D});
    Tensor ow = host(blk.o_w), ob = host(blk.o_b);
    Tensor g2 = chunk(2);
    gated_add(x, ops::linear(att, ow, &ob), &g2, a, b, split);

    Tensor n3w = host(blk.norm3_w), n3b = host(blk.norm3_b);
    xn = ops::layer_norm(x, &n3w, &n3b, cfg.eps);
    Tensor cqw = host(blk.cq_w), cqb = host(blk.cq_b), ckvw = host(blk.ckv_w),
           ckvb = host(blk.ckv_b);
    Tensor cnq = host(blk.cnorm_q), cnk = host(blk.cnorm_k);
    Tensor cq = ops::rms_norm(ops::linear(xn, cqw, &cqb), &cnq, cfg.eps);
    Tensor ckv = ops::linear(ctx, ckvw, &ckvb);
    Tensor ck = ops::rms_norm(ckv.slice(1, 0, D).contiguous(), &cnk, cfg.eps);
    Tensor cv = ckv.slice(1, D, 2 * D).contiguous();
    const int64_t T = ctx.dim(0);
    Tensor catt =
        ops::attention(cq.view({1, L, H, hd}), ck.view({1, T, H, hd}), cv.view({1, T, H, hd}))
            .view({L, D});
    Tensor cow = host(blk.co_w), cob = host(blk.co_b);
    gated_add(x, ops::linear(catt, cow, &cob), nullptr, a, b, split);

    xn = modulate(ops::layer_norm(x, nullptr, nullptr, cfg.eps), chunk(3), chunk(4), a, b, split);
    Tensor f1w = host(blk.ffn1_w), f1b = host(blk.ffn1_b), f2w = host(blk.ffn2_w),
           f2b = host(blk.ffn2_b);
    Tensor g5 = chunk(5);
    gated_add(x, ops::linear(ops::gelu_tanh(ops::linear(xn, f1w, &f1b)), f2w, &f2b), &g5, a, b,
              split);
  }
  Tensor hm = host(w.head_mod);  // [2, D]
  Tensor shift = ops::add(e, rows(hm, 0, 1)), scale = ops::add(e, rows(hm, 1, 2));
  Tensor xn = modulate(ops::layer_norm(x, nullptr, nullptr, cfg.eps), shift, scale, a, b, split);
  Tensor hw = host(w.head_w), hb = host(w.head_b);
  Tensor o = ops::linear(xn, hw, &hb);  // [L, 4*Cout], columns (p, q, c)
  const int64_t Co = cfg.out_dim;
  Tensor out = Tensor::empty({Co, F, Hl, Wl});
  for (int64_t f = 0; f < F; ++f)
    for (int64_t i = 0; i < gh; ++i)
      for (int64_t j = 0; j < gw; ++j)
        for (int p = 0; p < 2; ++p)
          for (int q = 0; q < 2; ++q)
            for (int64_t c = 0; c < Co; ++c)
              out.data<float>()[((c * F + f) * Hl + i * 2 + p) * Wl + j * 2 + q] =
                  o.data<float>()[((f * gh + i) * gw + j) * 4 * Co + (p * 2 + q) * Co + c];
  return out;
}

inline cuda::DitConfig tiny_config() {
  cuda::DitConfig c;
  c.dim = 128, c.ffn_dim = 256, c.heads = 2, c.layers = 2, c.freq_dim = 32, c.text_dim = 48,
  c.text_len = 20;
  c.in_dim = 8, c.out_dim = 8;
  return c;
}

// A tiny image-to-video input (3 x 6 x 8 latent: 36 tokens, 12 of them in the clean first frame).
struct TinyRun {
  cuda::DitConfig cfg = tiny_config();
  Tensor latent, context, dlat, dctx;
  cuda::DitInputs in;
  TinyRun() {
    const int64_t F = 3, Hl = 6, Wl = 8;
    latent = bf16_round(random_tensor({cfg.in_dim, F, Hl, Wl}, 910, -1.0f, 1.0f));
    context = bf16_round(random_tensor({cfg.text_len, cfg.text_dim}, 911, -1.0f, 1.0f));
    dlat = to_dev(latent, DType::kF32);
    dctx = to_dev(context, DType::kBF16);
    in.latent = f32p(dlat);
    in.frames = F, in.height = Hl, in.width = Wl;
    in.context = bf(dctx);
    in.timestep = 500.0;
    in.first_frame_clean = true;
  }
};

}  // namespace wan22::test::dit_ref
