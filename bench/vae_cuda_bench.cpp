// The Wan2.2 VAE (TI2V-5B sizes, random bf16 weights) on the GPU: decode of a 1280x704 and an
// 832x480 121-frame video (latents 48x31x44x80 and 48x31x30x52), the spatially tiled 720p decode,
// and the encode of one 1280x704 image. Medians of --reps timed runs after one warm-up (which also
// autotunes the conv algorithms), executed TFLOP/s, peak device memory (caching allocator), a
// table on stdout and JSON (--json FILE); --report FILE writes the per-shape conv report.
//   wan22_vae_cuda_bench [--json FILE] [--report FILE] [--reps N] [--revision R] [--quick]
//                        [--tile T] [--overlap O] [--tile-chunk N] [--no-tiled] [--no-chunk2]
//                        [--no-microbench] [--no-profile] [--no-reuse] [--budget-s S]  (sections
//                        past S seconds are skipped)
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/cuda/conv3d_cuda.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cudnn_conv.h"
#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/vae_cuda.h"
#include "core/tensor.h"
#include "models/vae/vae_config.h"

using namespace wan22;
using json = nlohmann::json;

namespace {

double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

struct Timed {
  double cold_s = 0.0;  // the warm-up run (includes autotuning)
  std::vector<double> samples;
  double median_s = 0.0;
  double peak_gib = 0.0;
  double tflop = 0.0;
};

// fn() once (warm-up), then `reps` timed runs; peak device memory over the timed runs.
template <class Fn>
Timed time_runs(Fn fn, int reps, cudaStream_t st, double max_total_s = 60.0) {
  Timed r;
  cudaEvent_t a, b;
  WAN22_CUDA_CHECK(cudaEventCreate(&a));
  WAN22_CUDA_CHECK(cudaEventCreate(&b));
  auto t0 = std::chrono::steady_clock::now();
  fn();
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  r.cold_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  cuda::allocator()->reset_peak();
  for (int i = 0; i < reps; ++i) {
    WAN22_CUDA_CHECK(cudaEventRecord(a, st));
    fn();
    WAN22_CUDA_CHECK(cudaEventRecord(b, st));
    WAN22_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0.0f;
    WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    r.samples.push_back(ms / 1e3);
    if (r.cold_s + ms / 1e3 * (i + 2) > max_total_s)
      break;  // keep slow configurations from eating the lease
  }
  r.peak_gib = gib(static_cast<double>(cuda::allocator()->caching_stats().peak_bytes));
  r.median_s = median(r.samples);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return r;
}

// max |v| over the last frame of channel 0 and whether it is finite (the end of the causal chain).
std::pair<double, bool> last_frame_absmax(const Tensor& video) {
  const int64_t F = video.dim(1), H = video.dim(2), W = video.dim(3);
  std::vector<float> h(static_cast<size_t>(H * W));
  const float* src = static_cast<const float*>(video.raw_data()) + (F - 1) * H * W;
  WAN22_CUDA_CHECK(cudaMemcpy(h.data(), src, h.size() * sizeof(float), cudaMemcpyDeviceToHost));
  double m = 0.0;
  bool finite = true;
  for (float v : h) {
    if (!std::isfinite(v)) finite = false;
    m = std::max(m, static_cast<double>(std::fabs(v)));
  }
  return {m, finite};
}

std::string iso_date() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// The decoder's main conv shapes at 720p (one chunk: 4 new frames + 2 cached at the full-resolution
// levels): cuDNN 3-D (autotuned) against the same conv as three depth-1 convs accumulated with
// beta = 1 (the 2-D kernels, one per temporal tap). Median of `reps` after a warm-up.
json conv_microbench(cudaStream_t st, int reps) {
  json out = json::array();
  cuda::CudnnConv conv;
  if (!conv.available()) return out;
  struct Shape {
    const char* name;
    int64_t t, h, w, cin, cout;
    int kt, kh, kw, ph;
  };
  const std::vector<Shape> shapes = {
      {"L3 256->256 3x3x3 @352x640", 6, 352, 640, 256, 256, 3, 3, 3, 1},
      {"L2 512->512 3x3x3 @176x320", 6, 176, 320, 512, 512, 3, 3, 3, 1},
      {"L2 1024->512 3x3x3 @176x320", 6, 176, 320, 1024, 512, 3, 3, 3, 1},
      {"L1 1024->1024 3x3x3 @88x160", 4, 88, 160, 1024, 1024, 3, 3, 3, 1},
      {"mid 1024->1024 3x3x3 @44x80", 3, 44, 80, 1024, 1024, 3, 3, 3, 1},
      {"L2up sub-pixel 512->4x512 2x2 @176x320", 4, 176, 320, 512, 2048, 1, 2, 2, 1},
  };
  for (const Shape& s : shapes) {
    cuda::ConvGeom g;
    g.t = s.t, g.h = s.h, g.w = s.w, g.cin = s.cin, g.cout = s.cout, g.kt = s.kt, g.kh = s.kh,
    g.kw = s.kw;
    g.ph = g.pw = s.ph;
    Tensor x = Tensor::empty({g.t, g.h, g.w, g.cin}, DType::kBF16, Device::cuda(0));
    Tensor w = Tensor::empty({g.cout, g.kt, g.kh, g.kw, g.cin}, DType::kBF16, Device::cuda(0));
    Tensor y =
        Tensor::empty({g.out_t(), g.out_h(), g.out_w(), g.cout}, DType::kBF16, Device::cuda(0));
    cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(x.raw_data()), x.numel(), 1, -1.0f, 1.0f, st);
    cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(w.raw_data()), w.numel(), 2, -0.02f, 0.02f,
                            st);
    json j = {{"shape", s.name}, {"tflop", g.flops() / 1e12}};
    try {
      Timed t = time_runs(
          [&] { conv.forward(g, DType::kBF16, x.raw_data(), w.raw_data(), y.raw_data(), st); },
          reps, st, 20.0);
      j["cudnn3d_ms"] = t.median_s * 1e3;
      j["cudnn3d_tflops"] = g.flops() / t.median_s / 1e12;
    } catch (const std::exception& e) {
      j["cudnn3d_error"] = e.what();
    }
    if (s.kt == 3) {
      // one depth-1 conv per temporal tap over the frames [a, a + To), accumulated into y
      cuda::ConvGeom g2 = g;
      g2.kt = 1;
      g2.t = g.out_t();
      std::vector<Tensor> taps;
      for (int a = 0; a < 3; ++a) {
        taps.push_back(
            Tensor::empty({g.cout, 1, g.kh, g.kw, g.cin}, DType::kBF16, Device::cuda(0)));
        cuda::fill_uniform_bf16(static_cast<cuda::bf16*>(taps.back().raw_data()),
                                taps.back().numel(), 3 + a, -0.02f, 0.02f, st);
      }
      const size_t frame = static_cast<size_t>(g.h * g.w * g.cin) * 2;
      try {
        Timed t = time_runs(
            [&] {
              for (int a = 0; a < 3; ++a) {
                conv.forward(g2, DType::kBF16, static_cast<char*>(x.raw_data()) + a * frame,
                             taps[a].raw_data(), y.raw_data(), st, a == 0 ? 0.0f : 1.0f);
              }
            },
            reps, st, 20.0);
        j["taps2d_ms"] = t.median_s * 1e3;
        j["taps2d_tflops"] = g.flops() / t.median_s / 1e12;
      } catch (const std::exception& e) {
        j["taps2d_error"] = e.what();
      }
    }
    std::printf("conv %-40s %7.2f TFLOP  cuDNN 3-D %7.1f TFLOP/s  3 x depth-1 %7.1f TFLOP/s\n",
                s.name, g.flops() / 1e12, j.value("cudnn3d_tflops", 0.0),
                j.value("taps2d_tflops", 0.0));
    std::fflush(stdout);
    out.push_back(j);
  }
  std::printf("%s", conv.report().c_str());
  return out;
}

json timed_json(const Timed& t) {
  return {{"median_s", t.median_s}, {"samples_s", t.samples},
          {"cold_s", t.cold_s},     {"peak_gib", t.peak_gib},
          {"tflop", t.tflop},       {"tflops_per_s", t.median_s > 0 ? t.tflop / t.median_s : 0.0}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path = "vae_cuda_bench.json", report_path, revision = "unknown";
  int reps = 3, tile = 24, overlap = 4, tile_chunk = 1;
  double budget_s = 0.0;  // 0: no limit
  bool quick = false, tiled = true, chunk2 = true, microbench = true, profile = true, reuse = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") {
      json_path = next();
    } else if (a == "--report") {
      report_path = next();
    } else if (a == "--revision") {
      revision = next();
    } else if (a == "--reps") {
      reps = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--tile") {
      tile = std::atoi(next().c_str());
    } else if (a == "--overlap") {
      overlap = std::atoi(next().c_str());
    } else if (a == "--tile-chunk") {
      tile_chunk = std::max(1, std::atoi(next().c_str()));
    } else if (a == "--budget-s") {
      budget_s = std::atof(next().c_str());
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--no-tiled") {
      tiled = false;
    } else if (a == "--no-chunk2") {
      chunk2 = false;
    } else if (a == "--no-microbench") {
      microbench = false;
    } else if (a == "--no-profile") {
      profile = false;
    } else if (a == "--no-reuse") {
      reuse = false;
    } else {
      std::cerr << "unknown argument " << a << "\n";
      return 2;
    }
  }
  const auto t_start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  };
  json metrics, detail;
  std::string report;
  json doc;
  auto write_json = [&] {  // after every section: a killed run still leaves its numbers
    doc["metrics"] = metrics;
    doc["detail"] = detail;
    std::ofstream(json_path) << doc.dump(2) << "\n";
    if (!report_path.empty()) std::ofstream(report_path) << report;
  };
  // Runs one section unless the wall-clock budget is spent; an exception ends only that section.
  auto section = [&](const std::string& name, const std::function<void()>& fn) {
    if (budget_s > 0 && elapsed() > budget_s) {
      std::printf("%-34s skipped (budget of %.0f s spent)\n", name.c_str(), budget_s);
      detail[name + "_skipped"] = "budget";
      return;
    }
    try {
      fn();
    } catch (const std::exception& e) {
      std::printf("%-34s FAILED: %s\n", name.c_str(), e.what());
      detail[name + "_error"] = e.what();
      cudaGetLastError();
    }
    std::fflush(stdout);
    write_json();
  };
  try {
    cuda::init();
    cudaStream_t st;
    WAN22_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    const auto devs = cuda::devices();
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    doc = {{"machine",
            {{"gpu", devs.empty() ? std::string("?") : devs[0].name},
             {"driver", std::to_string(driver)},
             {"cuda", std::to_string(runtime)}}},
           {"revision", revision},
           {"date", iso_date()}};
    const models::vae::VaeConfig cfg = models::vae::official_wan22_vae_config();
    const int64_t z = cfg.z_dim, F = 31;

    std::printf("%-34s %10s %10s %9s %10s %9s\n", "workload", "median_s", "cold_s", "TFLOP",
                "TFLOP/s", "peak_GiB");
    auto row = [&](const std::string& n, const Timed& t) {
      std::printf("%-34s %10.3f %10.2f %9.1f %10.1f %9.2f\n", n.c_str(), t.median_s, t.cold_s,
                  t.tflop, t.median_s > 0 ? t.tflop / t.median_s : 0.0, t.peak_gib);
      std::fflush(stdout);
    };
    auto make_latent = [&](int64_t h, int64_t w) {
      Tensor lat = Tensor::empty({z, F, h, w}, DType::kF32, Device::cuda(0));
      cuda::fill_uniform_f32(static_cast<float*>(lat.raw_data()), lat.numel(), 99, -1.7f, 1.7f, st);
      return lat;
    };

    cuda::VaeCudaOptions dec_opt;
    dec_opt.encoder = false;
    dec_opt.reuse_buffers = reuse;
    detail["reuse_buffers"] = reuse;
    auto vae = cuda::VaeCuda::random(cfg, 1, dec_opt, st);
    detail["decoder_weight_gib"] = gib(static_cast<double>(vae->weight_bytes()));
    std::printf("decoder weights %.2f GiB (bf16), conv: %s\n",
                gib(static_cast<double>(vae->weight_bytes())),
                vae->conv().cudnn_active()
                    ? "cuDNN"
                    : ("direct kernel: " + vae->conv().cudnn_reason()).c_str());

    // untiled decode of one workload (name: "720p_121f" / "480p_121f")
    auto decode_section = [&](const std::string& name, int64_t h, int64_t w) {
      Tensor lat = make_latent(h, w);
      Tensor out;
      Timed t = time_runs(
          [&] {
            out = Tensor();
            out = vae->decode(lat, st);
          },
          reps, st, 40.0);
      t.tflop = vae->last_flops() / 1e12;
      const auto [absmax, finite] = last_frame_absmax(out);
      row("decode_" + name, t);
      json j = timed_json(t);
      if (cuda::CudnnConv* c = vae->conv().cudnn()) {
        // the autotuned time of each conv shape x its calls in the last decode
        j["conv_estimated_s"] = c->estimated_seconds();
        std::printf("  convs: %.3f s estimated of %.3f s (%.1f TFLOP in convs and attention)\n",
                    c->estimated_seconds(), t.median_s, t.tflop);
      }
      j["output"] = {{"shape", out.shape()}, {"last_frame_absmax", absmax}, {"finite", finite}};
      if (profile && name == "720p_121f") {
        // one more decode with an event after every operation: GPU seconds by kind of work
        out = Tensor();
        vae->set_profiling(true);
        out = vae->decode(lat, st);
        vae->set_profiling(false);
        json pj;
        double total = 0.0;
        std::printf("  profile:");
        for (const auto& [kind, sec] : vae->last_profile()) {
          pj[kind] = sec;
          total += sec;
          std::printf(" %s %.3f s", kind.c_str(), sec);
        }
        std::printf(" (total %.3f s)\n", total);
        j["profile_s"] = pj;
      }
      detail["decode_" + name] = j;
      metrics["vae_decode_" + name + "_s"] = t.median_s;
      metrics["peak_vram_gib_vae_decode_" + name] = t.peak_gib;
    };

    if (!quick) section("decode_720p_121f", [&] { decode_section("720p_121f", 44, 80); });
    if (!quick && tiled) {
      section("decode_720p_121f_tiled", [&] {
        cuda::VaeCudaOptions ot = dec_opt;
        ot.decode_chunk = tile_chunk;
        std::unique_ptr<cuda::VaeCuda> vt;
        if (tile_chunk != dec_opt.decode_chunk) vt = cuda::VaeCuda::random(cfg, 1, ot, st);
        cuda::VaeCuda& v = vt ? *vt : *vae;
        Tensor lat = make_latent(44, 80);
        Tensor out;
        const cuda::TileOptions to{tile, overlap};
        Timed tt = time_runs(
            [&] {
              out = Tensor();
              out = v.decode_tiled(lat, to, st);
            },
            std::min(reps, 2), st, 40.0);
        tt.tflop = v.last_flops() / 1e12;
        const std::string n =
            "decode_720p_121f_tiled" + std::to_string(tile) + "_ov" + std::to_string(overlap);
        row(n, tt);
        json j = timed_json(tt);
        j["tile"] = tile, j["overlap"] = overlap, j["decode_chunk"] = tile_chunk;
        detail[n] = j;
        metrics["vae_decode_720p_121f_tiled_s"] = tt.median_s;
        metrics["vae_decode_720p_121f_budget_peak_gib"] = tt.peak_gib;
      });
    }
    section("decode_480p_121f", [&] { decode_section("480p_121f", 30, 52); });
    report += vae->conv().report();
    vae.reset();
    section("encode_720p_image", [&] {
      cuda::VaeCudaOptions opt;
      opt.decoder = false;
      auto enc = cuda::VaeCuda::random(cfg, 2, opt, st);
      Tensor img = Tensor::empty({3, 1, 704, 1280}, DType::kF32, Device::cuda(0));
      cuda::fill_uniform_f32(static_cast<float*>(img.raw_data()), img.numel(), 7, -1.0f, 1.0f, st);
      Tensor lat;
      Timed t = time_runs(
          [&] {
            lat = Tensor();
            lat = enc->encode(img, st);
          },
          reps, st, 20.0);
      t.tflop = enc->last_flops() / 1e12;
      row("encode_720p_image", t);
      detail["encode_720p_image"] = timed_json(t);
      metrics["vae_encode_720p_image_s"] = t.median_s;
      report += enc->conv().report();
    });
    if (microbench && !quick) {
      section("conv_microbench", [&] { detail["conv_microbench"] = conv_microbench(st, reps); });
    }
    if (chunk2 && !quick) {
      section("decode_720p_121f_chunk2", [&] {
        // two latent frames per decoder chunk (same result, larger GEMMs in the low-resolution
        // levels, more memory)
        cuda::VaeCudaOptions o2 = dec_opt;
        o2.decode_chunk = 2;
        auto vae2 = cuda::VaeCuda::random(cfg, 1, o2, st);
        Tensor lat = make_latent(44, 80);
        Tensor out;
        Timed t2 = time_runs(
            [&] {
              out = Tensor();
              out = vae2->decode(lat, st);
            },
            1, st, 30.0);
        t2.tflop = vae2->last_flops() / 1e12;
        row("decode_720p_121f_chunk2", t2);
        detail["decode_720p_121f_chunk2"] = timed_json(t2);
      });
    }
    std::printf("caching allocator: %s\n", cuda::allocator()->describe().c_str());
    std::printf("total %.1f s\n", elapsed());
    write_json();
    std::printf("wrote %s\n", json_path.c_str());
    cudaStreamDestroy(st);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vae_cuda_bench: %s\n", e.what());
    write_json();
    return 1;
  }
  return 0;
}
