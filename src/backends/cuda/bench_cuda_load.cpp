// The "load" part of the GPU bench (bench_cuda.h): the TI2V-5B DiT loaded from a checkpoint on disk,
// with and without the model cache, each from a cold page cache.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "backends/cuda/bench_cuda.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cache.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/pipeline_cuda.h"
#include "core/status.h"
#include "io/model_cache.h"
#include "io/safetensors.h"
#include "io/weight_store.h"
#include "models/text/t5_config.h"
#include "models/text/tokenizer.h"
#include "models/vae/vae_config.h"
#include "models/vae/vae_weight_spec.h"
#include "models/weight_shapes.h"
#include "pipeline/checkpoint.h"
#include "plan/plan.h"

namespace wan22::cuda {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bench::Metric metric(const std::string& name, double v, const std::string& unit, const std::string& note) {
  bench::Metric m;
  m.name = name;
  m.value = v;
  m.unit = unit;
  m.better = bench::Better::kLower;
  m.note = note;
  return m;
}

// Writes the file's dirty pages and drops it from the page cache, so the next read comes from the
// disk. Returns false when the kernel refused.
bool drop_from_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

void drop_dir_from_page_cache(const std::string& dir, bool* all_ok) {
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file() && !drop_from_page_cache(e.path().string())) *all_ok = false;
  }
}

// A safetensors file of random weights in `dt` (drawn on the GPU): matrices and kernels
// uniform(+-sqrt(3 / fan_in)), norm scales near 1, other vectors small.
void write_random(const std::string& path, const models::WeightShapes& shapes, DType dt, uint64_t seed,
                  cudaStream_t st) {
  std::vector<io::SafetensorsEntry> entries;
  for (const auto& [name, shape] : shapes) entries.push_back({name, dt, shape});
  io::write_safetensors_streamed(path, entries, [&](size_t i) {
    const Shape& s = entries[i].shape;
    const std::string& name = entries[i].name;
    int64_t fan_in = 1;
    for (size_t d = 1; d < s.size(); ++d) fan_in *= s[d];
    float lo = -0.02f, hi = 0.02f;
    if (s.size() >= 2) {
      hi = static_cast<float>(std::sqrt(3.0 / static_cast<double>(fan_in)));
      lo = -hi;
    } else if (name.find("norm") != std::string::npos || name.find("gamma") != std::string::npos) {
      lo = 0.9f;
      hi = 1.1f;
    }
    Tensor d = Tensor::empty(s, dt, Device::cuda(0));
    if (dt == DType::kBF16) {
      fill_uniform_bf16(static_cast<bf16*>(d.raw_data()), d.numel(), seed + i, lo, hi, st);
    } else {
      fill_uniform_f32(static_cast<float*>(d.raw_data()), d.numel(), seed + i, lo, hi, st);
    }
    Tensor h = Tensor::empty(s, dt);
    WAN22_CUDA_CHECK(cudaMemcpyAsync(h.raw_data(), d.raw_data(), d.nbytes(), cudaMemcpyDeviceToHost, st));
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
    return h;
  });
}

// Two prompts of 512 random token ids (the CFG pair at full length).
models::text::TokenizedBatch random_prompts(int64_t vocab) {
  models::text::TokenizedBatch b;
  const int64_t L = 512;
  b.ids = Tensor::empty({2, L}, DType::kI64);
  b.mask = Tensor::empty({2, L}, DType::kI64);
  uint64_t x = 88172645463325252ull;
  for (int64_t i = 0; i < 2 * L; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b.ids.data<int64_t>()[i] = static_cast<int64_t>(x % static_cast<uint64_t>(vocab));
    b.mask.data<int64_t>()[i] = 1;
  }
  b.lengths = {L, L};
  return b;
}

}  // namespace

std::vector<bench::Metric> run_load_bench(const BenchOptions& o) {
  std::vector<bench::Metric> out;
  std::string base = o.scratch_dir;
  if (base.empty()) {
    const char* t = std::getenv("TMPDIR");
    base = t && *t ? t : "/tmp";
  }
  const std::string dir = base + "/wan22-load-bench-" + std::to_string(static_cast<long>(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir + "/checkpoint");
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
  } cleanup{dir};
  const std::string ckpt = dir + "/checkpoint/diffusion_pytorch_model.safetensors";
  auto progress = [&](const std::string& m) {
    if (o.on_progress) o.on_progress(m);
  };
  cudaStream_t st = nullptr;
  WAN22_CUDA_CHECK(cudaStreamCreate(&st));
  struct StreamGuard {
    cudaStream_t s;
    ~StreamGuard() { cudaStreamDestroy(s); }
  } sg{st};

  auto t0 = Clock::now();
  write_random(ckpt, models::dit_weight_shapes(models::DitShape{}), DType::kBF16, 1000, st);
  const double ckpt_gib = static_cast<double>(fs::file_size(ckpt)) / (1024.0 * 1024 * 1024);
  progress("load: wrote a random TI2V-5B DiT checkpoint (bf16, " + std::to_string(ckpt_gib).substr(0, 5) + " GiB) in " +
           std::to_string(since(t0)).substr(0, 5) + " s under " + dir);
  bool cold = true;
  const std::string where = "the TI2V-5B DiT (random bf16 checkpoint, " + std::to_string(ckpt_gib).substr(0, 5) +
                            " GiB, safetensors) loaded onto the device, all blocks resident";
  io::ModelCacheOptions co;
  co.enabled = true;
  co.location = dir + "/cache";
  co.size_gb = 64;
  const DitConfig cfg = dit_config_from(ti2v_5b_dit_config());
  for (WeightFormat f : {WeightFormat::kBF16, WeightFormat::kFP8}) {
    const std::string fmt = weight_format_name(f);
    // One load of the DiT; `from_cold`: from a dropped page cache and an emptied allocator.
    auto timed = [&](const io::ModelCacheOptions& cache, double* write_s, std::string* state, bool from_cold = true) {
      if (from_cold) {
        drop_dir_from_page_cache(dir, &cold);
        allocator()->empty_cache();
      }
      const auto t = Clock::now();
      {
        io::WeightStore ws = io::WeightStore::open(ckpt);
        DitCuda dit(cfg);
        DitLoadOptions lo;
        lo.format = f;
        *state = load_dit_cached(dit, ws, lo, cache, st, progress, write_s);
        WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
      }
      return since(t);
    };
    double w = 0;
    std::string state;
    io::ModelCacheOptions off;
    const double plain = timed(off, &w, &state);
    out.push_back(metric("load_dit_" + fmt + "_checkpoint_s", plain, "s",
                         where + ", " + fmt + ", converted from the checkpoint (no model cache), cold page cache"));
    const double first = timed(co, &w, &state);
    out.push_back(metric("load_dit_" + fmt + "_cache_first_s", first, "s",
                         where + ", " + fmt + ", model cache miss: converted and written (" + state + ")"));
    out.push_back(metric("load_dit_" + fmt + "_cache_write_s", w, "s", "writing the model cache entry (part of the first load)"));
    const double second = timed(co, &w, &state);
    out.push_back(metric("load_dit_" + fmt + "_cache_second_s", second, "s",
                         where + ", " + fmt + ", model cache hit, cold page cache (" + state + ")"));
    if (state.rfind("hit", 0) != 0) progress("load: the second " + fmt + " load did not hit the cache: " + state);
    // warm: the entry in the page cache (a second generation right after the first)
    const double warm = timed(co, &w, &state, /*from_cold=*/false);
    out.push_back(metric("load_dit_" + fmt + "_cache_second_warm_s", warm, "s",
                         where + ", " + fmt + ", model cache hit, entry in the page cache"));
    for (const auto& e : io::ModelCache::from_options(co).list()) {
      if (e.metadata.count("format") && e.metadata.at("format") == fmt) {
        out.push_back(metric("load_dit_" + fmt + "_cache_entry_gib", static_cast<double>(e.bytes) / (1024.0 * 1024 * 1024),
                             "GiB", "size of the model cache entry"));
      }
    }
    progress("load: " + fmt + ": checkpoint " + std::to_string(plain).substr(0, 5) + " s, cache first " +
             std::to_string(first).substr(0, 5) + " s, second " + std::to_string(second).substr(0, 5) + " s");
  }
  // ---- the whole checkpoint through the engine: sequential loading, the text encoder on the CPU ----
  {
    const std::string root = dir + "/checkpoint";
    t0 = Clock::now();
    models::WeightShapes vae_shapes;
    const models::vae::VaeConfig vcfg = models::vae::official_wan22_vae_config();
    for (const auto& spec : models::vae::vae_weight_specs(vcfg)) vae_shapes.push_back({spec.key, spec.shape});
    write_random(root + "/Wan2.2_VAE.safetensors", vae_shapes, DType::kF32, 5000, st);  // f32, as the official file
    write_random(root + "/models_t5_umt5-xxl-enc-bf16.safetensors", models::t5_weight_shapes(models::T5Shape{}),
                 DType::kBF16, 9000, st);
    progress("load: wrote the VAE (f32) and UMT5-XXL (bf16) beside it in " + std::to_string(since(t0)).substr(0, 5) + " s");
    pipeline::CheckpointPaths paths;
    paths.root = root;
    paths.layout = "files";
    paths.dit = ckpt;
    paths.vae = root + "/Wan2.2_VAE.safetensors";
    paths.t5 = root + "/models_t5_umt5-xxl-enc-bf16.safetensors";
    const std::string what = "random TI2V-5B checkpoint (DiT bf16 9.3 GiB, UMT5-XXL bf16, VAE f32; safetensors)";
    const models::text::TokenizedBatch prompts = random_prompts(models::text::umt5_xxl_config().vocab);
    for (const bool text_cpu : {false, true}) {
      drop_dir_from_page_cache(dir, &cold);
      allocator()->empty_cache();
      CudaEngineOptions eo;
      eo.on_notice = progress;
      if (text_cpu) eo.plan.text = plan::Placement::kCpu;
      const auto tl = Clock::now();
      auto engine = CudaEngine::load(paths, eo);
      const double total = since(tl);
      const std::string tag = text_cpu ? "model_load_text_cpu" : "model_load";
      out.push_back(metric(tag + "_s", total, "s",
                           "CudaEngine::load of the " + what + ", sequential (text encoder, DiT, VAE), cold page cache" +
                               (text_cpu ? ", text encoder on the CPU (f32)" : ", everything resident on the device")));
      for (const ComponentLoad& l : engine->load_report()) {
        const std::string c = l.component == "unet" ? "dit" : l.component;
        out.push_back(metric(tag + "_" + c + "_s", l.seconds, "s", l.component + ": " + l.where));
        out.push_back(metric(tag + "_" + c + "_host_peak_gib", l.host_peak_bytes / (1024.0 * 1024 * 1024), "GiB",
                             "host resident-set high-water while " + l.component + " loaded (VmHWM, reset before it)"));
        out.push_back(metric(tag + "_" + c + "_device_gib", l.device_bytes / (1024.0 * 1024 * 1024), "GiB",
                             "device bytes " + l.component + " holds after loading"));
      }
      // One encode of the CFG pair (2 x 512 tokens): time and the stage's device peak.
      const std::string enc = text_cpu ? "text_encode_cpu_2x512" : "text_encode_gpu_2x512";
      engine->encode_text(prompts);  // warm-up (first-call set-up)
      const auto te = Clock::now();
      engine->encode_text(prompts);
      out.push_back(metric(enc + "_s", since(te), "s",
                           std::string("CudaEngine::encode_text, two prompts of 512 tokens, UMT5-XXL ") +
                               (text_cpu ? "on the CPU (" + std::to_string(std::thread::hardware_concurrency()) + " threads)"
                                         : "on the device")));
      for (const StageMemoryUse& u : engine->memory_use()) {
        if (u.stage != plan::Stage::kTextEncode) continue;
        out.push_back(metric(enc + "_device_peak_gib", u.device_peak_bytes() / (1024.0 * 1024 * 1024), "GiB",
                             "device memory of the process in the text stage (allocator reservations + context)"));
      }
      progress("load: " + tag + " " + std::to_string(total).substr(0, 5) + " s");
    }
  }
  if (!cold) {
    for (auto& m : out) m.note += " (the kernel refused to drop the page cache: reads may be warm)";
  }
  return out;
}

}  // namespace wan22::cuda
