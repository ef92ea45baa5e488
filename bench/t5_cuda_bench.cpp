// UMT5-XXL text encoder on the GPU (T5Cuda) with random bf16 weights at the real sizes: one forward
// of 512 tokens, a prompt + negative prompt pair (2 x 512), the pipeline's trimmed pair, and the
// per-layer GEMMs alone. Medians of >= 3 timed runs after a warm-up (which also autotunes the
// GEMMs), TFLOP/s, peak device memory from the caching allocator; prints a prediction first.
//   wan22_t5_cuda_bench [--json FILE] [--revision REV] [--reps N] [--layers N] [--len L]
#include <cuda_runtime.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/t5_cuda.h"
#include "core/tensor.h"
#include "models/text/t5_config.h"

using namespace wan22;
using json = nlohmann::json;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double median_s = 0;
  std::vector<double> samples;
};

// Median seconds of `reps` runs of fn after `warm` untimed ones, timed with events on `st`.
template <class Fn>
Timing time_median(Fn fn, int warm, int reps, cudaStream_t st) {
  for (int i = 0; i < warm; ++i) fn();
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  cudaEvent_t a, b;
  WAN22_CUDA_CHECK(cudaEventCreate(&a));
  WAN22_CUDA_CHECK(cudaEventCreate(&b));
  Timing t;
  for (int i = 0; i < reps; ++i) {
    WAN22_CUDA_CHECK(cudaEventRecord(a, st));
    fn();
    WAN22_CUDA_CHECK(cudaEventRecord(b, st));
    WAN22_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.samples.push_back(ms / 1e3);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  t.median_s = median(t.samples);
  return t;
}

std::string driver_release() {
  std::ifstream f("/proc/driver/nvidia/version");
  std::string tok;
  while (f >> tok) {
    if (!tok.empty() && std::isdigit(static_cast<unsigned char>(tok[0])) && tok.find('.') != std::string::npos &&
        tok.find_first_not_of("0123456789.") == std::string::npos) {
      return tok;
    }
  }
  return "";
}

double gib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }

Tensor ids_for(int64_t batch, int64_t len, int64_t vocab) {
  Tensor ids = Tensor::empty({batch, len}, DType::kI64);
  uint64_t s = 12345;
  for (int64_t i = 0; i < batch * len; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    ids.data<int64_t>()[i] = static_cast<int64_t>((s >> 33) % static_cast<uint64_t>(vocab));
  }
  return ids;
}

// Finite check and max |x| over the first `n` floats of a device tensor.
std::pair<bool, double> probe(const Tensor& d, int64_t n) {
  n = std::min<int64_t>(n, d.numel());
  std::vector<float> h(static_cast<size_t>(n));
  WAN22_CUDA_CHECK(cudaMemcpy(h.data(), d.raw_data(), h.size() * sizeof(float), cudaMemcpyDeviceToHost));
  bool finite = true;
  double mx = 0;
  for (float f : h) {
    finite = finite && std::isfinite(f);
    mx = std::max(mx, static_cast<double>(std::fabs(f)));
  }
  return {finite, mx};
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path, revision = "unknown";
  int reps = 3;
  int64_t layers = -1, len = 512;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--revision" && i + 1 < argc) {
      revision = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(3, std::atoi(argv[++i]));
    } else if (a == "--layers" && i + 1 < argc) {
      layers = std::atoll(argv[++i]);
    } else if (a == "--len" && i + 1 < argc) {
      len = std::max<int64_t>(1, std::atoll(argv[++i]));
    } else {
      std::cerr << "usage: wan22_t5_cuda_bench [--json FILE] [--revision REV] [--reps N] [--layers N] [--len L]\n";
      return 2;
    }
  }
  try {
    if (cuda::device_count() == 0) {
      std::cerr << "no GPU: " << cuda::unavailable_reason() << "\n";
      return 2;
    }
    cuda::init();
    const auto dev = cuda::devices().at(0);
    int driver = 0, runtime = 0;
    WAN22_CUDA_CHECK(cudaDriverGetVersion(&driver));
    WAN22_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    std::printf("GPU %s sm_%d%d, %d SMs, driver %s, runtime %d\n", dev.name.c_str(), dev.cc_major, dev.cc_minor,
                dev.multiprocessors, driver_release().c_str(), runtime);
    cudaStream_t st;
    WAN22_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    json metrics, detail;

    models::text::T5Config cfg = models::text::umt5_xxl_config();
    if (layers > 0) cfg.num_layers = layers;
    const int64_t d = cfg.dim, da = cfg.dim_attn, df = cfg.dim_ffn;
    std::printf("config: %s\n", cfg.str().c_str());

    auto t0 = std::chrono::steady_clock::now();
    cuda::T5Cuda enc(cfg, 2024, st);
    const double init_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t weights = enc.device_weight_bytes();
    std::printf("random weights: %.2f GiB on the device, filled in %.2f s\n", gib(weights), init_s);
    detail["weights_gib"] = gib(weights);

    const double fl1 = enc.flops(1, len);
    const double pred_s = fl1 / 700e12;
    std::printf("prediction: %.3f TFLOP per %ld-token forward (%.3f in attention) / 700 TFLOP/s = %.2f ms\n",
                fl1 / 1e12, static_cast<long>(len), 4.0 * len * len * da * cfg.num_layers / 1e12, pred_s * 1e3);
    detail["predicted_s"] = pred_s;

    // ---- one sequence of `len` tokens, all real ----
    const Tensor ids1 = ids_for(1, len, cfg.vocab);
    Tensor out;
    cuda::allocator()->reset_peak();
    const Timing t1 = time_median([&] { out = enc.forward(ids1, Tensor(), st); }, 1, reps, st);
    const uint64_t peak1 = cuda::allocator()->caching_stats().peak_bytes;
    const auto [fin1, max1] = probe(out, 1 << 16);
    const double tf1 = fl1 / t1.median_s / 1e12;
    std::printf("forward 1 x %ld: %.2f ms (samples %.2f %.2f %.2f), %.1f TFLOP/s, peak %.2f GiB "
                "(activations %.3f GiB), output finite=%d max|x|=%.3g\n",
                static_cast<long>(len), t1.median_s * 1e3, t1.samples[0] * 1e3, t1.samples[1] * 1e3,
                t1.samples[2] * 1e3, tf1, gib(peak1), gib(peak1 - weights), fin1 ? 1 : 0, max1);
    const std::string tag = std::to_string(len);
    metrics["text_encode_" + tag + "_s"] = t1.median_s;
    metrics["text_encode_" + tag + "_tflops"] = tf1;
    metrics["peak_vram_gib_text_encode_" + tag] = gib(peak1);
    detail["forward_1x" + tag] = {{"samples_s", t1.samples}, {"tflop", fl1 / 1e12}, {"finite", fin1}};

    // ---- prompt + negative prompt, both padded to `len` (batch 2) ----
    const Tensor ids2 = ids_for(2, len, cfg.vocab);
    const Timing t2 = time_median([&] { out = enc.forward(ids2, Tensor(), st); }, 1, reps, st);
    const double fl2 = enc.flops(2, len);
    std::printf("forward 2 x %ld: %.2f ms, %.1f TFLOP/s\n", static_cast<long>(len), t2.median_s * 1e3,
                fl2 / t2.median_s / 1e12);
    metrics["text_encode_2x" + tag + "_s"] = t2.median_s;
    detail["forward_2x" + tag] = {{"samples_s", t2.samples}, {"tflop", fl2 / 1e12}};

    // ---- the pipeline's call: two prompts of 120 and 40 real tokens, trimmed (one cut batch of 120) ----
    const int64_t na = std::min<int64_t>(120, len), nb = std::min<int64_t>(40, len);
    Tensor mask = Tensor::zeros({2, len}, DType::kI64);
    for (int64_t j = 0; j < na; ++j) mask.data<int64_t>()[j] = 1;
    for (int64_t j = 0; j < nb; ++j) mask.data<int64_t>()[len + j] = 1;
    std::vector<Tensor> trimmed;
    const Timing t3 = time_median([&] { trimmed = enc.encode_trimmed(ids2, mask, st); }, 1, reps, st);
    std::printf("encode_trimmed 2 prompts (%ld + %ld real tokens): %.2f ms\n", static_cast<long>(na),
                static_cast<long>(nb), t3.median_s * 1e3);
    metrics["text_encode_trimmed_pair_s"] = t3.median_s;
    detail["trimmed_pair"] = {{"samples_s", t3.samples}, {"n_real", {na, nb}}};

    // ---- the GEMMs of one layer alone at M = len (x layers) ----
    cuda::LtGemm gemm;
    struct Shp {
      const char* name;
      int64_t n, k;
    };
    const Shp shapes[] = {{"qkv", 3 * da, d}, {"o", d, da}, {"gate_fc1", 2 * df, d}, {"fc2", d, df}};
    double gemm_total = 0;
    json gj;
    for (const Shp& s : shapes) {
      Tensor x = Tensor::empty({len, s.k}, DType::kBF16, Device::cuda(0));
      Tensor w = Tensor::empty({s.n, s.k}, DType::kBF16, Device::cuda(0));
      Tensor y = Tensor::empty({len, s.n}, DType::kBF16, Device::cuda(0));
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(x.raw_data()), x.numel(), 1, -1.f, 1.f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(w.raw_data()), w.numel(), 2, -0.02f, 0.02f, st);
      const Timing tg = time_median(
          [&] {
            for (int r = 0; r < 10; ++r)
              gemm.linear_bf16(x.raw_data(), w.raw_data(), nullptr, y.raw_data(), len, s.n, s.k, cuda::Epilogue::kNone,
                               st);
          },
          1, reps, st);
      const double sec = tg.median_s / 10;
      const double tf = 2.0 * len * s.n * s.k / sec / 1e12;
      std::printf("  GEMM %-8s %ldx%ldx%ld: %.1f us, %.1f TFLOP/s\n", s.name, static_cast<long>(len),
                  static_cast<long>(s.n), static_cast<long>(s.k), sec * 1e6, tf);
      gj[s.name] = {{"s", sec}, {"tflops", tf}};
      gemm_total += sec;
    }
    gemm_total *= static_cast<double>(cfg.num_layers);
    std::printf("GEMMs of a forward (x %ld layers): %.2f ms; the rest (attention, norms, FFN gate, embedding): %.2f ms\n",
                static_cast<long>(cfg.num_layers), gemm_total * 1e3, (t1.median_s - gemm_total) * 1e3);
    detail["gemms"] = gj;
    detail["gemm_total_s"] = gemm_total;
    metrics["peak_vram_gib_text_encode"] = gib(cuda::allocator()->caching_stats().peak_bytes);

    if (!out_path.empty()) {
      char date[32];
      std::time_t now = std::time(nullptr);
      std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
      const json doc = {{"machine",
                         {{"gpu", dev.name},
                          {"driver", driver_release()},
                          {"cuda", std::to_string(runtime / 1000) + "." + std::to_string((runtime % 1000) / 10)}}},
                        {"revision", revision},
                        {"date", date},
                        {"config", cfg.str()},
                        {"metrics", metrics},
                        {"detail", detail}};
      std::ofstream f(out_path);
      f << doc.dump(1) << "\n";
      std::cout << "wrote " << out_path << "\n";
    }
    cudaStreamDestroy(st);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
