#include "pipeline/ti2v_pipeline.h"

#include <chrono>
#include <cmath>

#include "core/log.h"
#include "core/status.h"
#include "media/image.h"
#include "media/preprocess.h"
#include "models/dit/dit_keys.h"
#include "models/text/negative_prompt.h"
#include "ops/ops.h"
#include "pipeline/noise.h"
#include "sched/scheduler.h"

namespace wan22::pipeline {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void bad_request(const std::string& msg) { throw Error(ErrorCode::kInvalidArgument, msg); }

// Config of a single-file DiT (ComfyUI) from its tensor shapes; the head dim of every Wan DiT is 128.
models::dit::DitConfig dit_config_from_weights(const io::WeightStore& ws) {
  models::dit::DitConfig c;
  const Shape pe = ws.info("patch_embedding.weight").shape;  // [dim, in_dim, pt, ph, pw]
  if (pe.size() != 5) throw Error(ErrorCode::kCorruptData, "patch_embedding.weight is not a Conv3d kernel");
  c.dim = pe[0];
  c.in_dim = pe[1];
  c.patch_size = {pe[2], pe[3], pe[4]};
  c.ffn_dim = ws.info("blocks.0.ffn.0.weight").shape[0];
  c.text_dim = ws.info("text_embedding.0.weight").shape[1];
  c.freq_dim = ws.info("time_embedding.0.weight").shape[1];
  c.out_dim = ws.info("head.head.weight").shape[0] / c.patch_volume();
  c.num_heads = c.dim / 128;
  c.num_layers = 0;
  while (ws.contains("blocks." + std::to_string(c.num_layers) + ".modulation")) ++c.num_layers;
  c.qk_norm = ws.contains("blocks.0.self_attn.norm_q.weight");
  c.cross_attn_norm = ws.contains("blocks.0.norm3.weight");
  c.text_len = 512;
  c.model_type = c.in_dim != c.out_dim ? "i2v" : (c.out_dim == 48 ? "ti2v" : "t2v");
  return c;
}

models::dit::WanModel load_dit(const CheckpointPaths& p) {
  io::WeightStore ws = io::WeightStore::open(p.dit);
  models::dit::install_dit_key_map(ws);
  models::dit::DitConfig cfg =
      p.dit_config.empty() ? dit_config_from_weights(ws) : models::dit::load_dit_config(p.dit_config);
  models::dit::LoadOptions opt;
  opt.keep_stored_dtype = true;  // bf16 checkpoints stay bf16 in memory; ops convert per call
  return models::dit::WanModel::load(ws, cfg, opt);
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
    : dit_(std::move(dit)), vae_(std::move(vae)), t5_(std::move(t5)), tokenizer_(std::move(tokenizer)) {
  const auto& dc = dit_.config();
  if (dc.out_dim != vae_.config().z_dim) {
    throw Error(ErrorCode::kInvalidArgument,
                "the DiT predicts " + std::to_string(dc.out_dim) + " latent channels but the VAE has z_dim " +
                    std::to_string(vae_.config().z_dim) + ": DiT and VAE do not belong together");
  }
  if (dc.model_type == "i2v") {
    throw Error(ErrorCode::kUnsupported, "model_type i2v (A14B image-to-video) is not supported by the TI2V "
                                         "pipeline yet; TI2V-5B checkpoints (model_type ti2v) are");
  }
}

Ti2vPipeline Ti2vPipeline::load(const CheckpointPaths& p, LoadReport* report) {
  LoadReport local;
  LoadReport& r = report ? *report : local;
  r.layout = p.layout;
  auto t0 = Clock::now();
  auto tok = models::text::T5Tokenizer::load(p.tokenizer);
  auto t5 = models::text::T5Encoder::load(p.t5, p.t5_config);
  r.stages.push_back({"load_text_encoder", since(t0)});
  t0 = Clock::now();
  auto dit = load_dit(p);
  r.stages.push_back({"load_dit", since(t0)});
  t0 = Clock::now();
  auto vae = models::vae::WanVae::open(p.vae, p.vae_config);
  r.stages.push_back({"load_vae", since(t0)});
  return Ti2vPipeline(std::move(dit), std::move(vae), std::move(t5), std::move(tok));
}

int Ti2vPipeline::size_stride() const {
  return vae_.config().spatial_stride() * static_cast<int>(dit_.config().patch_size[1]);
}
int Ti2vPipeline::temporal_stride() const { return vae_.config().temporal_stride(); }

Tensor Ti2vPipeline::encode_prompt(const std::string& prompt) const {
  if (!t5_ || !tokenizer_) throw Error(ErrorCode::kInvalidArgument, "this pipeline has no text encoder loaded");
  auto batch = (*tokenizer_)({prompt}, dit_.config().text_len);
  return t5_->encode_trimmed(batch.ids, batch.mask)[0];
}

Tensor Ti2vPipeline::encode_image(const Tensor& image) const {
  Tensor v = image.ndim() == 4 ? image.unsqueeze(0) : image;
  return vae_.encode(v).squeeze(0);
}

Tensor Ti2vPipeline::decode(const Tensor& latent) const {
  Tensor z = latent.ndim() == 4 ? latent.unsqueeze(0) : latent;
  return vae_.decode(z).squeeze(0);
}

Tensor Ti2vPipeline::denoise(const Tensor& noise, const Tensor& context, const Tensor& context_null,
                             const Tensor& image_latent, const DenoiseParams& p, const StepCallback& on_step,
                             const LatentCallback& on_latent) const {
  const auto& dc = dit_.config();
  if (noise.ndim() != 4) bad_request("noise must be [z, F, h, w], got " + shape_str(noise.shape()));
  const int64_t z = noise.dim(0), F = noise.dim(1), h = noise.dim(2), w = noise.dim(3);
  if (h % dc.patch_size[1] != 0 || w % dc.patch_size[2] != 0) {
    bad_request("latent size " + std::to_string(h) + "x" + std::to_string(w) + " is not a multiple of the patch");
  }
  if (!std::isfinite(p.guidance)) bad_request("guidance must be a finite number");
  const int64_t tokens_per_frame = (h / dc.patch_size[1]) * (w / dc.patch_size[2]);
  const int64_t seq_len = F / dc.patch_size[0] * tokens_per_frame;
  const bool i2v = image_latent.defined();
  if (i2v && (image_latent.ndim() != 4 || image_latent.dim(0) != z || image_latent.dim(1) != 1 ||
              image_latent.dim(2) != h || image_latent.dim(3) != w)) {
    bad_request("image latent " + shape_str(image_latent.shape()) + " does not match the noise " +
                shape_str(noise.shape()));
  }
  auto sched = sched::make_scheduler(p.solver);
  sched->set_timesteps(p.steps, p.shift);

  Tensor latent = noise.to(DType::kF32).clone();
  auto hold_first_frame = [&](Tensor& lat) {
    if (i2v) lat.select(1, 0).copy_from(image_latent.select(1, 0));
  };
  hold_first_frame(latent);
  const std::vector<Tensor> contexts = {context, context_null};
  const int total = sched->num_steps();
  for (int i = 0; i < total; ++i) {
    auto t0 = Clock::now();
    const float t = static_cast<float>(sched->timesteps()[static_cast<size_t>(i)]);
    Tensor tvec;
    if (i2v) {
      tvec = Tensor::full({1, seq_len}, t);
      tvec.slice(1, 0, tokens_per_frame).fill(0.0f);  // tokens of latent frame 0 run at t = 0
    } else {
      tvec = Tensor::full({1}, t);
    }
    Tensor x2 = ops::concat({latent.unsqueeze(0), latent.unsqueeze(0)}, 0);  // [2, z, F, h, w]: cond, uncond
    Tensor out = dit_.forward_batch(x2, tvec, contexts, nullptr, seq_len);
    Tensor cond = out.select(0, 0), uncond = out.select(0, 1);
    // noise_pred = uncond + g * (cond - uncond), in float32 as the reference
    Tensor pred = ops::add(uncond, ops::mul_scalar(ops::sub(cond, uncond), static_cast<float>(p.guidance)));
    latent = sched->step(pred, i, latent);
    hold_first_frame(latent);
    if (on_latent) on_latent(i, latent);
    if (on_step) on_step(i + 1, total, since(t0));
  }
  return latent;
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

  const int vs = vae_.config().spatial_stride();
  const int64_t z = vae_.config().z_dim;
  Tensor noise = gaussian_noise({z, (frames - 1) / ts + 1, height / vs, width / vs}, r.seed);
  t0 = Clock::now();
  Tensor latent = denoise(noise, context, context_null, image_latent, req.denoise, [&](int i, int n, double s) {
    r.step_seconds.push_back(s);
    if (on_step) on_step(i, n, s);
  });
  r.stages.push_back({"denoise", since(t0)});
  t0 = Clock::now();
  r.video = ops::clamp(decode(latent), -1.0f, 1.0f);
  r.stages.push_back({"vae_decode", since(t0)});
  r.width = width;
  r.height = height;
  r.frames = static_cast<int>(r.video.dim(1));
  return r;
}

}  // namespace wan22::pipeline
