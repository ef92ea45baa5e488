// The GPU DiT forward (tiny config, random weights) against the same forward composed of CPU ops
// with the same (bf16) weights, text-to-video and image-to-video (two modulation rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/dit_fp8.h"
#include "cuda_test_util.h"
#include "dit_test_reference.h"
#include "ops/ops.h"

using namespace wan22;
using namespace wan22::test;
using namespace wan22::test::dit_ref;

namespace {

void check_dit(bool first_frame_clean, bool cudnn = false) {
  const cuda::DitConfig cfg = tiny_config();
  cuda::DitCuda dit(cfg);
  if (cudnn) {
    std::string why;
    if (!dit.use_cudnn_attention(true, &why)) GTEST_SKIP() << "cuDNN unavailable: " << why;
  }
  dit.init_random(5, nullptr);
  const int64_t F = 3, Hl = 6, Wl = 8;
  Tensor latent = bf16_round(random_tensor({cfg.in_dim, F, Hl, Wl}, 900, -1.0f, 1.0f));
  Tensor context = bf16_round(random_tensor({cfg.text_len, cfg.text_dim}, 901, -1.0f, 1.0f));
  Tensor dlat = to_dev(latent, DType::kF32), dctx = to_dev(context, DType::kBF16);
  cuda::DitInputs in;
  in.latent = f32p(dlat);
  in.frames = F, in.height = Hl, in.width = Wl;
  in.context = bf(dctx);
  in.timestep = 640.0;
  in.first_frame_clean = first_frame_clean;
  Tensor out;
  dit.forward(in, out, nullptr);
  ASSERT_EQ(out.shape(), (Shape{cfg.out_dim, F, Hl, Wl}));
  Tensor got = to_host(out);
  Tensor ref = reference_forward(cfg, dit.weights(), latent, context, in.timestep, first_frame_clean);
  EXPECT_GT(ops::max_abs(ref), 1e-3);
  EXPECT_LE(report_err(std::string(first_frame_clean ? "dit i2v" : "dit t2v") + (cudnn ? " cudnn" : ""), got, ref),
            kBf16Tol);
  // the same forward twice gives the same bits
  Tensor out2;
  dit.forward(in, out2, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(out2), got), 0.0);
}

}  // namespace

TEST(CudaDit, TinyForwardMatchesCpuOpsTextToVideo) {
  REQUIRE_GPU();
  check_dit(false);
}

TEST(CudaDit, TinyForwardMatchesCpuOpsImageToVideo) {
  REQUIRE_GPU();
  check_dit(true);
}

TEST(CudaDit, TinyForwardWithCudnnAttention) {
  REQUIRE_GPU();
  check_dit(true, true);
}

// ---- weight streaming, the CFG pair, context padding, fp8 weights (tiny config, random weights) ----

TEST(CudaDit, StreamedBlocksGiveTheSameBits) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda dit(r.cfg);
  dit.init_random(7, nullptr);
  const size_t dev_all = dit.device_weight_bytes();
  Tensor ref;
  dit.forward(r.in, ref, nullptr);
  const Tensor want = to_host(ref);
  for (int resident : {0, 1}) {
    dit.set_resident_blocks(resident, nullptr);
    EXPECT_EQ(dit.resident_blocks(), resident);
    EXPECT_EQ(dit.host_weight_bytes(), static_cast<size_t>(r.cfg.layers - resident) * dit.block_pack_bytes());
    for (int rep = 0; rep < 2; ++rep) {  // twice: the slots' events carry over between forwards
      Tensor out;
      dit.forward(r.in, out, nullptr);
      EXPECT_EQ(max_abs_diff(to_host(out), want), 0.0) << "resident " << resident << " rep " << rep;
    }
  }
  dit.set_resident_blocks(-1, nullptr);
  EXPECT_EQ(dit.host_weight_bytes(), 0u);
  EXPECT_EQ(dit.device_weight_bytes(), dev_all);
  Tensor back;
  dit.forward(r.in, back, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(back), want), 0.0);
}

TEST(CudaDit, CfgPairBatchedMatchesTwoForwards) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda dit(r.cfg);
  dit.init_random(8, nullptr);
  Tensor uctx = bf16_round(random_tensor({r.cfg.text_len, r.cfg.text_dim}, 912, -1.0f, 1.0f));
  Tensor ductx = to_dev(uctx, DType::kBF16);
  Tensor c1, u1, c2, u2;
  dit.forward_cfg(r.in, bf(ductx), -1, c1, u1, nullptr, cuda::CfgBatching::kBatch2);
  dit.forward_cfg(r.in, bf(ductx), -1, c2, u2, nullptr, cuda::CfgBatching::kSequential);
  const Tensor hc1 = to_host(c1), hu1 = to_host(u1), hc2 = to_host(c2), hu2 = to_host(u2);
  EXPECT_LE(report_err("cfg batch2 vs sequential (cond)", hc1, hc2), 5e-3);
  EXPECT_LE(report_err("cfg batch2 vs sequential (uncond)", hu1, hu2), 5e-3);
  EXPECT_GT(rel_err(hu1, hc1), 1e-2);  // the two branches really differ
  // each branch against the CPU composition
  Tensor ref_c = reference_forward(r.cfg, dit.weights(), r.latent, r.context, r.in.timestep, true);
  Tensor ref_u = reference_forward(r.cfg, dit.weights(), r.latent, uctx, r.in.timestep, true);
  EXPECT_LE(report_err("cfg batch2 cond vs CPU", hc1, ref_c), kBf16Tol);
  EXPECT_LE(report_err("cfg batch2 uncond vs CPU", hu1, ref_u), kBf16Tol);
  // kAuto batches small sizes
  dit.set_cfg_batch_max_tokens(1 << 20);
  Tensor c3, u3;
  dit.forward_cfg(r.in, bf(ductx), -1, c3, u3, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(c3), hc1), 0.0);
}

TEST(CudaDit, ShortContextIsZeroPadded) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda dit(r.cfg);
  dit.init_random(9, nullptr);
  const int64_t n = 5;
  Tensor padded = Tensor::zeros({r.cfg.text_len, r.cfg.text_dim});
  padded.narrow(0, 0, n).copy_from(r.context.narrow(0, 0, n));
  Tensor dpad = to_dev(padded, DType::kBF16);
  cuda::DitInputs a = r.in;
  a.context_len = n;  // rows [n, text_len) of the buffer hold other values: they must not be read
  cuda::DitInputs b = r.in;
  b.context = bf(dpad);
  Tensor oa, ob;
  dit.forward(a, oa, nullptr);
  dit.forward(b, ob, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(oa), to_host(ob)), 0.0);
  cuda::DitInputs bad = r.in;
  bad.context_len = r.cfg.text_len + 1;
  Tensor oc;
  EXPECT_THROW(dit.forward(bad, oc, nullptr), Error);
}

TEST(CudaDit, Fp8QuantiseRowsRoundTrip) {
  REQUIRE_GPU();
  const int64_t rows = 37, cols = 200;
  Tensor w = bf16_round(random_tensor({rows, cols}, 920, -0.3f, 0.3f));
  for (int64_t c = 0; c < cols; ++c) w.data<float>()[5 * cols + c] = 0.0f;  // an all-zero row
  Tensor dw = to_dev(w, DType::kBF16);
  Tensor q = Tensor::empty({rows, cols}, DType::kU8, Device::cuda(0));
  Tensor s = Tensor::empty({rows}, DType::kF32, Device::cuda(0));
  Tensor back = Tensor::empty({rows, cols}, DType::kBF16, Device::cuda(0));
  cuda::quantize_rows_e4m3(bf(dw), rows, cols, static_cast<uint8_t*>(q.raw_data()), f32p(s), nullptr);
  cuda::dequantize_rows_e4m3(static_cast<uint8_t*>(q.raw_data()), f32p(s), rows, cols, bf(back), nullptr);
  const Tensor hs = to_host(s), hb = to_host(back);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w.data<float>()[r * cols + c]));
    EXPECT_FLOAT_EQ(hs.data<float>()[r], amax > 0 ? amax / 448.0f : 1.0f) << "row " << r;
  }
  // e4m3 keeps 3 mantissa bits: relative error per element <= 2^-4, overall well under 5%
  EXPECT_LE(report_err("fp8 e4m3 row round trip", hb, w), 0.05);
}

TEST(CudaDit, Fp8WeightsCloseToBf16) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda a(r.cfg), b(r.cfg);
  a.init_random(11, nullptr, cuda::WeightFormat::kBF16);
  b.init_random(11, nullptr, cuda::WeightFormat::kFP8);  // the same draws, quantised per row
  EXPECT_EQ(b.weights().blocks[0].qkv_w.dtype(), DType::kF8E4M3);
  EXPECT_LT(b.block_pack_bytes(), a.block_pack_bytes());
  Tensor oa, ob;
  a.forward(r.in, oa, nullptr);
  b.forward(r.in, ob, nullptr);
  const double cs = cosine(to_host(ob), to_host(oa));
  std::cout << "  [fp8 vs bf16 weights, tiny DiT] cosine " << cs << ", rel err " << rel_err(to_host(ob), to_host(oa))
            << " [" << b.fp8_note() << "]\n";
  EXPECT_GT(cs, 0.99);
  // streamed fp8 blocks: same bits as resident fp8
  b.set_resident_blocks(0, nullptr);
  Tensor oc;
  b.forward(r.in, oc, nullptr);
  EXPECT_EQ(max_abs_diff(to_host(oc), to_host(ob)), 0.0);
}

TEST(CudaDit, Fp8ScaleBiasGeluEpilogue) {
  REQUIRE_GPU();
  const int64_t m = 37, n = 64;
  Tensor y = bf16_round(random_tensor({m, n + 8}, 930, -50.0f, 50.0f));  // 8 spare columns: an unaligned view
  Tensor xs = random_tensor({m}, 931, 0.001f, 0.01f), ws = random_tensor({n}, 932, 0.001f, 0.02f);
  Tensor bias = bf16_round(random_tensor({n}, 933, -0.5f, 0.5f));
  Tensor dxs = to_dev(xs, DType::kF32), dws = to_dev(ws, DType::kF32), db = to_dev(bias, DType::kBF16);
  for (bool gelu : {false, true}) {
    Tensor ref = Tensor::empty({m, n});
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        float v = y.data<float>()[r * (n + 8) + c] * xs.data<float>()[r] * ws.data<float>()[c] + bias.data<float>()[c];
        if (gelu) v = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        ref.data<float>()[r * n + c] = v;
      }
    // aligned rows (the vectorised kernel) and rows starting one element in (the scalar kernel)
    for (int64_t off : {int64_t{0}, int64_t{1}}) {
      Tensor flat = Tensor::zeros({m * n + 8});
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) flat.data<float>()[off + r * n + c] = y.data<float>()[r * (n + 8) + c];
      Tensor dy = to_dev(flat, DType::kBF16);
      cuda::scale_bias_act_bf16(bf(dy) + off, m, n, f32p(dxs), f32p(dws), bf(db), gelu, nullptr);
      Tensor got = to_host(dy).slice(0, off, off + m * n).contiguous().view({m, n});
      EXPECT_LE(report_err(std::string("fp8 epilogue ") + (gelu ? "gelu" : "bias") + (off ? " scalar" : " vec"), got, ref),
                kBf16Tol);
    }
  }
}
