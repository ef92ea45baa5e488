// Parity of the CUDA DiT kernels with the CPU ops at bf16 tolerance (skips without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/kernels.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

using namespace wan22;
using namespace wan22::test;

namespace {

// Per-row modulation reference: y = base[r] * (1 + scale(r)) + shift(r), rows < split use set a.
Tensor modulate_ref(const Tensor& base, const Tensor& shift_a, const Tensor& scale_a, const Tensor& shift_b,
                    const Tensor& scale_b, int64_t split) {
  const int64_t rows = base.dim(0), dim = base.dim(1);
  Tensor y = Tensor::empty({rows, dim});
  const float* pb = base.data<float>();
  float* py = y.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const Tensor& sh = r < split ? shift_a : shift_b;
    const Tensor& sc = r < split ? scale_a : scale_b;
    for (int64_t c = 0; c < dim; ++c) {
      py[r * dim + c] = pb[r * dim + c] * (1.0f + sc.data<float>()[c]) + sh.data<float>()[c];
    }
  }
  return y;
}

void check_layernorm_modulate(int64_t rows, int64_t dim, int64_t split, uint64_t seed) {
  Tensor x = random_tensor({rows, dim}, seed, -3.0f, 5.0f);
  Tensor sha = random_tensor({dim}, seed + 1, -0.5f, 0.5f), sca = random_tensor({dim}, seed + 2, -0.5f, 0.5f);
  Tensor shb = random_tensor({dim}, seed + 3, -0.5f, 0.5f), scb = random_tensor({dim}, seed + 4, -0.5f, 0.5f);
  Tensor dx = to_dev(x, DType::kF32);
  Tensor d_sha = to_dev(sha, DType::kF32), d_sca = to_dev(sca, DType::kF32);
  Tensor d_shb = to_dev(shb, DType::kF32), d_scb = to_dev(scb, DType::kF32);
  Tensor dout = Tensor::empty({rows, dim}, DType::kBF16, Device::cuda(0));
  cuda::TokenVec shift{f32p(d_sha), f32p(d_shb), split, rows};
  cuda::TokenVec scale{f32p(d_sca), f32p(d_scb), split, rows};
  cuda::layernorm_modulate(f32p(dx), bf(dout), rows, dim, 1e-6f, nullptr, nullptr, shift, scale, nullptr);
  Tensor ln = ops::layer_norm(x, nullptr, nullptr, 1e-6f);
  Tensor ref = modulate_ref(ln, sha, sca, shb, scb, split);
  EXPECT_LE(report_err("ln_mod " + std::to_string(rows) + "x" + std::to_string(dim), to_host(dout), ref), kBf16Tol);

  // affine, no modulation
  Tensor w = random_tensor({dim}, seed + 5, 0.5f, 1.5f), b = random_tensor({dim}, seed + 6, -0.3f, 0.3f);
  Tensor dw = to_dev(w, DType::kF32), db = to_dev(b, DType::kF32);
  cuda::layernorm_modulate(f32p(dx), bf(dout), rows, dim, 1e-6f, f32p(dw), f32p(db), cuda::TokenVec{},
                           cuda::TokenVec{}, nullptr);
  Tensor ref2 = ops::layer_norm(x, &w, &b, 1e-6f);
  EXPECT_LE(report_err("ln_affine " + std::to_string(rows) + "x" + std::to_string(dim), to_host(dout), ref2),
            kBf16Tol);
}

}  // namespace

TEST(CudaKernels, LayerNormModulateVectorised) {
  REQUIRE_GPU();
  check_layernorm_modulate(33, 3072, 10, 100);
  check_layernorm_modulate(5, 512, 0, 110);
}

TEST(CudaKernels, LayerNormModulateOddSizes) {
  REQUIRE_GPU();
  check_layernorm_modulate(7, 37, 3, 120);
  check_layernorm_modulate(1, 1001, 1, 130);
}

namespace {

void check_rmsnorm_rope(int64_t B, int64_t L, int64_t H, int64_t D, int64_t f, int64_t h, int64_t w, int64_t ld_mult,
                        uint64_t seed) {
  const int64_t dim = H * D, rows = B * L, ld = dim * ld_mult;
  Tensor x = bf16_round(random_tensor({rows, dim}, seed, -2.0f, 2.0f));
  Tensor weight = random_tensor({dim}, seed + 1, 0.5f, 1.5f);
  // strided device buffer [rows, ld]; the row's first `dim` columns hold x
  Tensor xs = Tensor::zeros({rows, ld});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dim; ++c) xs.data<float>()[r * ld + c] = x.data<float>()[r * dim + c];
  Tensor dx = to_dev(xs, DType::kBF16);
  Tensor dw = to_dev(weight, DType::kF32);
  std::vector<float2> table(static_cast<size_t>(cuda::rope_table_size(f, h, w, static_cast<int>(D))));
  cuda::rope_table_fill(table.data(), f, h, w, static_cast<int>(D));
  Tensor dtab = Tensor::empty({static_cast<int64_t>(table.size()) * 2}, DType::kF32, Device::cuda(0));
  ASSERT_EQ(cudaMemcpy(dtab.raw_data(), table.data(), table.size() * sizeof(float2), cudaMemcpyHostToDevice),
            cudaSuccess);
  cuda::RopeTable rope{reinterpret_cast<const float2*>(dtab.raw_data()), f, h, w, static_cast<int>(D)};
  Tensor dout = Tensor::empty({rows, dim}, DType::kBF16, Device::cuda(0));
  cuda::rmsnorm_rope(bf(dx), ld, bf(dout), dim, rows, dim, f32p(dw), 1e-6f, rope, L, nullptr);
  Tensor normed = ops::rms_norm(x, &weight, 1e-6f);
  Tensor ref = ops::rope_3d(normed.view({B, L, H, D}), f, h, w).view({rows, dim});
  const std::string name = "rmsnorm_rope B" + std::to_string(B) + " L" + std::to_string(L) + " H" +
                           std::to_string(H) + " D" + std::to_string(D);
  EXPECT_LE(report_err(name, to_host(dout), ref), kBf16Tol);

  // in place, no rope (the cross-attention q/k norm)
  cuda::rmsnorm_rope(bf(dx), ld, bf(dx), ld, rows, dim, f32p(dw), 1e-6f, cuda::RopeTable{}, L, nullptr);
  Tensor back = to_host(dx);
  Tensor got = Tensor::empty({rows, dim});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < dim; ++c) got.data<float>()[r * dim + c] = back.data<float>()[r * ld + c];
  EXPECT_LE(report_err(name + " in place, no rope", got, normed), kBf16Tol);
}

}  // namespace

TEST(CudaKernels, RmsNormRopeHeadDim128) {
  REQUIRE_GPU();
  // grid 3x4x5 = 60 tokens of 67 (7 past the grid stay unrotated), 2 batch items, fused-QKV stride
  check_rmsnorm_rope(2, 67, 3, 128, 3, 4, 5, 3, 200);
}

TEST(CudaKernels, RmsNormRopeWarpPerRowWidths) {
  REQUIRE_GPU();
  // dim 3072 = the DiT's 24 x 128 (warp-per-row path), fused-QKV stride; dim 256 = 2 x 128
  check_rmsnorm_rope(1, 45, 24, 128, 2, 4, 5, 3, 230);
  check_rmsnorm_rope(2, 33, 2, 128, 2, 3, 5, 1, 240);
}

TEST(CudaKernels, RmsNormRopeOddHeadDim) {
  REQUIRE_GPU();
  // D = 12: 6 pairs split 2/2/2, scalar path; D = 40 -> 20 pairs (8/6/6)
  check_rmsnorm_rope(1, 31, 5, 12, 2, 3, 5, 1, 210);
  check_rmsnorm_rope(1, 24, 2, 40, 2, 3, 4, 2, 220);
}

TEST(CudaKernels, GatedResidualAdd) {
  REQUIRE_GPU();
  for (auto [rows, dim, split] : {std::tuple<int64_t, int64_t, int64_t>{19, 3072, 4}, {9, 45, 2}}) {
    Tensor x = random_tensor({rows, dim}, 300 + dim, -2.0f, 2.0f);
    Tensor y = bf16_round(random_tensor({rows, dim}, 301 + dim, -1.0f, 1.0f));
    Tensor ga = random_tensor({dim}, 302, -1.0f, 1.0f), gb = random_tensor({dim}, 303, -1.0f, 1.0f);
    Tensor dx = to_dev(x, DType::kF32), dy = to_dev(y, DType::kBF16);
    Tensor dga = to_dev(ga, DType::kF32), dgb = to_dev(gb, DType::kF32);
    cuda::gated_residual_add(f32p(dx), bf(dy), dim, rows, dim, cuda::TokenVec{f32p(dga), f32p(dgb), split, rows},
                             nullptr);
    Tensor ref = x.clone();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < dim; ++c)
        ref.data<float>()[r * dim + c] +=
            (r < split ? ga : gb).data<float>()[c] * y.data<float>()[r * dim + c];
    EXPECT_LE(report_err("gated_residual " + std::to_string(dim), to_host(dx), ref), 1e-6);
    // plain add
    cuda::gated_residual_add(f32p(dx), bf(dy), dim, rows, dim, cuda::TokenVec{}, nullptr);
    Tensor ref2 = ops::add(ref, y);
    EXPECT_LE(report_err("residual " + std::to_string(dim), to_host(dx), ref2), 1e-6);
  }
}

TEST(CudaKernels, ElementwiseOps) {
  REQUIRE_GPU();
  for (int64_t n : {int64_t{4096}, int64_t{1001}}) {
    for (int64_t off : {int64_t{0}, int64_t{1}}) {  // off = 1: unaligned pointers, scalar path
      const std::string tag = " n=" + std::to_string(n) + " off=" + std::to_string(off);
      Tensor a = bf16_round(random_tensor({n + off}, 400 + n, -3.0f, 3.0f));
      Tensor b = bf16_round(random_tensor({n + off}, 401 + n, -3.0f, 3.0f));
      Tensor da = to_dev(a, DType::kBF16), db = to_dev(b, DType::kBF16);
      Tensor dfa = to_dev(a, DType::kF32), dfb = to_dev(b, DType::kF32);
      Tensor out_b = Tensor::empty({n + off}, DType::kBF16, Device::cuda(0));
      Tensor out_f = Tensor::empty({n + off}, DType::kF32, Device::cuda(0));
      Tensor ah = a.slice(0, off, n + off).contiguous(), bh = b.slice(0, off, n + off).contiguous();
      auto got_b = [&]() { return to_host(out_b).slice(0, off, n + off).contiguous(); };
      auto got_f = [&]() { return to_host(out_f).slice(0, off, n + off).contiguous(); };

      cuda::gelu_tanh_bf16(bf(da) + off, bf(out_b) + off, n, nullptr);
      EXPECT_LE(report_err("gelu_tanh" + tag, got_b(), ops::gelu_tanh(ah)), kBf16Tol);
      cuda::silu_bf16(bf(da) + off, bf(out_b) + off, n, nullptr);
      EXPECT_LE(report_err("silu_bf16" + tag, got_b(), ops::silu(ah)), kBf16Tol);
      cuda::add_bf16(bf(da) + off, bf(db) + off, bf(out_b) + off, n, nullptr);
      EXPECT_LE(report_err("add_bf16" + tag, got_b(), ops::add(ah, bh)), kBf16Tol);
      cuda::mul_bf16(bf(da) + off, bf(db) + off, bf(out_b) + off, n, nullptr);
      EXPECT_LE(report_err("mul_bf16" + tag, got_b(), ops::mul(ah, bh)), kBf16Tol);
      cuda::silu_f32(f32p(dfa) + off, f32p(out_f) + off, n, nullptr);
      EXPECT_LE(report_err("silu_f32" + tag, got_f(), ops::silu(ah)), 1e-5);
      cuda::add_f32(f32p(dfa) + off, f32p(dfb) + off, f32p(out_f) + off, n, nullptr);
      EXPECT_LE(report_err("add_f32" + tag, got_f(), ops::add(ah, bh)), 1e-6);
      cuda::mul_f32(f32p(dfa) + off, f32p(dfb) + off, f32p(out_f) + off, n, nullptr);
      EXPECT_LE(report_err("mul_f32" + tag, got_f(), ops::mul(ah, bh)), 1e-6);
      // conversions: f32 -> bf16 is exact for bf16-representable input; bf16 -> f32 exact
      cuda::f32_to_bf16(f32p(dfa) + off, bf(out_b) + off, n, nullptr);
      EXPECT_EQ(max_abs_diff(got_b(), ah), 0.0) << tag;
      cuda::bf16_to_f32(bf(db) + off, f32p(out_f) + off, n, nullptr);
      EXPECT_EQ(max_abs_diff(got_f(), bh), 0.0) << tag;
      // rounding of f32 -> bf16 matches the host's round-to-nearest-even
      Tensor raw = random_tensor({n + off}, 402 + n, -3.0f, 3.0f);
      Tensor draw = to_dev(raw, DType::kF32);
      cuda::f32_to_bf16(f32p(draw) + off, bf(out_b) + off, n, nullptr);
      EXPECT_EQ(max_abs_diff(got_b(), bf16_round(raw.slice(0, off, n + off).contiguous())), 0.0) << tag;
    }
  }
}

TEST(CudaKernels, SmallLinearF32) {
  REQUIRE_GPU();
  for (auto [rows, n, k] : {std::tuple<int, int64_t, int64_t>{2, 96, 256}, {1, 33, 45}, {3, 300, 64}}) {
    Tensor x = random_tensor({rows, k}, 500 + k, -2.0f, 2.0f);
    Tensor w = bf16_round(random_tensor({n, k}, 501 + k, -0.2f, 0.2f));
    Tensor b = random_tensor({n}, 502, -0.5f, 0.5f);
    Tensor dx = to_dev(x, DType::kF32), dw = to_dev(w, DType::kBF16), db = to_dev(b, DType::kF32);
    Tensor dy = Tensor::empty({rows, n}, DType::kF32, Device::cuda(0));
    const std::string tag = " " + std::to_string(rows) + "x" + std::to_string(n) + "x" + std::to_string(k);
    cuda::small_linear_f32(f32p(dx), bf(dw), f32p(db), f32p(dy), rows, n, k, false, true, nullptr);
    EXPECT_LE(report_err("small_linear silu_out" + tag, to_host(dy), ops::silu(ops::linear(x, w, &b))), 1e-5);
    cuda::small_linear_f32(f32p(dx), bf(dw), nullptr, f32p(dy), rows, n, k, true, false, nullptr);
    EXPECT_LE(report_err("small_linear silu_in" + tag, to_host(dy), ops::linear(ops::silu(x), w)), 1e-5);
  }
}

TEST(CudaKernels, PatchifyUnpatchify) {
  REQUIRE_GPU();
  const int64_t C = 5, F = 3, H = 6, W = 10;
  const int ph = 2, pw = 2;
  const int64_t gh = H / ph, gw = W / pw, L = F * gh * gw, cols = C * ph * pw;
  Tensor lat = bf16_round(random_tensor({C, F, H, W}, 600, -1.0f, 1.0f));
  Tensor dlat = to_dev(lat, DType::kF32);
  Tensor drows = Tensor::empty({L, cols}, DType::kBF16, Device::cuda(0));
  cuda::patchify_bf16(f32p(dlat), bf(drows), C, F, H, W, ph, pw, nullptr);
  // Conv3d weight layout [dim, C, 1, ph, pw]: column (c, a, b); row (f, i, j)
  Tensor ref = Tensor::empty({L, cols});
  const float* pl = lat.data<float>();
  for (int64_t f = 0; f < F; ++f)
    for (int64_t i = 0; i < gh; ++i)
      for (int64_t j = 0; j < gw; ++j)
        for (int64_t c = 0; c < C; ++c)
          for (int a = 0; a < ph; ++a)
            for (int b = 0; b < pw; ++b)
              ref.data<float>()[((f * gh + i) * gw + j) * cols + (c * ph + a) * pw + b] =
                  pl[((c * F + f) * H + i * ph + a) * W + j * pw + b];
  EXPECT_EQ(max_abs_diff(to_host(drows), ref), 0.0);

  // unpatchify: rows [(f, i, j)] x [(a, b, c)] -> [C, F, H, W]
  Tensor head = bf16_round(random_tensor({L, cols}, 601, -1.0f, 1.0f));
  Tensor dhead = to_dev(head, DType::kBF16);
  Tensor dvid = Tensor::empty({C, F, H, W}, DType::kF32, Device::cuda(0));
  cuda::unpatchify_f32(bf(dhead), cols, f32p(dvid), C, F, gh, gw, ph, pw, nullptr);
  Tensor vref = Tensor::empty({C, F, H, W});
  for (int64_t f = 0; f < F; ++f)
    for (int64_t i = 0; i < gh; ++i)
      for (int64_t j = 0; j < gw; ++j)
        for (int a = 0; a < ph; ++a)
          for (int b = 0; b < pw; ++b)
            for (int64_t c = 0; c < C; ++c)
              vref.data<float>()[((c * F + f) * H + i * ph + a) * W + j * pw + b] =
                  head.data<float>()[((f * gh + i) * gw + j) * cols + (a * pw + b) * C + c];
  EXPECT_EQ(max_abs_diff(to_host(dvid), vref), 0.0);
}

TEST(CudaKernels, LtGemmEpilogues) {
  REQUIRE_GPU();
  cuda::LtGemm gemm;
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{129, 96, 64}, {37, 200, 72}}) {
    Tensor x = bf16_round(random_tensor({m, k}, 700 + m, -1.0f, 1.0f));
    Tensor w = bf16_round(random_tensor({n, k}, 701 + m, -0.3f, 0.3f));
    Tensor b = bf16_round(random_tensor({n}, 702 + m, -0.5f, 0.5f));
    Tensor dx = to_dev(x, DType::kBF16), dw = to_dev(w, DType::kBF16), db = to_dev(b, DType::kBF16);
    Tensor dy = Tensor::empty({m, n}, DType::kBF16, Device::cuda(0));
    const std::string tag = " " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
    gemm.linear_bf16(bf(dx), bf(dw), bf(db), bf(dy), m, n, k, cuda::Epilogue::kBias, nullptr);
    Tensor lin = ops::linear(x, w, &b);
    EXPECT_LE(report_err("gemm bias" + tag, to_host(dy), lin), kBf16Tol);
    gemm.linear_bf16(bf(dx), bf(dw), bf(db), bf(dy), m, n, k, cuda::Epilogue::kBiasGelu, nullptr);
    EXPECT_LE(report_err("gemm bias+gelu" + tag, to_host(dy), ops::gelu_tanh(lin)), kBf16Tol);
  }
}

TEST(CudaKernels, RandomFillIsDeterministicAndInRange) {
  REQUIRE_GPU();
  const int64_t n = 100003;
  Tensor a = Tensor::empty({n}, DType::kBF16, Device::cuda(0)), b = Tensor::empty({n}, DType::kBF16, Device::cuda(0));
  cuda::fill_uniform_bf16(bf(a), n, 7, -0.5f, 0.5f, nullptr);
  cuda::fill_uniform_bf16(bf(b), n, 7, -0.5f, 0.5f, nullptr);
  Tensor ha = to_host(a), hb = to_host(b);
  EXPECT_EQ(max_abs_diff(ha, hb), 0.0);
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = ha.data<float>()[i];
    ASSERT_GE(v, -0.5f);
    ASSERT_LE(v, 0.5f);
    mean += v;
  }
  EXPECT_NEAR(mean / n, 0.0, 0.01);
  EXPECT_GT(ops::max_abs(ha), 0.4);
}

TEST(CudaKernels, ResidualLayerNormModulateFused) {
  REQUIRE_GPU();
  for (auto [rows, dim, split, ld_mult] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t>{21, 3072, 5, 1}, {6, 45, 2, 1}, {9, 256, 0, 3}}) {
    const std::string tag = " " + std::to_string(rows) + "x" + std::to_string(dim);
    Tensor x = random_tensor({rows, dim}, 1000 + dim, -3.0f, 3.0f);
    Tensor ys = bf16_round(random_tensor({rows, dim * ld_mult}, 1001 + dim, -2.0f, 2.0f));
    Tensor y = ys.slice(1, 0, dim).contiguous();
    Tensor ga = random_tensor({dim}, 1002, -1.0f, 1.0f), gb = random_tensor({dim}, 1003, -1.0f, 1.0f);
    Tensor sha = random_tensor({dim}, 1004, -0.5f, 0.5f), sca = random_tensor({dim}, 1005, -0.5f, 0.5f);
    Tensor dx = to_dev(x, DType::kF32), dy = to_dev(ys, DType::kBF16);
    Tensor dga = to_dev(ga, DType::kF32), dgb = to_dev(gb, DType::kF32);
    Tensor dsh = to_dev(sha, DType::kF32), dsc = to_dev(sca, DType::kF32);
    Tensor dout = Tensor::empty({rows, dim}, DType::kBF16, Device::cuda(0));
    cuda::residual_layernorm_modulate(f32p(dx), bf(dy), dim * ld_mult, cuda::TokenVec{f32p(dga), f32p(dgb), split, rows},
                                      bf(dout), rows, dim, 1e-6f, nullptr, nullptr, cuda::TokenVec::same(f32p(dsh)),
                                      cuda::TokenVec::same(f32p(dsc)), nullptr);
    Tensor xr = x.clone();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < dim; ++c)
        xr.data<float>()[r * dim + c] += (r < split ? ga : gb).data<float>()[c] * y.data<float>()[r * dim + c];
    EXPECT_LE(report_err("residual_ln x" + tag, to_host(dx), xr), 1e-6);
    Tensor ref = modulate_ref(ops::layer_norm(xr, nullptr, nullptr, 1e-6f), sha, sca, sha, sca, 0);
    EXPECT_LE(report_err("residual_ln out" + tag, to_host(dout), ref), kBf16Tol);
  }
}
