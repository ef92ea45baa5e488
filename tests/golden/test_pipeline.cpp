// The full TI2V loops of the official code (fixtures pipeline_t2v / pipeline_i2v) through the same
// Ti2vPipeline::denoise / decode / encode_image the CLI uses, with the fixture's noise and
// text contexts injected. Steps, shift and guidance come from the manifest.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/weight_store.h"
#include "models/dit/dit_keys.h"
#include "models/dit/wan_model.h"
#include "models/vae/wan_vae.h"
#include "pipeline/ti2v_pipeline.h"
#include "test_util.h"

using namespace wan22;

namespace {
nlohmann::json manifest() {
  std::ifstream in(test::golden_dir() + "/manifest.json");
  return nlohmann::json::parse(in);
}

pipeline::Ti2vPipeline golden_pipeline() {
  auto ws = io::WeightStore::open(test::golden_dir() + "/dit.safetensors");
  models::dit::install_dit_key_map(ws);
  auto dit = models::dit::WanModel::load(ws, models::dit::load_dit_config(test::golden_dir() + "/dit_config.json"));
  auto vae = models::vae::WanVae::open(test::golden_dir() + "/vae.safetensors", test::golden_dir() + "/vae_config.json");
  return pipeline::Ti2vPipeline(std::move(dit), std::move(vae));
}

void run_case(const std::string& name) {
  auto cfg = manifest()["cases"][name];
  auto fx = io::WeightStore::open(test::golden_dir() + "/" + name + ".safetensors");
  auto pipe = golden_pipeline();
  pipeline::DenoiseParams p;
  p.steps = cfg["steps"];
  p.shift = cfg["shift"];
  p.guidance = cfg["guide"];
  p.solver = cfg.value("solver", std::string("unipc"));
  Tensor image_latent;
  if (fx.contains("image")) {
    image_latent = pipe.encode_image(fx.get_f32("image"));
    double e = test::rel_err(image_latent, fx.get_f32("image_latent"));
    std::cout << "[pipeline] " << name << " image_latent rel err " << e << "\n";
    EXPECT_LE(e, 1e-4);
  }
  double worst = 0;
  int checked = 0;
  Tensor latent = pipe.denoise(fx.get_f32("noise"), fx.get_f32("context"), fx.get_f32("context_null"),
                               image_latent, p, {}, [&](int i, const Tensor& lat) {
                                 Tensor ref = fx.get_f32("latent_" + std::to_string(i));
                                 worst = std::max(worst, test::rel_err(lat, ref));
                                 ++checked;
                               });
  EXPECT_EQ(checked, p.steps);
  double e_lat = worst;
  Tensor video = pipe.decode(latent);
  double e_vid = test::rel_err(video, fx.get_f32("video_raw"));
  std::cout << "[pipeline] " << name << ": worst latent_i rel err " << e_lat << ", video_raw rel err " << e_vid << "\n";
  EXPECT_LE(e_lat, 1e-4);
  EXPECT_LE(e_vid, 1e-4);
}
}  // namespace

TEST(PipelineGolden, pipeline_t2v) { run_case("pipeline_t2v"); }
TEST(PipelineGolden, pipeline_i2v) { run_case("pipeline_i2v"); }
