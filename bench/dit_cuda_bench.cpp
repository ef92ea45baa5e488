// DiT forward benchmark on the GPU at the real TI2V-5B sizes with random weights: the forward
// (bf16, cuDNN attention where available), the CFG pair (batch of 2 vs two forwards), weight
// streaming (blocks from pinned host memory vs resident), fp8 weights; plus, unless --skip-micro,
// the attention kernels, GEMMs and norm kernels alone. Prints medians of >= 3 timed runs after
// warm-up, TFLOP/s and the caching allocator's peak; writes JSON (default dit_cuda_bench.json).
//   wan22_dit_cuda_bench [out.json] [--revision REV] [--reps N] [--quick] [--skip-micro]
//                        [--modes cfg,stream,memopts,fp8,fp8stream,int8]   (default: all)
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cudnn_sdpa.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/dit_fp8.h"
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
  bool quick = false, skip_micro = false;
  std::vector<std::string> modes;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--revision" && i + 1 < argc) {
      revision = argv[++i];
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::max(3, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--skip-micro") {
      skip_micro = true;
    } else if (a == "--modes" && i + 1 < argc) {
      std::string m = argv[++i];
      for (size_t p = 0; p <= m.size();) {
        const size_t c = std::min(m.find(',', p), m.size());
        if (c > p) modes.push_back(m.substr(p, c - p));
        p = c + 1;
      }
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

    if (!skip_micro) {
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

    }

    // ---- DiT forward at the TI2V-5B sizes, random weights ----
    cuda::DitConfig cfg = cuda::DitConfig::ti2v_5b();
    if (quick) cfg.layers = 2;
    auto want = [&](const char* m) { return modes.empty() || std::find(modes.begin(), modes.end(), m) != modes.end(); };
    auto alloc_peak = [] { return gib(cuda::allocator()->caching_stats().peak_bytes); };
    auto reset_peak = [] { cuda::allocator()->reset_peak(); };
    auto device_used = [] {
      size_t fr = 0, tot = 0;
      WAN22_CUDA_CHECK(cudaMemGetInfo(&fr, &tot));
      return gib(tot - fr);
    };
    Tensor context = Tensor::empty({cfg.text_len, cfg.text_dim}, DType::kBF16, Device::cuda(0));
    Tensor uncond = Tensor::empty({cfg.text_len, cfg.text_dim}, DType::kBF16, Device::cuda(0));
    cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(context.raw_data()), context.numel(), 77, -1.f, 1.f, st);
    cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(uncond.raw_data()), uncond.numel(), 78, -1.f, 1.f, st);
    const Size s480{"480p_121f", 832, 480, 121}, s720{"720p_121f", 1280, 704, 121};
    const Size s_small{"256x256_17f", 256, 256, 17}, s_mid{"832x480_33f", 832, 480, 33};
    struct Work {
      Tensor latent;
      cuda::DitInputs in;
      int64_t tokens = 0;
    };
    auto work = [&](const Size& sz) {
      Work w;
      const int64_t F = (sz.frames - 1) / 4 + 1, Hl = sz.height / 16, Wl = sz.width / 16;
      w.tokens = F * (Hl / 2) * (Wl / 2);
      w.latent = Tensor::empty({cfg.in_dim, F, Hl, Wl}, DType::kF32, Device::cuda(0));
      cuda::fill_uniform_f32(static_cast<float*>(w.latent.raw_data()), w.latent.numel(), 99, -1.f, 1.f, st);
      w.in.latent = static_cast<float*>(w.latent.raw_data());
      w.in.frames = F, w.in.height = Hl, w.in.width = Wl;
      w.in.context = static_cast<cuda::bf16*>(context.raw_data());
      w.in.timestep = 999.0;
      return w;
    };
    auto host_copy = [](const Tensor& d) {
      std::vector<float> h(static_cast<size_t>(d.numel()));
      WAN22_CUDA_CHECK(cudaMemcpy(h.data(), d.raw_data(), h.size() * 4, cudaMemcpyDeviceToHost));
      return h;
    };
    auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
      double ab = 0, aa = 0, bb = 0;
      for (size_t i = 0; i < a.size(); ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
      }
      return ab / std::sqrt(aa * bb + 1e-300);
    };
    auto finite = [](const std::vector<float>& v) {
      return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
    };
    std::vector<float> out720_bf16;  // the bf16 720p output (fp8 comparison)
    {
      cuda::DitCuda dit(cfg);
      auto t0 = std::chrono::steady_clock::now();
      dit.init_random(1234, st);
      WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
      const double init_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("random weights: %.2f GiB on the device in %.2f s (block pack %.1f MB)\n",
                  gib(dit.device_weight_bytes()), init_s, static_cast<double>(dit.block_pack_bytes()) / 1e6);
      metrics["weights_gib"] = gib(dit.device_weight_bytes());
      metrics["block_pack_mb"] = static_cast<double>(dit.block_pack_bytes()) / 1e6;
      std::string why;
      const bool cudnn = dit.use_cudnn_attention(true, &why);
      metrics["attention_backend"] = cudnn ? std::string("cudnn") : "own (cuDNN unavailable: " + why + ")";
      std::map<std::string, double> resident_s;
      for (const Size& sz : {s480, s720}) {
        Work w = work(sz);
        Tensor out;
        reset_peak();
        const double s_t2v = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
        const double peak = alloc_peak();
        const auto h = host_copy(out);
        if (std::string(sz.name) == s720.name) out720_bf16 = h;
        w.in.first_frame_clean = true;
        const double s_i2v = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
        w.in.first_frame_clean = false;
        const double tf = dit.flops(w.tokens) / s_t2v / 1e12;
        std::printf("DiT forward %s (%ld tokens, %d layers, %s attention): t2v %.3f s (%.1f TFLOP/s), i2v %.3f s, "
                    "allocator peak %.2f GiB, device used %.2f GiB, finite=%d\n",
                    sz.name, static_cast<long>(w.tokens), static_cast<int>(cfg.layers), cudnn ? "cuDNN" : "own", s_t2v,
                    tf, s_i2v, peak, device_used(), finite(h) ? 1 : 0);
        json j = {{"tokens", w.tokens},         {"t2v_s", s_t2v},        {"i2v_s", s_i2v},
                  {"tflops", tf},               {"peak_gib", peak},      {"tflop_per_forward", dit.flops(w.tokens) / 1e12},
                  {"output_finite", finite(h)}, {"layers", cfg.layers}, {"attention", cudnn ? "cudnn" : "own"}};
        if (!skip_micro) {
          dit.use_cudnn_attention(false);
          j["own_attention_t2v_s"] = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
          dit.set_skip_attention(true);
          j["no_attention_s"] = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
          dit.set_skip_attention(false);
          dit.use_cudnn_attention(cudnn);
        }
        resident_s[sz.name] = s_t2v;
        metrics["dit_" + std::string(sz.name)] = j;
        if (!quick) metrics[std::string("dit_forward_") + sz.name + "_s"] = s_t2v;
      }
      metrics["peak_vram_gib_dit"] = alloc_peak();

      if (want("cfg")) {
        // the CFG pair: one batch of 2 against two batch-1 forwards
        json cj;
        for (const Size& sz : {s_small, s_mid, s480, s720}) {
          Work w = work(sz);
          Tensor oc, ou;
          auto pair = [&](cuda::CfgBatching m) {
            dit.forward_cfg(w.in, static_cast<cuda::bf16*>(uncond.raw_data()), -1, oc, ou, st, m);
          };
          const int r = w.tokens < 4000 ? std::max(reps, 7) : reps;
          reset_peak();
          const double seq = time_median([&] { pair(cuda::CfgBatching::kSequential); }, 1, r, st);
          const double peak_seq = alloc_peak();
          reset_peak();
          const double bat = time_median([&] { pair(cuda::CfgBatching::kBatch2); }, 1, r, st);
          const double peak_bat = alloc_peak();
          std::printf("CFG pair %s (%ld tokens): sequential %.4f s, batch 2 %.4f s (%.3fx), peak %.2f / %.2f GiB\n",
                      sz.name, static_cast<long>(w.tokens), seq, bat, seq / bat, peak_seq, peak_bat);
          cj[sz.name] = {{"tokens", w.tokens},        {"sequential_s", seq},          {"batch2_s", bat},
                         {"batch2_speedup", seq / bat}, {"peak_sequential_gib", peak_seq}, {"peak_batch2_gib", peak_bat}};
        }
        metrics["cfg_pair"] = cj;
      }

      if (want("stream")) {
        // every block streamed from pinned host memory (two device slots) against all resident
        json sj;
        for (int resident : {0, 15}) {
          if (resident >= cfg.layers) continue;
          auto tm = std::chrono::steady_clock::now();
          dit.set_resident_blocks(resident, st);
          const double move_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - tm).count();
          json rj = {{"resident_blocks", resident}, {"device_weight_gib", gib(dit.device_weight_bytes())},
                     {"host_weight_gib", gib(dit.host_weight_bytes())}, {"move_s", move_s}};
          for (const Size& sz : {s480, s720}) {
            Work w = work(sz);
            Tensor out;
            reset_peak();
            const double s = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
            const double peak = alloc_peak();
            bool same = true;
            if (std::string(sz.name) == s720.name && !out720_bf16.empty()) same = host_copy(out) == out720_bf16;
            std::printf("streamed (%d resident) %s: %.3f s vs resident %.3f s (%+.1f%%), allocator peak %.2f GiB, "
                        "device used %.2f GiB, same output=%d\n",
                        resident, sz.name, s, resident_s[sz.name], 100.0 * (s / resident_s[sz.name] - 1.0), peak,
                        device_used(), same ? 1 : 0);
            rj[sz.name] = {{"s", s},
                           {"resident_s", resident_s[sz.name]},
                           {"overhead_pct", 100.0 * (s / resident_s[sz.name] - 1.0)},
                           {"peak_gib", peak},
                           {"same_output_as_resident", same}};
          }
          sj["resident_" + std::to_string(resident)] = rj;
        }
        dit.set_resident_blocks(-1, st);
        // resident again, same run: the A/B reference under the card's current clocks
        Work w = work(s720);
        Tensor out;
        const double again = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
        std::printf("resident again 720p: %.3f s\n", again);
        sj["resident_again_720p_121f_s"] = again;
        metrics["weight_streaming"] = sj;
      }

      if (want("memopts")) {
        // The memory options of issue 6 on the resident bf16 DiT at 720p: token segments
        // (checkpoint_segments), heads per attention call, segments with every block streamed.
        json mj;
        Work w = work(s720);
        auto one = [&](const char* label, int segments, int slice) {
          dit.set_segments(segments);
          dit.set_attention_slice(slice);
          Tensor out;
          reset_peak();
          const double s = time_median([&] { dit.forward(w.in, out, st); }, 1, reps, st);
          const double peak = alloc_peak();
          const double rel = resident_s[s720.name] > 0 ? 100.0 * (s / resident_s[s720.name] - 1.0) : 0.0;
          std::printf("%s 720p_121f: %.3f s (%+.1f%% vs resident whole), allocator peak %.2f GiB\n", label, s, rel, peak);
          mj[label] = {{"s", s}, {"peak_gib", peak}, {"overhead_pct", rel}, {"segments", segments},
                       {"attention_slice", slice}, {"resident_blocks", dit.resident_blocks()}};
        };
        for (int n : {2, 4, 8}) one(("segments_" + std::to_string(n)).c_str(), n, 0);
        one("attention_slice_4", 1, 4);
        one("attention_slice_1", 1, 1);
        dit.set_resident_blocks(0, st);
        one("streamed_segments_1", 1, 0);
        one("streamed_segments_4", 4, 0);
        dit.set_resident_blocks(-1, st);
        dit.set_segments(1);
        dit.set_attention_slice(0);
        metrics["memory_options"] = mj;
      }
    }

    if (want("fp8")) {
      json fj;
      // the GEMMs alone at 720p: fp8 (activation quantisation included) against bf16
      {
        cuda::LtGemm g;
        cuda::Fp8Linear f8;
        const int64_t M = quick ? 4096 : 27280;
        struct G {
          const char* name;
          int64_t n, k;
          cuda::Epilogue ep;
        };
        const std::string probe = cuda::fp8_gemm_probe(M, 9216, 3072);
        std::printf("cuBLASLt fp8 GEMM variants for %ldx9216x3072 (heuristic):\n%s", static_cast<long>(M), probe.c_str());
        fj["cublaslt_fp8_probe_qkv"] = probe;
        const G shapes[] = {{"qkv", 9216, 3072, cuda::Epilogue::kBias},
                            {"ffn_up_gelu", 14336, 3072, cuda::Epilogue::kBiasGelu},
                            {"ffn_down", 3072, 14336, cuda::Epilogue::kBias}};
        Tensor X = Tensor::empty({M, 14336}, DType::kBF16, Device::cuda(0));
        Tensor W = Tensor::empty({14336 * 3072}, DType::kBF16, Device::cuda(0));
        Tensor Wq = Tensor::empty({14336 * 3072}, DType::kU8, Device::cuda(0));
        Tensor Ws = Tensor::empty({14336}, DType::kF32, Device::cuda(0));
        Tensor Y = Tensor::empty({M, 14336}, DType::kBF16, Device::cuda(0));
        Tensor bias = Tensor::empty({14336}, DType::kBF16, Device::cuda(0));
        auto* xb = static_cast<cuda::bf16*>(X.raw_data());
        cuda::fill_uniform_bf16(xb, X.numel(), 41, -1.f, 1.f, st);
        cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(W.raw_data()), W.numel(), 42, -0.02f, 0.02f, st);
        cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(bias.raw_data()), bias.numel(), 43, -0.1f, 0.1f, st);
        for (const G& gs : shapes) {
          cuda::quantize_rows_e4m3(static_cast<cuda::bf16*>(W.raw_data()), gs.n, gs.k,
                                   static_cast<uint8_t*>(Wq.raw_data()), static_cast<float*>(Ws.raw_data()), st);
          const double sb = time_median(
              [&] { g.linear_bf16(xb, W.raw_data(), bias.raw_data(), Y.raw_data(), M, gs.n, gs.k, gs.ep, st); }, 2, 7, st);
          const auto yb = host_copy(Y.narrow(0, 0, 64));
          const double s8 = time_median(
              [&] {
                f8.linear(g, xb, Wq.raw_data(), static_cast<float*>(Ws.raw_data()), bias.raw_data(),
                          static_cast<cuda::bf16*>(Y.raw_data()), M, gs.n, gs.k, gs.ep, st);
              },
              2, 7, st);
          const auto y8 = host_copy(Y.narrow(0, 0, 64));
          const double fl = 2.0 * M * gs.n * gs.k;
          std::printf("gemm %s %ldx%ldx%ld: bf16 %.3f ms (%.0f TFLOP/s), fp8 %.3f ms (%.0f TFLOP/s incl. activation "
                      "quantisation), cosine %.5f [%s]\n",
                      gs.name, static_cast<long>(M), static_cast<long>(gs.n), static_cast<long>(gs.k), sb * 1e3,
                      fl / sb / 1e12, s8 * 1e3, fl / s8 / 1e12, cosine(y8, yb), f8.mode_note().c_str());
          fj["gemm_" + std::string(gs.name)] = {{"bf16_ms", sb * 1e3}, {"fp8_ms", s8 * 1e3},
                                                {"bf16_tflops", fl / sb / 1e12}, {"fp8_tflops", fl / s8 / 1e12},
                                                {"cosine", cosine(y8, yb)}, {"mode", f8.mode_note()}};
        }
      }
      cuda::DitCuda q(cfg);
      q.init_random(1234, st, cuda::WeightFormat::kFP8);  // the bf16 model's draws, quantised per row
      std::string why;
      const bool cudnn = q.use_cudnn_attention(true, &why);
      fj["weights_gib"] = gib(q.device_weight_bytes());
      for (const Size& sz : {s480, s720}) {
        Work w = work(sz);
        Tensor out;
        reset_peak();
        const double s = time_median([&] { q.forward(w.in, out, st); }, 1, reps, st);
        const double peak = alloc_peak();
        json j = {{"s", s}, {"peak_gib", peak}, {"tflops", q.flops(w.tokens) / s / 1e12}, {"mode", q.fp8_note()},
                  {"attention", cudnn ? "cudnn" : "own"}};
        std::string cs_txt;
        if (std::string(sz.name) == s720.name && !out720_bf16.empty()) {
          const double cs = cosine(host_copy(out), out720_bf16);
          j["cosine_vs_bf16"] = cs;
          cs_txt = ", cosine vs bf16 " + std::to_string(cs);
        }
        std::printf("fp8 DiT forward %s: %.3f s, allocator peak %.2f GiB, weights %.2f GiB%s [%s]\n", sz.name, s, peak,
                    gib(q.device_weight_bytes()), cs_txt.c_str(), q.fp8_note().c_str());
        fj[sz.name] = j;
      }
      if (want("stream") || want("fp8stream")) {
        // fp8 and every block streamed: the smallest device footprint of the forward
        q.set_resident_blocks(0, st);
        Work w = work(s720);
        Tensor out;
        reset_peak();
        const double s = time_median([&] { q.forward(w.in, out, st); }, 1, reps, st);
        const double peak = alloc_peak();
        std::printf("fp8, all blocks streamed, 720p_121f: %.3f s, allocator peak %.2f GiB, device used %.2f GiB\n", s,
                    peak, device_used());
        fj["streamed_720p_121f"] = {{"s", s}, {"peak_gib", peak}, {"resident_s", fj[s720.name]["s"]}};
      }
      metrics["fp8"] = fj;
    }

    if (want("int8")) {
      // int8 weight-only block matrices (dequantised to bf16 before each GEMM), 720p, vs bf16
      cuda::DitCuda q(cfg);
      q.init_random(1234, st, cuda::WeightFormat::kInt8);
      q.use_cudnn_attention(true);
      Work w = work(s720);
      Tensor out;
      reset_peak();
      const double s = time_median([&] { q.forward(w.in, out, st); }, 1, reps, st);
      const double peak = alloc_peak();
      json j = {{"s", s}, {"peak_gib", peak}, {"weights_gib", gib(q.device_weight_bytes())}};
      std::string cs_txt;
      if (!out720_bf16.empty()) {
        const double cs = cosine(host_copy(out), out720_bf16);
        j["cosine_vs_bf16"] = cs;
        cs_txt = ", cosine vs bf16 " + std::to_string(cs);
      }
      std::printf("int8 DiT forward 720p_121f: %.3f s, allocator peak %.2f GiB, weights %.2f GiB%s\n", s, peak,
                  gib(q.device_weight_bytes()), cs_txt.c_str());
      metrics["int8"] = j;
    }

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
                {"modes", modes},
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
