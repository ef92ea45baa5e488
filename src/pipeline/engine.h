// The heavy parts of the TI2V pipeline behind one interface, so that one generate() path
// (pipeline/ti2v_pipeline.h: request checks, seeds and noise, image pre-processing, tokenisation,
// the denoising loop with its solver and CFG, progress, stage times) serves every backend:
//   - CpuEngine (pipeline/cpu_engine.h): the op-layer models, the golden reference path;
//   - CudaEngine (backends/cuda/pipeline_cuda.h): DiT, VAE and T5 on the GPU.
// An engine encodes text and images, provides the DiT of a denoising loop (GuidedModel) and the
// StepExecutor on whose device the latents stay, and decodes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/text/tokenizer.h"
#include "sched/step_executor.h"

namespace wan22::pipeline {

struct StageTime {
  std::string stage;
  double seconds = 0;
};

// What the shared pipeline needs to know about the loaded models.
struct ModelGeometry {
  std::string model_type = "ti2v";  // the DiT's config (the TI2V pipeline refuses "i2v")
  int64_t dit_out_dim = 48;         // latent channels the DiT predicts
  int64_t z_dim = 48;               // latent channels of the VAE
  int patch_t = 1, patch_h = 2, patch_w = 2;
  int vae_spatial_stride = 16, vae_temporal_stride = 4;
  int64_t text_len = 512;           // tokens per prompt
  // Sizes must be multiples of this: 32 for TI2V-5B.
  int size_stride() const { return vae_spatial_stride * patch_h; }
};

// The DiT of one denoising loop: the prompt and negative prompt are fixed when it is made (an
// engine may embed them once), then predict() runs once per step.
class GuidedModel {
 public:
  virtual ~GuidedModel() = default;
  // Flow predictions for the prompt (cond) and the negative prompt (uncond) at timestep t for
  // `latent` [z, F, h, w] (float32 on the executor's device); cond and uncond are float32
  // contiguous tensors of the latent's shape there. Image-to-video (first_frame_clean when made):
  // the tokens of latent frame 0 run at t = 0.
  virtual void predict(const Tensor& latent, double t, Tensor& cond, Tensor& uncond) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda (NVIDIA H200)"
  virtual ModelGeometry geometry() const = 0;

  virtual bool has_text_encoder() const = 0;
  // The official T5EncoderModel output per row of `tokens`: its real tokens' rows
  // [n_real, text_dim], float32 on the host.
  virtual std::vector<Tensor> encode_text(const models::text::TokenizedBatch& tokens) = 0;
  // image [3, 1, H, W] in [-1, 1] (host) -> normalised latent [z, 1, h, w] (host, float32).
  virtual Tensor encode_image(const Tensor& image) = 0;
  // latent [z, F, h, w] (host) -> video [3, 1 + 4(F-1), H, W] (host, float32), raw (not clamped).
  virtual Tensor decode(const Tensor& latent) = 0;
  // decode() clamped to [-1, 1] (the video generate() returns); engines may clamp on their device.
  virtual Tensor decode_clamped(const Tensor& latent);

  // Where the loop's latents, solver history and CFG combine live.
  virtual sched::StepExecutor& executor() = 0;
  // The DiT for one loop with these contexts ([n, text_dim] each, host float32).
  virtual std::unique_ptr<GuidedModel> guided_model(const Tensor& context, const Tensor& context_null,
                                                    bool first_frame_clean) = 0;
};

}  // namespace wan22::pipeline
