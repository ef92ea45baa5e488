// The full TI2V loops of the official code (fixtures pipeline_t2v / pipeline_i2v) through the same
// Ti2vPipeline::denoise / decode / encode_image the CLI uses, on the CPU engine, with the fixture's
// noise and text contexts injected. Steps, shift and guidance come from the manifest.
#include <gtest/gtest.h>

#include "models/dit/dit_keys.h"
#include "pipeline/cpu_engine.h"
#include "pipeline/ti2v_pipeline.h"
#include "test_pipeline_case.h"

using namespace wan22;

namespace {
pipeline::Ti2vPipeline golden_pipeline() {
  // CpuEngine::load without a text encoder path would fail: build the models directly.
  const auto paths = test::golden_pipeline_paths();
  auto ws = io::WeightStore::open(paths.dit);
  models::dit::install_dit_key_map(ws);
  auto dit = models::dit::WanModel::load(ws, models::dit::load_dit_config(paths.dit_config));
  auto vae = models::vae::WanVae::open(paths.vae, paths.vae_config);
  return pipeline::Ti2vPipeline(std::move(dit), std::move(vae));
}
}  // namespace

TEST(PipelineGolden, pipeline_t2v) { test::run_pipeline_case(golden_pipeline(), "pipeline_t2v", 1e-4, "pipeline"); }
TEST(PipelineGolden, pipeline_i2v) { test::run_pipeline_case(golden_pipeline(), "pipeline_i2v", 1e-4, "pipeline"); }
