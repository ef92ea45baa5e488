// The CPU engine: the op-layer models (WanModel, WanVae, T5Encoder), the golden reference path.
// The CFG pair runs as one batch of 2; the loop's elementwise work runs on the CPU executor.
#pragma once
#include <memory>
#include <optional>

#include "models/dit/wan_model.h"
#include "models/text/t5_encoder.h"
#include "models/vae/wan_vae.h"
#include "pipeline/checkpoint.h"
#include "pipeline/engine.h"

namespace wan22::pipeline {

class CpuEngine final : public Engine {
 public:
  CpuEngine(models::dit::WanModel dit, models::vae::WanVae vae,
            std::optional<models::text::T5Encoder> t5 = std::nullopt);
  // Loads the text encoder, the DiT and the VAE of `p` in that order, appending the time of each
  // to `stages` ("load_text_encoder", "load_dit", "load_vae").
  static std::unique_ptr<CpuEngine> load(const CheckpointPaths& p, std::vector<StageTime>* stages = nullptr);

  std::string name() const override { return "cpu"; }
  ModelGeometry geometry() const override;
  bool has_text_encoder() const override { return t5_.has_value(); }
  std::vector<Tensor> encode_text(const models::text::TokenizedBatch& tokens) override;
  Tensor encode_image(const Tensor& image) override;
  Tensor decode(const Tensor& latent) override;
  sched::StepExecutor& executor() override { return sched::cpu_executor(); }
  std::unique_ptr<GuidedModel> guided_model(const Tensor& context, const Tensor& context_null,
                                            bool first_frame_clean) override;

 private:
  models::dit::WanModel dit_;
  models::vae::WanVae vae_;
  std::optional<models::text::T5Encoder> t5_;
};

}  // namespace wan22::pipeline
