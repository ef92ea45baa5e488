// DiT forward benchmark on the GPU at the real TI2V-5B sizes with random bf16 weights, plus the
// flash-attention kernel alone. Prints medians of >= 3 timed runs after warm-up, TFLOP/s and the
// caching allocator's peak; writes JSON (argv[1], default dit_cuda_bench.json).
//   wan22_dit_cuda_bench [out.json] [--revision REV] [--reps N] [--quick]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cctype>
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
#include "backends/cuda/cudnn_sdpa.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/flash_attention.h"
#include "backends/cuda/kernels.h"
#include "core/tensor.h"

using namespace wan22;
using json = nlohmann::json;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median seconds of `reps` runs of fn (after `warm` untimed runs), timed with events on `st`.
template <class Fn>
double time_median(Fn fn, int warm, int reps, cudaStream_t st) {
  for (int i = 0; i < warm; ++i) fn();
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  cudaEvent_t a, b;
  WAN22_CUDA_CHECK(cudaEventCreate(&a));
  WAN22_CUDA_CHECK(cudaEventCreate(&b));
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    WAN22_CUDA_CHECK(cudaEventRecord(a, st));
    fn();
    WAN22_CUDA_CHECK(cudaEventRecord(b, st));
    WAN22_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms / 1e3);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return median(t);
}

struct Size {
  const char* name;
  int64_t width, height, frames;  // pixels
};

// The kernel driver's release ("580.159.04") from /proc/driver/nvidia/version, or "".
std::string driver_release() {
  std::ifstream f("/proc/driver/nvidia/version");
  std::string tok;
  while (f >> tok) {
    // the first token of the form digits.digits[.digits]
    if (!tok.empty() && std::isdigit(static_cast<unsigned char>(tok[0])) && tok.find('.') != std::string::npos &&
        tok.find_first_not_of("0123456789.") == std::string::npos) {
      return tok;
    }
  }
  return "";
}

double gib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  std::string out_path = "dit_cuda_bench.json", revision = "unknown";
  int reps = 3;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--revision" && i + 1 < argc) {
      revision = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(3, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      quick = true;
    } else {
      out_path = a;
    }
  }
  try {
    if (cuda::device_count() == 0) {
      std::cerr << "no GPU: " << cuda::unavailable_reason() << "\n";
      return 2;
    }
    cuda::init();
    auto dev = cuda::devices().at(0);
    int driver = 0, runtime = 0;
    WAN22_CUDA_CHECK(cudaDriverGetVersion(&driver));
    WAN22_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
    std::cout << "GPU " << dev.name << " sm_" << dev.cc_major << dev.cc_minor << ", " << dev.multiprocessors
              << " SMs, driver " << driver << ", runtime " << runtime << "\n";
    cudaStream_t st;
    WAN22_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    json metrics;

    // ---- attention alone: 24 heads x L x 128, every kernel variant ----
    const int64_t H = 24, Dh = 128;
    json attn_j;
    cuda::CudnnSdpa sdpa;
    if (sdpa.available()) {
      std::printf("cuDNN %d from %s\n", sdpa.version(), sdpa.library().c_str());
    } else {
      std::printf("cuDNN unavailable: %s\n", sdpa.reason().c_str());
    }
    metrics["cudnn"] = sdpa.available() ? std::to_string(sdpa.version()) + " " + sdpa.library() : "unavailable: " + sdpa.reason();
    for (int64_t L : {int64_t{27280}, int64_t{12090}}) {
      Tensor q = Tensor::empty({1, L, H, Dh}, DType::kBF16, Device::cuda(0));
      Tensor k = Tensor::empty({1, L, H, Dh}, DType::kBF16, Device::cuda(0));
      Tensor v = Tensor::empty({1, L, H, Dh}, DType::kBF16, Device::cuda(0));
      Tensor o = Tensor::empty({1, L, H, Dh}, DType::kBF16, Device::cuda(0));
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(q.raw_data()), q.numel(), 1, -2.f, 2.f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(k.raw_data()), k.numel(), 2, -2.f, 2.f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(v.raw_data()), v.numel(), 3, -1.f, 1.f, st);
      cuda::FlashParams p;
      p.q = static_cast<cuda::bf16*>(q.raw_data());
      p.k = static_cast<cuda::bf16*>(k.raw_data());
      p.v = static_cast<cuda::bf16*>(v.raw_data());
      p.o = static_cast<cuda::bf16*>(o.raw_data());
      p.lq = p.lk = p.lv = p.lo = cuda::AttnLayout::contiguous(L, H, Dh);
      p.batch = 1, p.len_q = L, p.len_k = L, p.heads = H, p.head_dim = static_cast<int>(Dh);
      for (auto [var, vname] : {std::pair{cuda::FlashVariant::kW8M2, "W8M2"}, std::pair{cuda::FlashVariant::kW4M2, "W4M2"},
                                std::pair{cuda::FlashVariant::kW8M1, "W8M1"}}) {
        const double s = time_median([&] { cuda::flash_attention_fwd(p, st, var); }, 2, 7, st);
        const double tf = cuda::flash_attention_flops(p) / s / 1e12;
        std::printf("attention %s L=%ld: %.3f ms, %.1f TFLOP/s\n", vname, static_cast<long>(L), s * 1e3, tf);
        attn_j["L" + std::to_string(L)][vname] = {{"ms", s * 1e3}, {"tflops", tf}};
      }
      if (sdpa.available()) {
        try {
          const double s = time_median([&] { sdpa.run(p, st); }, 2, 7, st);
          const double tf = cuda::flash_attention_flops(p) / s / 1e12;
          std::printf("attention cuDNN L=%ld: %.3f ms, %.1f TFLOP/s\n", static_cast<long>(L), s * 1e3, tf);
          attn_j["L" + std::to_string(L)]["cudnn"] = {{"ms", s * 1e3}, {"tflops", tf}};
        } catch (const std::exception& e) {
          std::printf("attention cuDNN failed: %s\n", e.what());
          attn_j["L" + std::to_string(L)]["cudnn_error"] = e.what();
        }
      }
    }
    metrics["attention_24x128"] = attn_j;

    // ---- attention in the DiT's layouts at 720p: self from the fused QKV buffer, cross on 512 text rows ----
    {
      const int64_t L = 27280, T = 512, Dm = H * Dh;
      Tensor qkv = Tensor::empty({L, 3 * Dm}, DType::kBF16, Device::cuda(0));
      Tensor ckv = Tensor::empty({T, 2 * Dm}, DType::kBF16, Device::cuda(0));
      Tensor o = Tensor::empty({L, Dm}, DType::kBF16, Device::cuda(0));
      auto* qb = static_cast<cuda::bf16*>(qkv.raw_data());
      auto* cb = static_cast<cuda::bf16*>(ckv.raw_data());
      cuda::fill_uniform_bf16(qb, qkv.numel(), 11, -2.f, 2.f, st);
      cuda::fill_uniform_bf16(cb, ckv.numel(), 12, -2.f, 2.f, st);
      cuda::FlashParams self_p;
      self_p.q = qb, self_p.k = qb + Dm, self_p.v = qb + 2 * Dm, self_p.o = static_cast<cuda::bf16*>(o.raw_data());
      self_p.lq = self_p.lk = self_p.lv = cuda::AttnLayout{L * 3 * Dm, 3 * Dm, Dh};
      self_p.lo = cuda::AttnLayout::contiguous(L, H, Dh);
      self_p.len_q = self_p.len_k = L, self_p.heads = H, self_p.head_dim = static_cast<int>(Dh);
      cuda::FlashParams cross_p = self_p;
      cross_p.q = qb;
      cross_p.lq = cuda::AttnLayout::contiguous(L, H, Dh);
      cross_p.k = cb, cross_p.v = cb + Dm, cross_p.len_k = T;
      cross_p.lk = cross_p.lv = cuda::AttnLayout{T * 2 * Dm, 2 * Dm, Dh};
      json lay;
      for (auto [name, pp] : {std::pair{"self_fused_qkv", &self_p}, std::pair{"cross_512", &cross_p}}) {
        const double s_own = time_median([&] { cuda::flash_attention_fwd(*pp, st); }, 2, 7, st);
        const double tf_own = cuda::flash_attention_flops(*pp) / s_own / 1e12;
        std::printf("attention %s own: %.3f ms, %.1f TFLOP/s\n", name, s_own * 1e3, tf_own);
        lay[name]["own"] = {{"ms", s_own * 1e3}, {"tflops", tf_own}};
        if (sdpa.available()) {
          try {
            const double s_c = time_median([&] { sdpa.run(*pp, st); }, 2, 7, st);
            const double tf_c = cuda::flash_attention_flops(*pp) / s_c / 1e12;
            std::printf("attention %s cuDNN: %.3f ms, %.1f TFLOP/s [%s]\n", name, s_c * 1e3, tf_c,
                        sdpa.last_plan_note().c_str());
            lay[name]["cudnn"] = {{"ms", s_c * 1e3}, {"tflops", tf_c}, {"plan", sdpa.last_plan_note()}};
          } catch (const std::exception& e) {
            std::printf("attention %s cuDNN failed: %s\n", name, e.what());
          }
        }
      }
      metrics["attention_dit_layouts_720p"] = lay;
    }

    // ---- the memory-bound kernels at 720p (bytes counted once each) ----
    {
      const int64_t L = 27280, Dm = 3072;
      Tensor x = Tensor::empty({L, Dm}, DType::kF32, Device::cuda(0));
      Tensor y = Tensor::empty({L, Dm}, DType::kBF16, Device::cuda(0));
      Tensor xn = Tensor::empty({L, Dm}, DType::kBF16, Device::cuda(0));
      Tensor qkv = Tensor::empty({L, 3 * Dm}, DType::kBF16, Device::cuda(0));
      Tensor vecs = Tensor::empty({4, Dm}, DType::kF32, Device::cuda(0));
      cuda::fill_uniform_f32(static_cast<float*>(x.raw_data()), x.numel(), 31, -1.f, 1.f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(y.raw_data()), y.numel(), 32, -1.f, 1.f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(qkv.raw_data()), qkv.numel(), 33, -1.f, 1.f, st);
      cuda::fill_uniform_f32(static_cast<float*>(vecs.raw_data()), vecs.numel(), 34, -0.1f, 0.1f, st);
      const float* vp = static_cast<float*>(vecs.raw_data());
      const int64_t F = 31, gh = 22, gw = 40;
      std::vector<float2> tab(static_cast<size_t>(cuda::rope_table_size(F, gh, gw, 128)));
      cuda::rope_table_fill(tab.data(), F, gh, gw, 128);
      Tensor dtab = Tensor::empty({static_cast<int64_t>(tab.size()) * 2}, DType::kF32, Device::cuda(0));
      WAN22_CUDA_CHECK(cudaMemcpy(dtab.raw_data(), tab.data(), tab.size() * sizeof(float2), cudaMemcpyHostToDevice));
      cuda::RopeTable rope{reinterpret_cast<const float2*>(dtab.raw_data()), F, gh, gw, 128};
      json mj;
      const double s_ln = time_median(
          [&] {
            cuda::residual_layernorm_modulate(static_cast<float*>(x.raw_data()),
                                              static_cast<cuda::bf16*>(y.raw_data()), Dm, cuda::TokenVec::same(vp),
                                              static_cast<cuda::bf16*>(xn.raw_data()), L, Dm, 1e-6f, nullptr, nullptr,
                                              cuda::TokenVec::same(vp + Dm), cuda::TokenVec::same(vp + 2 * Dm), st);
          },
          2, 7, st);
      const double b_ln = static_cast<double>(L) * Dm * (4 + 2 + 4 + 2);
      const double s_rms = time_median(
          [&] {
            auto* q = static_cast<cuda::bf16*>(qkv.raw_data());
            cuda::rmsnorm_rope(q, 3 * Dm, q, 3 * Dm, L, Dm, vp + 3 * Dm, 1e-6f, rope, L, st);
          },
          2, 7, st);
      const double b_rms = static_cast<double>(L) * Dm * (2 + 2);
      std::printf("residual+LN+mod 27280x3072: %.3f ms, %.0f GB/s; q RMSNorm+RoPE: %.3f ms, %.0f GB/s\n", s_ln * 1e3,
                  b_ln / s_ln / 1e9, s_rms * 1e3, b_rms / s_rms / 1e9);
      mj["residual_layernorm_modulate"] = {{"ms", s_ln * 1e3}, {"gbs", b_ln / s_ln / 1e9}};
      mj["rmsnorm_rope_q"] = {{"ms", s_rms * 1e3}, {"gbs", b_rms / s_rms / 1e9}};
      metrics["norm_kernels_720p"] = mj;
    }

    // ---- the DiT's GEMMs at 720p through LtGemm (autotuned per shape) ----
    {
      cuda::LtGemm gemm;
      const int64_t M = 27280;
      struct G {
        const char* name;
        int64_t n, k;
        cuda::Epilogue ep;
      };
      const G shapes[] = {{"qkv_fused 27280x9216x3072 +bias", 9216, 3072, cuda::Epilogue::kBias},
                          {"o 27280x3072x3072 +bias", 3072, 3072, cuda::Epilogue::kBias},
                          {"ffn_up 27280x14336x3072 +bias+gelu", 14336, 3072, cuda::Epilogue::kBiasGelu},
                          {"ffn_down 27280x3072x14336 +bias", 3072, 14336, cuda::Epilogue::kBias}};
      Tensor X = Tensor::empty({M, 14336}, DType::kBF16, Device::cuda(0));
      Tensor W = Tensor::empty({14336, 3072}, DType::kBF16, Device::cuda(0));  // n * k <= 14336 * 3072
      Tensor Y = Tensor::empty({M, 14336}, DType::kBF16, Device::cuda(0));
      Tensor bias = Tensor::empty({14336}, DType::kBF16, Device::cuda(0));
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(X.raw_data()), X.numel(), 21, -1.f, 1.f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(W.raw_data()), W.numel(), 22, -0.02f, 0.02f, st);
      cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(bias.raw_data()), bias.numel(), 23, -0.1f, 0.1f, st);
      json gj;
      for (const G& g : shapes) {
        auto fn = [&] {
          gemm.linear_bf16(X.raw_data(), W.raw_data(), bias.raw_data(), Y.raw_data(), M, g.n, g.k, g.ep, st);
        };
        const double s = time_median(fn, 2, 7, st);
        const double tf = 2.0 * M * g.n * g.k / s / 1e12;
        std::printf("gemm %s: %.3f ms, %.1f TFLOP/s\n", g.name, s * 1e3, tf);
        gj[g.name] = {{"ms", s * 1e3}, {"tflops", tf}};
      }
      metrics["gemm_720p_autotuned"] = gj;
    }

    // ---- DiT forward ----
    cuda::DitConfig cfg = cuda::DitConfig::ti2v_5b();
    if (quick) cfg.layers = 2;
    cuda::DitCuda dit(cfg);
    auto t0 = std::chrono::steady_clock::now();
    dit.init_random(1234, st);
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
    const double init_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t weight_bytes = cuda::allocator()->caching_stats().current_bytes;
    std::printf("random weights: %.2f GiB in %.2f s\n", gib(weight_bytes), init_s);
    metrics["weights_gib"] = gib(weight_bytes);

    Tensor context = Tensor::empty({cfg.text_len, cfg.text_dim}, DType::kBF16, Device::cuda(0));
    cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(context.raw_data()), context.numel(), 77, -1.f, 1.f, st);
    const Size sizes[] = {{"480p_121f", 832, 480, 121}, {"720p_121f", 1280, 704, 121}};
    for (const Size& sz : sizes) {
      const int64_t F = (sz.frames - 1) / 4 + 1, Hl = sz.height / 16, Wl = sz.width / 16;
      const int64_t tokens = F * (Hl / 2) * (Wl / 2);
      Tensor latent = Tensor::empty({cfg.in_dim, F, Hl, Wl}, DType::kF32, Device::cuda(0));
      cuda::fill_uniform_f32(static_cast<float*>(latent.raw_data()), latent.numel(), 99, -1.f, 1.f, st);
      Tensor out;
      cuda::DitInputs in;
      in.latent = static_cast<float*>(latent.raw_data());
      in.frames = F, in.height = Hl, in.width = Wl;
      in.context = static_cast<cuda::bf16*>(context.raw_data());
      in.timestep = 999.0;
      const double s_t2v = time_median([&] { dit.forward(in, out, st); }, 1, reps, st);
      const uint64_t peak = cuda::allocator()->caching_stats().peak_bytes;
      // sanity: finite output
      std::vector<float> probe(4096);
      WAN22_CUDA_CHECK(cudaMemcpy(probe.data(), out.raw_data(), probe.size() * 4, cudaMemcpyDeviceToHost));
      bool finite = true;
      double absmax = 0;
      for (float f : probe) {
        finite = finite && std::isfinite(f);
        absmax = std::max(absmax, static_cast<double>(std::fabs(f)));
      }
      const double tf = dit.flops(tokens) / s_t2v / 1e12;
      std::printf("DiT forward %s (%ld tokens, %d layers): %.3f s, %.1f TFLOP/s (%.1f TFLOP), peak %.2f GiB, "
                  "output finite=%d absmax=%.3g\n",
                  sz.name, static_cast<long>(tokens), static_cast<int>(cfg.layers), s_t2v, tf, dit.flops(tokens) / 1e12,
                  gib(peak), finite ? 1 : 0, absmax);
      in.first_frame_clean = true;
      const double s_i2v = time_median([&] { dit.forward(in, out, st); }, 1, reps, st);
      in.first_frame_clean = false;
      dit.set_skip_attention(true);
      const double s_noattn = time_median([&] { dit.forward(in, out, st); }, 1, reps, st);
      dit.set_skip_attention(false);
      std::printf("  i2v (two modulation rows): %.3f s; without attention: %.3f s (attention share %.3f s)\n", s_i2v,
                  s_noattn, s_t2v - s_noattn);
      double s_cudnn = -1;
      std::string why;
      if (dit.use_cudnn_attention(true, &why)) {
        try {
          s_cudnn = time_median([&] { dit.forward(in, out, st); }, 1, reps, st);
          std::printf("  with cuDNN attention: %.3f s, %.1f TFLOP/s\n", s_cudnn, dit.flops(tokens) / s_cudnn / 1e12);
        } catch (const std::exception& e) {
          std::printf("  cuDNN attention failed: %s\n", e.what());
        }
        dit.use_cudnn_attention(false);
      }
      const double best = s_cudnn > 0 ? std::min(s_cudnn, s_t2v) : s_t2v;
      json j = {{"tokens", tokens}, {"cudnn_t2v_s", s_cudnn}, {"best_s", best},         {"layers", cfg.layers},     {"t2v_s", s_t2v},
                {"i2v_s", s_i2v},           {"no_attention_s", s_noattn}, {"tflops", tf},
                {"tflop_per_forward", dit.flops(tokens) / 1e12}, {"peak_gib_after", gib(peak)},
                {"output_finite", finite}};
      metrics["dit_" + std::string(sz.name)] = j;
      if (!quick) metrics[std::string("dit_forward_") + sz.name + "_s"] = best;
    }
    metrics["peak_vram_gib_dit"] = gib(cuda::allocator()->caching_stats().peak_bytes);
    metrics["reserved_gib"] = gib(cuda::allocator()->caching_stats().reserved_bytes);

    char date[32];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
    json doc = {{"machine",
                 {{"gpu", dev.name},
                  {"driver", driver_release()},
                  {"cuda_driver_api", driver},
                  {"cuda_runtime", runtime},
                  {"sms", dev.multiprocessors}}},
                {"revision", revision},
                {"date", date},
                {"quick", quick},
                {"metrics", metrics}};
    std::ofstream f(out_path);
    f << doc.dump(1) << "\n";
    std::cout << "wrote " << out_path << "\n";
    cudaStreamDestroy(st);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
