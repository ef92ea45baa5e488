// The CUDA engine of the TI2V pipeline (pipeline/engine.h): DitCuda, VaeCuda and T5Cuda (or the
// CPU UMT5 encoder) on GPU 0, the denoising loop's latents, solver history and CFG combine on the
// device (CudaStepExecutor), everything queued on one stream. The shared Ti2vPipeline drives it,
// so `wan22 generate --device cuda` runs the same request checks, noise (drawn on the host by
// pipeline/noise.h, then copied), solver coefficients and I2V rules as the CPU path.
//
//   auto engine = cuda::CudaEngine::load(paths, {}, &stages);  // a located checkpoint
//   pipeline::Ti2vPipeline pipe(std::move(engine), tokenizer);
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/model_cache.h"
#include "models/dit/dit_config.h"
#include "models/text/t5_config.h"
#include "models/vae/vae_config.h"
#include "pipeline/checkpoint.h"
#include "pipeline/engine.h"
#include "plan/plan.h"

namespace wan22::cuda {

class DitCuda;
class VaeCuda;
class T5Cuda;
class CudaStepExecutor;

// How the engine uses device memory: the memory plan (plan/plan.h) and the budget.
struct CudaEngineOptions {
  bool cudnn_attention = true;  // cuDNN's fused attention where available (else the own kernel)
  // VAE activations and conv weights in f32 instead of bf16 (slower; the golden tests' accuracy mode).
  bool vae_f32 = false;
  // The memory plan, applied stage by stage:
  //  - plan.dit kResident: every DiT block always on the device; kStreamed: blocks
  //    [0, dit_resident_blocks) on the device during denoising, the rest streamed from pinned host
  //    memory, and none outside denoising (text encoding, VAE). dit_format kBF16 or kFP8 (kInt8
  //    where the DiT supports it). cfg_batch: the CFG pair as a batch of 2 where that is faster
  //    (DitCuda's kAuto), false: always sequential. checkpoint_segments / attention_slice: the DiT's
  //    token segments and heads per attention call.
  //  - plan.text kResident (on the device), kStreamed (layer by layer from pinned host memory, the
  //    token embedding looked up on the host) or kCpu (the CPU encoder; needs a checkpoint).
  //  - plan.vae kResident or kOffloaded (pinned host memory outside its stages); vae_tile /
  //    vae_overlap in video pixels (0: untiled); vae_chunk latent frames per causal chunk;
  //    vae_reuse_buffers: the VAE keeps freed buffers for reuse within a call (faster, more memory).
  // The default plan keeps everything resident, CFG per kAuto, the VAE untiled: the fastest.
  plan::Plan plan;
  // Device memory budget (bytes) for everything this process holds on the GPU: the caching
  // allocator is capped at the budget minus what is outside it (CUDA context, library handles and
  // workspaces, measured when the engine starts). 0: no budget.
  double vram_budget_bytes = 0;
  // A cap on the caching allocator itself (bytes), instead of the one derived from vram_budget_bytes
  // (which depends on the context size measured at start); for tests that need an exact cap.
  double allocator_cap_bytes = 0;
  // On an out-of-memory error (device or budget) in a stage: plan::backoff gives the next smaller
  // plan, the engine moves the weights accordingly and runs the stage again (each change is
  // reported through on_notice). false: the error propagates.
  bool backoff_on_oom = true;
  std::function<void(const std::string&)> on_notice;  // default: LOG_WARN
  // Quantized DiT weights (plan.dit_format fp8/int8): the first denoising step's conditional output
  // is compared with the bf16 DiT's (loaded from the checkpoint, streamed, for that one forward);
  // a cosine similarity under this threshold switches the DiT back to bf16 and says so
  // (ti2v_5b_quantization.quality_threshold). 0: no check. Random-weight engines skip it (noticed).
  double quality_threshold = 0.0;
  // Sequential loading (ti2v_5b_loading.*): the components load one at a time in this order
  // ("text_encoder", "unet" = the DiT, "vae"), each streamed from the mapped checkpoint into its
  // final place; clear_cache_between returns the allocator's free blocks to the device and freed
  // host staging memory to the system between them.
  std::vector<std::string> component_order = {"text_encoder", "unet", "vae"};
  bool clear_cache_between = true;
  // The model cache (model_caching.*, io/model_cache.h): the DiT's converted / quantized weights in
  // load-ready form, keyed by the checkpoint files and the format. A first load converts and writes
  // an entry (LRU within the size); later loads (this process or another) read the entry instead of
  // converting. Off by default here; `wan22 generate` turns it on from the config.
  io::ModelCacheOptions model_cache;
};

// One component's load (CudaEngine::load_report): time, host memory after it and the host
// high-water mark during it, device memory it holds.
struct ComponentLoad {
  std::string component;      // "text_encoder", "unet", "vae"
  std::string where;          // "cuda", "cuda, streamed from pinned host memory", "cpu", ...
  double seconds = 0;
  double host_rss_bytes = 0;  // resident set after the component
  double host_peak_bytes = 0; // VmHWM while it loaded (reset before it where the kernel allows)
  double device_bytes = 0;    // caching allocator bytes it added
  // The model cache (the DiT): "" when off, "hit: <entry> in <dir>", "miss, stored: ...",
  // "miss, not stored: <why>", "unavailable"; seconds spent writing the entry (part of `seconds`).
  std::string cache;
  double cache_write_seconds = 0;
};

// The device memory of one stage as the engine ran it (the last run of that stage).
struct StageMemoryUse {
  plan::Stage stage = plan::Stage::kDenoise;
  double alloc_peak_bytes = 0;     // caching allocator: high-water of the bytes handed out
  double reserved_peak_bytes = 0;  // caching allocator: high-water of the bytes held from the device
  double outside_bytes = 0;        // device memory outside the allocator at the stage's end (context,
                                   // handles, workspaces; cudaMemGetInfo's used bytes - reserved)
  double device_peak_bytes() const { return reserved_peak_bytes + outside_bytes; }
  std::string plan;                // the plan it ran with (after any backoff)
};

// Random weights at given sizes (benchmarks): every component filled on the device from `seed`.
struct RandomEngineSpec {
  models::dit::DitConfig dit;
  models::vae::VaeConfig vae;
  std::optional<models::text::T5Config> t5;  // nullopt: no text encoder
  uint64_t seed = 1;
};

class CudaEngine final : public pipeline::Engine {
 public:
  // Loads the text encoder (unless the checkpoint has none, e.g. test fixtures), the DiT and the VAE
  // of `p` in that order, appending the time of each to `stages`. Initialises the CUDA backend;
  // throws Error(kUnsupported) naming the reason when no GPU is usable.
  static std::unique_ptr<CudaEngine> load(const pipeline::CheckpointPaths& p, const CudaEngineOptions& opts = {},
                                          std::vector<pipeline::StageTime>* stages = nullptr);
  // Random weights (benchmarks). plan.text kCpu is not available here (no CPU random encoder).
  static std::unique_ptr<CudaEngine> random(const RandomEngineSpec& spec, const CudaEngineOptions& opts = {});
  ~CudaEngine() override;

  std::string name() const override;
  pipeline::ModelGeometry geometry() const override;
  bool has_text_encoder() const override;
  std::vector<Tensor> encode_text(const models::text::TokenizedBatch& tokens) override;
  Tensor encode_image(const Tensor& image) override;
  Tensor decode(const Tensor& latent) override;
  Tensor decode_clamped(const Tensor& latent) override;  // clamps on the GPU before the download
  sched::StepExecutor& executor() override;
  std::unique_ptr<pipeline::GuidedModel> guided_model(const Tensor& context, const Tensor& context_null,
                                                      bool first_frame_clean) override;

  // The parts, for benchmarks and tests.
  DitCuda& dit();
  VaeCuda& vae();
  T5Cuda* t5_cuda();  // nullptr when the text encoder runs on the CPU or is absent
  const models::dit::DitConfig& dit_config() const;
  cudaStream_t stream() const;
  // Device tensors (no host round trip): VAE decode as the pipeline runs it (plan, budget, backoff).
  Tensor decode_on_device(const Tensor& latent);

  // The plan now in force (the options' plan after any backoff) and the memory of each stage run.
  const plan::Plan& plan() const;
  std::vector<StageMemoryUse> memory_use() const;
  // Device bytes outside the caching allocator (context, handles, workspaces) measured at start.
  double outside_bytes() const;
  std::vector<std::string> notices() const;  // backoff / fallback messages of this engine so far
  const std::vector<ComponentLoad>& load_report() const;
  // The quantization quality check's cosine similarity (-1: not run).
  double quality_cosine() const;

  struct Impl;  // pipeline_cuda.cpp

 private:
  explicit CudaEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Device memory this process holds outside the caching allocator now: cudaMemGetInfo's used bytes
// minus the allocator's reservations (CUDA context, library handles and workspaces; on a shared GPU
// other processes too).
double device_context_bytes();
// Room kept for the cuBLASLt / cuDNN / conv workspaces that come with the first calls (the memory
// model counts them itself, so the planner is given the budget minus device_context_bytes()).
constexpr double kWorkspaceReserveBytes = plan::kWorkspaceReserveBytes;
// device_context_bytes() + kWorkspaceReserveBytes: a VRAM budget caps the allocator at the budget
// minus this.
double device_bytes_outside_allocator();

// models::dit::DitConfig of the TI2V-5B DiT (the official config.json's values).
models::dit::DitConfig ti2v_5b_dit_config();

}  // namespace wan22::cuda
