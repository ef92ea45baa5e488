// The golden TI2V loops (pipeline_t2v / pipeline_i2v) through the CUDA engine: the shared
// Ti2vPipeline with DitCuda, VaeCuda and the CUDA solver executor, on the fixture's tiny models, the
// fixture's noise and contexts injected; every latent_i and video_raw within the bf16 tolerance.
#include <gtest/gtest.h>

#include "backends/cuda/pipeline_cuda.h"
#include "cuda_test_util.h"
#include "pipeline/ti2v_pipeline.h"
#include "../golden/test_pipeline_case.h"

using namespace wan22;

namespace {

pipeline::Ti2vPipeline cuda_golden_pipeline() {
  auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths());
  EXPECT_FALSE(engine->has_text_encoder());
  return pipeline::Ti2vPipeline(std::move(engine));
}

}  // namespace

TEST(CudaPipeline, pipeline_t2v) {
  REQUIRE_GPU();
  test::run_pipeline_case(cuda_golden_pipeline(), "pipeline_t2v", test::kBf16Tol, "cuda pipeline");
}

TEST(CudaPipeline, pipeline_i2v) {
  REQUIRE_GPU();
  test::run_pipeline_case(cuda_golden_pipeline(), "pipeline_i2v", test::kBf16Tol, "cuda pipeline");
}

TEST(CudaPipeline, LatentsStayOnTheDevice) {
  REQUIRE_GPU();
  auto pipe = cuda_golden_pipeline();
  EXPECT_TRUE(pipe.engine().executor().device().is_cuda());
  EXPECT_NE(pipe.engine().name().find("cuda"), std::string::npos);
}
