// The Wan2.2 DiT forward on the GPU (bf16 linear layers through cuBLASLt, fp32 residual stream,
// fused norm/RoPE kernels, own flash attention). Weights live in device Tensors with the official
// parameter shapes; q/k/v of self-attention and k/v of cross-attention are stored concatenated
// ([3*dim, dim] and [2*dim, dim]) so that one GEMM computes them. init_random() fills random
// weights (benchmarks); a WeightStore loader can fill the same tensors later.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cudnn_sdpa.h"
#include "backends/cuda/flash_attention.h"
#include "core/tensor.h"

namespace wan22::cuda {

struct DitConfig {
  int64_t dim = 3072, ffn_dim = 14336, heads = 24, layers = 30, freq_dim = 256, text_dim = 4096,
          text_len = 512, in_dim = 48, out_dim = 48;
  int patch_t = 1, patch_h = 2, patch_w = 2;
  float eps = 1e-6f;
  static DitConfig ti2v_5b() { return DitConfig{}; }
  int64_t head_dim() const { return dim / heads; }
};

struct DitBlockWeights {
  Tensor modulation;                // f32 [6, dim]
  Tensor qkv_w, qkv_b;              // bf16 [3*dim, dim], [3*dim]  (self_attn.q|k|v)
  Tensor o_w, o_b;                  // bf16 [dim, dim], [dim]
  Tensor norm_q, norm_k;            // f32 [dim]
  Tensor norm3_w, norm3_b;          // f32 [dim]
  Tensor cq_w, cq_b;                // bf16 cross_attn.q
  Tensor ckv_w, ckv_b;              // bf16 [2*dim, dim] cross_attn.k|v
  Tensor co_w, co_b;                // bf16 cross_attn.o
  Tensor cnorm_q, cnorm_k;          // f32 [dim]
  Tensor ffn1_w, ffn1_b;            // bf16 [ffn, dim]
  Tensor ffn2_w, ffn2_b;            // bf16 [dim, ffn]
};

struct DitWeights {
  Tensor patch_w, patch_b;          // bf16 [dim, in_dim*pt*ph*pw], [dim]
  Tensor text1_w, text1_b;          // bf16 [dim, text_dim]
  Tensor text2_w, text2_b;          // bf16 [dim, dim]
  Tensor time1_w;                   // bf16 [dim, freq_dim]
  Tensor time1_b;                   // f32 [dim]
  Tensor time2_w;                   // bf16 [dim, dim]
  Tensor time2_b;                   // f32
  Tensor proj_w;                    // bf16 [6*dim, dim]
  Tensor proj_b;                    // f32 [6*dim]
  Tensor head_mod;                  // f32 [2, dim]
  Tensor head_w, head_b;            // bf16 [out_dim*pt*ph*pw, dim]
  std::vector<DitBlockWeights> blocks;
};

// Inputs of one forward (batch 1). latent f32 [in_dim, F, H, W] on the device, context bf16
// [text_len, text_dim] on the device (padded text embeddings).
struct DitInputs {
  const float* latent = nullptr;
  int64_t frames = 0, height = 0, width = 0;  // latent F, H, W
  const bf16* context = nullptr;
  double timestep = 0.0;
  // Image-to-video: the tokens of latent frame 0 run at t = 0 (a second modulation row).
  bool first_frame_clean = false;
};

class DitCuda {
 public:
  explicit DitCuda(const DitConfig& cfg);
  const DitConfig& config() const { return cfg_; }
  DitWeights& weights() { return w_; }
  // Allocates every weight on the device and fills it with seeded random values.
  void init_random(uint64_t seed, cudaStream_t stream);
  // out: f32 [out_dim, F, H, W] on the device (allocated if undefined or the wrong shape).
  void forward(const DitInputs& in, Tensor& out, cudaStream_t stream);
  // FLOPs of one forward at `tokens` tokens (GEMMs + attention), for TFLOP/s reports.
  double flops(int64_t tokens) const;
  // Attention kernel choice (benchmarking).
  void set_flash_variant(FlashVariant v) { variant_ = v; }
  // Use cuDNN's fused attention (loaded at run time) instead of the own kernel; returns false (and
  // keeps the own kernel) when cuDNN is unavailable, with the reason in `why`.
  bool use_cudnn_attention(bool on, std::string* why = nullptr);
  bool cudnn_attention() const { return cudnn_ != nullptr && use_cudnn_; }
  // Benchmarking only: skip the attention kernels (output is then meaningless) to measure their share.
  void set_skip_attention(bool skip) { skip_attention_ = skip; }

 private:
  void ensure_rope(int64_t f, int64_t h, int64_t w, cudaStream_t stream);
  DitConfig cfg_;
  DitWeights w_;
  LtGemm gemm_;
  FlashVariant variant_ = FlashVariant::kAuto;
  bool skip_attention_ = false;
  std::unique_ptr<CudnnSdpa> cudnn_;
  bool use_cudnn_ = false;
  void attention(const FlashParams& p, cudaStream_t stream);
  Tensor rope_;  // float2 table as f32 [2 * n]
  int64_t rope_f_ = -1, rope_h_ = -1, rope_w_ = -1;
};

}  // namespace wan22::cuda
