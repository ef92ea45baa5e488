// The model cache on the CUDA engine (CudaEngineOptions::model_cache): the first load of the golden
// checkpoint converts the DiT and writes an entry, the second loads the entry, and both DiTs give
// bit-identical forwards (bf16 and fp8, resident and streamed); a truncated entry is removed and
// rebuilt. Also DitCuda's load-ready round trip on its own.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <filesystem>
#include <unistd.h>

#include "backends/cuda/dit_cache.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/pipeline_cuda.h"
#include "cuda_test_util.h"
#include "io/model_cache.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "pipeline/model_loading.h"
#include "pipeline/ti2v_pipeline.h"

#include "../golden/test_pipeline_case.h"

using namespace wan22;

namespace {

namespace fs = std::filesystem;

std::string cache_dir(const std::string& name) {
  const std::string d = test::temp_dir() + "/cuda_model_cache_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(d);
  return d;
}

// One forward of `dit` on a fixed random latent and context; the output on the host.
Tensor forward_once(cuda::DitCuda& dit, cudaStream_t st) {
  const auto& c = dit.config();
  const int64_t F = 2, H = 4 * c.patch_h, W = 4 * c.patch_w, n = 7;
  Tensor latent = test::to_dev(test::random_tensor({c.in_dim, F, H, W}, 11), DType::kF32);
  Tensor ctx = test::to_dev(test::random_tensor({n, c.text_dim}, 12), DType::kBF16);
  cuda::DitInputs in;
  in.latent = latent.data<float>();
  in.frames = F;
  in.height = H;
  in.width = W;
  in.context = test::bf(ctx);
  in.context_len = n;
  in.timestep = 500.0;
  Tensor out;
  dit.forward(in, out, st);
  return test::to_host(out);
}

void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  ASSERT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << what << ": outputs differ";
}

cuda::CudaEngineOptions cached_options(const std::string& dir, plan::WeightFormat f, bool streamed) {
  cuda::CudaEngineOptions o;
  o.model_cache.enabled = true;
  o.model_cache.location = dir;
  o.model_cache.size_gb = 1;
  o.plan.dit_format = f;
  if (streamed) {
    o.plan.dit = plan::Placement::kStreamed;
    o.plan.dit_resident_blocks = 1;
  }
  return o;
}

const cuda::ComponentLoad& dit_load(const cuda::CudaEngine& e) {
  for (const auto& l : e.load_report()) {
    if (l.component == "unet") return l;
  }
  throw Error(ErrorCode::kInternal, "no DiT load in the report");
}

}  // namespace

TEST(CudaModelCache, SecondLoadReadsTheEntryAndMatches) {
  REQUIRE_GPU();
  for (plan::WeightFormat f : {plan::WeightFormat::kBF16, plan::WeightFormat::kFP8}) {
    for (bool streamed : {false, true}) {
      const std::string tag = std::string(plan::format_name(f)) + (streamed ? " streamed" : " resident");
      const std::string dir = cache_dir("engine");
      auto first = cuda::CudaEngine::load(test::golden_pipeline_paths(), cached_options(dir, f, streamed));
      const auto& l1 = dit_load(*first);
      std::cout << "[" << tag << "] first: " << l1.cache << " (" << l1.seconds << " s, writing " << l1.cache_write_seconds
                << " s)\n";
      EXPECT_EQ(l1.cache.rfind("miss, stored", 0), 0u) << tag << ": " << l1.cache;
      const Tensor a = forward_once(first->dit(), first->stream());
      first.reset();
      auto second = cuda::CudaEngine::load(test::golden_pipeline_paths(), cached_options(dir, f, streamed));
      const auto& l2 = dit_load(*second);
      std::cout << "[" << tag << "] second: " << l2.cache << " (" << l2.seconds << " s)\n";
      EXPECT_EQ(l2.cache.rfind("hit", 0), 0u) << tag << ": " << l2.cache;
      EXPECT_EQ(second->dit().format(), f == plan::WeightFormat::kFP8 ? cuda::WeightFormat::kFP8 : cuda::WeightFormat::kBF16);
      expect_identical(a, forward_once(second->dit(), second->stream()), tag);
      fs::remove_all(dir);
    }
  }
}

TEST(CudaModelCache, TruncatedEntryIsRebuilt) {
  REQUIRE_GPU();
  const std::string dir = cache_dir("truncated");
  const auto o = cached_options(dir, plan::WeightFormat::kFP8, false);
  Tensor a;
  {
    auto e = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
    a = forward_once(e->dit(), e->stream());
  }
  io::ModelCache cache(dir, 1ull << 30);
  const auto entries = cache.list();
  ASSERT_EQ(entries.size(), 1u);
  fs::resize_file(entries[0].path, entries[0].bytes / 2);
  auto e = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
  const auto& l = dit_load(*e);
  EXPECT_EQ(l.cache.rfind("miss, stored", 0), 0u) << l.cache;
  bool said = false;
  for (const auto& n : e->notices()) said |= n.find("unreadable") != std::string::npos;
  EXPECT_TRUE(said) << "the removed entry was not reported";
  expect_identical(a, forward_once(e->dit(), e->stream()), "rebuilt");
  EXPECT_EQ(cache.list().size(), 1u);
  fs::remove_all(dir);
}

TEST(CudaModelCache, EntryOverTheLimitIsNotStoredAndSaysSo) {
  REQUIRE_GPU();
  const std::string dir = cache_dir("limit");
  auto o = cached_options(dir, plan::WeightFormat::kBF16, false);
  o.model_cache.size_gb = 1e-6;  // ~1 KB
  std::vector<std::string> notices;
  o.on_notice = [&](const std::string& n) { notices.push_back(n); };
  auto e = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
  EXPECT_EQ(dit_load(*e).cache.rfind("miss, not stored", 0), 0u) << dit_load(*e).cache;
  bool said = false;
  for (const auto& n : notices) said |= n.find("larger than the cache limit") != std::string::npos;
  EXPECT_TRUE(said);
  fs::remove_all(dir);
}

// The quantization check's bf16 reference reads the cache but never writes to it (it would evict the
// fp8 entry the generation uses); the entry's key covers only the DiT's own files.
TEST(CudaModelCache, QualityCheckReferenceDoesNotWriteAnEntry) {
  REQUIRE_GPU();
  const std::string dir = cache_dir("quality");
  auto o = cached_options(dir, plan::WeightFormat::kFP8, false);
  o.quality_threshold = 0.5;
  auto engine = cuda::CudaEngine::load(test::golden_pipeline_paths(), o);
  cuda::CudaEngine* e = engine.get();
  pipeline::Ti2vPipeline pipe(std::move(engine));
  const auto fx = io::WeightStore::open(test::golden_dir() + "/pipeline_t2v.safetensors");
  const auto cfg = test::pipeline_manifest()["cases"]["pipeline_t2v"];
  pipeline::DenoiseParams p;
  p.steps = 1;
  p.shift = cfg["shift"];
  p.guidance = cfg["guide"];
  pipe.denoise(fx.get_f32("noise"), fx.get_f32("context"), fx.get_f32("context_null"), Tensor(), p, {});
  EXPECT_GT(e->quality_cosine(), 0.9);
  io::ModelCache cache(dir, 1ull << 30);
  const auto entries = cache.list();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].metadata.at("format"), "fp8");
  // The source files are the DiT's: no VAE or text encoder file in the key.
  const io::WeightStore ws = pipeline::open_dit_weights(test::golden_pipeline_paths());
  for (const auto& f : cuda::dit_source_files(e->dit(), ws)) {
    EXPECT_EQ(f.find("VAE"), std::string::npos) << f;
    EXPECT_EQ(f.find("t5"), std::string::npos) << f;
  }
  fs::remove_all(dir);
}

// DitCuda alone: load from the checkpoint, write the load-ready entries, load them back with a
// different placement (one block resident, the rest streamed): the same forward.
TEST(CudaModelCache, DitLoadReadyRoundTrip) {
  REQUIRE_GPU();
  const auto paths = test::golden_pipeline_paths();
  cudaStream_t st = nullptr;
  ASSERT_EQ(cudaStreamCreate(&st), cudaSuccess);
  const io::WeightStore ws = pipeline::open_dit_weights(paths);
  const auto mcfg = pipeline::dit_config_for(paths, ws);
  for (cuda::WeightFormat f : {cuda::WeightFormat::kBF16, cuda::WeightFormat::kInt8}) {
    cuda::DitCuda a(cuda::dit_config_from(mcfg));
    a.load(ws, st, {.resident_blocks = -1, .format = f});
    const Tensor ref = forward_once(a, st);
    const std::string file = cache_dir("roundtrip") + ".safetensors";
    io::write_safetensors_streamed(file, a.load_ready_entries(), [&](size_t i) { return a.load_ready_tensor(i, st); });
    cuda::DitCuda b(cuda::dit_config_from(mcfg));
    auto src = io::SafetensorsFile::open(file);
    b.load_ready(*src, st, {.resident_blocks = 1, .format = f});
    EXPECT_EQ(b.resident_blocks(), 1);
    expect_identical(ref, forward_once(b, st), "load-ready round trip");
    // Another format's entries do not load as this one.
    cuda::DitCuda c(cuda::dit_config_from(mcfg));
    const cuda::WeightFormat other = f == cuda::WeightFormat::kBF16 ? cuda::WeightFormat::kFP8 : cuda::WeightFormat::kBF16;
    EXPECT_THROW(c.load_ready(*src, st, {.resident_blocks = -1, .format = other}), Error);
    fs::remove(file);
  }
  cudaStreamDestroy(st);
}
