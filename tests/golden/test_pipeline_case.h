// One golden pipeline case (pipeline_t2v / pipeline_i2v: the official TI2V loop) through a
// Ti2vPipeline on any engine: the fixture's noise and text contexts injected, steps, shift and
// guidance from the manifest, every latent_i and the decoded video_raw compared. Shared by the CPU
// golden test (tolerance 1e-4) and the CUDA pipeline test (bf16: 1e-2).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "io/weight_store.h"
#include "ops/ops.h"
#include "pipeline/ti2v_pipeline.h"
#include "test_util.h"

namespace wan22::test {

inline nlohmann::json pipeline_manifest() {
  std::ifstream in(golden_dir() + "/manifest.json");
  return nlohmann::json::parse(in);
}

// The golden models as a located checkpoint (DiT + VAE; no text encoder: contexts are injected).
inline pipeline::CheckpointPaths golden_pipeline_paths() {
  pipeline::CheckpointPaths p;
  p.root = golden_dir();
  p.layout = "files";
  p.dit = golden_dir() + "/dit.safetensors";
  p.dit_config = golden_dir() + "/dit_config.json";
  p.vae = golden_dir() + "/vae.safetensors";
  p.vae_config = golden_dir() + "/vae_config.json";
  return p;
}

struct PipelineCaseErrors {
  double image_latent = 0, latent = 0, video = 0;
};

// tol bounds the image latent and every latent_i; video_tol (< 0: tol) the decoded video.
inline PipelineCaseErrors run_pipeline_case(const pipeline::Ti2vPipeline& pipe, const std::string& name, double tol,
                                            const std::string& tag, double video_tol = -1.0) {
  if (video_tol < 0) video_tol = tol;
  PipelineCaseErrors r;
  auto cfg = pipeline_manifest()["cases"][name];
  auto fx = io::WeightStore::open(golden_dir() + "/" + name + ".safetensors");
  pipeline::DenoiseParams p;
  p.steps = cfg["steps"];
  p.shift = cfg["shift"];
  p.guidance = cfg["guide"];
  p.solver = cfg.value("solver", std::string("unipc"));
  Tensor image_latent;
  if (fx.contains("image")) {
    image_latent = pipe.encode_image(fx.get_f32("image"));
    r.image_latent = rel_err(image_latent, fx.get_f32("image_latent"));
    std::cout << "[" << tag << "] " << name << " image_latent rel err " << r.image_latent << "\n";
    EXPECT_LE(r.image_latent, tol);
  }
  int checked = 0;
  Tensor latent = pipe.denoise(fx.get_f32("noise"), fx.get_f32("context"), fx.get_f32("context_null"), image_latent,
                               p, {}, [&](int i, const Tensor& lat) {
                                 Tensor ref = fx.get_f32("latent_" + std::to_string(i));
                                 r.latent = std::max(r.latent, rel_err(lat, ref));
                                 ++checked;
                               });
  EXPECT_EQ(checked, p.steps);
  Tensor video = pipe.decode(latent);
  r.video = rel_err(video, fx.get_f32("video_raw"));
  std::cout << "[" << tag << "] " << name << ": worst latent_i rel err " << r.latent << ", video_raw rel err "
            << r.video << "\n";
  testing::Test::RecordProperty(name + "_latent_rel_err", std::to_string(r.latent));
  testing::Test::RecordProperty(name + "_video_rel_err", std::to_string(r.video));
  EXPECT_LE(r.latent, tol);
  EXPECT_LE(r.video, video_tol);
  // the clamped decode (generate()'s video) is the raw decode clamped to [-1, 1]
  const Tensor clamped = pipe.decode_clamped(latent);
  const double e_clamp = rel_err(clamped, ops::clamp(video, -1.0f, 1.0f));
  EXPECT_LE(e_clamp, 1e-6) << "decode_clamped vs clamp(decode)";
  return r;
}

}  // namespace wan22::test
