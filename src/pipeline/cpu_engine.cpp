#include "pipeline/cpu_engine.h"

#include <chrono>

#include "core/status.h"
#include "ops/ops.h"
#include "pipeline/model_loading.h"

namespace wan22::pipeline {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// The DiT with the CFG pair as one batch of 2: [cond, uncond].
class CpuGuidedModel final : public GuidedModel {
 public:
  CpuGuidedModel(const models::dit::WanModel& dit, std::vector<Tensor> contexts, bool first_frame_clean)
      : dit_(dit), contexts_(std::move(contexts)), first_frame_clean_(first_frame_clean) {}

  void predict(const Tensor& latent, double t, Tensor& cond, Tensor& uncond) override {
    const auto& dc = dit_.config();
    const int64_t F = latent.dim(1), h = latent.dim(2), w = latent.dim(3);
    const int64_t tokens_per_frame = (h / dc.patch_size[1]) * (w / dc.patch_size[2]);
    const int64_t seq_len = F / dc.patch_size[0] * tokens_per_frame;
    const float tf = static_cast<float>(t);
    Tensor tvec;
    if (first_frame_clean_) {
      tvec = Tensor::full({1, seq_len}, tf);
      tvec.slice(1, 0, tokens_per_frame).fill(0.0f);  // tokens of latent frame 0 run at t = 0
    } else {
      tvec = Tensor::full({1}, tf);
    }
    Tensor x2 = ops::concat({latent.unsqueeze(0), latent.unsqueeze(0)}, 0);  // [2, z, F, h, w]
    Tensor out = dit_.forward_batch(x2, tvec, contexts_, nullptr, seq_len).to(DType::kF32).contiguous();
    cond = out.select(0, 0);
    uncond = out.select(0, 1);
  }

 private:
  const models::dit::WanModel& dit_;
  std::vector<Tensor> contexts_;
  bool first_frame_clean_;
};

}  // namespace

CpuEngine::CpuEngine(models::dit::WanModel dit, models::vae::WanVae vae, std::optional<models::text::T5Encoder> t5)
    : dit_(std::move(dit)), vae_(std::move(vae)), t5_(std::move(t5)) {}

std::unique_ptr<CpuEngine> CpuEngine::load(const CheckpointPaths& p, std::vector<StageTime>* stages) {
  auto record = [&](const char* stage, Clock::time_point t0) {
    if (stages) stages->push_back({stage, since(t0)});
  };
  auto t0 = Clock::now();
  auto t5 = models::text::T5Encoder::load(p.t5, p.t5_config);
  record("load_text_encoder", t0);
  t0 = Clock::now();
  io::WeightStore ws = open_dit_weights(p);
  models::dit::LoadOptions opt;
  opt.keep_stored_dtype = true;  // bf16 checkpoints stay bf16 in memory; ops convert per call
  auto dit = models::dit::WanModel::load(ws, dit_config_for(p, ws), opt);
  record("load_dit", t0);
  t0 = Clock::now();
  auto vae = models::vae::WanVae::open(p.vae, p.vae_config);
  record("load_vae", t0);
  return std::make_unique<CpuEngine>(std::move(dit), std::move(vae), std::move(t5));
}

ModelGeometry CpuEngine::geometry() const { return geometry_of(dit_.config(), vae_.config()); }

std::vector<Tensor> CpuEngine::encode_text(const models::text::TokenizedBatch& tokens) {
  if (!t5_) throw Error(ErrorCode::kInvalidArgument, "this pipeline has no text encoder loaded");
  return t5_->encode_trimmed(tokens.ids, tokens.mask);
}

Tensor CpuEngine::encode_image(const Tensor& image) {
  Tensor v = image.ndim() == 4 ? image.unsqueeze(0) : image;
  return vae_.encode(v).squeeze(0);
}

Tensor CpuEngine::decode(const Tensor& latent) {
  Tensor z = latent.ndim() == 4 ? latent.unsqueeze(0) : latent;
  return vae_.decode(z).squeeze(0);
}

std::unique_ptr<GuidedModel> CpuEngine::guided_model(const Tensor& context, const Tensor& context_null,
                                                     bool first_frame_clean) {
  return std::make_unique<CpuGuidedModel>(dit_, std::vector<Tensor>{context, context_null}, first_frame_clean);
}

}  // namespace wan22::pipeline
