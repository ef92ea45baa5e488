#include "pipeline/ti2v_pipeline.h"

#include <chrono>
#include <cmath>

#include "core/log.h"
#include "core/status.h"
#include "media/image.h"
#include "media/preprocess.h"
#include "models/text/negative_prompt.h"
#include "pipeline/cpu_engine.h"
#include "pipeline/model_loading.h"
#include "pipeline/noise.h"
#include "sched/scheduler.h"

namespace wan22::pipeline {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void bad_request(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, msg); }

// noise_pred = uncond + g * (cond - uncond), rounded as the reference's float32 tensor ops.
sched::LinProgram cfg_program(float guidance) {
  sched::LinProgram p;
  const auto cond = p.add_input(), uncond = p.add_input();
  const auto scaled = p.scale(guidance, p.sub(cond, uncond));
  p.output(p.lin(1.0f, uncond, 1.0f, scaled));
  return p;
}
}  // namespace

int round_frames(int frames, int ts) {
  if (frames < 1) bad_request("--frames must be at least 1, got " + std::to_string(frames));
  if (ts <= 1) return frames;
  int n = (frames - 1 + ts / 2) / ts;  // nearest n, ties upward
  return n * ts + 1;
}

Ti2vPipeline::Ti2vPipeline(models::dit::WanModel dit, models::vae::WanVae vae,
                           std::optional<models::text::T5Encoder> t5,
                           std::optional<models::text::T5Tokenizer> tokenizer)
    : Ti2vPipeline(std::make_unique<CpuEngine>(std::move(dit), std::move(vae), std::move(t5)), std::move(tokenizer)) {}

Ti2vPipeline::Ti2vPipeline(std::unique_ptr<Engine> engine, std::optional<models::text::T5Tokenizer> tokenizer)
    : engine_(std::move(engine)), tokenizer_(std::move(tokenizer)) {
  if (!engine_) throw Error(ErrorCode::kInvalidArgument, "Ti2vPipeline: no engine");
  geometry_ = engine_->geometry();
  check_ti2v_geometry(geometry_);
}

Ti2vPipeline::Ti2vPipeline(Ti2vPipeline&&) noexcept = default;
Ti2vPipeline& Ti2vPipeline::operator=(Ti2vPipeline&&) noexcept = default;
Ti2vPipeline::~Ti2vPipeline() = default;

Ti2vPipeline Ti2vPipeline::load(const CheckpointPaths& p, LoadReport* report, const EngineLoader& load_engine) {
  LoadReport local;
  LoadReport& r = report ? *report : local;
  r.layout = p.layout;
  auto t0 = Clock::now();
  auto tok = models::text::T5Tokenizer::load(p.tokenizer);
  r.stages.push_back({"load_tokenizer", since(t0)});
  std::unique_ptr<Engine> engine = load_engine ? load_engine(p, &r.stages) : CpuEngine::load(p, &r.stages);
  return Ti2vPipeline(std::move(engine), std::move(tok));
}

int Ti2vPipeline::size_stride() const { return geometry_.size_stride(); }
int Ti2vPipeline::temporal_stride() const { return geometry_.vae_temporal_stride; }

models::text::TokenizedBatch Ti2vPipeline::tokenize(const std::string& prompt) const {
  if (!tokenizer_) throw Error(ErrorCode::kInvalidArgument, "this pipeline has no tokenizer loaded");
  return (*tokenizer_)({prompt}, geometry_.text_len);
}

Tensor Ti2vPipeline::encode_prompt(const std::string& prompt) const {
  if (!tokenizer_ || !engine_->has_text_encoder()) {
    throw Error(ErrorCode::kInvalidArgument, "this pipeline has no text encoder loaded");
  }
  return engine_->encode_text(tokenize(prompt))[0];
}

Tensor Ti2vPipeline::encode_image(const Tensor& image) const { return engine_->encode_image(image); }

Tensor Ti2vPipeline::decode(const Tensor& latent) const { return engine_->decode(latent); }

Tensor Ti2vPipeline::decode_clamped(const Tensor& latent) const { return engine_->decode_clamped(latent); }

Tensor Ti2vPipeline::denoise(const Tensor& noise, const Tensor& context, const Tensor& context_null,
                             const Tensor& image_latent, const DenoiseParams& p, const StepCallback& on_step,
                             const LatentCallback& on_latent) const {
  const ModelGeometry& g = geometry_;
  if (noise.ndim() != 4) bad_request("noise must be [z, F, h, w], got " + shape_str(noise.shape()));
  const int64_t z = noise.dim(0), h = noise.dim(2), w = noise.dim(3);
  if (h % g.patch_h != 0 || w % g.patch_w != 0) {
    bad_request("latent size " + std::to_string(h) + "x" + std::to_string(w) + " is not a multiple of the patch");
  }
  if (!std::isfinite(p.guidance)) bad_request("guidance must be a finite number");
  const bool i2v = image_latent.defined();
  if (i2v && (image_latent.ndim() != 4 || image_latent.dim(0) != z || image_latent.dim(1) != 1 ||
              image_latent.dim(2) != h || image_latent.dim(3) != w)) {
    bad_request("image latent " + shape_str(image_latent.shape()) + " does not match the noise " +
                shape_str(noise.shape()));
  }
  sched::StepExecutor& exec = engine_->executor();
  auto sched = sched::make_scheduler(p.solver);
  sched->set_executor(exec);
  sched->set_timesteps(p.steps, p.shift);
  const sched::LinProgram cfg = cfg_program(static_cast<float>(p.guidance));

  Tensor latent = exec.upload(noise);
  const Tensor image = i2v ? exec.upload(image_latent) : Tensor();
  auto hold_first_frame = [&](Tensor& lat) {
    if (!i2v) return;
    Tensor frame0 = lat.select(1, 0);
    exec.copy(image.select(1, 0), frame0);
  };
  hold_first_frame(latent);
  std::unique_ptr<GuidedModel> model = engine_->guided_model(context, context_null, i2v);
  const int total = sched->num_steps();
  Tensor cond, uncond;
  for (int i = 0; i < total; ++i) {
    auto t0 = Clock::now();
    model->predict(latent, sched->timesteps()[static_cast<size_t>(i)], cond, uncond);
    Tensor pred = exec.run(cfg, {cond, uncond})[0];
    latent = sched->step(pred, i, latent);
    hold_first_frame(latent);
    if (on_latent) on_latent(i, exec.download(latent));
    exec.synchronize();
    if (on_step) on_step(i + 1, total, since(t0));
  }
  return exec.download(latent);
}

GenerateResult Ti2vPipeline::generate(const GenerateRequest& req, const StepCallback& on_step,
                                      const NoticeCallback& on_notice) const {
  GenerateResult r;
  auto notice = [&](const std::string& m) {
    r.notices.push_back(m);
    if (on_notice) on_notice(m);
  };
  const int stride = size_stride();
  const int ts = temporal_stride();
  if (req.width <= 0 || req.height <= 0) {
    bad_request("--size must be positive, got " + std::to_string(req.width) + "x" + std::to_string(req.height));
  }
  if (req.denoise.steps < 1 || req.denoise.steps > 1000) {
    bad_request("--steps must be in 1..1000, got " + std::to_string(req.denoise.steps));
  }
  if (!(req.denoise.shift > 0) || !std::isfinite(req.denoise.shift)) bad_request("--shift must be > 0");
  if (!std::isfinite(req.denoise.guidance) || req.denoise.guidance < 0) bad_request("--guidance must be >= 0");
  sched::make_scheduler(req.denoise.solver);  // validates the name early
  int frames = round_frames(req.frames, ts);
  if (frames != req.frames) {
    notice("frame count " + std::to_string(req.frames) + " is not of the form 4n+1: using " + std::to_string(frames));
  }
  r.seed = req.seed >= 0 ? static_cast<uint64_t>(req.seed) : random_seed();
  if (req.seed < 0) notice("seed " + std::to_string(r.seed) + " drawn at random (pass --seed to repeat)");

  int width = req.width, height = req.height;
  Tensor image_latent;
  if (!req.image_path.empty()) {
    auto t0 = Clock::now();
    media::Image img = media::read_image(req.image_path);
    int64_t max_area = req.max_area > 0 ? req.max_area : static_cast<int64_t>(width) * height;
    media::I2VImage pre = media::preprocess_i2v_image(img, stride, stride, max_area);
    if (pre.size.width != width || pre.size.height != height) {
      notice("image " + std::to_string(img.width) + "x" + std::to_string(img.height) + ": output size " +
             std::to_string(pre.size.width) + "x" + std::to_string(pre.size.height) +
             " (best fit of its aspect ratio within " + std::to_string(max_area) + " pixels)");
    }
    width = pre.size.width;
    height = pre.size.height;
    image_latent = encode_image(pre.tensor);
    r.stages.push_back({"image_encode", since(t0)});
  } else if (width % stride != 0 || height % stride != 0) {
    bad_request("--size " + std::to_string(width) + "x" + std::to_string(height) + " is not a multiple of " +
                std::to_string(stride) + " (this model's VAE stride x patch); nearest: " +
                std::to_string(std::max(stride, (width + stride / 2) / stride * stride)) + "x" +
                std::to_string(std::max(stride, (height + stride / 2) / stride * stride)));
  }
  auto t0 = Clock::now();
  Tensor context = encode_prompt(req.prompt);
  Tensor context_null =
      encode_prompt(req.negative_prompt.empty() ? models::text::kDefaultNegativePrompt : req.negative_prompt);
  r.stages.push_back({"text_encode", since(t0)});

  const int vs = geometry_.vae_spatial_stride;
  const int64_t z = geometry_.z_dim;
  Tensor noise = gaussian_noise({z, (frames - 1) / ts + 1, height / vs, width / vs}, r.seed);
  t0 = Clock::now();
  Tensor latent = denoise(noise, context, context_null, image_latent, req.denoise, [&](int i, int n, double s) {
    r.step_seconds.push_back(s);
    if (on_step) on_step(i, n, s);
  });
  r.stages.push_back({"denoise", since(t0)});
  t0 = Clock::now();
  r.video = decode_clamped(latent);
  r.stages.push_back({"vae_decode", since(t0)});
  r.width = width;
  r.height = height;
  r.frames = static_cast<int>(r.video.dim(1));
  return r;
}

}  // namespace wan22::pipeline
