// Golden tests of the Wan VAEs against the official modules (golden/: vae2_2.py, vae2_1.py) and
// diffusers' AutoencoderKLWan (diffusers/vae). Every size comes from the fixture tensors / JSON.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <set>
#include <string>

#include "core/status.h"
#include "io/weight_store.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_weight_spec.h"
#include "models/vae/wan_vae.h"
#include "ops/ops.h"
#include "test_util.h"

namespace wan22 {
namespace {

using models::vae::LatentScaling;
using models::vae::VaeConfig;
using models::vae::WanVae;

constexpr double kTol = 1e-4;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(const std::string& name, double err) {
  std::cout << "[measured] " << ::testing::UnitTest::GetInstance()->current_test_info()->name() << " " << name
            << " rel_err=" << err << std::endl;
  ::testing::Test::RecordProperty(name + "_rel_err", std::to_string(err));
}

void expect_close(const std::string& name, const Tensor& got, const Tensor& ref) {
  ASSERT_EQ(got.shape(), ref.shape()) << name << ": got " << got.str() << ", reference " << ref.str();
  const double err = test::rel_err(got, ref);
  report(name, err);
  EXPECT_LE(err, kTol) << name;
}

// An official-layout case: weights <stem>.safetensors + <stem>_config.json, tensors in <case>.
void run_official_roundtrip(const std::string& stem, const std::string& case_name) {
  const std::string dir = test::golden_dir();
  auto t_load = std::chrono::steady_clock::now();
  WanVae vae = WanVae::open(dir + "/" + stem + ".safetensors", dir + "/" + stem + "_config.json");
  EXPECT_EQ(vae.layout(), "official");
  io::WeightStore fx = io::WeightStore::open(dir + "/" + case_name + ".safetensors");
  const Tensor video = fx.get_f32("video");
  const Tensor latent_ref = fx.get_f32("latent");
  const Tensor decoded_raw_ref = fx.get_f32("decoded_raw");
  std::cout << "[info] " << case_name << ": " << models::vae::vae_version_name(vae.config().version) << " video "
            << shape_str(video.shape()) << " -> latent " << shape_str(latent_ref.shape()) << " (load "
            << seconds_since(t_load) << " s)" << std::endl;

  auto t0 = std::chrono::steady_clock::now();
  const Tensor latent = vae.encode(video);
  const double t_enc = seconds_since(t0);
  expect_close("latent", latent, latent_ref);

  // decode the fixture latent: decode is tested independently of encode
  t0 = std::chrono::steady_clock::now();
  const Tensor decoded_raw = vae.decode(latent_ref);
  const double t_dec = seconds_since(t0);
  expect_close("decoded_raw", decoded_raw, decoded_raw_ref);
  if (fx.contains("decoded")) {
    expect_close("decoded", ops::clamp(decoded_raw, -1.0f, 1.0f), fx.get_f32("decoded"));
  }
  // and the full round trip from our own latent
  if (latent.shape() == latent_ref.shape()) {
    expect_close("roundtrip_decoded_raw", vae.decode(latent), decoded_raw_ref);
  }
  std::cout << "[time] " << case_name << ": encode " << t_enc << " s, decode " << t_dec << " s" << std::endl;
}

TEST(VaeGolden, vae_roundtrip_a) { run_official_roundtrip("vae", "vae_roundtrip_a"); }

TEST(VaeGolden, vae_roundtrip_b) { run_official_roundtrip("vae", "vae_roundtrip_b"); }

TEST(VaeGolden, vae21_roundtrip) { run_official_roundtrip("vae21", "vae21_roundtrip"); }

TEST(VaeGolden, diffusers_vae_roundtrip) {
  const std::string dir = test::diffusers_dir();
  WanVae vae = WanVae::open(dir + "/vae");
  EXPECT_EQ(vae.layout(), "diffusers");
  io::WeightStore fx = io::WeightStore::open(dir + "/vae_roundtrip.safetensors");
  const Tensor video = fx.get_f32("video");
  const Tensor latent_ref = fx.get_f32("latent_raw");
  const Tensor decoded_raw_ref = fx.get_f32("decoded_raw");
  std::cout << "[info] diffusers vae_roundtrip: " << models::vae::vae_version_name(vae.config().version)
            << " video " << shape_str(video.shape()) << " -> latent " << shape_str(latent_ref.shape()) << std::endl;

  auto t0 = std::chrono::steady_clock::now();
  const Tensor latent = vae.encode(video, LatentScaling::kRaw);  // latent_dist.mode(), not normalised
  const double t_enc = seconds_since(t0);
  expect_close("latent_raw", latent, latent_ref);
  // AutoencoderKLWan._decode ends with torch.clamp(out, -1, 1) unconditionally, so the fixture's
  // "decoded_raw" is clamped (whatever the README says): compare the clamped decode.
  t0 = std::chrono::steady_clock::now();
  const Tensor decoded = vae.decode_clamped(latent_ref, LatentScaling::kRaw);
  const double t_dec = seconds_since(t0);
  expect_close("decoded_raw(clamped)", decoded, decoded_raw_ref);
  std::cout << "[time] diffusers vae_roundtrip: encode " << t_enc << " s, decode " << t_dec << " s" << std::endl;

  // the normalised API is the raw one with the config's mean/std applied
  const Tensor normalized = vae.normalize_latent(latent_ref);
  EXPECT_LE(test::rel_err(vae.denormalize_latent(normalized), latent_ref), 1e-6);
}

// The VAE steps of the pipeline fixtures: the final latent decodes to video_raw (unbatched
// [z, T, h, w] -> [3, F, H, W]); in image-to-video the image encodes to image_latent.
void run_pipeline_vae(const std::string& case_name) {
  const std::string dir = test::golden_dir();
  WanVae vae = WanVae::open(dir + "/vae.safetensors", dir + "/vae_config.json");
  io::WeightStore fx = io::WeightStore::open(dir + "/" + case_name + ".safetensors");
  int last = -1;
  while (fx.contains("latent_" + std::to_string(last + 1))) ++last;
  ASSERT_GE(last, 0) << case_name << ": no latent_i tensors";
  const Tensor final_latent = fx.get_f32("latent_" + std::to_string(last));
  expect_close("video_raw", vae.decode(final_latent), fx.get_f32("video_raw"));
  expect_close("video", vae.decode_clamped(final_latent), fx.get_f32("video"));
  if (fx.contains("image")) expect_close("image_latent", vae.encode(fx.get_f32("image")), fx.get_f32("image_latent"));
}

TEST(VaeGolden, vae_in_pipeline_t2v) { run_pipeline_vae("pipeline_t2v"); }

TEST(VaeGolden, vae_in_pipeline_i2v) { run_pipeline_vae("pipeline_i2v"); }

// The weight list the loaders expect equals what the official modules saved, and the config read
// from the weights alone equals the JSON config (what the config-less official .pth relies on).
void check_spec_and_inferred_config(const std::string& stem) {
  const std::string dir = test::golden_dir();
  io::WeightStore ws = io::WeightStore::open(dir + "/" + stem + ".safetensors");
  VaeConfig json_cfg =
      models::vae::complete_vae_config(models::vae::vae_config_from_file(dir + "/" + stem + "_config.json"), ws);
  VaeConfig inferred = models::vae::vae_config_from_weights(ws);
  EXPECT_EQ(inferred.version, json_cfg.version);
  EXPECT_EQ(inferred.dim, json_cfg.dim);
  EXPECT_EQ(inferred.dec_dim, json_cfg.dec_dim);
  EXPECT_EQ(inferred.z_dim, json_cfg.z_dim);
  EXPECT_EQ(inferred.dim_mult, json_cfg.dim_mult);
  EXPECT_EQ(inferred.num_res_blocks, json_cfg.num_res_blocks);
  EXPECT_EQ(inferred.temperal_downsample, json_cfg.temperal_downsample);
  EXPECT_EQ(inferred.patch(), json_cfg.patch());

  const std::vector<std::string> keys = ws.keys();
  std::set<std::string> stored(keys.begin(), keys.end());
  std::set<std::string> expected;
  for (const auto& spec : models::vae::vae_weight_specs(json_cfg)) {
    expected.insert(spec.key);
    ASSERT_TRUE(ws.contains(spec.key)) << spec.key;
    EXPECT_EQ(ws.info(spec.key).shape, spec.shape) << spec.key;
  }
  EXPECT_EQ(expected, stored);
}

TEST(VaeGolden, vae22_weight_spec_and_inferred_config) { check_spec_and_inferred_config("vae"); }

TEST(VaeGolden, vae21_weight_spec_and_inferred_config) { check_spec_and_inferred_config("vae21"); }

// The official checkpoint format (torch.save zip + pickle) loads to the same model.
TEST(VaeGolden, vae_pth_equals_safetensors) {
  const std::string dir = test::golden_dir();
  WanVae from_st = WanVae::open(dir + "/vae.safetensors", dir + "/vae_config.json");
  WanVae from_pth = WanVae::open(dir + "/vae.pth", dir + "/vae_config.json");
  io::WeightStore fx = io::WeightStore::open(dir + "/vae_roundtrip_a.safetensors");
  const Tensor latent = fx.get_f32("latent").slice(2, 0, 1).contiguous();  // one latent frame: cheap
  const Tensor a = from_st.decode(latent);
  const Tensor b = from_pth.decode(latent);
  EXPECT_EQ(test::max_abs_diff(a, b), 0.0);
}

// A missing key or a wrong shape is an Error that names it.
TEST(VaeGolden, missing_key_and_wrong_shape_are_named) {
  const std::string dir = test::golden_dir();
  io::WeightStore ws = io::WeightStore::open(dir + "/vae.safetensors");
  VaeConfig cfg = models::vae::vae_config_from_file(dir + "/vae_config.json");
  const std::string victim = "decoder.middle.1.to_qkv.weight";
  ws.set_key_map([victim](const std::string& k) { return k == victim ? std::string("no.such.key") : k; });
  try {
    WanVae vae(ws, cfg);
    FAIL() << "a missing key must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
  }
  // wrong shape: a config that asks for other widths than the file holds
  ws.set_key_map(nullptr);
  VaeConfig wider = cfg;
  wider.dec_dim = cfg.dec_dim > 0 ? cfg.dec_dim * 2 : 16;
  try {
    WanVae vae(ws, wider);
    FAIL() << "a wrong shape must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("decoder.conv1.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wan22
