// The TI2V pipeline (official wan/textimage2video.py): text-to-video and image-to-video with the
// Wan2.2 TI2V architecture. One code path serves the CLI, the service and the golden tests, on
// every backend: the request checks, seeds and noise, image pre-processing, tokenisation, the
// denoising loop (solver, CFG, the held first frame), progress and stage times are here; the
// models run in an Engine (pipeline/engine.h: CpuEngine, or the CUDA engine of
// backends/cuda/pipeline_cuda.h).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/dit/wan_model.h"
#include "models/text/t5_encoder.h"
#include "models/text/tokenizer.h"
#include "models/vae/wan_vae.h"
#include "pipeline/checkpoint.h"
#include "pipeline/engine.h"

namespace wan22::pipeline {

struct DenoiseParams {
  int steps = 50;
  double shift = 5.0;
  double guidance = 5.0;
  std::string solver = "unipc";
};

struct GenerateRequest {
  std::string prompt;
  std::string negative_prompt;  // empty: the official default negative prompt
  std::string image_path;       // empty: text-to-video
  int width = 1280, height = 704;
  int frames = 121;
  DenoiseParams denoise;
  int64_t seed = -1;            // < 0: drawn from the OS
  int64_t max_area = 0;         // image-to-video: 0 = width * height
};

struct GenerateResult {
  Tensor video;  // [3, F, H, W] clamped to [-1, 1]
  uint64_t seed = 0;
  int width = 0, height = 0, frames = 0;
  std::vector<std::string> notices;  // adjustments made to the request (frame rounding, ...)
  std::vector<StageTime> stages;
  std::vector<double> step_seconds;
};

// step (1-based), total, seconds of that step
using StepCallback = std::function<void(int, int, double)>;
using NoticeCallback = std::function<void(const std::string&)>;
// step index (0-based), the latent after that step (previews, tests)
using LatentCallback = std::function<void(int, const Tensor&)>;

struct LoadReport {
  std::vector<StageTime> stages;  // load time per component
  std::string layout;
};

// Loads an engine's models from a located checkpoint, appending the time of each to `stages`.
using EngineLoader = std::function<std::unique_ptr<Engine>(const CheckpointPaths&, std::vector<StageTime>*)>;

class Ti2vPipeline {
 public:
  // The CPU engine over these models.
  Ti2vPipeline(models::dit::WanModel dit, models::vae::WanVae vae,
               std::optional<models::text::T5Encoder> t5 = std::nullopt,
               std::optional<models::text::T5Tokenizer> tokenizer = std::nullopt);
  // Any engine. Throws Error when its DiT and VAE do not form a TI2V pipeline.
  explicit Ti2vPipeline(std::unique_ptr<Engine> engine,
                        std::optional<models::text::T5Tokenizer> tokenizer = std::nullopt);
  Ti2vPipeline(Ti2vPipeline&&) noexcept;
  Ti2vPipeline& operator=(Ti2vPipeline&&) noexcept;
  ~Ti2vPipeline();
  // Loads the tokenizer and every component in order (text encoder, DiT, VAE) and reports the
  // time of each; `load_engine` empty: the CPU engine.
  static Ti2vPipeline load(const CheckpointPaths& paths, LoadReport* report = nullptr,
                           const EngineLoader& load_engine = {});

  // Sizes must be multiples of this (VAE spatial stride x DiT patch): 32 for TI2V-5B.
  int size_stride() const;
  int temporal_stride() const;
  Engine& engine() const { return *engine_; }

  // The prompt's context as the official T5EncoderModel returns it: [n_real, text_dim].
  Tensor encode_prompt(const std::string& prompt) const;
  // The tokens of a prompt as the DiT's text encoder takes them (text_len ids, EOS, padding).
  models::text::TokenizedBatch tokenize(const std::string& prompt) const;
  // The denoising loop from `noise` [z, F, h, w]. image_latent [z, 1, h, w] (image-to-video:
  // latent frame 0 held at it, its tokens at t = 0) or an undefined tensor (text-to-video).
  // Classifier-free guidance u + g * (c - u). The latents stay on the engine's executor device
  // for the whole loop; inputs, the callback's latent and the result are host float32 tensors.
  Tensor denoise(const Tensor& noise, const Tensor& context, const Tensor& context_null,
                 const Tensor& image_latent, const DenoiseParams& p, const StepCallback& on_step = {},
                 const LatentCallback& on_latent = {}) const;
  // latent [z, F, h, w] -> video [3, 1 + 4(F-1), H, W], raw (not clamped).
  Tensor decode(const Tensor& latent) const;
  // decode() clamped to [-1, 1]: the video of generate().
  Tensor decode_clamped(const Tensor& latent) const;
  // image [3, 1, H, W] in [-1, 1] -> normalised latent [z, 1, h, w].
  Tensor encode_image(const Tensor& image) const;

  // Everything: checks and adjusts the request (notices), text encoding, image pre-processing,
  // noise, denoising, decoding. Throws Error(kInvalidArgument) naming the bad setting.
  GenerateResult generate(const GenerateRequest& req, const StepCallback& on_step = {},
                          const NoticeCallback& on_notice = {}) const;

 private:
  std::unique_ptr<Engine> engine_;
  ModelGeometry geometry_;
  std::optional<models::text::T5Tokenizer> tokenizer_;
};

// Frame counts must be 4n+1: rounds to the nearest such count (ties upward), >= 1.
int round_frames(int frames, int temporal_stride);

}  // namespace wan22::pipeline
