#include "plan/model_spec.h"

#include <filesystem>

#include "core/status.h"
#include "io/weight_store.h"
#include "models/dit/dit_config.h"
#include "models/text/t5_config.h"
#include "models/text/t5_key_alias.h"
#include "models/vae/vae_keys.h"
#include "pipeline/checkpoint.h"
#include "pipeline/demo_model.h"

namespace wan22::plan {

namespace {

ModelSpec ti2v_5b() {
  ModelSpec m;
  m.name = "ti2v-5b";
  m.dit = models::DitShape{};  // the TI2V-5B defaults of weight_shapes.h
  m.vae = models::vae::official_wan22_vae_config();
  return m;
}

ModelSpec a14b(bool i2v) {
  ModelSpec m;
  m.name = i2v ? "i2v-a14b" : "t2v-a14b";
  m.dit.model_type = i2v ? "i2v" : "t2v";
  m.dit.in_dim = i2v ? 36 : 16;
  m.dit.out_dim = 16;
  m.dit.dim = 5120;
  m.dit.ffn_dim = 13824;
  m.dit.num_heads = 40;
  m.dit.num_layers = 40;
  m.experts = 2;
  m.expert_boundary = i2v ? 0.900 : 0.875;
  m.vae = models::vae::official_wan21_vae_config();
  m.default_width = 1280;
  m.default_height = 720;
  m.default_frames = 81;
  m.default_steps = 40;
  m.default_guidance = i2v ? 3.5 : 4.0;
  m.needs_image = i2v;
  return m;
}

// The demo model's sizes (pipeline/demo_model.cpp): TI2V architecture, tiny widths.
ModelSpec demo() {
  ModelSpec m;
  m.name = "demo";
  m.dit.model_type = "ti2v";
  m.dit.in_dim = m.dit.out_dim = 16;
  m.dit.dim = 64;
  m.dit.ffn_dim = 128;
  m.dit.freq_dim = 32;
  m.dit.text_dim = 32;
  m.dit.num_heads = 2;
  m.dit.num_layers = 2;
  m.vae.version = models::vae::VaeVersion::kWan22;
  m.vae.dim = 8;
  m.vae.dec_dim = 8;
  m.vae.z_dim = 16;
  m.vae.patch_size = 2;
  m.t5.vocab = 512;
  m.t5.dim = m.t5.dim_attn = m.dit.text_dim;
  m.t5.dim_ffn = 64;
  m.t5.num_heads = 4;
  m.t5.num_layers = 2;
  m.default_width = 256;
  m.default_height = 256;
  m.default_frames = 33;
  m.default_steps = 4;
  return m;
}

models::DitShape shape_of(const models::dit::DitConfig& c) {
  models::DitShape s;
  s.model_type = c.model_type;
  s.patch = {c.patch_size[0], c.patch_size[1], c.patch_size[2]};
  s.in_dim = c.in_dim;
  s.out_dim = c.out_dim;
  s.dim = c.dim;
  s.ffn_dim = c.ffn_dim;
  s.freq_dim = c.freq_dim;
  s.text_dim = c.text_dim;
  s.num_heads = c.num_heads;
  s.num_layers = c.num_layers;
  s.qk_norm = c.qk_norm;
  s.cross_attn_norm = c.cross_attn_norm;
  return s;
}

}  // namespace

std::vector<std::string> model_presets() { return {"ti2v-5b", "t2v-a14b", "i2v-a14b", "demo"}; }

ModelSpec model_preset(const std::string& name) {
  if (name == "ti2v-5b" || name == "TI2V-5B") return ti2v_5b();
  if (name == "t2v-a14b" || name == "T2V-A14B") return a14b(false);
  if (name == "i2v-a14b" || name == "I2V-A14B") return a14b(true);
  if (name == "demo") return demo();
  std::string known;
  for (const auto& n : model_presets()) known += (known.empty() ? "" : ", ") + n;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown model '" + name + "': give one of " + known + " or a checkpoint directory");
}

ModelSpec model_from_checkpoint(const std::string& path) {
  pipeline::CheckpointPaths p = pipeline::locate_checkpoint(path);
  ModelSpec m = p.demo ? demo() : ti2v_5b();
  m.name = path;
  if (p.dit_config.empty()) {
    throw Error(ErrorCode::kNotFound, path + ": the DiT's config.json is needed to plan (single-file layouts: "
                                             "give --model ti2v-5b / t2v-a14b / i2v-a14b instead)");
  }
  models::dit::DitConfig dc = models::dit::load_dit_config(p.dit_config);
  m.dit = shape_of(dc);
  m.text_len = dc.text_len;
  {
    io::WeightStore ws = io::WeightStore::open(p.vae);
    std::optional<models::vae::VaeConfig> hint;
    if (!p.vae_config.empty()) hint = models::vae::vae_config_from_file(p.vae_config);
    models::vae::install_vae_key_map(ws, hint ? &*hint : nullptr);
    m.vae = hint ? models::vae::complete_vae_config(*hint, ws) : models::vae::vae_config_from_weights(ws);
  }
  {
    io::WeightStore ws = io::WeightStore::open(p.t5);
    models::text::install_t5_key_map(ws);
    models::text::T5Config tc =
        p.t5_config.empty() ? models::text::infer_t5_config(ws) : models::text::load_t5_config(p.t5_config);
    m.t5.vocab = tc.vocab;
    m.t5.dim = tc.dim;
    m.t5.dim_attn = tc.dim_attn;
    m.t5.dim_ffn = tc.dim_ffn;
    m.t5.num_heads = tc.num_heads;
    m.t5.num_layers = tc.num_layers;
    m.t5.num_buckets = tc.num_buckets;
    m.t5.shared_pos = tc.shared_pos;
  }
  m.needs_image = dc.model_type == "i2v";
  if (m.vae.version == models::vae::VaeVersion::kWan21) {
    m.default_height = 720;
    m.default_frames = 81;
  }
  return m;
}

ModelSpec resolve_model(const std::string& name_or_path) {
  for (const auto& n : model_presets())
    if (n == name_or_path) return model_preset(n);
  std::error_code ec;
  if (std::filesystem::exists(name_or_path, ec)) return model_from_checkpoint(name_or_path);
  return model_preset(name_or_path);  // throws with the list of names
}

LatentGrid latent_grid(const ModelSpec& m, int width, int height, int frames) {
  const int st = m.vae_stride_t(), ss = m.vae_stride_s();
  const int mult = m.size_multiple();
  if (width <= 0 || height <= 0 || frames <= 0)
    throw Error(ErrorCode::kInvalidArgument, "size and frames must be positive");
  if (width % mult || height % mult)
    throw Error(ErrorCode::kInvalidArgument, "size " + std::to_string(width) + "x" + std::to_string(height) +
                                                 " is not a multiple of " + std::to_string(mult) + " for " + m.name);
  LatentGrid g;
  g.frames = (frames - 1) / st + 1;
  g.height = height / ss;
  g.width = width / ss;
  g.tokens = (g.frames / m.dit.patch[0]) * (g.height / m.dit.patch[1]) * (g.width / m.dit.patch[2]);
  return g;
}

}  // namespace wan22::plan
