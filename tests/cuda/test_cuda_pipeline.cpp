// The golden TI2V loops (pipeline_t2v / pipeline_i2v) through the CUDA engine: the shared
// Ti2vPipeline with DitCuda, VaeCuda and the CUDA solver executor, on the fixture's tiny models, the
// fixture's noise and contexts injected; every latent_i and video_raw against the reference.
//
// Two engine settings: the default (bf16 everywhere) and the VAE in f32. The fixture's random tiny
// VAE amplifies bf16 rounding: its bf16 decode alone sits at ~1.0e-2..1.2e-2 of the reference
// (docs/models/vae_cuda.md, "bf16 on the golden model"), so the default engine's decoded video is
// held to that VAE limit (1.5e-2) and its latents (DiT + solver + CFG on the GPU) to 1e-2; with
// the VAE in f32 everything is held to 1e-2.
#include <gtest/gtest.h>

#include "backends/cuda/pipeline_cuda.h"
#include "cuda_test_util.h"
#include "pipeline/ti2v_pipeline.h"
#include "../golden/test_pipeline_case.h"

using namespace wan22;

namespace {

constexpr double kBf16VaeGoldenTol = 1.5e-2;

pipeline::Ti2vPipeline cuda_golden_pipeline(bool vae_f32) {
  cuda::CudaEngineOptions o;
  o.vae_f32 = vae_f32;
  auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
  EXPECT_FALSE(engine->has_text_encoder());
  return pipeline::Ti2vPipeline(std::move(engine));
}

}  // namespace

TEST(CudaPipeline, pipeline_t2v) {
  REQUIRE_GPU();
  test::run_pipeline_case(cuda_golden_pipeline(false), "pipeline_t2v", test::kBf16Tol, "cuda pipeline",
                          kBf16VaeGoldenTol);
}

TEST(CudaPipeline, pipeline_i2v) {
  REQUIRE_GPU();
  test::run_pipeline_case(cuda_golden_pipeline(false), "pipeline_i2v", test::kBf16Tol, "cuda pipeline",
                          kBf16VaeGoldenTol);
}

TEST(CudaPipeline, pipeline_t2v_vae_f32) {
  REQUIRE_GPU();
  test::run_pipeline_case(cuda_golden_pipeline(true), "pipeline_t2v", test::kBf16Tol, "cuda pipeline, f32 VAE");
}

TEST(CudaPipeline, pipeline_i2v_vae_f32) {
  REQUIRE_GPU();
  test::run_pipeline_case(cuda_golden_pipeline(true), "pipeline_i2v", test::kBf16Tol, "cuda pipeline, f32 VAE");
}

TEST(CudaPipeline, LatentsStayOnTheDevice) {
  REQUIRE_GPU();
  auto pipe = cuda_golden_pipeline(false);
  EXPECT_TRUE(pipe.engine().executor().device().is_cuda());
  EXPECT_NE(pipe.engine().name().find("cuda"), std::string::npos);
}
