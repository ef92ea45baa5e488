// The CUDA engine's memory plan (CudaEngineOptions::plan, vram_budget_bytes, backoff): the golden
// TI2V loop through an engine whose DiT streams every block, whose VAE is offloaded between its
// stages and decodes in tiles, still within the golden tolerances; the same loop with a VRAM budget
// under what the resident plan needs, which must back off (notices) and finish under the budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include <cuda_runtime.h>

#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/pipeline_cuda.h"
#include "backends/cuda/vae_cuda.h"
#include "cuda_test_util.h"
#include "pipeline/ti2v_pipeline.h"
#include "plan/memory_model.h"

#include "../golden/test_pipeline_case.h"

using namespace wan22;

namespace {

constexpr double kBf16VaeGoldenTol = 1.5e-2;  // see test_cuda_pipeline.cpp

struct PlanRun {
  double denoise_alloc_peak = 0, decode_alloc_peak = 0, decode_reserved_peak = 0, max_device_peak = 0;
  std::vector<std::string> notices;
  std::string plan;
};

PlanRun run_case(const cuda::CudaEngineOptions& o, const std::string& name, const std::string& tag) {
  auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
  cuda::CudaEngine* e = engine.get();
  pipeline::Ti2vPipeline pipe(std::move(engine));
  test::run_pipeline_case(pipe, name, test::kBf16Tol, tag, kBf16VaeGoldenTol);
  PlanRun r;
  for (const auto& u : e->memory_use()) {
    if (u.stage == plan::Stage::kDenoise) r.denoise_alloc_peak = u.alloc_peak_bytes;
    if (u.stage == plan::Stage::kVaeDecode) {
      r.decode_reserved_peak = u.reserved_peak_bytes;
      r.decode_alloc_peak = u.alloc_peak_bytes;
    }
    r.max_device_peak = std::max(r.max_device_peak, u.device_peak_bytes());
    std::cout << "[" << tag << "] " << plan::stage_name(u.stage) << ": allocated peak "
              << plan::gib_str(u.alloc_peak_bytes) << ", reserved peak " << plan::gib_str(u.reserved_peak_bytes)
              << ", outside " << plan::gib_str(u.outside_bytes) << "; plan " << u.plan << "\n";
  }
  r.notices = e->notices();
  r.plan = e->plan().str();
  for (const auto& n : r.notices) std::cout << "[" << tag << "] notice: " << n << "\n";
  return r;
}

}  // namespace

TEST(CudaEnginePlan, StreamedOffloadedTiledMatchesGolden) {
  REQUIRE_GPU();
  cuda::CudaEngineOptions resident;
  const PlanRun a = run_case(resident, "pipeline_t2v", "resident plan");

  cuda::CudaEngineOptions o;
  o.plan.dit = plan::Placement::kStreamed;
  o.plan.dit_resident_blocks = 0;
  o.plan.vae = plan::Placement::kOffloaded;
  o.plan.cfg_batch = false;
  o.plan.vae_tile = 0;  // tiled decoding changes the output (blended seams): tested in test_cuda_vae
  const PlanRun b = run_case(o, "pipeline_t2v", "streamed plan");
  EXPECT_TRUE(b.notices.empty());
  // Every DiT block streamed: the denoising stage holds less than with every block resident.
  EXPECT_LT(b.denoise_alloc_peak, a.denoise_alloc_peak);
}

TEST(CudaEnginePlan, BudgetBacksOff) {
  REQUIRE_GPU();
  // The stages' peaks with the budget-mode arrangement (an allocator cap far above the need: the
  // VAE encoder waits in host memory as under any budget) ...
  cuda::CudaEngineOptions loose;
  loose.allocator_cap_bytes = 1024.0 * plan::kGiB;
  const PlanRun a = run_case(loose, "pipeline_t2v", "loose cap");
  cuda::allocator()->set_budget(0);
  cuda::allocator()->empty_cache();
  // ... then a cap under the largest of them: that stage cannot run as planned and must back off.
  const double need = std::max(a.denoise_alloc_peak, a.decode_alloc_peak);
  ASSERT_GT(need, 0.0);
  cuda::CudaEngineOptions o;
  o.allocator_cap_bytes = 0.8 * need;
  std::cout << "[budget] cap on the allocator " << plan::gib_str(0.8 * need) << " (the plan needs "
            << plan::gib_str(need) << ")\n";
  // Either the backoff finds a plan that fits and the case passes within the golden tolerances, or
  // it runs out of smaller plans and says so; both must have backed off at least once.
  std::vector<std::string> notices;
  try {
    auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
    cuda::CudaEngine* e = engine.get();
    pipeline::Ti2vPipeline pipe(std::move(engine));
    try {
      test::run_pipeline_case(pipe, "pipeline_t2v", test::kBf16Tol, "budget", kBf16VaeGoldenTol);
      for (const auto& u : e->memory_use()) EXPECT_LE(u.reserved_peak_bytes, 0.8 * need + 1.0);
      EXPECT_NE(e->plan().str(), a.plan);
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), ErrorCode::kOutOfMemory) << err.what();
      EXPECT_NE(std::string(err.what()).find("no smaller plan"), std::string::npos) << err.what();
      std::cout << "[budget] " << err.what() << "\n";
    }
    notices = e->notices();
  } catch (...) {
    cuda::allocator()->set_budget(0);
    throw;
  }
  cuda::allocator()->set_budget(0);
  for (const auto& n : notices) std::cout << "[budget] notice: " << n << "\n";
  EXPECT_FALSE(notices.empty()) << "no out-of-memory backoff happened under 0.8x the resident peak";
}

TEST(CudaEnginePlan, VaeOffloadRestoreKeepsOutput) {
  REQUIRE_GPU();
  auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), {});
  cuda::VaeCuda& vae = engine->vae();
  const auto fx = io::WeightStore::open(test::golden_dir() + "/pipeline_t2v.safetensors");
  Tensor lat = fx.get_f32("latent_" + std::to_string(test::pipeline_manifest()["cases"]["pipeline_t2v"]["steps"].get<int>() - 1));
  Tensor v1 = engine->decode(lat);
  cuda::allocator()->empty_cache();
  const uint64_t before = cuda::allocator()->caching_stats().current_bytes;
  vae.offload(engine->stream());
  EXPECT_TRUE(vae.offloaded());
  const uint64_t after = cuda::allocator()->caching_stats().current_bytes;
  EXPECT_LT(after, before);
  EXPECT_GE(before - after, vae.weight_bytes() / 2) << "offload freed less than half the VAE's weights";
  Tensor v2 = engine->decode(lat);  // restores first
  EXPECT_FALSE(vae.offloaded());
  ASSERT_EQ(v1.numel(), v2.numel());
  EXPECT_EQ(std::memcmp(v1.raw_data(), v2.raw_data(), v1.nbytes()), 0) << "decode after offload/restore differs";
}

TEST(CudaEnginePlan, TiledDecodeToHostMatchesDeviceBlend) {
  REQUIRE_GPU();
  auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), {});
  cuda::VaeCuda& vae = engine->vae();
  const auto fx = io::WeightStore::open(test::golden_dir() + "/pipeline_t2v.safetensors");
  const int steps = test::pipeline_manifest()["cases"]["pipeline_t2v"]["steps"].get<int>();
  const Tensor lat = fx.get_f32("latent_" + std::to_string(steps - 1));
  const int64_t h = lat.dim(lat.ndim() - 2), w = lat.dim(lat.ndim() - 1);
  ASSERT_GE(std::min(h, w), 2) << "the fixture's latent is too small to tile";
  cuda::TileOptions to;
  to.tile = std::max<int64_t>(1, std::min(h, w) / 2);
  to.overlap = to.tile / 4;
  const Tensor dev = vae.decode_tiled(lat, to, engine->stream());
  Tensor on_device = Tensor::empty(dev.shape(), DType::kF32, Device::cpu());
  ASSERT_EQ(cudaStreamSynchronize(engine->stream()), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(on_device.raw_data(), dev.raw_data(), dev.nbytes(), cudaMemcpyDeviceToHost), cudaSuccess);
  const Tensor on_host = vae.decode_tiled_to_host(lat, to, engine->stream());
  ASSERT_EQ(on_device.shape(), on_host.shape());
  EXPECT_EQ(std::memcmp(on_device.raw_data(), on_host.raw_data(), on_host.nbytes()), 0)
      << "host-blended tiles differ from the device blend";
  const Tensor clamped = vae.decode_tiled_to_host(lat, to, engine->stream(), /*clamp=*/true);
  const float* a = on_host.data<float>();
  const float* c = clamped.data<float>();
  for (int64_t i = 0; i < on_host.numel(); ++i) {
    ASSERT_EQ(c[i], std::min(1.0f, std::max(-1.0f, a[i]))) << "clamp at " << i;
  }
}

// Quantized DiT weights and the quality check (CudaEngineOptions::quality_threshold): the first
// step's conditional output against the bf16 DiT; an impossible threshold must fall back to bf16
// (and the case then matches the golden reference like the bf16 engine), a loose one keeps fp8.
TEST(CudaEnginePlan, QuantizationQualityCheckFallsBack) {
  REQUIRE_GPU();
  for (double threshold : {0.5, 1.0 + 1e-9}) {
    cuda::CudaEngineOptions o;
    o.plan.dit_format = plan::WeightFormat::kFP8;
    o.quality_threshold = threshold;
    auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
    cuda::CudaEngine* e = engine.get();
    pipeline::Ti2vPipeline pipe(std::move(engine));
    const bool falls_back = threshold > 1.0;
    // fp8 on the tiny golden DiT is held to cosine-level agreement only (see test_cuda_dit_memory):
    // the case runs for the check; only the bf16 fallback is held to the golden tolerance.
    if (falls_back) {
      test::run_pipeline_case(pipe, "pipeline_t2v", test::kBf16Tol, "quality fallback", kBf16VaeGoldenTol);
    } else {
      const auto fx = io::WeightStore::open(test::golden_dir() + "/pipeline_t2v.safetensors");
      const auto cfg = test::pipeline_manifest()["cases"]["pipeline_t2v"];
      pipeline::DenoiseParams p;
      p.steps = cfg["steps"];
      p.shift = cfg["shift"];
      p.guidance = cfg["guide"];
      p.solver = cfg.value("solver", std::string("unipc"));
      pipe.denoise(fx.get_f32("noise"), fx.get_f32("context"), fx.get_f32("context_null"), Tensor(), p, {});
    }
    std::cout << "[quality " << threshold << "] cosine " << e->quality_cosine() << ", plan " << e->plan().str() << "\n";
    for (const auto& n : e->notices()) std::cout << "[quality " << threshold << "] notice: " << n << "\n";
    EXPECT_GT(e->quality_cosine(), 0.9) << "fp8 vs bf16 on the first step";
    EXPECT_EQ(e->plan().dit_format, falls_back ? plan::WeightFormat::kBF16 : plan::WeightFormat::kFP8);
    bool said = false;
    for (const auto& n : e->notices()) said |= n.find(falls_back ? "falling back" : "kept") != std::string::npos;
    EXPECT_TRUE(said) << "the check's outcome was not reported";
  }
}
