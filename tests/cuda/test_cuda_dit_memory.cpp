// The memory options of the CUDA DiT (issue 6) on the tiny random DiT: activation chunking
// (set_segments) against the whole forward and the CPU composition, with the CFG batch, streamed
// blocks and fp8 / int8 weights; attention head slicing (bit-identical); int8 weight-only
// quantisation (kernels and forward against bf16); the allocator's peak with segments.
//
// Tolerances. Segmented vs whole: the elementwise kernels see the same inputs and give the same
// bits, the own attention kernel computes each query row independently of the others; only the
// GEMMs run with a smaller M (and q apart from k|v), so cuBLASLt may choose another algorithm whose
// f32 accumulation order differs. That flips the bf16 rounding of a small fraction of the GEMM
// outputs: relative error well under 1e-3 expected, tested at kSegTol = 2e-3 (the measured value is
// printed). fp8 compares by cosine: a GEMM shape without an fp8 algorithm falls back to the
// dequantised weight with bf16 activations (dit_fp8.h), so M alone may change the path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/dit_int8.h"
#include "backends/cuda/kernels.h"
#include "cuda_test_util.h"
#include "dit_test_reference.h"

using namespace wan22;
using namespace wan22::test;
using namespace wan22::test::dit_ref;

namespace {

constexpr double kSegTol = 2e-3;

Tensor run_forward(cuda::DitCuda& dit, const cuda::DitInputs& in) {
  Tensor out;
  dit.forward(in, out, nullptr);
  return to_host(out);
}

}  // namespace

// ---------------- activation chunking ----------------

// The segment kernels: a call on rows [r0, r1) with row_offset r0 gives the bits of the whole
// call's rows (per-token modulation rows, RoPE positions, two batch items).
TEST(CudaDitMemory, RowOffsetsGiveTheWholeCallsRows) {
  REQUIRE_GPU();
  const int64_t B = 2, gf = 3, gh = 2, gw = 4, L = gf * gh * gw, D = 256, hd = 64, rows = B * L;
  Tensor x = random_tensor({rows, D}, 960, -2.0f, 2.0f);
  Tensor mod = random_tensor({2, 2, D}, 961, -0.5f, 0.5f);  // [row class, shift|scale, D]
  Tensor xq = bf16_round(random_tensor({rows, D}, 962, -1.0f, 1.0f));
  Tensor nw = random_tensor({D}, 963, 0.5f, 1.5f);
  Tensor dx = to_dev(x, DType::kF32), dmod = to_dev(mod, DType::kF32),
         dxq = to_dev(xq, DType::kBF16);
  Tensor dnw = to_dev(nw, DType::kF32);
  const int64_t nrope = cuda::rope_table_size(gf, gh, gw, static_cast<int>(hd));
  std::vector<float2> host_rope(static_cast<size_t>(nrope));
  cuda::rope_table_fill(host_rope.data(), gf, gh, gw, static_cast<int>(hd));
  Tensor rope_t = Tensor::empty({2 * nrope}, DType::kF32, Device::cuda(0));
  ASSERT_EQ(cudaMemcpy(rope_t.raw_data(), host_rope.data(), host_rope.size() * sizeof(float2),
                       cudaMemcpyHostToDevice),
            cudaSuccess);
  cuda::RopeTable rope{reinterpret_cast<const float2*>(rope_t.raw_data()), gf, gh, gw,
                       static_cast<int>(hd)};
  const float* m = f32p(dmod);
  // class a (row 1: frame-0 tokens) for the first gh * gw tokens of each item
  auto tv = [&](int c, int64_t off) {
    return cuda::TokenVec{m + (2 + c) * D, m + c * D, gh * gw, L, off};
  };
  Tensor ln_whole = Tensor::empty({rows, D}, DType::kBF16, Device::cuda(0));
  Tensor ln_seg = Tensor::empty({rows, D}, DType::kBF16, Device::cuda(0));
  Tensor rr_whole = Tensor::empty({rows, D}, DType::kBF16, Device::cuda(0));
  Tensor rr_seg = Tensor::empty({rows, D}, DType::kBF16, Device::cuda(0));
  cuda::layernorm_modulate(f32p(dx), bf(ln_whole), rows, D, 1e-6f, nullptr, nullptr, tv(0, 0),
                           tv(1, 0), nullptr);
  cuda::rmsnorm_rope(bf(dxq), D, bf(rr_whole), D, rows, D, f32p(dnw), 1e-6f, rope, L, nullptr);
  // segments of 10 rows: edges inside the frame-0 block, across the two items
  for (int64_t r0 = 0; r0 < rows; r0 += 10) {
    const int64_t n = std::min<int64_t>(10, rows - r0);
    cuda::layernorm_modulate(f32p(dx) + r0 * D, bf(ln_seg) + r0 * D, n, D, 1e-6f, nullptr, nullptr,
                             tv(0, r0), tv(1, r0), nullptr);
    cuda::RopeTable ro = rope;
    ro.row_offset = r0;
    cuda::rmsnorm_rope(bf(dxq) + r0 * D, D, bf(rr_seg) + r0 * D, D, n, D, f32p(dnw), 1e-6f, ro, L,
                       nullptr);
  }
  const Tensor lw = to_host(ln_whole), ls = to_host(ln_seg), rw = to_host(rr_whole),
               rs = to_host(rr_seg);
  EXPECT_EQ(max_abs_diff(ls, lw), 0.0);
  EXPECT_EQ(max_abs_diff(rs, rw), 0.0);
  // without the offsets the segments would be wrong (the test can fail)
  cuda::RopeTable r10 = rope;  // rows 10.. as if they were tokens 0..
  cuda::rmsnorm_rope(bf(dxq) + 10 * D, D, bf(rr_seg) + 10 * D, D, 10, D, f32p(dnw), 1e-6f, r10, L,
                     nullptr);
  EXPECT_GT(max_abs_diff(to_host(rr_seg), rw), 1e-2);
}

TEST(CudaDitMemory, SegmentsMatchTheWholeForward) {
  REQUIRE_GPU();
  TinyRun r;  // 36 tokens, the first 12 (latent frame 0) at their own timestep
  cuda::DitCuda dit(r.cfg);
  dit.init_random(21, nullptr);
  EXPECT_EQ(dit.segments(), 1);
  const Tensor whole = run_forward(dit, r.in);
  const Tensor ref =
      reference_forward(r.cfg, dit.weights(), r.latent, r.context, r.in.timestep, true);
  EXPECT_LE(report_err("whole vs CPU", whole, ref), kBf16Tol);
  // 2: 18-token segments; 3: 12 (the frame-0 split at a segment edge); 4: 10 (the split inside a
  // segment); 5: 8 (a short last segment); 36: one token (rounded to 2); 100: more segments than
  // tokens
  for (int n : {2, 3, 4, 5, 36, 100}) {
    dit.set_segments(n);
    EXPECT_EQ(dit.segments(), n);
    const Tensor got = run_forward(dit, r.in);
    const std::string what = "segments " + std::to_string(n);
    EXPECT_LE(report_err(what + " vs whole", got, whole), kSegTol);
    EXPECT_LE(report_err(what + " vs CPU", got, ref), kBf16Tol);
    EXPECT_EQ(max_abs_diff(run_forward(dit, r.in), got), 0.0) << what << ": not deterministic";
  }
  // back to 1: the whole path, the same bits as before
  dit.set_segments(0);
  EXPECT_EQ(dit.segments(), 1);
  EXPECT_EQ(max_abs_diff(run_forward(dit, r.in), whole), 0.0);
}

TEST(CudaDitMemory, SegmentsTextToVideoAndCudnn) {
  REQUIRE_GPU();
  TinyRun r;
  r.in.first_frame_clean = false;  // one modulation row
  cuda::DitCuda dit(r.cfg);
  dit.init_random(22, nullptr);
  const Tensor whole = run_forward(dit, r.in);
  const Tensor ref =
      reference_forward(r.cfg, dit.weights(), r.latent, r.context, r.in.timestep, false);
  dit.set_segments(4);
  const Tensor seg = run_forward(dit, r.in);
  EXPECT_LE(report_err("t2v segments 4 vs whole", seg, whole), kSegTol);
  EXPECT_LE(report_err("t2v segments 4 vs CPU", seg, ref), kBf16Tol);
  std::string why;
  if (!dit.use_cudnn_attention(true, &why)) GTEST_SKIP() << "cuDNN unavailable: " << why;
  const Tensor cseg = run_forward(dit, r.in);
  dit.set_segments(1);
  const Tensor cwhole = run_forward(dit, r.in);
  if (!dit.cudnn_note().empty()) std::cout << "  note: " << dit.cudnn_note() << "\n";
  // cuDNN may pick another engine per query length: compared like the GEMMs
  EXPECT_LE(report_err("t2v cuDNN segments 4 vs cuDNN whole", cseg, cwhole), kSegTol);
  EXPECT_LE(report_err("t2v cuDNN segments 4 vs CPU", cseg, ref), kBf16Tol);
}

TEST(CudaDitMemory, SegmentsWithTheCfgPair) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda dit(r.cfg);
  dit.init_random(23, nullptr);
  Tensor uctx = bf16_round(random_tensor({r.cfg.text_len, r.cfg.text_dim}, 940, -1.0f, 1.0f));
  Tensor ductx = to_dev(uctx, DType::kBF16);
  const Tensor ref_u = reference_forward(r.cfg, dit.weights(), r.latent, uctx, r.in.timestep, true);
  for (auto mode : {cuda::CfgBatching::kBatch2, cuda::CfgBatching::kSequential}) {
    const std::string name = mode == cuda::CfgBatching::kBatch2 ? "cfg batch 2" : "cfg sequential";
    dit.set_segments(1);
    Tensor c1, u1;
    dit.forward_cfg(r.in, bf(ductx), -1, c1, u1, nullptr, mode);
    const Tensor wc = to_host(c1), wu = to_host(u1);
    // batch 2 with 5 segments: 16-row segments over the 72 rows, one of them spans both items
    for (int n : {4, 5}) {
      dit.set_segments(n);
      const std::string what = name + ", segments " + std::to_string(n);
      Tensor c, u;
      dit.forward_cfg(r.in, bf(ductx), -1, c, u, nullptr, mode);
      const Tensor hc = to_host(c), hu = to_host(u);
      EXPECT_LE(report_err(what + " (cond) vs whole", hc, wc), kSegTol);
      EXPECT_LE(report_err(what + " (uncond) vs whole", hu, wu), kSegTol);
      EXPECT_LE(report_err(what + " (uncond) vs CPU", hu, ref_u), kBf16Tol);
      EXPECT_GT(rel_err(hu, hc), 1e-2);  // the two branches really differ
    }
  }
}

TEST(CudaDitMemory, SegmentsWithStreamedBlocks) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda dit(r.cfg);
  dit.init_random(24, nullptr);
  dit.set_segments(3);
  const Tensor resident = run_forward(dit, r.in);
  for (int res : {0, 1}) {
    dit.set_resident_blocks(res, nullptr);
    for (int rep = 0; rep < 2; ++rep) {  // twice: the slots' events carry over between forwards
      EXPECT_EQ(max_abs_diff(run_forward(dit, r.in), resident), 0.0)
          << "resident " << res << " rep " << rep;
    }
  }
}

TEST(CudaDitMemory, SegmentsWithQuantisedWeights) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda base(r.cfg);
  base.init_random(25, nullptr);
  const Tensor ref_bf16 = run_forward(base, r.in);
  for (auto fmt : {cuda::WeightFormat::kFP8, cuda::WeightFormat::kInt8}) {
    const std::string name = cuda::weight_format_name(fmt);
    cuda::DitCuda q(r.cfg);
    q.init_random(25, nullptr, fmt);  // the bf16 model's draws, quantised per row
    const Tensor whole = run_forward(q, r.in);
    q.set_segments(4);
    const Tensor seg = run_forward(q, r.in);
    const double cs = cosine(seg, ref_bf16);
    std::cout << "  [" << name << " segments 4] cosine vs bf16 whole " << cs << ", vs " << name
              << " whole " << cosine(seg, whole) << ", rel err vs " << name << " whole "
              << rel_err(seg, whole) << "\n";
    EXPECT_GT(cs, 0.99);
    if (fmt == cuda::WeightFormat::kInt8) {
      // int8 runs the bf16 GEMM on dequantised weights: the same noise as bf16 segments
      EXPECT_LE(rel_err(seg, whole), kSegTol);
    } else {
      EXPECT_GT(cosine(seg, whole), 0.99);
    }
    // streamed quantised blocks: the same bits as resident
    q.set_resident_blocks(0, nullptr);
    EXPECT_EQ(max_abs_diff(run_forward(q, r.in), seg), 0.0) << name;
  }
}

// The allocator's peak during a forward with 4 segments is below the whole forward's by about the
// per-token buffers that shrink (expected saving from the buffer sizes of dit_cuda*.cpp).
TEST(CudaDitMemory, SegmentsLowerTheAllocatorPeak) {
  REQUIRE_GPU();
  cuda::DitConfig cfg = tiny_config();
  cfg.ffn_dim = 512;  // a wide FFN, as the real models (ffn = 4.7 dim)
  cuda::DitCuda dit(cfg);
  dit.init_random(26, nullptr);
  const int64_t F = 4, Hl = 64, Wl = 64;  // 4096 tokens: the activations dominate the tiny weights
  Tensor latent = bf16_round(random_tensor({cfg.in_dim, F, Hl, Wl}, 941, -1.0f, 1.0f));
  Tensor context = bf16_round(random_tensor({cfg.text_len, cfg.text_dim}, 942, -1.0f, 1.0f));
  Tensor dlat = to_dev(latent, DType::kF32), dctx = to_dev(context, DType::kBF16);
  cuda::DitInputs in;
  in.latent = f32p(dlat);
  in.frames = F, in.height = Hl, in.width = Wl;
  in.context = bf(dctx);
  in.timestep = 700.0;
  CachingAllocator* alloc = cuda::allocator();
  ASSERT_NE(alloc, nullptr);
  Tensor out;
  auto peak_of = [&](int segments) {
    dit.set_segments(segments);
    dit.forward(in, out, nullptr);  // warm: RoPE table, output, GEMM plans
    alloc->reset_peak();
    const double before = static_cast<double>(alloc->caching_stats().current_bytes);
    dit.forward(in, out, nullptr);
    return static_cast<double>(alloc->caching_stats().peak_bytes) - before;
  };
  const double whole = peak_of(1), seg4 = peak_of(4);
  const Tensor o4 = to_host(out);
  // buffers that differ (bytes): whole = xn, qkv, attention out, projection out, FFN hidden over
  // all L tokens; segmented = k|v and the head output over L, xn, q, attention out, projection out,
  // FFN hidden and the head's segment output over ceil(L / 4) (rounded up to even)
  const double D = static_cast<double>(cfg.dim), FF = static_cast<double>(cfg.ffn_dim);
  const double L = static_cast<double>(F * (Hl / cfg.patch_h) * (Wl / cfg.patch_w));
  const double pout = static_cast<double>(cfg.out_dim * cfg.patch_h * cfg.patch_w);
  double seg = std::ceil(L / 4);
  seg += std::fmod(seg, 2.0);
  const double whole_bufs = L * (2 * D + 6 * D + 2 * D + 2 * D + 2 * FF);
  const double seg_bufs = L * (4 * D + 2 * pout) + seg * (8 * D + 2 * FF + 2 * pout);
  const double expected_saving = whole_bufs - seg_bufs;
  std::cout << "  [allocator peak above the weights, 4096 tokens] whole " << whole / 1048576.0
            << " MiB, 4 segments " << seg4 / 1048576.0 << " MiB; saving "
            << (whole - seg4) / 1048576.0 << " MiB, expected " << expected_saving / 1048576.0
            << " MiB\n";
  ASSERT_GT(expected_saving, 0.25 * whole_bufs);  // the sizes make this a meaningful check
  EXPECT_LT(seg4, whole);
  EXPECT_GE(whole - seg4, 0.8 * expected_saving);
  EXPECT_LE(whole - seg4, 1.2 * expected_saving);
  // and the segmented forward still computes the same thing
  dit.set_segments(1);
  dit.forward(in, out, nullptr);
  EXPECT_LE(report_err("4096 tokens, segments 4 vs whole", o4, to_host(out)), kSegTol);
}

// ---------------- attention head slicing ----------------

TEST(CudaDitMemory, AttentionSlicesAreBitIdentical) {
  REQUIRE_GPU();
  TinyRun r;
  r.cfg.heads = 4;  // head dim 32: slices of 1, 3 (+ 1), 4 heads
  cuda::DitCuda dit(r.cfg);
  dit.init_random(27, nullptr);
  const Tensor whole = run_forward(dit, r.in);
  const Tensor ref =
      reference_forward(r.cfg, dit.weights(), r.latent, r.context, r.in.timestep, true);
  EXPECT_LE(report_err("4 heads vs CPU", whole, ref), kBf16Tol);
  for (int g : {1, 2, 3, 4, 8}) {
    dit.set_attention_slice(g);
    EXPECT_EQ(dit.attention_slice(), g);
    EXPECT_EQ(max_abs_diff(run_forward(dit, r.in), whole), 0.0) << "slice " << g;
  }
  // with segments: the same bits as segments alone
  dit.set_attention_slice(0);
  dit.set_segments(3);
  const Tensor seg = run_forward(dit, r.in);
  dit.set_attention_slice(1);
  EXPECT_EQ(max_abs_diff(run_forward(dit, r.in), seg), 0.0);
  // cuDNN: one plan per head count, possibly another engine
  std::string why;
  dit.set_segments(1);
  dit.set_attention_slice(0);
  if (!dit.use_cudnn_attention(true, &why)) GTEST_SKIP() << "cuDNN unavailable: " << why;
  const Tensor cwhole = run_forward(dit, r.in);
  dit.set_attention_slice(1);
  EXPECT_LE(
      report_err("cuDNN attention sliced per head vs one call", run_forward(dit, r.in), cwhole),
      kSegTol);
}

// ---------------- int8 weight-only quantisation ----------------

TEST(CudaDitMemory, Int8QuantiseRowsRoundTrip) {
  REQUIRE_GPU();
  // 200 columns: the scalar dequantisation kernel; 208: the vectorised one (16 per thread)
  for (int64_t cols : {int64_t{200}, int64_t{208}}) {
    const int64_t rows = 37;
    Tensor w = bf16_round(random_tensor({rows, cols}, 950, -0.3f, 0.3f));
    for (int64_t c = 0; c < cols; ++c) w.data<float>()[5 * cols + c] = 0.0f;  // an all-zero row
    w.data<float>()[7 * cols + 3] = 2.5f;                                     // an outlier
    Tensor dw = to_dev(w, DType::kBF16);
    Tensor q = Tensor::empty({rows, cols}, DType::kI8, Device::cuda(0));
    Tensor s = Tensor::empty({rows}, DType::kF32, Device::cuda(0));
    Tensor back = Tensor::empty({rows, cols}, DType::kBF16, Device::cuda(0));
    cuda::quantize_rows_int8(bf(dw), rows, cols, static_cast<int8_t*>(q.raw_data()), f32p(s),
                             nullptr);
    cuda::dequantize_rows_int8(static_cast<const int8_t*>(q.raw_data()), f32p(s), rows, cols,
                               bf(back), nullptr);
    const Tensor hs = to_host(s), hb = to_host(back), hq = to_host(q);
    int bad = 0;
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0;
      for (int64_t c = 0; c < cols; ++c)
        amax = std::max(amax, std::fabs(w.data<float>()[r * cols + c]));
      const float scale = hs.data<float>()[r];
      EXPECT_FLOAT_EQ(scale, amax > 0 ? amax / 127.0f : 1.0f) << "row " << r;
      for (int64_t c = 0; c < cols; ++c) {
        const float x = w.data<float>()[r * cols + c], qv = hq.data<float>()[r * cols + c];
        const float y = hb.data<float>()[r * cols + c];
        // the integer is the nearest level, within [-127, 127]; the bf16 output rounds q * scale
        if (std::fabs(qv) > 127.0f || std::fabs(qv * scale - x) > 0.5f * scale * 1.0001f ||
            std::fabs(y - qv * scale) > std::fabs(qv * scale) * 0.004f) {
          if (++bad <= 5)
            ADD_FAILURE() << "cols " << cols << " [" << r << ", " << c << "]: x " << x << " q "
                          << qv << " scale " << scale << " back " << y;
        }
      }
    }
    EXPECT_EQ(bad, 0);
    EXPECT_LE(report_err("int8 row round trip, " + std::to_string(cols) + " columns", hb, w), 0.02);
  }
}

TEST(CudaDitMemory, Int8WeightsCloseToBf16) {
  REQUIRE_GPU();
  TinyRun r;
  cuda::DitCuda a(r.cfg), b(r.cfg);
  a.init_random(28, nullptr, cuda::WeightFormat::kBF16);
  b.init_random(28, nullptr, cuda::WeightFormat::kInt8);  // the same draws, quantised per row
  EXPECT_EQ(b.format(), cuda::WeightFormat::kInt8);
  EXPECT_EQ(b.weights().blocks[0].qkv_w.dtype(), DType::kI8);
  EXPECT_EQ(b.weights().blocks[0].ffn2_s.shape(), (Shape{r.cfg.dim}));
  EXPECT_LT(b.block_pack_bytes(), a.block_pack_bytes());
  const Tensor oa = run_forward(a, r.in), ob = run_forward(b, r.in);
  const double cs = cosine(ob, oa);
  std::cout << "  [int8 vs bf16 weights, tiny DiT] cosine " << cs << ", rel err " << rel_err(ob, oa)
            << "\n";
  EXPECT_GE(cs, 0.999);
  // the CFG pair and streamed blocks with int8 weights
  Tensor uctx = bf16_round(random_tensor({r.cfg.text_len, r.cfg.text_dim}, 951, -1.0f, 1.0f));
  Tensor ductx = to_dev(uctx, DType::kBF16);
  Tensor c1, u1;
  b.forward_cfg(r.in, bf(ductx), -1, c1, u1, nullptr, cuda::CfgBatching::kBatch2);
  // as CudaDit.CfgPairBatchedMatchesTwoForwards: batch 2 changes the GEMMs' M
  EXPECT_LE(report_err("int8 cfg batch 2 (cond) vs forward", to_host(c1), ob), 5e-3);
  b.set_resident_blocks(0, nullptr);
  EXPECT_EQ(max_abs_diff(run_forward(b, r.in), ob), 0.0);
}
