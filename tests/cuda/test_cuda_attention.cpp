// Flash attention on the GPU against ops::attention (f32 CPU) at bf16 tolerance; every kernel
// variant, Lq != Lk, lengths that are not multiples of the tiles, strided (fused QKV) inputs.
#include <gtest/gtest.h>

#include <string>

#include "backends/cuda/cudnn_sdpa.h"
#include "backends/cuda/flash_attention.h"
#include "cuda_test_util.h"
#include "ops/ops.h"

using namespace wan22;
using namespace wan22::test;

namespace {

struct Case {
  int64_t B, Lq, Lk, H, D;
  float q_gain;  // > 1 sharpens the softmax
};

std::string case_name(const Case& c) {
  return "B" + std::to_string(c.B) + " Lq" + std::to_string(c.Lq) + " Lk" + std::to_string(c.Lk) + " H" +
         std::to_string(c.H) + " D" + std::to_string(c.D);
}

void check_case(const Case& c, uint64_t seed) {
  Tensor q = bf16_round(random_tensor({c.B, c.Lq, c.H, c.D}, seed, -c.q_gain, c.q_gain));
  Tensor k = bf16_round(random_tensor({c.B, c.Lk, c.H, c.D}, seed + 1, -1.0f, 1.0f));
  Tensor v = bf16_round(random_tensor({c.B, c.Lk, c.H, c.D}, seed + 2, -1.0f, 1.0f));
  Tensor ref = ops::attention(q, k, v);
  Tensor dq = to_dev(q, DType::kBF16), dk = to_dev(k, DType::kBF16), dv = to_dev(v, DType::kBF16);
  Tensor dout = Tensor::empty({c.B, c.Lq, c.H, c.D}, DType::kBF16, Device::cuda(0));
  cuda::FlashParams p;
  p.q = bf(dq), p.k = bf(dk), p.v = bf(dv), p.o = bf(dout);
  p.lq = cuda::AttnLayout::contiguous(c.Lq, c.H, c.D);
  p.lk = p.lv = cuda::AttnLayout::contiguous(c.Lk, c.H, c.D);
  p.lo = p.lq;
  p.batch = c.B, p.len_q = c.Lq, p.len_k = c.Lk, p.heads = c.H, p.head_dim = static_cast<int>(c.D);
  for (auto [variant, vname] : {std::pair{cuda::FlashVariant::kW4M2, "W4M2"}, std::pair{cuda::FlashVariant::kW8M2, "W8M2"},
                                std::pair{cuda::FlashVariant::kW8M1, "W8M1"}}) {
    // poison the output so unwritten rows show up
    ASSERT_EQ(cudaMemset(dout.raw_data(), 0x7f, dout.nbytes()), cudaSuccess);
    cuda::flash_attention_fwd(p, nullptr, variant);
    EXPECT_LE(report_err("flash " + std::string(vname) + " " + case_name(c), to_host(dout), ref), kBf16Tol);
  }
}

}  // namespace

TEST(CudaFlashAttention, SquareHeadDim128) {
  REQUIRE_GPU();
  check_case({1, 256, 256, 2, 128, 3.0f}, 10);
}

TEST(CudaFlashAttention, RaggedLengthsAndBatches) {
  REQUIRE_GPU();
  check_case({2, 77, 200, 3, 128, 3.0f}, 20);   // Lq < one tile, Lk not a multiple of 64
  check_case({1, 300, 65, 2, 128, 2.0f}, 30);   // one key past a tile
  check_case({1, 513, 1000, 1, 128, 1.0f}, 40); // Lq just past two tiles
  check_case({1, 1, 7, 4, 128, 3.0f}, 50);      // tiny
}

TEST(CudaFlashAttention, HeadDim64) {
  REQUIRE_GPU();
  check_case({2, 130, 190, 3, 64, 3.0f}, 60);
}

// The golden fixture DiT's size (dim 64, 2 heads): head dim 32, a dozen tokens, 16 text rows.
TEST(CudaFlashAttention, HeadDim32) {
  REQUIRE_GPU();
  check_case({1, 12, 12, 2, 32, 3.0f}, 61);
  check_case({2, 12, 16, 2, 32, 2.0f}, 62);
  check_case({2, 150, 333, 3, 32, 3.0f}, 63);
}

TEST(CudaFlashAttention, FusedQkvLayoutAndScale) {
  REQUIRE_GPU();
  // q, k, v interleaved in one [L, 3*H*D] buffer, as the fused QKV GEMM writes them
  const int64_t L = 150, H = 2, D = 128, row = 3 * H * D;
  Tensor qkv = bf16_round(random_tensor({L, row}, 70, -2.0f, 2.0f));
  Tensor q = qkv.slice(1, 0, H * D).contiguous().view({1, L, H, D});
  Tensor k = qkv.slice(1, H * D, 2 * H * D).contiguous().view({1, L, H, D});
  Tensor v = qkv.slice(1, 2 * H * D, 3 * H * D).contiguous().view({1, L, H, D});
  ops::AttentionOptions opt;
  opt.scale = 0.05f;
  Tensor ref = ops::attention(q, k, v, opt);
  Tensor dqkv = to_dev(qkv, DType::kBF16);
  Tensor dout = Tensor::empty({1, L, H, D}, DType::kBF16, Device::cuda(0));
  cuda::FlashParams p;
  p.q = bf(dqkv), p.k = bf(dqkv) + H * D, p.v = bf(dqkv) + 2 * H * D, p.o = bf(dout);
  p.lq = p.lk = p.lv = cuda::AttnLayout{L * row, row, D};
  p.lo = cuda::AttnLayout::contiguous(L, H, D);
  p.batch = 1, p.len_q = L, p.len_k = L, p.heads = H, p.head_dim = static_cast<int>(D), p.scale = 0.05f;
  cuda::flash_attention_fwd(p, nullptr);
  EXPECT_LE(report_err("flash fused qkv", to_host(dout), ref), kBf16Tol);
}

TEST(CudaFlashAttention, RejectsBadInput) {
  REQUIRE_GPU();
  cuda::FlashParams p;
  EXPECT_THROW(cuda::flash_attention_fwd(p, nullptr), Error);
  Tensor d = Tensor::empty({64, 96}, DType::kBF16, Device::cuda(0));
  p.q = p.k = p.v = p.o = bf(d);
  p.len_q = p.len_k = 8, p.heads = 1, p.head_dim = 96;
  p.lq = p.lk = p.lv = p.lo = cuda::AttnLayout::contiguous(8, 1, 96);
  EXPECT_THROW(cuda::flash_attention_fwd(p, nullptr), Error);  // head_dim 96 unsupported
}

// cuDNN's fused attention (run-time loaded): the same parity; skipped with the reason when the
// library is missing.
TEST(CudaFlashAttention, CudnnSdpaMatchesCpu) {
  REQUIRE_GPU();
  cuda::CudnnSdpa sdpa;
  if (!sdpa.available()) GTEST_SKIP() << "cuDNN unavailable: " << sdpa.reason();
  std::cout << "  cuDNN " << sdpa.version() << " from " << sdpa.library() << "\n";
  for (const Case& c : {Case{1, 256, 256, 2, 128, 3.0f}, Case{2, 77, 200, 3, 128, 3.0f}, Case{1, 300, 512, 2, 128, 1.0f},
                        Case{2, 12, 16, 2, 32, 2.0f}, Case{1, 150, 333, 3, 64, 3.0f}}) {
    Tensor q = bf16_round(random_tensor({c.B, c.Lq, c.H, c.D}, 80, -c.q_gain, c.q_gain));
    Tensor k = bf16_round(random_tensor({c.B, c.Lk, c.H, c.D}, 81, -1.0f, 1.0f));
    Tensor v = bf16_round(random_tensor({c.B, c.Lk, c.H, c.D}, 82, -1.0f, 1.0f));
    Tensor ref = ops::attention(q, k, v);
    Tensor dq = to_dev(q, DType::kBF16), dk = to_dev(k, DType::kBF16), dv = to_dev(v, DType::kBF16);
    Tensor dout = Tensor::empty({c.B, c.Lq, c.H, c.D}, DType::kBF16, Device::cuda(0));
    ASSERT_EQ(cudaMemset(dout.raw_data(), 0x7f, dout.nbytes()), cudaSuccess);
    cuda::FlashParams p;
    p.q = bf(dq), p.k = bf(dk), p.v = bf(dv), p.o = bf(dout);
    p.lq = p.lo = cuda::AttnLayout::contiguous(c.Lq, c.H, c.D);
    p.lk = p.lv = cuda::AttnLayout::contiguous(c.Lk, c.H, c.D);
    p.batch = c.B, p.len_q = c.Lq, p.len_k = c.Lk, p.heads = c.H, p.head_dim = static_cast<int>(c.D);
    try {
      sdpa.run(p, nullptr);
    } catch (const Error& e) {
      FAIL() << case_name(c) << ": " << e.what();
    }
    EXPECT_LE(report_err("cudnn sdpa " + case_name(c), to_host(dout), ref), kBf16Tol);
  }
}
