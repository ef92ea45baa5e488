// Unit tests of the Wan VAEs on tiny random models (no fixtures): loading and its errors, the
// causal chunking (a prefix of the video gives a prefix of the output), streaming, the latent
// normalisation, the Diffusers key layout of both versions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/safetensors.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_weight_spec.h"
#include "models/vae/wan_vae.h"
#include "ops/ops.h"
#include "test_util.h"

namespace wan22 {
namespace {

using models::vae::LatentScaling;
using models::vae::VaeConfig;
using models::vae::VaeVersion;
using models::vae::WanVae;

VaeConfig tiny_config(VaeVersion v) {
  VaeConfig c;
  c.version = v;
  c.dim = 4;
  c.dec_dim = v == VaeVersion::kWan22 ? 6 : 4;
  c.z_dim = 3;
  c.dim_mult = {1, 2, 2};
  c.num_res_blocks = 1;
  c.temperal_downsample = {true, true};
  c.latents_mean = {0.1f, -0.2f, 0.3f};
  c.latents_std = {0.5f, 1.5f, 0.8f};
  return c;
}

std::vector<std::pair<std::string, Tensor>> random_weights(const VaeConfig& cfg, uint64_t seed) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& spec : models::vae::vae_weight_specs(cfg)) {
    // gammas near 1, conv weights small enough that activations stay O(1)
    const bool gamma = spec.key.find("gamma") != std::string::npos;
    int64_t fan_in = 1;
    for (size_t i = 1; i < spec.shape.size(); ++i) fan_in *= spec.shape[i];
    const float r = gamma ? 0.5f : 1.5f / std::sqrt(static_cast<float>(std::max<int64_t>(fan_in, 1)));
    Tensor t = test::random_tensor(spec.shape, seed++, gamma ? 1.0f - r : -r, gamma ? 1.0f + r : r);
    out.emplace_back(spec.key, t);
  }
  return out;
}

nlohmann::json official_json(const VaeConfig& c) {
  nlohmann::json j;
  j["dim"] = c.dim;
  j["dec_dim"] = c.dec_dim;
  j["z_dim"] = c.z_dim;
  j["dim_mult"] = c.dim_mult;
  j["num_res_blocks"] = c.num_res_blocks;
  j["attn_scales"] = nlohmann::json::array();
  j["temperal_downsample"] = c.temperal_downsample;
  j["latents_mean"] = c.latents_mean;
  j["latents_std"] = c.latents_std;
  return j;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(1);
}

// A tiny model written in the official layout; returns the weights path.
std::string write_official(const VaeConfig& cfg, const std::string& dir,
                           std::vector<std::pair<std::string, Tensor>> weights) {
  const std::string path = dir + "/tiny_vae.safetensors";
  io::write_safetensors(path, weights);
  write_json(dir + "/tiny_vae_config.json", official_json(cfg));
  return path;
}

Tensor random_video(const VaeConfig& cfg, int64_t frames, int64_t h, int64_t w, uint64_t seed) {
  return test::random_tensor({1, cfg.in_channels, frames, h, w}, seed);
}

class TinyVae : public ::testing::TestWithParam<VaeVersion> {};

TEST_P(TinyVae, ShapesAndCausalChunking) {
  const VaeConfig cfg = tiny_config(GetParam());
  const std::string dir = test::temp_dir();
  WanVae vae = WanVae::open(write_official(cfg, dir, random_weights(cfg, 7)));
  EXPECT_EQ(vae.config().version, cfg.version);
  EXPECT_EQ(vae.layout(), "official");
  const int s = vae.config().spatial_stride();
  const Tensor video = random_video(cfg, 9, 2 * s, 3 * s, 11);

  const Tensor z = vae.encode(video);
  ASSERT_EQ(z.shape(), (Shape{1, cfg.z_dim, 3, 2, 3}));
  EXPECT_TRUE(std::isfinite(ops::sum_all(z)));
  EXPECT_GT(ops::max_abs(z), 0.0);

  // encoding a prefix (first frame + one chunk) gives the prefix of the latent, bit for bit
  const Tensor z5 = vae.encode(video.slice(2, 0, 5).contiguous());
  ASSERT_EQ(z5.dim(2), 2);
  EXPECT_EQ(test::max_abs_diff(z5, z.slice(2, 0, 2).contiguous()), 0.0);

  const Tensor x = vae.decode(z);
  ASSERT_EQ(x.shape(), video.shape());
  EXPECT_GT(ops::max_abs(x), 0.0);
  // decoding a latent prefix gives the prefix of the video
  const Tensor x2 = vae.decode(z.slice(2, 0, 2).contiguous());
  ASSERT_EQ(x2.dim(2), 5);
  EXPECT_EQ(test::max_abs_diff(x2, x.slice(2, 0, 5).contiguous()), 0.0);

  // the cache carries information across chunks: changing a frame of chunk 1 (frames 1..4)
  // changes the latent of chunk 2 (frames 5..8); changing latent frame 1 changes the frames
  // decoded from latent frame 2
  Tensor video2 = video.clone();
  video2.data<float>()[4 * video.dim(3) * video.dim(4)] += 0.5f;  // channel 0, frame 4, pixel 0
  const Tensor z_pert = vae.encode(video2);
  EXPECT_EQ(test::max_abs_diff(z_pert.slice(2, 0, 1).contiguous(), z.slice(2, 0, 1).contiguous()), 0.0);
  EXPECT_GT(test::max_abs_diff(z_pert.slice(2, 2, 3).contiguous(), z.slice(2, 2, 3).contiguous()), 0.0);
  Tensor z2 = z.clone();
  z2.data<float>()[1 * z.dim(3) * z.dim(4)] += 0.5f;  // channel 0, latent frame 1, pixel 0
  const Tensor x_pert = vae.decode(z2);
  EXPECT_EQ(test::max_abs_diff(x_pert.slice(2, 0, 1).contiguous(), x.slice(2, 0, 1).contiguous()), 0.0);
  EXPECT_GT(test::max_abs_diff(x_pert.slice(2, 5, 9).contiguous(), x.slice(2, 5, 9).contiguous()), 0.0);

  // streaming: 1 frame, then temporal_stride frames per latent frame; same values
  std::vector<Tensor> chunks;
  vae.decode_stream(z, [&](const Tensor& f) { chunks.push_back(f.clone()); });
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].dim(2), 1);
  EXPECT_EQ(chunks[1].dim(2), vae.config().temporal_stride());
  EXPECT_EQ(test::max_abs_diff(ops::concat(chunks, 2), x), 0.0);

  // clamped variant; unbatched input; raw scaling = normalisation applied by hand
  const Tensor xc = vae.decode_clamped(z);
  EXPECT_LE(ops::max_abs(xc), 1.0);
  EXPECT_EQ(test::max_abs_diff(xc, ops::clamp(x, -1.0f, 1.0f)), 0.0);
  const Tensor zu = vae.encode(video.squeeze(0));
  EXPECT_EQ(zu.shape(), (Shape{cfg.z_dim, 3, 2, 3}));
  EXPECT_EQ(test::max_abs_diff(zu, z.squeeze(0)), 0.0);
  const Tensor z_raw = vae.encode(video, LatentScaling::kRaw);
  EXPECT_LE(test::rel_err(vae.normalize_latent(z_raw), z), 1e-6);
  EXPECT_LE(test::rel_err(vae.decode(z_raw, LatentScaling::kRaw), x), 1e-5);
}

TEST_P(TinyVae, BatchItemsAreIndependent) {
  const VaeConfig cfg = tiny_config(GetParam());
  WanVae vae = WanVae::open(write_official(cfg, test::temp_dir(), random_weights(cfg, 3)));
  const int s = vae.config().spatial_stride();
  const Tensor a = random_video(cfg, 5, s, s, 1), b = random_video(cfg, 5, s, s, 2);
  const Tensor z = vae.encode(ops::concat({a, b}, 0));
  ASSERT_EQ(z.dim(0), 2);
  EXPECT_EQ(test::max_abs_diff(z.slice(0, 1, 2).contiguous(), vae.encode(b)), 0.0);
  EXPECT_GT(test::max_abs_diff(z.slice(0, 0, 1).contiguous(), z.slice(0, 1, 2).contiguous()), 0.0);
}

TEST_P(TinyVae, ConfigFromWeightsAlone) {
  const VaeConfig cfg = tiny_config(GetParam());
  const std::string dir = test::temp_dir();
  io::write_safetensors(dir + "/w.safetensors", random_weights(cfg, 5));
  io::WeightStore ws = io::WeightStore::open(dir + "/w.safetensors");
  VaeConfig inferred = models::vae::vae_config_from_weights(ws);
  EXPECT_EQ(inferred.version, cfg.version);
  EXPECT_EQ(inferred.dim, cfg.dim);
  EXPECT_EQ(inferred.dec_dim, cfg.dec_dim);
  EXPECT_EQ(inferred.z_dim, cfg.z_dim);
  EXPECT_EQ(inferred.dim_mult, cfg.dim_mult);
  EXPECT_EQ(inferred.num_res_blocks, cfg.num_res_blocks);
  EXPECT_EQ(inferred.temperal_downsample, cfg.temperal_downsample);
  // z_dim 3 has no built-in statistics: opening without a config names the missing field
  try {
    WanVae::open(dir + "/w.safetensors");
    FAIL() << "expected an error about latents_mean";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("latents_mean"), std::string::npos) << e.what();
  }
}

TEST_P(TinyVae, MissingKeyIsNamed) {
  const VaeConfig cfg = tiny_config(GetParam());
  auto weights = random_weights(cfg, 9);
  const std::string victim = "decoder.middle.1.proj.bias";
  std::erase_if(weights, [&](const auto& kv) { return kv.first == victim; });
  const std::string path = write_official(cfg, test::temp_dir(), weights);
  try {
    WanVae::open(path);
    FAIL() << "a missing key must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_P(TinyVae, WrongShapeIsNamed) {
  const VaeConfig cfg = tiny_config(GetParam());
  auto weights = random_weights(cfg, 9);
  const std::string victim = "encoder.head.2.weight";
  for (auto& [k, t] : weights) {
    if (k == victim) t = test::random_tensor({t.dim(0), t.dim(1) + 1, 3, 3, 3}, 1);
  }
  try {
    WanVae::open(write_official(cfg, test::temp_dir(), weights));
    FAIL() << "a wrong shape must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string msg = e.what();
    EXPECT_NE(msg.find(victim), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected"), std::string::npos) << msg;
  }
}

TEST_P(TinyVae, BadInputIsAnError) {
  const VaeConfig cfg = tiny_config(GetParam());
  WanVae vae = WanVae::open(write_official(cfg, test::temp_dir(), random_weights(cfg, 4)));
  const int s = vae.config().spatial_stride();
  EXPECT_THROW(vae.encode(random_video(cfg, 6, s, s, 1)), Error);      // 6 frames: not 1 + 4k
  EXPECT_THROW(vae.encode(random_video(cfg, 5, s + 1, s, 1)), Error);  // size not a multiple
  EXPECT_THROW(vae.encode(test::random_tensor({1, 4, 5, s, s}, 1)), Error);  // 4 channels
  EXPECT_THROW(vae.decode(test::random_tensor({1, cfg.z_dim + 1, 2, 2, 2}, 1)), Error);
}

// The Diffusers names, written independently of the alias table from diffusers' module structure
// (AutoencoderKLWan: quant_conv, conv_in/out, norm_out, mid_block, down_blocks, up_blocks).
std::string diffusers_name(const std::string& key, const VaeConfig& cfg) {
  static const std::vector<std::pair<std::string, std::string>> parts = {
      {"residual.0.", "norm1."}, {"residual.2.", "conv1."}, {"residual.3.", "norm2."},
      {"residual.6.", "conv2."}, {"shortcut.", "conv_shortcut."}};
  auto rename_part = [&](const std::string& rest) {
    for (const auto& [a, b] : parts) {
      if (rest.rfind(a, 0) == 0) return b + rest.substr(a.size());
    }
    return rest;  // resample.* / time_conv.*
  };
  std::smatch m;
  if (key.rfind("conv1.", 0) == 0) return "quant_conv." + key.substr(6);
  if (key.rfind("conv2.", 0) == 0) return "post_quant_conv." + key.substr(6);
  if (std::regex_match(key, m, std::regex(R"((encoder|decoder)\.conv1\.(.*))"))) return m[1].str() + ".conv_in." + m[2].str();
  if (std::regex_match(key, m, std::regex(R"((encoder|decoder)\.head\.0\.(.*))"))) return m[1].str() + ".norm_out." + m[2].str();
  if (std::regex_match(key, m, std::regex(R"((encoder|decoder)\.head\.2\.(.*))"))) return m[1].str() + ".conv_out." + m[2].str();
  if (std::regex_match(key, m, std::regex(R"((encoder|decoder)\.middle\.(\d)\.(.*))"))) {
    const int i = std::stoi(m[2].str());
    if (i == 1) return m[1].str() + ".mid_block.attentions.0." + m[3].str();
    return m[1].str() + ".mid_block.resnets." + std::to_string(i / 2) + "." + rename_part(m[3].str());
  }
  if (cfg.version == VaeVersion::kWan22) {
    if (std::regex_match(key, m, std::regex(R"((encoder|decoder)\.(downsamples|upsamples)\.(\d+)\.\w+\.(\d+)\.(.*))"))) {
      const bool enc = m[1].str() == "encoder";
      const std::string blk = m[1].str() + (enc ? ".down_blocks." : ".up_blocks.") + m[3].str();
      const std::string rest = m[5].str();
      if (rest.rfind("resample.", 0) == 0 || rest.rfind("time_conv.", 0) == 0) {
        return blk + (enc ? ".downsampler." : ".upsampler.") + rest;
      }
      return blk + ".resnets." + m[4].str() + "." + rename_part(rest);
    }
  } else {
    if (std::regex_match(key, m, std::regex(R"(encoder\.downsamples\.(\d+)\.(.*))"))) {
      return "encoder.down_blocks." + m[1].str() + "." + rename_part(m[2].str());
    }
    if (std::regex_match(key, m, std::regex(R"(decoder\.upsamples\.(\d+)\.(.*))"))) {
      const int k = std::stoi(m[1].str());
      const int per = cfg.num_res_blocks + 2;  // resnets + upsampler per level
      const int level = k / per, j = k % per;
      const std::string blk = "decoder.up_blocks." + std::to_string(level) + ".";
      if (j == cfg.num_res_blocks + 1) return blk + "upsamplers.0." + m[2].str();
      return blk + "resnets." + std::to_string(j) + "." + rename_part(m[2].str());
    }
  }
  ADD_FAILURE() << "no diffusers name for " << key;
  return key;
}

TEST_P(TinyVae, DiffusersLayoutLoadsTheSameModel) {
  const VaeConfig cfg = tiny_config(GetParam());
  const auto weights = random_weights(cfg, 21);
  WanVae official = WanVae::open(write_official(cfg, test::temp_dir(), weights));

  const std::string dir = test::temp_dir() + "/vae";
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, Tensor>> renamed;
  for (const auto& [k, t] : weights) renamed.emplace_back(diffusers_name(k, cfg), t);
  io::write_safetensors(dir + "/diffusion_pytorch_model.safetensors", renamed);
  const bool v22 = cfg.version == VaeVersion::kWan22;
  nlohmann::json j;
  j["_class_name"] = "AutoencoderKLWan";
  j["base_dim"] = cfg.dim;
  j["decoder_base_dim"] = v22 ? nlohmann::json(cfg.dec_dim) : nlohmann::json(nullptr);
  j["z_dim"] = cfg.z_dim;
  j["dim_mult"] = cfg.dim_mult;
  j["num_res_blocks"] = cfg.num_res_blocks;
  j["attn_scales"] = nlohmann::json::array();
  j["temperal_downsample"] = cfg.temperal_downsample;
  j["latents_mean"] = cfg.latents_mean;
  j["latents_std"] = cfg.latents_std;
  j["is_residual"] = v22;
  j["in_channels"] = v22 ? 12 : 3;
  j["out_channels"] = v22 ? 12 : 3;
  j["patch_size"] = v22 ? nlohmann::json(2) : nlohmann::json(nullptr);
  write_json(dir + "/config.json", j);

  WanVae diffusers = WanVae::open(dir);
  EXPECT_EQ(diffusers.layout(), "diffusers");
  EXPECT_EQ(diffusers.config().version, cfg.version);
  const int s = official.config().spatial_stride();
  const Tensor video = random_video(cfg, 5, s, 2 * s, 8);
  const Tensor za = official.encode(video), zb = diffusers.encode(video);
  EXPECT_EQ(test::max_abs_diff(za, zb), 0.0);
  EXPECT_EQ(test::max_abs_diff(official.decode(za), diffusers.decode(za)), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Versions, TinyVae, ::testing::Values(VaeVersion::kWan22, VaeVersion::kWan21),
                         [](const auto& info) { return info.param == VaeVersion::kWan22 ? "Wan22" : "Wan21"; });

TEST(VaeConfigJson, BadFieldsAreNamed) {
  auto expect_named = [](const nlohmann::json& j, const std::string& field) {
    try {
      VaeConfig c = models::vae::vae_config_from_json(j, "cfg.json");
      c.validate();
      ADD_FAILURE() << "expected an error naming " << field;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  VaeConfig good = tiny_config(VaeVersion::kWan22);
  nlohmann::json j = official_json(good);
  j["z_dim"] = "eight";
  expect_named(j, "z_dim");
  j = official_json(good);
  j["temperal_downsample"] = {1, 0};
  expect_named(j, "temperal_downsample");
  j = official_json(good);
  j["latents_std"] = {1.0, 2.0};
  j["z_dim"] = 3;
  nlohmann::json j2 = j;
  try {
    VaeConfig c = models::vae::vae_config_from_json(j2, "cfg.json");
    c.version = VaeVersion::kWan22;
    c.validate();
    ADD_FAILURE() << "expected an error naming latents_std";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("latents_std"), std::string::npos) << e.what();
  }
  j = official_json(good);
  j["attn_scales"] = {0.5};
  try {
    VaeConfig c = models::vae::vae_config_from_json(j, "cfg.json");
    c.version = VaeVersion::kWan22;
    c.validate();
    ADD_FAILURE() << "expected an error naming attn_scales";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attn_scales"), std::string::npos) << e.what();
  }
}

TEST(VaeConfigJson, DiffusersFieldsMap) {
  nlohmann::json j = {{"_class_name", "AutoencoderKLWan"}, {"base_dim", 160}, {"decoder_base_dim", 256},
                      {"z_dim", 48}, {"is_residual", true}, {"in_channels", 12}, {"out_channels", 12},
                      {"patch_size", 2}, {"temperal_downsample", {false, true, true}}};
  VaeConfig c = models::vae::vae_config_from_json(j, "config.json");
  EXPECT_EQ(c.version, VaeVersion::kWan22);
  EXPECT_EQ(c.dim, 160);
  EXPECT_EQ(c.dec_dim, 256);
  EXPECT_EQ(c.in_channels, 3);
  EXPECT_EQ(c.patch(), 2);
  EXPECT_EQ(c.spatial_stride(), 16);
  EXPECT_EQ(c.temporal_stride(), 4);
  nlohmann::json k = {{"_class_name", "AutoencoderKLWan"}, {"base_dim", 96}, {"z_dim", 16}};
  VaeConfig d = models::vae::vae_config_from_json(k, "config.json");
  EXPECT_EQ(d.version, VaeVersion::kWan21);
  EXPECT_EQ(d.dec_dim, 96);
  EXPECT_EQ(d.patch(), 1);
  EXPECT_EQ(d.spatial_stride(), 8);
}

TEST(VaeConfigJson, OfficialConstants) {
  VaeConfig c22 = models::vae::official_wan22_vae_config();
  ASSERT_EQ(c22.latents_mean.size(), 48u);
  ASSERT_EQ(c22.latents_std.size(), 48u);
  EXPECT_FLOAT_EQ(c22.latents_mean[0], -0.2289f);
  EXPECT_FLOAT_EQ(c22.latents_std[47], 0.7744f);
  EXPECT_NO_THROW(c22.validate());
  VaeConfig c21 = models::vae::official_wan21_vae_config();
  ASSERT_EQ(c21.latents_mean.size(), 16u);
  EXPECT_FLOAT_EQ(c21.latents_mean[0], -0.7571f);
  EXPECT_FLOAT_EQ(c21.latents_std[15], 1.9160f);
  EXPECT_NO_THROW(c21.validate());
  EXPECT_EQ(c22.spatial_stride(), 16);
  EXPECT_EQ(c21.spatial_stride(), 8);
}

}  // namespace
}  // namespace wan22
