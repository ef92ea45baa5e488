// The memory model of the pipeline: bytes of each component's weights (per weight format, from
// the model's tensor shapes) and the peak of each stage as a function of the workload (width,
// height, frames, CFG batch) and the plan (placement, segments, tiles, chunks). Every term is
// named and carries its formula, so `wan22 optimize --json` shows where the bytes go.
//
// The DiT terms mirror the buffers of the CUDA forward (src/backends/cuda/dit_cuda.cpp): residual
// stream x f32 [L, dim], xn bf16 [L, dim], qkv bf16 [L, 3 dim], attention out and projection out
// bf16 [L, dim], FFN hidden bf16 [L, ffn], cross-attention k|v bf16 [text_len, 2 dim], per-block
// modulation rows f32, plus the latent in/out. With checkpoint_segments = N the attention's
// queries/output and the FFN run over L/N tokens at a time (k|v and x stay whole).
// The VAE terms of a CPU plan walk the decoder's layers (models/vae/vae_decoder.cpp) per causal
// chunk and tile; a GPU plan replays the CUDA decoder's buffer requests (vae_cuda_memory.h) with
// or without its buffer pool (Plan::vae_reuse_buffers) and adds the f32 video it fills.
// Every GPU peak measured on the H200 is predicted within 15% (tests/unit/test_plan_h200_peaks.cpp).
// docs/optimize.md lists every formula and how it compares with the measured peaks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "plan/model_spec.h"
#include "plan/plan.h"

namespace wan22::plan {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

struct MemTerm {
  std::string name;
  double bytes = 0;
  std::string formula;  // how the bytes are computed, with the numbers of this workload
};

// Weights of one component as the device (or the CPU backend) holds them.
struct ComponentWeights {
  double params = 0;        // number of parameters
  double total_bytes = 0;   // everything, each tensor rounded up to the allocator's 512-byte alignment
  double block_bytes = 0;   // one repeated block (DiT block / T5 layer); 0 for the VAE
  int blocks = 0;           // number of repeated blocks (per expert)
  double other_bytes = 0;   // the rest (embeddings, head, final norm); total = blocks * block + other
  double embedding_bytes = 0;  // T5: the token embedding (part of other_bytes)
};

// DiT of one expert: linear matrices in `f` (fp8/int8 add one f32 scale per output row), biases
// bf16, norms/modulation f32; embeddings and head stay bf16 (f32 when f is kF32).
ComponentWeights dit_weights(const models::DitShape& d, WeightFormat f);
// UMT5 encoder: matrices in `f`, norms and relative position tables f32.
ComponentWeights t5_weights(const models::T5Shape& t, WeightFormat f);
// VAE decoder (decoder.* and conv2) or encoder (encoder.* and conv1): kernels in `f`, biases and
// norm scales f32.
ComponentWeights vae_weights(const models::vae::VaeConfig& v, WeightFormat f, bool decoder);

// One stage's device memory: the terms, and their sums.
struct StageMemory {
  Stage stage = Stage::kDenoise;
  std::vector<MemTerm> terms;
  double weight_bytes = 0;      // weights on the device during the stage (every resident component + this stage's)
  double activation_bytes = 0;  // buffers of the stage at its peak
  double alloc_bytes = 0;       // weight + activation: what the caching allocator's peak_bytes shows
  double workspace_bytes = 0;   // cuBLASLt/cuDNN workspaces (cudaMalloc'd outside the allocator)
  double margin_bytes = 0;      // fragmentation margin (fraction of the activations)
  double device_bytes = 0;      // alloc + workspace + margin: what the budget is checked against
};

struct MemoryEstimate {
  std::vector<StageMemory> stages;
  double peak_alloc = 0, peak_device = 0;
  Stage peak_stage = Stage::kDenoise;
  double host_pinned_bytes = 0;  // pinned host memory for offloaded / streamed weights
  double host_bytes = 0;         // host memory the run needs (pinned + CPU components + output video)
  std::vector<MemTerm> host_terms;
  const StageMemory* stage(Stage s) const;
};

// Fixed sizes of the CUDA backend (src/backends/cuda).
struct BackendSizes {
  double gemm_workspace = 64 * kMiB;       // LtGemm::workspace_bytes_
  double attention_workspace = 16 * kMiB;  // cuDNN SDPA (forward, measured small); own kernel: 0
  double conv_workspace = 256 * kMiB;      // VAE convolutions (assumed; calibrate when the CUDA VAE lands)
  double alignment = 512;                  // CachingOptions::alignment
};

MemoryEstimate estimate_memory(const ModelSpec& m, const Workload& w, const Plan& p,
                               const BackendSizes& b = BackendSizes{});

// ---- the parts, for tests and the report ----

// DiT activation terms of one forward with `batch` sequences of `tokens` tokens (no weights).
std::vector<MemTerm> dit_activation_terms(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch,
                                          int segments, bool gpu_layout, bool two_timesteps);

// The VAE decoder (or encoder) walked layer by layer for one causal chunk of one tile.
struct VaeWalk {
  double peak_bytes = 0;        // largest live set of one chunk (activation bytes `act`)
  std::string peak_where;       // the layer where it happens
  double cache_bytes = 0;       // causal cache held between chunks (2 frames per causal conv input)
  double flops = 0;             // multiply-adds x 2 of the chunk
  double out_elements = 0;      // elements of the chunk's output (video pixels x channels, or latent)
};
// Decoder: input latent tile of `lat_t` frames x lat_h x lat_w; act = bytes per activation element.
VaeWalk vae_decode_walk(const models::vae::VaeConfig& v, int64_t lat_t, int64_t lat_h, int64_t lat_w, double act);
// Encoder: `frames` video frames (1 for the first chunk / an image) of px_h x px_w pixels.
VaeWalk vae_encode_walk(const models::vae::VaeConfig& v, int64_t frames, int64_t px_h, int64_t px_w, double act);

// Tiles of the decode: count and the latent size of one tile (with its overlap).
struct VaeTiling {
  int tiles_x = 1, tiles_y = 1;
  int64_t lat_h = 0, lat_w = 0;  // latent pixels of one tile including the overlap
  double recompute = 1.0;        // decoded area / video area (>= 1)
};
VaeTiling vae_tiling(const ModelSpec& m, int width, int height, int tile, int overlap);

// ---- the CUDA backend's own terms ----

// fp8/int8 DiT: each GEMM input is quantised per token into a 1-byte buffer; the largest (the FFN
// down GEMM's input, b*(L/N)*ffn bytes) is alive during that GEMM. Zero bytes for bf16/f32.
MemTerm dit_quantized_input_term(const models::DitShape& d, const LatentGrid& g, int batch, int segments,
                                 WeightFormat f);
// VaeCuda::decode_tiled of the workload's latent under the plan (tile, chunk, reuse_buffers):
// the replayed decoder buffers (vae_cuda_memory.h), the f32 video and the tile blend weights.
std::vector<MemTerm> vae_cuda_decode_terms(const ModelSpec& m, const Workload& w, const Plan& p);

// ---- what `wan22 bench` measures on the CUDA backend (src/backends/cuda/bench_cuda.cpp) ----

// Which components the bench's engine holds (the text encoder only when text or generate runs).
struct LoadedComponents {
  bool text_encoder = true;
  bool vae_decoder = true;
  bool vae_encoder = true;
};
// Weights resident on the device under the plan (streamed/offloaded components excluded).
double device_weight_bytes(const ModelSpec& m, const Plan& p, const LoadedComponents& c);
// One DiT forward of `batch` sequences (i2v from the workload): activations, the quantized GEMM
// input, and the device part of a streamed DiT (embeddings/head, resident blocks, 2 slots).
double dit_forward_bytes(const ModelSpec& m, const Workload& w, const Plan& p, int batch);
// One VAE decode of the workload's latent: everything decode_tiled allocates (video included).
double vae_decode_bytes(const ModelSpec& m, const Workload& w, const Plan& p);
// UMT5 activations of `prompts` prompts of text_len tokens.
double text_encode_bytes(const ModelSpec& m, int prompts, const Plan& p);

std::string gib_str(double bytes);  // "9.31 GiB"

}  // namespace wan22::plan
