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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/dit/dit_config.h"
#include "models/text/t5_config.h"
#include "models/vae/vae_config.h"
#include "pipeline/checkpoint.h"
#include "pipeline/engine.h"

namespace wan22::cuda {

class DitCuda;
class VaeCuda;
class T5Cuda;
class CudaStepExecutor;

struct CudaEngineOptions {
  bool text_encoder_on_cpu = false;  // UMT5 on the CPU: its ~11 GB of weights stay off the GPU
  bool cudnn_attention = true;       // cuDNN's fused attention where available (else the own kernel)
  // The DiT's weights (DitLoadOptions): blocks [0, n) resident, the rest streamed from pinned host
  // memory (-1: all resident); fp8 e4m3 linear weights with per-channel scales instead of bf16.
  int dit_resident_blocks = -1;
  bool dit_fp8 = false;
  // VAE activations and conv weights in f32 instead of bf16 (slower; the golden tests' accuracy mode).
  bool vae_f32 = false;
};

// Random weights at given sizes (benchmarks): every component filled on the device from `seed`.
struct RandomEngineSpec {
  models::dit::DitConfig dit;
  models::vae::VaeConfig vae;
  std::optional<models::text::T5Config> t5;  // nullopt: no text encoder
  uint64_t seed = 1;
  bool cudnn_attention = true;
  bool dit_fp8 = false;  // fp8 e4m3 linear weights in the DiT's blocks
};

class CudaEngine final : public pipeline::Engine {
 public:
  // Loads the text encoder (unless the checkpoint has none, e.g. test fixtures), the DiT and the VAE
  // of `p` in that order, appending the time of each to `stages`. Initialises the CUDA backend;
  // throws Error(kUnsupported) naming the reason when no GPU is usable.
  static std::unique_ptr<CudaEngine> load(const pipeline::CheckpointPaths& p, const CudaEngineOptions& opts = {},
                                          std::vector<pipeline::StageTime>* stages = nullptr);
  static std::unique_ptr<CudaEngine> random(const RandomEngineSpec& spec);
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
  // Device tensors (no host round trip): VAE decode / encode as the pipeline runs them.
  Tensor decode_on_device(const Tensor& latent);

 private:
  struct Impl;
  explicit CudaEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// models::dit::DitConfig of the TI2V-5B DiT (the official config.json's values).
models::dit::DitConfig ti2v_5b_dit_config();

}  // namespace wan22::cuda
