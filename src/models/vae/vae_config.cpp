#include "models/vae/vae_config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/log.h"
#include "core/status.h"
#include "models/vae/vae_official_stats.h"

namespace wan22::models::vae {

namespace {

using nlohmann::json;

[[noreturn]] void bad_field(const std::string& source, const std::string& field, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, source + ": VAE config field '" + field + "' " + what);
}

int get_int(const json& j, const std::string& source, const std::string& key) {
  const json& v = j.at(key);
  if (!v.is_number_integer()) bad_field(source, key, "must be an integer, got " + v.dump());
  return v.get<int>();
}

std::vector<int> get_int_list(const json& j, const std::string& source, const std::string& key) {
  const json& v = j.at(key);
  if (!v.is_array()) bad_field(source, key, "must be a list of integers, got " + v.dump());
  std::vector<int> out;
  for (const auto& e : v) {
    if (!e.is_number_integer()) bad_field(source, key, "must be a list of integers, got " + v.dump());
    out.push_back(e.get<int>());
  }
  return out;
}

std::vector<float> get_float_list(const json& j, const std::string& source, const std::string& key) {
  const json& v = j.at(key);
  if (!v.is_array()) bad_field(source, key, "must be a list of numbers, got " + v.dump());
  std::vector<float> out;
  for (const auto& e : v) {
    if (!e.is_number()) bad_field(source, key, "must be a list of numbers, got " + v.dump());
    out.push_back(e.get<float>());
  }
  return out;
}

std::vector<double> get_double_list(const json& j, const std::string& source, const std::string& key) {
  std::vector<double> out;
  for (float f : get_float_list(j, source, key)) out.push_back(f);
  return out;
}

std::vector<bool> get_bool_list(const json& j, const std::string& source, const std::string& key) {
  const json& v = j.at(key);
  if (!v.is_array()) bad_field(source, key, "must be a list of booleans, got " + v.dump());
  std::vector<bool> out;
  for (const auto& e : v) {
    if (!e.is_boolean()) bad_field(source, key, "must be a list of booleans, got " + v.dump());
    out.push_back(e.get<bool>());
  }
  return out;
}

bool is_diffusers_json(const json& j) {
  if (j.contains("_class_name")) return true;
  return j.contains("base_dim") || j.contains("is_residual") || j.contains("decoder_base_dim");
}

int64_t dim_of(const io::WeightStore& ws, const std::string& key, int d) {
  const Shape& s = ws.info(key).shape;
  if (d >= static_cast<int>(s.size())) {
    throw Error(ErrorCode::kInvalidArgument,
                "weight '" + key + "' in " + ws.file_of(key) + " has shape " + shape_str(s) +
                    ", expected at least " + std::to_string(d + 1) + " dims");
  }
  return s[d];
}

void require_key(const io::WeightStore& ws, const std::string& key) {
  if (!ws.contains(key)) {
    std::string where = ws.sources().empty() ? std::string("(no files)") : ws.sources().front()->path();
    throw Error(ErrorCode::kNotFound, "VAE weight '" + key + "' is missing in " + where);
  }
}

// Per level: output width of its residual blocks, res-block count, temporal downsample flag.
struct LevelInfo {
  int64_t width = 0;
  int res_blocks = 0;
  bool has_resample = false;
  bool temporal = false;
};

std::vector<LevelInfo> scan_levels_wan22(const io::WeightStore& ws) {
  std::vector<LevelInfo> levels;
  for (int i = 0;; ++i) {
    std::string base = "encoder.downsamples." + std::to_string(i) + ".downsamples.";
    if (!ws.contains(base + "0.residual.2.weight")) break;
    LevelInfo lv;
    lv.width = dim_of(ws, base + "0.residual.2.weight", 0);
    int j = 0;
    while (ws.contains(base + std::to_string(j) + ".residual.2.weight")) ++j;
    lv.res_blocks = j;
    lv.has_resample = ws.contains(base + std::to_string(j) + ".resample.1.weight");
    lv.temporal = ws.contains(base + std::to_string(j) + ".time_conv.weight");
    levels.push_back(lv);
  }
  return levels;
}

std::vector<LevelInfo> scan_levels_wan21(const io::WeightStore& ws) {
  std::vector<LevelInfo> levels;
  LevelInfo cur;
  for (int k = 0;; ++k) {
    std::string base = "encoder.downsamples." + std::to_string(k) + ".";
    if (ws.contains(base + "residual.2.weight")) {
      cur.width = dim_of(ws, base + "residual.2.weight", 0);
      ++cur.res_blocks;
    } else if (ws.contains(base + "resample.1.weight")) {
      cur.has_resample = true;
      cur.temporal = ws.contains(base + "time_conv.weight");
      levels.push_back(cur);
      cur = LevelInfo{};
    } else if (ws.contains(base + "norm.gamma")) {
      continue;  // an attention block (attn_scales); rejected by validate()
    } else {
      break;
    }
  }
  if (cur.res_blocks > 0) levels.push_back(cur);
  return levels;
}

// The official constants when the config has no statistics and z_dim is the published one; else
// left empty (validate() then names the missing field).
void fill_stats(VaeConfig& cfg) {
  if (!cfg.latents_mean.empty() && !cfg.latents_std.empty()) return;
  if (cfg.version == VaeVersion::kWan22 && cfg.z_dim == 48) {
    cfg.latents_mean = official_wan22_latents_mean();
    cfg.latents_std = official_wan22_latents_std();
  } else if (cfg.version == VaeVersion::kWan21 && cfg.z_dim == 16) {
    cfg.latents_mean = official_wan21_latents_mean();
    cfg.latents_std = official_wan21_latents_std();
  }
}

std::string store_name(const io::WeightStore& ws) {
  return ws.sources().empty() ? std::string("(no files)") : ws.sources().front()->path();
}

}  // namespace

const char* vae_version_name(VaeVersion v) {
  switch (v) {
    case VaeVersion::kWan21: return "Wan2.1";
    case VaeVersion::kWan22: return "Wan2.2";
    default: return "unknown";
  }
}

int VaeConfig::temporal_stride() const {
  int s = 1;
  for (bool b : temperal_downsample) s *= b ? 2 : 1;
  return s;
}

int VaeConfig::spatial_stride() const {
  int levels = static_cast<int>(dim_mult.size());
  return (levels > 1 ? (1 << (levels - 1)) : 1) * patch();
}

void VaeConfig::validate() const {
  const std::string src = "VAE config";
  if (version == VaeVersion::kUnknown) bad_field(src, "version", "is unknown (not detected from config or weights)");
  if (dim <= 0) bad_field(src, "dim", "must be > 0, got " + std::to_string(dim));
  if (dec_dim <= 0) bad_field(src, "dec_dim", "must be > 0, got " + std::to_string(dec_dim));
  if (z_dim <= 0) bad_field(src, "z_dim", "must be > 0, got " + std::to_string(z_dim));
  if (dim_mult.size() < 2) bad_field(src, "dim_mult", "needs at least 2 levels");
  for (int m : dim_mult) {
    if (m <= 0) bad_field(src, "dim_mult", "entries must be > 0");
  }
  if (num_res_blocks <= 0) bad_field(src, "num_res_blocks", "must be > 0");
  if (!attn_scales.empty()) {
    bad_field(src, "attn_scales",
              "must be empty: attention inside the down/up blocks is not supported (the official chunked "
              "encoder cannot run it either)");
  }
  if (temperal_downsample.size() + 1 < dim_mult.size()) {
    bad_field(src, "temperal_downsample",
              "needs one entry per downsampling level (" + std::to_string(dim_mult.size() - 1) + "), got " +
                  std::to_string(temperal_downsample.size()));
  }
  if (latents_mean.empty() || latents_std.empty()) {
    bad_field(src, latents_mean.empty() ? "latents_mean" : "latents_std",
              "is missing: built-in values exist only for the official z_dim 48 (Wan2.2) and 16 (Wan2.1), this VAE "
              "has z_dim " + std::to_string(z_dim) + "; give a config with latents_mean and latents_std");
  }
  if (static_cast<int>(latents_mean.size()) != z_dim) {
    bad_field(src, "latents_mean", "has " + std::to_string(latents_mean.size()) + " values, z_dim is " +
                                       std::to_string(z_dim));
  }
  if (static_cast<int>(latents_std.size()) != z_dim) {
    bad_field(src, "latents_std", "has " + std::to_string(latents_std.size()) + " values, z_dim is " +
                                      std::to_string(z_dim));
  }
  for (float s : latents_std) {
    if (!(s != 0.0f)) bad_field(src, "latents_std", "has a zero entry");
  }
  if (patch() < 1) bad_field(src, "patch_size", "must be >= 1");
  if (in_channels <= 0) bad_field(src, "in_channels", "must be > 0");
  if (version == VaeVersion::kWan21 && dec_dim != dim) {
    bad_field(src, "dec_dim", "must equal dim for a Wan2.1 VAE");
  }
  if (version == VaeVersion::kWan21 && dim_mult.size() > 4) {
    bad_field(src, "dim_mult", "has more than 4 levels: the Wan2.1 decoder layout is defined for 4");
  }
}

VaeConfig vae_config_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(ErrorCode::kInvalidArgument, source + ": VAE config is not a JSON object");
  VaeConfig c;
  c.dim = 0;
  c.dec_dim = 0;
  try {
    if (is_diffusers_json(j)) {
      if (j.contains("_class_name") && j["_class_name"] != "AutoencoderKLWan") {
        bad_field(source, "_class_name", "is " + j["_class_name"].dump() + ", expected \"AutoencoderKLWan\"");
      }
      bool residual = j.contains("is_residual") && j["is_residual"].is_boolean() && j["is_residual"].get<bool>();
      if (j.contains("is_residual") && !j["is_residual"].is_boolean()) bad_field(source, "is_residual", "must be a boolean");
      c.version = residual ? VaeVersion::kWan22 : VaeVersion::kWan21;
      c.dim = j.contains("base_dim") ? get_int(j, source, "base_dim") : 96;  // diffusers' default
      c.dec_dim = (j.contains("decoder_base_dim") && !j["decoder_base_dim"].is_null())
                      ? get_int(j, source, "decoder_base_dim")
                      : c.dim;
      c.z_dim = j.contains("z_dim") ? get_int(j, source, "z_dim") : 16;
      c.patch_size = (j.contains("patch_size") && !j["patch_size"].is_null()) ? get_int(j, source, "patch_size") : 1;
      int in_ch = j.contains("in_channels") ? get_int(j, source, "in_channels") : 3;
      int out_ch = j.contains("out_channels") ? get_int(j, source, "out_channels") : 3;
      int pp = c.patch_size * c.patch_size;
      if (in_ch % pp != 0) bad_field(source, "in_channels", "is not a multiple of patch_size^2");
      if (out_ch != in_ch) bad_field(source, "out_channels", "differs from in_channels (not a Wan VAE)");
      c.in_channels = in_ch / pp;
    } else {
      if (j.contains("dim")) c.dim = get_int(j, source, "dim");
      if (j.contains("dec_dim")) c.dec_dim = get_int(j, source, "dec_dim");
      if (j.contains("z_dim")) c.z_dim = get_int(j, source, "z_dim");
      if (j.contains("patch_size") && !j["patch_size"].is_null()) c.patch_size = get_int(j, source, "patch_size");
    }
    if (j.contains("dim_mult")) c.dim_mult = get_int_list(j, source, "dim_mult");
    if (j.contains("num_res_blocks")) c.num_res_blocks = get_int(j, source, "num_res_blocks");
    if (j.contains("attn_scales")) c.attn_scales = get_double_list(j, source, "attn_scales");
    if (j.contains("temperal_downsample")) c.temperal_downsample = get_bool_list(j, source, "temperal_downsample");
    if (j.contains("latents_mean")) c.latents_mean = get_float_list(j, source, "latents_mean");
    if (j.contains("latents_std")) c.latents_std = get_float_list(j, source, "latents_std");
    if (j.contains("dropout") && j["dropout"].is_number() && j["dropout"].get<double>() != 0.0) {
      LOG_WARN << source << ": VAE dropout " << j["dropout"].get<double>() << " is ignored (inference)";
    }
  } catch (const json::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, source + ": bad VAE config (" + e.what() + ")");
  }
  return c;
}

VaeConfig vae_config_from_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(ErrorCode::kNotFound, path + ": cannot open VAE config");
  nlohmann::json j;
  try {
    f >> j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kCorruptData, path + ": not valid JSON (" + e.what() + ")");
  }
  return vae_config_from_json(j, path);
}

VaeVersion detect_vae_version(const io::WeightStore& ws) {
  if (ws.contains("encoder.downsamples.0.downsamples.0.residual.0.gamma")) return VaeVersion::kWan22;
  if (ws.contains("encoder.downsamples.0.residual.0.gamma")) return VaeVersion::kWan21;
  throw Error(ErrorCode::kNotFound,
              store_name(ws) +
                  ": not a Wan VAE: neither 'encoder.downsamples.0.downsamples.0.residual.0.gamma' (Wan2.2) nor "
                  "'encoder.downsamples.0.residual.0.gamma' (Wan2.1) is present");
}

VaeConfig complete_vae_config(VaeConfig c, const io::WeightStore& ws) {
  VaeVersion found = detect_vae_version(ws);
  if (c.version == VaeVersion::kUnknown) c.version = found;
  if (c.version != found) {
    throw Error(ErrorCode::kInvalidArgument, store_name(ws) + ": the config describes a " +
                                                 vae_version_name(c.version) + " VAE but the weights are " +
                                                 vae_version_name(found));
  }
  require_key(ws, "encoder.conv1.weight");
  require_key(ws, "conv2.weight");
  require_key(ws, "decoder.conv1.weight");
  if (c.dim <= 0) c.dim = static_cast<int>(dim_of(ws, "encoder.conv1.weight", 0));
  if (c.z_dim <= 0) c.z_dim = static_cast<int>(dim_of(ws, "conv2.weight", 0));
  if (c.dec_dim <= 0) {
    if (c.version == VaeVersion::kWan21) {
      c.dec_dim = c.dim;
    } else {
      int64_t top = dim_of(ws, "decoder.conv1.weight", 0);
      int last = c.dim_mult.empty() ? 1 : c.dim_mult.back();
      c.dec_dim = static_cast<int>(top / last);
    }
  }
  fill_stats(c);
  return c;
}

VaeConfig vae_config_from_weights(const io::WeightStore& ws) {
  VaeConfig c;
  c.version = detect_vae_version(ws);
  require_key(ws, "encoder.conv1.weight");
  require_key(ws, "conv2.weight");
  require_key(ws, "decoder.conv1.weight");
  c.dim = static_cast<int>(dim_of(ws, "encoder.conv1.weight", 0));
  c.z_dim = static_cast<int>(dim_of(ws, "conv2.weight", 0));
  int64_t in_ch = dim_of(ws, "encoder.conv1.weight", 1);
  std::vector<LevelInfo> levels =
      c.version == VaeVersion::kWan22 ? scan_levels_wan22(ws) : scan_levels_wan21(ws);
  if (levels.empty()) {
    throw Error(ErrorCode::kNotFound, store_name(ws) + ": no encoder down blocks found");
  }
  c.dim_mult.clear();
  c.temperal_downsample.clear();
  c.num_res_blocks = levels.front().res_blocks;
  for (size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].width % c.dim != 0) {
      throw Error(ErrorCode::kInvalidArgument, store_name(ws) + ": encoder level " + std::to_string(i) +
                                                   " width " + std::to_string(levels[i].width) +
                                                   " is not a multiple of the base width " + std::to_string(c.dim));
    }
    c.dim_mult.push_back(static_cast<int>(levels[i].width / c.dim));
    if (i + 1 < levels.size()) c.temperal_downsample.push_back(levels[i].temporal);
  }
  if (c.version == VaeVersion::kWan22) {
    c.patch_size = (in_ch % 4 == 0 && in_ch / 4 == 3) ? 2 : 1;
    c.in_channels = static_cast<int>(in_ch / (c.patch_size * c.patch_size));
    c.dec_dim = static_cast<int>(dim_of(ws, "decoder.conv1.weight", 0) / c.dim_mult.back());
  } else {
    c.patch_size = 1;
    c.in_channels = static_cast<int>(in_ch);
    c.dec_dim = c.dim;
  }
  fill_stats(c);
  return c;
}

VaeConfig official_wan22_vae_config() {
  VaeConfig c;
  c.version = VaeVersion::kWan22;
  c.dim = 160;
  c.dec_dim = 256;
  c.z_dim = 48;
  c.dim_mult = {1, 2, 4, 4};
  c.num_res_blocks = 2;
  c.temperal_downsample = {false, true, true};
  c.latents_mean = official_wan22_latents_mean();
  c.latents_std = official_wan22_latents_std();
  c.patch_size = 2;
  return c;
}

VaeConfig official_wan21_vae_config() {
  VaeConfig c;
  c.version = VaeVersion::kWan21;
  c.dim = 96;
  c.dec_dim = 96;
  c.z_dim = 16;
  c.dim_mult = {1, 2, 4, 4};
  c.num_res_blocks = 2;
  c.temperal_downsample = {false, true, true};
  c.latents_mean = official_wan21_latents_mean();
  c.latents_std = official_wan21_latents_std();
  c.patch_size = 1;
  return c;
}

}  // namespace wan22::models::vae
