#include "models/vae/wan_vae.h"

#include <filesystem>
#include <optional>

#include "core/log.h"
#include "core/status.h"
#include "models/vae/vae_decoder.h"
#include "models/vae/vae_encoder.h"
#include "models/vae/vae_keys.h"
#include "models/vae/vae_reshape.h"
#include "models/vae/vae_weight_spec.h"
#include "ops/ops.h"

namespace wan22::models::vae {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kEncodeChunk = 4;  // frames per encoder chunk after the first one

// [C, ...] -> [1, C, ...] when the input is unbatched; float32 either way.
Tensor batched_f32(const Tensor& x, int unbatched_ndim, bool* was_unbatched) {
  *was_unbatched = x.ndim() == unbatched_ndim;
  Tensor t = x.to(DType::kF32);
  return *was_unbatched ? t.unsqueeze(0) : t;
}

}  // namespace

WanVae::WanVae(const io::WeightStore& ws, VaeConfig cfg) : cfg_(complete_vae_config(std::move(cfg), ws)) {
  cfg_.validate();
  check_vae_weights(ws, cfg_);  // every missing key / wrong shape at once, by name
  const int64_t z = cfg_.z_dim;
  encoder_ = std::make_unique<Encoder3d>(ws, cfg_);
  decoder_ = std::make_unique<Decoder3d>(ws, cfg_);
  quant_conv_ = CausalConv3d::load(ws, "conv1.", 2 * z, 2 * z, {1, 1, 1}, {0, 0, 0});
  post_quant_conv_ = CausalConv3d::load(ws, "conv2.", z, z, {1, 1, 1}, {0, 0, 0});
}

WanVae::~WanVae() = default;
WanVae::WanVae(WanVae&&) noexcept = default;
WanVae& WanVae::operator=(WanVae&&) noexcept = default;

WanVae WanVae::open(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path cfg = fs::path(path) / "config.json";
    return open(path, fs::exists(cfg, ec) ? cfg.string() : std::string());
  }
  fs::path p(path);
  fs::path cfg = p.parent_path() / (p.stem().string() + "_config.json");
  return open(path, fs::exists(cfg, ec) ? cfg.string() : std::string());
}

WanVae WanVae::open(const std::string& weights_path, const std::string& config_path) {
  io::WeightStore ws = io::WeightStore::open(weights_path);
  std::optional<VaeConfig> cfg;
  if (!config_path.empty()) cfg = vae_config_from_file(config_path);
  std::string layout = install_vae_key_map(ws, cfg ? &*cfg : nullptr);
  VaeConfig full = cfg ? complete_vae_config(*cfg, ws) : vae_config_from_weights(ws);
  WanVae vae(ws, std::move(full));
  vae.layout_ = layout;
  LOG_INFO << "VAE " << vae_version_name(vae.cfg_.version) << " from " << weights_path << " (" << layout
           << "): z " << vae.cfg_.z_dim << ", stride " << vae.cfg_.temporal_stride() << "x"
           << vae.cfg_.spatial_stride() << "x" << vae.cfg_.spatial_stride();
  return vae;
}

// ---------------- latent normalisation ----------------

Tensor WanVae::normalize_latent(const Tensor& mu) const {
  WAN22_CHECK(mu.ndim() >= 2 && mu.dim(1) == cfg_.z_dim,
              "normalize_latent: expected [N, " + std::to_string(cfg_.z_dim) + ", ...], got " + mu.str());
  Tensor out = mu.to(DType::kF32).clone();
  const int64_t n = out.dim(0), c = out.dim(1), inner = out.numel() / (n * c);
  float* p = out.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const float mean = cfg_.latents_mean[ch];
      const float inv_std = 1.0f / cfg_.latents_std[ch];  // scale[1] = 1.0 / std
      float* q = p + (b * c + ch) * inner;
      for (int64_t i = 0; i < inner; ++i) q[i] = (q[i] - mean) * inv_std;
    }
  }
  return out;
}

Tensor WanVae::denormalize_latent(const Tensor& z) const {
  WAN22_CHECK(z.ndim() >= 2 && z.dim(1) == cfg_.z_dim,
              "denormalize_latent: expected [N, " + std::to_string(cfg_.z_dim) + ", ...], got " + z.str());
  Tensor out = z.to(DType::kF32).clone();
  const int64_t n = out.dim(0), c = out.dim(1), inner = out.numel() / (n * c);
  float* p = out.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const float mean = cfg_.latents_mean[ch];
      const float inv_std = 1.0f / cfg_.latents_std[ch];
      float* q = p + (b * c + ch) * inner;
      for (int64_t i = 0; i < inner; ++i) q[i] = q[i] / inv_std + mean;
    }
  }
  return out;
}

// ---------------- encode ----------------

Tensor WanVae::encode(const Tensor& video, LatentScaling scaling) const {
  bool unbatched = false;
  Tensor x = batched_f32(video, 4, &unbatched);
  WAN22_CHECK(x.ndim() == 5, "VAE encode: expected a video [N, C, F, H, W] or [C, F, H, W], got " + video.str());
  const int64_t c = x.dim(1), f = x.dim(2), h = x.dim(3), w = x.dim(4);
  const int s = cfg_.spatial_stride();
  WAN22_CHECK(c == cfg_.in_channels, "VAE encode: the video has " + std::to_string(c) + " channels, the VAE takes " +
                                         std::to_string(cfg_.in_channels));
  WAN22_CHECK(f >= 1, "VAE encode: the video has no frames");
  WAN22_CHECK(cfg_.temporal_stride() == 1 || (f - 1) % kEncodeChunk == 0,
              "VAE encode: " + std::to_string(f) + " frames; the frame count must be 1 + 4k");
  WAN22_CHECK(h % s == 0 && w % s == 0, "VAE encode: frame size " + std::to_string(h) + "x" + std::to_string(w) +
                                            " must be a multiple of " + std::to_string(s));
  std::vector<Tensor> items;
  for (int64_t b = 0; b < x.dim(0); ++b) {
    Tensor mu = encode_one(x.slice(0, b, b + 1));
    items.push_back(scaling == LatentScaling::kNormalized ? normalize_latent(mu) : mu);
  }
  Tensor out = items.size() == 1 ? items[0] : ops::concat(items, 0);
  return unbatched ? out.squeeze(0) : out;
}

Tensor WanVae::encode_one(const Tensor& video) const {
  Tensor x = patchify(video.contiguous(), cfg_.patch());
  const int64_t frames = x.dim(2);
  const int64_t chunks = 1 + (frames - 1) / kEncodeChunk;
  FeatCache cache;
  std::vector<Tensor> mus;
  for (int64_t i = 0; i < chunks; ++i) {
    const int64_t start = i == 0 ? 0 : 1 + kEncodeChunk * (i - 1);
    const int64_t end = i == 0 ? 1 : 1 + kEncodeChunk * i;
    cache.begin_chunk();
    Tensor h = encoder_->forward(x.slice(2, start, end).contiguous(), &cache);
    // conv1 is a 1x1x1 conv: applying it per chunk equals applying it to the concatenation
    Tensor moments = quant_conv_.forward(h);
    mus.push_back(moments.slice(1, 0, cfg_.z_dim).contiguous());  // mu; log_var is unused
    LOG_DEBUG << "VAE encode chunk " << i + 1 << "/" << chunks << ": frames [" << start << ", " << end << ")";
  }
  return mus.size() == 1 ? mus[0] : ops::concat(mus, 2);
}

// ---------------- decode ----------------

void WanVae::decode_one(const Tensor& latent_raw, const FrameSink& sink) const {
  const int64_t frames = latent_raw.dim(2);
  FeatCache cache;
  for (int64_t i = 0; i < frames; ++i) {
    // conv2 is a 1x1x1 conv: per frame equals the reference's whole-latent call
    Tensor x = post_quant_conv_.forward(latent_raw.slice(2, i, i + 1).contiguous());
    cache.begin_chunk();
    Tensor out = decoder_->forward(x, &cache, /*first_chunk=*/i == 0);
    sink(unpatchify(out, cfg_.patch()));
    LOG_DEBUG << "VAE decode latent frame " << i + 1 << "/" << frames;
  }
}

void WanVae::decode_stream(const Tensor& latent, const FrameSink& sink, LatentScaling scaling) const {
  bool unbatched = false;
  Tensor z = batched_f32(latent, 4, &unbatched);
  WAN22_CHECK(z.ndim() == 5 && z.dim(1) == cfg_.z_dim,
              "VAE decode: expected a latent [N, " + std::to_string(cfg_.z_dim) + ", T, h, w], got " + latent.str());
  WAN22_CHECK(z.dim(2) >= 1, "VAE decode: the latent has no frames");
  for (int64_t b = 0; b < z.dim(0); ++b) {
    Tensor item = z.slice(0, b, b + 1).contiguous();
    Tensor raw = scaling == LatentScaling::kNormalized ? denormalize_latent(item) : item;
    decode_one(raw, [&](const Tensor& frames) { sink(unbatched ? frames.squeeze(0) : frames); });
  }
}

Tensor WanVae::decode(const Tensor& latent, LatentScaling scaling) const {
  bool unbatched = latent.ndim() == 4;
  Tensor z = unbatched ? latent.unsqueeze(0) : latent;
  WAN22_CHECK(z.ndim() == 5, "VAE decode: expected a latent [N, z, T, h, w] or [z, T, h, w], got " + latent.str());
  std::vector<Tensor> items;
  for (int64_t b = 0; b < z.dim(0); ++b) {
    std::vector<Tensor> chunks;
    decode_stream(z.slice(0, b, b + 1), [&](const Tensor& frames) { chunks.push_back(frames); }, scaling);
    items.push_back(chunks.size() == 1 ? chunks[0] : ops::concat(chunks, 2));
  }
  Tensor out = items.size() == 1 ? items[0] : ops::concat(items, 0);
  return unbatched ? out.squeeze(0) : out;
}

Tensor WanVae::decode_clamped(const Tensor& latent, LatentScaling scaling) const {
  return ops::clamp(decode(latent, scaling), -1.0f, 1.0f);
}

}  // namespace wan22::models::vae
