// The Wan2.2 DiT forward on the GPU (bf16 linear layers through cuBLASLt, fp32 residual stream,
// fused norm/RoPE kernels, flash attention: the own kernel or cuDNN's).
//
// Weights: official parameter shapes, q/k/v of self-attention and k/v of cross-attention stored
// concatenated ([3*dim, dim] and [2*dim, dim]) so that one GEMM computes them. Each block's weights
// live in one contiguous "pack" (the DitBlockWeights tensors are views into it), either on the
// device (resident) or in pinned host memory (streamed: copied into one of two device slots on a
// copy stream while the previous block computes). Fill them with load() (a WeightStore with the
// official key names; dit_cuda_load.cpp) or init_random() (benchmarks).
//
// Typical use (the pipeline):
//   auto mcfg = models::dit::load_dit_config(dir);            // official or Diffusers config.json
//   auto ws = io::WeightStore::open(dir); models::dit::install_dit_key_map(ws);
//   cuda::DitCuda dit(cuda::dit_config_from(mcfg));
//   dit.load(ws, stream, {.resident_blocks = -1});            // all blocks resident
//   dit.use_cudnn_attention(true);                            // faster attention where available
//   dit.forward_cfg(in, ctx_uncond, uncond_rows, out_c, out_u, stream);  // CFG pair per step
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

namespace wan22::io {
class WeightStore;
class TensorSource;
struct SafetensorsEntry;
}
namespace wan22::models::dit {
struct DitConfig;
}

namespace wan22::cuda {

class Fp8Linear;
class Int8Linear;

struct DitConfig {
  int64_t dim = 3072, ffn_dim = 14336, heads = 24, layers = 30, freq_dim = 256, text_dim = 4096,
          text_len = 512, in_dim = 48, out_dim = 48;
  int patch_t = 1, patch_h = 2, patch_w = 2;
  float eps = 1e-6f;
  double rope_theta = 10000.0;
  // Sinusoidal time embedding in float64 (official sinusoidal_embedding_1d) or float32 (Diffusers).
  bool sinusoid_f64 = true;
  static DitConfig ti2v_5b() { return DitConfig{}; }
  int64_t head_dim() const { return dim / heads; }
};

// The model config (models/dit/dit_config.h: official or Diffusers config.json) as the CUDA forward
// needs it. Throws Error(kUnsupported) naming the option for what the CUDA forward does not
// implement (qk_norm or cross_attn_norm off, temporal patch > 1, head dim not 32/64/128).
DitConfig dit_config_from(const models::dit::DitConfig& c);

// How block weights are stored. kFP8: the seven linear layers of every block in float8 e4m3 with one
// fp32 scale per output channel (w ~= q * scale[n]), run through fp8 GEMMs (sm_89/sm_90); kInt8:
// the same seven matrices in int8 (symmetric, scale[n] = max|w[n, :]| / 127), dequantised to bf16
// in a device scratch right before each GEMM (weight-only: for GPUs without fp8, e.g. sm_80).
// Everything else stays as in kBF16.
enum class WeightFormat { kBF16, kFP8, kInt8 };
inline const char* weight_format_name(WeightFormat f) {
  return f == WeightFormat::kFP8 ? "fp8" : f == WeightFormat::kInt8 ? "int8" : "bf16";
}

struct DitBlockWeights {
  Tensor modulation;                // f32 [6, dim] (always on the device, outside the pack)
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
  // kFP8 / kInt8 only: the *_w matrices above are f8_e4m3 / i8 and these hold their per-row scales
  // (f32 [N]).
  Tensor qkv_s, o_s, cq_s, ckv_s, co_s, ffn1_s, ffn2_s;
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
  // Views into the block packs: device tensors for resident blocks, pinned host tensors for
  // streamed ones (modulation is always on the device).
  std::vector<DitBlockWeights> blocks;
};

struct DitLoadOptions {
  // Blocks [0, resident_blocks) stay on the device, the rest are streamed from pinned host memory
  // (double-buffered: block i+1 is copied on a copy stream while block i computes). -1: all
  // resident. Changeable later with set_resident_blocks().
  int resident_blocks = -1;
  WeightFormat format = WeightFormat::kBF16;
};

// Inputs of one forward (batch 1).
struct DitInputs {
  // f32 [in_dim, F, H, W] on the device. For image-to-video models whose input is concat(x, y) on
  // channels (A14B I2V), pass x and y in one buffer: y's channels directly after x's.
  const float* latent = nullptr;
  int64_t frames = 0, height = 0, width = 0;  // latent F, H, W
  // bf16 [context_len, text_dim] on the device: the text embeddings. Rows past context_len up to
  // text_len are zero-padded here (as the reference: the padding rows are attended).
  const bf16* context = nullptr;
  int64_t context_len = -1;  // -1: text_len rows
  double timestep = 0.0;
  // Image-to-video: the tokens of latent frame 0 run at first_frame_timestep (0 in Wan2.2 TI2V)
  // instead of `timestep` (a second modulation row).
  bool first_frame_clean = false;
  double first_frame_timestep = 0.0;
};

// Classifier-free guidance pair: how forward_cfg runs the two branches.
enum class CfgBatching {
  kAuto,        // batch of 2 when the token count is at most cfg_batch_max_tokens(), else sequential
  kBatch2,      // one forward over a batch of 2 (the latent once, two contexts)
  kSequential,  // two batch-1 forwards
};

class DitCuda {
 public:
  explicit DitCuda(const DitConfig& cfg);
  ~DitCuda();
  DitCuda(const DitCuda&) = delete;
  DitCuda& operator=(const DitCuda&) = delete;

  const DitConfig& config() const { return cfg_; }
  DitWeights& weights() { return w_; }
  WeightFormat format() const { return format_; }

  // Loads every weight from `ws` by its official key name (install_dit_key_map first for the
  // Diffusers / ComfyUI layouts): q|k|v and cross k|v concatenated, matrices and linear biases
  // converted to bf16 (or fp8 / int8 with opts.format), norms / modulation / time biases to f32, from any
  // stored dtype. Throws Error naming the key (and file) for a missing weight or a wrong shape.
  // Synchronises `stream` before returning.
  void load(const io::WeightStore& ws, cudaStream_t stream, const DitLoadOptions& opts = {});
  // ---- load-ready form (the model cache, io/model_cache.h; dit_cuda_load.cpp) ----
  // The loaded weights as they sit in the device layout, as named tensors: "patch_w", "patch_b",
  // "text1_w", ... "head_b" (bf16 / f32), then per block "blocks.N.modulation" (f32 [6, dim]) and
  // "blocks.N.pack" (u8: the block's pack in the current format, fp8 / int8 already quantised).
  std::vector<io::SafetensorsEntry> load_ready_entries() const;
  // Entry i on the host: a download for device tensors, a pinned pack as it is. Synchronises `stream`.
  Tensor load_ready_tensor(size_t i, cudaStream_t stream) const;
  // What the load-ready bytes depend on besides the checkpoint (format, pack layout, sizes): part of
  // a cache key.
  std::string load_ready_signature(WeightFormat format) const;
  // The official (canonical) checkpoint keys load() reads.
  std::vector<std::string> checkpoint_keys() const;
  // Loads weights written from load_ready_entries() in opts.format (a model cache entry): tensors go
  // from `src` (mapped) straight into place, resident packs to the device, streamed ones to pinned
  // host memory. Throws Error(kCorruptData) naming the tensor when one is missing or has another
  // dtype or shape. Synchronises `stream`.
  void load_ready(const io::TensorSource& src, cudaStream_t stream, const DitLoadOptions& opts = {});

  // Allocates every weight and fills it with seeded random values (benchmarks), all resident.
  void init_random(uint64_t seed, cudaStream_t stream, WeightFormat format = WeightFormat::kBF16);

  // Moves block packs between the device and pinned host memory so that blocks [0, n) are resident
  // and the rest streamed (n < 0 or n >= layers: all resident). Synchronises `stream`.
  void set_resident_blocks(int n, cudaStream_t stream);
  int resident_blocks() const { return resident_; }
  // Every block pack into pinned host memory and the streaming slots freed: the DiT keeps only its
  // small non-block weights (embeddings, head, modulation) on the device until the next forward,
  // which streams every block (set_resident_blocks brings blocks back). Synchronises `stream`.
  void release_device_weights(cudaStream_t stream);
  // Bytes of block weights per block pack, on the device (resident packs + the two streaming
  // slots) and in pinned host memory.
  size_t block_pack_bytes() const;
  size_t device_weight_bytes() const;
  size_t host_weight_bytes() const;

  // One forward. out: f32 [out_dim, F, H, W] on the device (allocated if undefined or the wrong
  // shape). Synchronises `stream` at the end (the work buffers go back to the caching allocator).
  void forward(const DitInputs& in, Tensor& out, cudaStream_t stream);
  // The CFG pair of one denoising step: the same latent and timesteps, `in.context` (conditional)
  // and `context_uncond` (unconditional, uncond_len rows, -1: text_len). Outputs as forward().
  void forward_cfg(const DitInputs& in, const bf16* context_uncond, int64_t uncond_len, Tensor& out_cond,
                   Tensor& out_uncond, cudaStream_t stream, CfgBatching mode = CfgBatching::kAuto);
  // kAuto batches the pair up to this many tokens per item (default from the H200 measurement in
  // docs/models/dit_cuda.md).
  void set_cfg_batch_max_tokens(int64_t n) { cfg_batch_max_tokens_ = n; }
  int64_t cfg_batch_max_tokens() const { return cfg_batch_max_tokens_; }

  // FLOPs of one forward at `tokens` tokens (GEMMs + attention), for TFLOP/s reports.
  double flops(int64_t tokens) const;
  // Attention kernel choice (benchmarking).
  void set_flash_variant(FlashVariant v) { variant_ = v; }
  // Use cuDNN's fused attention (loaded at run time) instead of the own kernel; returns false (and
  // keeps the own kernel) when cuDNN is unavailable, with the reason in `why`.
  bool use_cudnn_attention(bool on, std::string* why = nullptr);
  bool cudnn_attention() const { return cudnn_ != nullptr && use_cudnn_; }
  // Set when a shape had no cuDNN engine and the own kernel ran it instead (empty otherwise).
  const std::string& cudnn_note() const { return cudnn_note_; }
  // Which GEMM path the fp8 linear layers took last (empty before any fp8 forward).
  std::string fp8_note() const;
  // Benchmarking only: skip the attention kernels (output is then meaningless) to measure their share.
  void set_skip_attention(bool skip) { skip_attention_ = skip; }

  // ---- memory options (issue 6; docs/models/dit_cuda.md gives their memory and time effects) ----
  // Activation chunking (the guide's memory_optimization.checkpoint_segments, the planner's
  // Plan::checkpoint_segments). n <= 1: every block runs over all tokens at once (the default).
  // n > 1: the residual stream x and self-attention's k|v stay whole; everything per token
  // (modulated norm, q, attention output, o, cross-attention, FFN) runs over segments of
  // n_rows = batch * ceil(L / n) rows, so the [tokens, ffn_dim] FFN hidden and the other per-token
  // buffers shrink by ~n. Results equal n = 1 up to the GEMMs' rounding (cuBLASLt may pick another
  // algorithm for the smaller M). Works with the CFG batch, streamed blocks and fp8 / int8 weights.
  void set_segments(int n) { segments_ = n < 1 ? 1 : n; }
  int segments() const { return segments_; }
  // Attention head slicing (the guide's attention_slice_size): the attention kernels run over groups
  // of `heads` heads per call (0 or >= heads: all heads in one call). Bit-identical to one call. With
  // a flash kernel (no [Lq, Lk] score matrix is materialised) it saves no memory; it exists because
  // the guide names it, and the planner leaves it 0.
  void set_attention_slice(int heads) { attention_slice_ = heads < 0 ? 0 : heads; }
  int attention_slice() const { return attention_slice_; }

 private:
  struct Context {
    const bf16* data;
    int64_t rows;
  };
  struct Streamer;  // copy stream, events and the two device slots (dit_cuda.cpp)
  struct Step;      // one forward's shared state (dit_cuda_step.h)
  void run(const DitInputs& in, const std::vector<Context>& ctxs, const std::vector<Tensor*>& outs,
           cudaStream_t stream);
  // The blocks and the head's linear layer of one forward: all tokens at once (dit_cuda.cpp) or in
  // token segments (dit_cuda_segments.cpp). Both fill step.head_out.
  void run_blocks_whole(Step& step, cudaStream_t stream);
  void run_blocks_segmented(Step& step, cudaStream_t stream);
  // Block i's weights (waits for its copy when streamed) and, after its last GEMM, the release of
  // its streaming slot (the copy of the streamed block two ahead starts).
  const DitBlockWeights& acquire_block(const Step& step, int i, cudaStream_t stream);
  void release_block(const Step& step, int i, cudaStream_t stream);
  void ensure_rope(int64_t f, int64_t h, int64_t w, cudaStream_t stream);
  void attention(const FlashParams& p, cudaStream_t stream);  // in head groups of attention_slice_
  void attention_call(const FlashParams& p, cudaStream_t stream);
  void linear(const bf16* x, const Tensor& w, const Tensor& scale, const Tensor& bias, bf16* y, int64_t m, Epilogue ep,
              cudaStream_t stream);
  // The same with output rows [row0, row0 + rows) of w (and of its scale and bias) only.
  void linear_rows(const bf16* x, const Tensor& w, const Tensor& scale, const Tensor& bias, int64_t row0, int64_t rows,
                   bf16* y, int64_t m, Epilogue ep, cudaStream_t stream);
  // Allocates the block packs (device) and the views of w_.blocks; modulation tensors separately.
  void allocate_blocks(WeightFormat format);
  void rebuild_views(size_t block);
  void start_streaming();  // creates the copy stream, events and slots (blocks past resident_ stream)
  void stop_streaming();

  DitConfig cfg_;
  DitWeights w_;
  WeightFormat format_ = WeightFormat::kBF16;
  std::vector<Tensor> packs_;  // one per block: u8 device tensor or pinned host tensor
  int resident_ = 0;
  std::unique_ptr<Streamer> streamer_;
  LtGemm gemm_;
  std::unique_ptr<Fp8Linear> fp8_;  // created with the first fp8 weight
  std::unique_ptr<Int8Linear> int8_;  // created with the first int8 weight
  int segments_ = 1;
  int attention_slice_ = 0;
  Tensor bias_scratch_;  // linear_rows: an aligned copy of a bias slice
  FlashVariant variant_ = FlashVariant::kAuto;
  bool skip_attention_ = false;
  std::unique_ptr<CudnnSdpa> cudnn_;
  bool use_cudnn_ = false;
  std::string cudnn_note_;
  // H200: batch 2 is 1.44x faster at 320 tokens, 1.04x at 3510, 1.005x at 12090, 0.99x at 27280
  int64_t cfg_batch_max_tokens_ = 8192;
  Tensor rope_;  // float2 table as f32 [2 * n]
  int64_t rope_f_ = -1, rope_h_ = -1, rope_w_ = -1;
};

}  // namespace wan22::cuda
