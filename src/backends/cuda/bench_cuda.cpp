// The GPU workloads of `wan22 bench` (see bench_cuda.h): the CUDA engine's parts at the TI2V-5B
// sizes, timed on one stream (each run ends with a stream synchronisation, so host wall time is
// device time plus launch latency), peaks from the caching allocator.
#include "backends/cuda/bench_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/pipeline_cuda.h"
#include "backends/cuda/sched_cuda.h"
#include "backends/cuda/t5_cuda.h"
#include "backends/cuda/vae_cuda.h"
#include "core/status.h"
#include "ops/ops.h"
#include "pipeline/checkpoint.h"
#include "pipeline/noise.h"
#include "pipeline/ti2v_pipeline.h"
#include "perf/sysinfo.h"
#include "plan/hardware.h"
#include "plan/memory_model.h"
#include "plan/planner.h"
#include "sched/scheduler.h"

namespace wan22::cuda {

namespace {

using Clock = std::chrono::steady_clock;
using bench::Metric;

struct Workload {
  std::string name;  // "720p_121f"
  std::string res;   // "720p"
  int64_t width, height, frames;
};

const std::vector<Workload>& all_workloads() {
  static const std::vector<Workload> w = {{"720p_121f", "720p", 1280, 704, 121},
                                          {"480p_121f", "480p", 832, 480, 121},
                                          {"720p_49f", "720p", 1280, 704, 49},
                                          {"720p_1f", "720p", 1280, 704, 1}};  // a single image
  return w;
}
const std::vector<std::string> kParts = {"dit", "vae", "text", "generate", "load"};

double gib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); }

// The kernel driver's release ("580.159.04") from /proc/driver/nvidia/version, or "".
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

std::string version_str(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

// Seconds of each of `repeats` runs of fn after `warmup` untimed runs; every run ends synchronised.
template <class Fn>
std::vector<double> time_runs(Fn&& fn, int warmup, int repeats, cudaStream_t st) {
  for (int i = 0; i < warmup; ++i) {
    fn();
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  }
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = Clock::now();
    fn();
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return t;
}

Metric value_metric(const std::string& name, double v, const std::string& unit, bench::Better better,
                    const std::string& note) {
  Metric m;
  m.name = name;
  m.value = v;
  m.unit = unit;
  m.better = better;
  m.note = note;
  return m;
}

class Runner {
 public:
  Runner(const BenchOptions& o, CudaEngine& eng, pipeline::Ti2vPipeline& pipe, std::string weights)
      : o_(o), eng_(eng), pipe_(pipe), weights_(std::move(weights)), st_(eng.stream()),
        fp8_(o.dit_fp8 ? "fp8_" : "") {}

  std::vector<Metric> metrics;

  void dit(const Workload& w) {
    const auto& c = eng_.dit_config();
    const int64_t F = (w.frames - 1) / 4 + 1, h = w.height / 16, wd = w.width / 16;
    const int64_t tokens = F * (h / c.patch_size[1]) * (wd / c.patch_size[2]);
    Tensor latent = Tensor::empty({c.in_dim, F, h, wd}, DType::kF32, Device::cuda(0));
    fill_uniform_f32(latent.data<float>(), latent.numel(), 11, -1.0f, 1.0f, st_);
    Tensor ctx = Tensor::empty({c.text_len, c.text_dim}, DType::kBF16, Device::cuda(0));
    Tensor ctx_u = Tensor::empty({c.text_len, c.text_dim}, DType::kBF16, Device::cuda(0));
    fill_uniform_bf16(static_cast<bf16*>(ctx.raw_data()), ctx.numel(), 12, -1.0f, 1.0f, st_);
    fill_uniform_bf16(static_cast<bf16*>(ctx_u.raw_data()), ctx_u.numel(), 13, -1.0f, 1.0f, st_);
    DitInputs in;
    in.latent = latent.data<float>();
    in.frames = F, in.height = h, in.width = wd;
    in.context = static_cast<const bf16*>(ctx.raw_data());
    in.context_len = c.text_len;
    in.timestep = 900.0;
    const double flops = eng_.dit().flops(tokens);
    Tensor out, out_u;
    const std::string base = note("one DiT forward, batch 1, " + std::to_string(tokens) + " tokens");
    for (bool i2v : {false, true}) {
      in.first_frame_clean = i2v;
      allocator()->reset_peak();
      // The t2v runs warm up the kernels, plans and GEMM autotuning of this size for the rest.
      auto t = time_runs([&] { eng_.dit().forward(in, out, st_); }, i2v ? 0 : o_.warmup, o_.repeats, st_);
      const std::string name = "dit_forward_" + fp8_ + (i2v ? "i2v_" : "") + w.name;
      add(bench::timing_metric(name + "_s", t,
                               base + (i2v ? "; image-to-video (frame 0 at t=0); warm from the t2v runs" : "")));
      add(value_metric(name + "_tflops", flops / bench::median(t) / 1e12, "TFLOP/s", bench::Better::kHigher,
                       "GEMM + attention FLOPs / median time"));
      add(value_metric(name + "_peak_gib", gib(allocator()->caching_stats().peak_bytes), "GiB", bench::Better::kLower,
                       "caching allocator high-water mark, weights included"));
    }
    // The CFG pair as the denoising loop runs it.
    in.first_frame_clean = false;
    auto t = time_runs([&] { eng_.dit().forward_cfg(in, static_cast<const bf16*>(ctx_u.raw_data()), c.text_len, out,
                                                     out_u, st_); },
                       0, o_.repeats, st_);
    add(bench::timing_metric("dit_forward_cfg_" + fp8_ + w.name + "_s", t,
                             note("the CFG pair of one denoising step (forward_cfg), " + std::to_string(tokens) +
                                  " tokens per branch; warm from the t2v runs")));
    add(value_metric("dit_forward_cfg_" + fp8_ + w.name + "_tflops", 2 * flops / bench::median(t) / 1e12, "TFLOP/s",
                     bench::Better::kHigher, "2 forwards' FLOPs / median time"));
    cfg_median_[w.name] = bench::median(t);
  }

  void vae(const Workload& w) {
    const auto& vc = eng_.vae().config();
    const int64_t F = (w.frames - 1) / vc.temporal_stride() + 1;
    const int64_t h = w.height / vc.spatial_stride(), wd = w.width / vc.spatial_stride();
    Tensor latent = Tensor::empty({vc.z_dim, F, h, wd}, DType::kF32, Device::cuda(0));
    fill_uniform_f32(latent.data<float>(), latent.numel(), 21, -2.0f, 2.0f, st_);
    allocator()->reset_peak();
    const uint64_t before = allocator()->caching_stats().current_bytes;
    Tensor video;
    auto t = time_runs(
        [&] {
          video = Tensor();
          video = eng_.vae().decode(latent, st_);
        },
        o_.warmup, o_.repeats, st_);
    const double flops = eng_.vae().last_flops();
    video = Tensor();
    add(bench::timing_metric("vae_decode_" + w.name + "_s", t,
                             note("VAE decode of a [" + std::to_string(vc.z_dim) + ", " + std::to_string(F) + ", " +
                                  std::to_string(h) + ", " + std::to_string(wd) + "] latent to " +
                                  std::to_string(w.frames) + " frames, causal chunks")));
    if (flops > 0) {
      add(value_metric("vae_decode_" + w.name + "_tflops", flops / bench::median(t) / 1e12, "TFLOP/s",
                       bench::Better::kHigher, "conv + attention FLOPs / median time"));
    }
    add(value_metric("vae_decode_" + w.name + "_peak_gib",
                     gib(allocator()->caching_stats().peak_bytes - before), "GiB", bench::Better::kLower,
                     "caching allocator high-water mark above what was allocated before (input latent and "
                     "the output video included; resident weights excluded)"));
    // The image-to-video image encode (one frame), once per resolution.
    if (!encoded_res_.insert(w.res).second) return;
    Tensor image = Tensor::empty({3, 1, w.height, w.width}, DType::kF32, Device::cuda(0));
    fill_uniform_f32(image.data<float>(), image.numel(), 22, -1.0f, 1.0f, st_);
    Tensor z;
    t = time_runs(
        [&] {
          z = Tensor();
          z = eng_.vae().encode(image, st_);
        },
        o_.warmup, o_.repeats, st_);
    add(bench::timing_metric("vae_encode_" + w.res + "_s", t,
                             note("VAE encode of one " + std::to_string(w.width) + "x" + std::to_string(w.height) +
                                  " image (the image-to-video first frame)")));
  }

  void text() {
    T5Cuda* t5 = eng_.t5_cuda();
    if (!t5) return;
    const int64_t L = 512;
    Tensor ids = Tensor::empty({1, L}, DType::kI64);
    std::mt19937_64 rng(31);
    for (int64_t k = 0; k < L; ++k) ids.data<int64_t>()[k] = static_cast<int64_t>(rng() % static_cast<uint64_t>(t5->config().vocab));
    Tensor mask = Tensor::full({1, L}, 1.0f);
    Tensor out;
    auto t = time_runs(
        [&] {
          out = Tensor();
          out = t5->forward(ids, mask, st_);
        },
        o_.warmup, o_.repeats, st_);
    add(bench::timing_metric("text_encode_512_s", t, note("UMT5 encoder, one prompt of 512 real tokens")));
    add(value_metric("text_encode_512_tflops", t5->flops(1, L) / bench::median(t) / 1e12, "TFLOP/s",
                     bench::Better::kHigher, "GEMM + attention FLOPs / median time"));
  }

  // One whole generation. `variant`: "" (the engine as loaded: every component resident) or
  // "budget8" (a memory-planned engine: metric names generate_<w>_budget8_*; the peak is the
  // device memory of the process: allocator reservations + what lies outside the allocator).
  void generate(const Workload& w, const std::string& variant = "") {
    allocator()->reset_peak();
    std::vector<double> steps;
    pipeline::DenoiseParams p;
    p.steps = o_.generate_steps;
    p.shift = 5.0;
    p.guidance = 5.0;
    p.solver = "unipc";
    double text_s = 0, denoise_s = 0, decode_s = 0;
    const auto t0 = Clock::now();
    if (!o_.model_dir.empty() && !o_.random_weights) {
      pipeline::GenerateRequest req;
      req.prompt = "A white cat in sunglasses relaxes on a surfboard on a sunny beach, cinematic light";
      req.width = static_cast<int>(w.width);
      req.height = static_cast<int>(w.height);
      req.frames = static_cast<int>(w.frames);
      req.denoise = p;
      req.seed = 42;
      auto r = pipe_.generate(req, [&](int, int, double s) { steps.push_back(s); });
      for (const auto& s : r.stages) {
        if (s.stage == "text_encode") text_s = s.seconds;
        if (s.stage == "denoise") denoise_s = s.seconds;
        if (s.stage == "vae_decode") decode_s = s.seconds;
      }
    } else {
      // Random weights have no tokenizer: the same stages with random token ids of two prompts
      // of 512 real tokens (the longest the DiT takes).
      auto ta = Clock::now();
      const auto& c = eng_.dit_config();
      models::text::TokenizedBatch tok;
      std::vector<Tensor> ctx;
      if (eng_.has_text_encoder()) {
        tok.ids = Tensor::empty({1, c.text_len}, DType::kI64);
        tok.mask = Tensor::full({1, c.text_len}, 1.0f).to(DType::kI64);
        std::mt19937_64 rng(41);
        for (int prompt = 0; prompt < 2; ++prompt) {
          for (int64_t k = 0; k < c.text_len; ++k) {
            tok.ids.data<int64_t>()[k] = static_cast<int64_t>(rng() % 32000u) + 100;
          }
          ctx.push_back(eng_.encode_text(tok)[0]);
        }
      } else {
        for (int prompt = 0; prompt < 2; ++prompt) ctx.push_back(Tensor::full({c.text_len, c.text_dim}, 0.01f));
      }
      text_s = std::chrono::duration<double>(Clock::now() - ta).count();
      const auto geo = eng_.geometry();
      ta = Clock::now();
      Tensor noise = pipeline::gaussian_noise({geo.z_dim, (w.frames - 1) / geo.vae_temporal_stride + 1,
                                               w.height / geo.vae_spatial_stride, w.width / geo.vae_spatial_stride},
                                              42);
      Tensor latent = pipe_.denoise(noise, ctx[0], ctx[1], Tensor(), p, [&](int, int, double s) { steps.push_back(s); });
      denoise_s = std::chrono::duration<double>(Clock::now() - ta).count();
      ta = Clock::now();
      Tensor video = pipe_.decode_clamped(latent);
      decode_s = std::chrono::duration<double>(Clock::now() - ta).count();
    }
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
    const std::string steps_tag = std::to_string(o_.generate_steps) + "steps";
    const std::string tag = variant.empty() ? fp8_ + w.name + "_" + steps_tag
                                            : fp8_ + w.name + "_" + variant +
                                                  (o_.generate_steps == 50 ? std::string() : "_" + steps_tag);
    add(bench::timing_metric("generate_" + tag + "_s", {total},
                             note("whole generation run ONCE (not a median): text encoding of the prompt and the "
                                  "negative prompt, " + std::to_string(o_.generate_steps) +
                                  " UniPC steps with CFG (guidance 5), VAE decode, clamp, video to host")));
    add(bench::timing_metric("generate_" + tag + "_text_s", {text_s}, note("text encoding stage of that run")));
    add(bench::timing_metric("generate_" + tag + "_denoise_s", {denoise_s}, note("denoising stage of that run")));
    add(bench::timing_metric("generate_" + tag + "_decode_s", {decode_s}, note("VAE decode stage of that run")));
    add(bench::timing_metric("generate_" + tag + "_step_s", steps,
                             note("median denoising step of that run (CFG pair + solver)")));
    if (auto it = cfg_median_.find(w.name); it != cfg_median_.end() && !steps.empty()) {
      add(value_metric("generate_" + tag + "_step_overhead_ms", (bench::median(steps) - it->second) * 1e3, "ms",
                       bench::Better::kLower,
                       "median step minus the median CFG-pair forward: the loop's own cost (CFG combine, "
                       "solver, frame hold, synchronisation) -- the most a CUDA graph of the step could save"));
    }
    if (variant.empty()) {
      add(value_metric("peak_vram_gib_generate_" + fp8_ + w.name, gib(allocator()->caching_stats().peak_bytes), "GiB",
                       bench::Better::kLower, "caching allocator high-water mark of the whole generation, "
                       "resident weights of every component included"));
      return;
    }
    // Memory-planned run: the device memory of each stage as the engine recorded it.
    double peak = 0;
    for (const StageMemoryUse& u : eng_.memory_use()) {
      peak = std::max(peak, u.device_peak_bytes());
      const std::string stage = plan::stage_name(u.stage);
      add(value_metric("generate_" + tag + "_" + stage + "_peak_gib", u.device_peak_bytes() / plan::kGiB, "GiB",
                       bench::Better::kLower,
                       "device memory of the stage: allocator reservations high-water " +
                           plan::gib_str(u.reserved_peak_bytes) + " (handed out " + plan::gib_str(u.alloc_peak_bytes) +
                           ") + outside the allocator " + plan::gib_str(u.outside_bytes) + "; plan " + u.plan));
      if (u.stage == plan::Stage::kVaeDecode) {
        add(value_metric("vae_decode_" + fp8_ + w.name + "_budget_peak_gib", u.device_peak_bytes() / plan::kGiB, "GiB",
                         bench::Better::kLower, "the VAE decode stage of the budgeted generation (see above)"));
      }
    }
    add(value_metric("generate_" + tag + "_peak_gib", peak / plan::kGiB, "GiB", bench::Better::kLower,
                     "device memory of the process over the whole budgeted generation: the largest stage's "
                     "allocator reservations + CUDA context, handles and workspaces; plan " + eng_.plan().str()));
    for (const std::string& n : eng_.notices()) {
      if (o_.on_progress) o_.on_progress("budget run: " + n);
    }
  }

  // The loop's own elementwise work per step (CFG combine + UniPC step + frame hold), launched
  // directly and replayed as a CUDA graph. A failure is reported, not thrown: it measures an option.
  void step_graph(const Workload& w) {
    try {
      step_graph_impl(w);
    } catch (const std::exception& e) {
      cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
      if (cudaStreamIsCapturing(st_, &cs) == cudaSuccess && cs != cudaStreamCaptureStatusNone) {
        cudaGraph_t g = nullptr;
        cudaStreamEndCapture(st_, &g);
        if (g) cudaGraphDestroy(g);
      }
      cudaGetLastError();
      if (o_.on_progress) o_.on_progress(std::string("sched step graph measurement failed: ") + e.what());
    }
  }

  void step_graph_impl(const Workload& w) {
    const auto geo = eng_.geometry();
    const Shape shape{geo.z_dim, (w.frames - 1) / geo.vae_temporal_stride + 1, w.height / geo.vae_spatial_stride,
                      w.width / geo.vae_spatial_stride};
    CudaStepExecutor& ex = dynamic_cast<CudaStepExecutor&>(eng_.executor());
    auto rnd = [&](uint64_t seed) {
      Tensor t = Tensor::empty(shape, DType::kF32, Device::cuda(0));
      fill_uniform_f32(t.data<float>(), t.numel(), seed, -1.0f, 1.0f, st_);
      return t;
    };
    const Tensor cond = rnd(51), uncond = rnd(52), x0 = rnd(53);
    Tensor image = rnd(54);
    sched::LinProgram cfg;
    {
      const auto c = cfg.add_input(), u = cfg.add_input();
      cfg.output(cfg.lin(1.0f, u, 1.0f, cfg.scale(5.0f, cfg.sub(c, u))));
    }
    const int n = 50;
    auto sched = sched::make_scheduler("unipc");
    sched->set_executor(ex);
    // one loop of n steps of the elementwise work (what a graph of the step would hold besides the DiT)
    auto loop = [&] {
      sched->set_timesteps(n, 5.0);
      Tensor lat = x0;
      for (int i = 0; i < n; ++i) {
        Tensor pred = ex.run(cfg, {cond, uncond})[0];
        lat = sched->step(pred, i, lat);
        Tensor f0 = lat.select(1, 0);
        ex.copy(image.select(1, 0), f0);
      }
    };
    auto t = time_runs(loop, 1, o_.repeats, st_);
    add(value_metric("sched_step_" + w.name + "_ms", bench::median(t) / n * 1e3, "ms", bench::Better::kLower,
                     note("CFG combine + UniPC update + frame-0 hold on the device, per step (direct launches)")));
    // The same kernels of one step captured once and replayed n times (relaxed capture: the caching
    // allocator serves the outputs; they stay alive while the graph runs).
    sched->set_timesteps(n, 5.0);
    Tensor lat = x0;
    Tensor pred = ex.run(cfg, {cond, uncond})[0];
    lat = sched->step(pred, 0, lat);  // warms up the allocator and the solver history
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    WAN22_CUDA_CHECK(cudaStreamBeginCapture(st_, cudaStreamCaptureModeRelaxed));
    Tensor pred2 = ex.run(cfg, {cond, uncond})[0];
    Tensor lat2 = sched->step(pred2, 1, lat);
    Tensor f0 = lat2.select(1, 0);
    ex.copy(image.select(1, 0), f0);
    WAN22_CUDA_CHECK(cudaStreamEndCapture(st_, &graph));
    WAN22_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    auto tg = time_runs(
        [&] {
          for (int i = 0; i < n; ++i) WAN22_CUDA_CHECK(cudaGraphLaunch(exec, st_));
        },
        1, o_.repeats, st_);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    add(value_metric("sched_step_graph_" + w.name + "_ms", bench::median(tg) / n * 1e3, "ms", bench::Better::kLower,
                     note("the same step's kernels captured in a CUDA graph, replayed")));
  }

 private:
  void add(Metric m) {
    if (o_.on_progress) {
      std::ostringstream os;
      os << m.name << " = " << m.value << " " << m.unit;
      o_.on_progress(os.str());
    }
    metrics.push_back(std::move(m));
  }
  std::string note(const std::string& what) const {
    return what + "; " + weights_ + "; median of " + std::to_string(o_.repeats) + " after " +
           std::to_string(o_.warmup) + " warm-up";
  }

  const BenchOptions& o_;
  CudaEngine& eng_;
  pipeline::Ti2vPipeline& pipe_;
  std::string weights_;
  cudaStream_t st_;
  std::string fp8_;  // "fp8_" in the DiT and generation metric names with fp8 DiT weights
  std::map<std::string, double> cfg_median_;
  std::set<std::string> encoded_res_;
};

template <class T>
bool wanted(const std::vector<T>& list, const T& x) {
  return list.empty() || std::find(list.begin(), list.end(), x) != list.end();
}

// The planner's plan for one workload under opts.vram_budget_gib (the TI2V-5B sizes, this GPU).
struct PlannedRun {
  plan::Plan plan;
  plan::MemoryEstimate memory;  // the memory model's stages (allocator + workspaces + margin)
  double context = 0;           // device bytes outside the allocator before the engine (CUDA context)
  double predicted_peak = 0;    // bytes: the largest stage + the context
  double predicted_step_s = 0;  // the time model's denoising step for the plan
  // The process: the stage + the CUDA context + the libraries' memory outside the allocator (the
  // engine's reserve: ~0.32 of its 0.375 GiB fill on the H200, run J).
  double stage_peak(plan::Stage s) const {
    const plan::StageMemory* m = memory.stage(s);
    return m ? m->device_bytes + context + plan::kWorkspaceReserveBytes : 0.0;
  }
};

PlannedRun plan_for(const BenchOptions& opts, int64_t width, int64_t height, int64_t frames) {
  const plan::ModelSpec m = opts.random_weights || opts.model_dir.empty() ? plan::model_preset("ti2v-5b")
                                                                           : plan::resolve_model(opts.model_dir);
  plan::Workload w;
  w.model = m.name;
  w.width = static_cast<int>(width);
  w.height = static_cast<int>(height);
  w.frames = static_cast<int>(frames);
  w.steps = opts.generate_steps;
  w.guidance = 5.0;
  perf::SysinfoOptions so;
  so.use_hwloc = false;
  plan::Hardware hw = plan::hardware_from_sysinfo(perf::collect_sysinfo(so));
  // The budget covers the process: the planner takes off the CUDA context (measured now) and the
  // workspace reserve, as the engine does when it caps its allocator; the predictions add the
  // context back.
  const double context = device_context_bytes();
  if (hw.gpu) hw.gpu->context_bytes = static_cast<uint64_t>(context);
  plan::PlannerOptions po;
  po.budget_gib = opts.vram_budget_gib;
  po.vae_budget_gib = opts.vae_budget_gib > 0 ? opts.vae_budget_gib : opts.vram_budget_gib / 2;
  po.allow_quantization = false;
  PlannedRun r;
  if (opts.dit_fp8) {
    // fp8 DiT weights asked for: plan with that format fixed (the planner only quantizes when it must).
    po.allow_quantization = true;
  }
  plan::PlanResult pr = opts.budget_plan ? plan::evaluate_plan(m, w, hw, *opts.budget_plan, po) : plan::make_plan(m, w, hw, po);
  if (opts.dit_fp8 && pr.plan.dit_format != plan::WeightFormat::kFP8) {
    plan::Plan p = pr.plan;
    p.dit_format = plan::WeightFormat::kFP8;
    pr = plan::evaluate_plan(m, w, hw, p, po);
  }
  r.plan = pr.plan;
  r.memory = pr.memory;
  r.context = context;
  r.predicted_peak = pr.memory.peak_device + r.context + plan::kWorkspaceReserveBytes;
  r.predicted_step_s = pr.time.step_s;
  return r;
}

}  // namespace

std::vector<Metric> run_bench(const BenchOptions& opts) {
  std::vector<std::string> names = opts.workloads;
  names.insert(names.end(), opts.generate_workloads.begin(), opts.generate_workloads.end());
  for (const auto& w : names) {
    const auto& all = all_workloads();
    if (std::none_of(all.begin(), all.end(), [&](const Workload& x) { return x.name == w; })) {
      throw Error(ErrorCode::kInvalidArgument, "bench: unknown workload '" + w + "' (720p_121f, 480p_121f, 720p_49f, 720p_1f)");
    }
  }
  for (const auto& p : opts.parts) {
    if (std::find(kParts.begin(), kParts.end(), p) == kParts.end()) {
      throw Error(ErrorCode::kInvalidArgument, "bench: unknown part '" + p + "' (dit, vae, text, generate, load)");
    }
  }
  if (opts.repeats < 1 || opts.warmup < 0 || opts.generate_steps < 1) {
    throw Error(ErrorCode::kInvalidArgument, "bench: repeats >= 1, warmup >= 0 and generate_steps >= 1 needed");
  }
  init();  // throws Error(kUnsupported) naming the reason without a GPU
  allocator()->set_budget(0);

  std::vector<Metric> out;
  const bool load_wanted = std::find(opts.parts.begin(), opts.parts.end(), "load") != opts.parts.end();
  if (load_wanted) {
    out = run_load_bench(opts);
    if (opts.parts.size() == 1) return out;  // "load" alone
  }
  const std::vector<std::string>& gen_w = opts.generate_workloads.empty() ? opts.workloads : opts.generate_workloads;
  const bool gen_wanted = wanted(opts.parts, std::string("generate"));
  const bool random = opts.random_weights || opts.model_dir.empty();
  std::optional<pipeline::CheckpointPaths> paths;
  if (!random) paths = pipeline::locate_checkpoint(opts.model_dir);
  auto make_engine = [&](const CudaEngineOptions& eo, std::string& weights, bool with_text) {
    std::unique_ptr<CudaEngine> engine;
    if (random) {
      RandomEngineSpec spec;
      spec.dit = ti2v_5b_dit_config();
      spec.vae = models::vae::official_wan22_vae_config();
      if (with_text) spec.t5 = models::text::umt5_xxl_config();
      engine = CudaEngine::random(spec, eo);
      weights = opts.dit_fp8 ? "TI2V-5B sizes, random weights (DiT blocks fp8 e4m3, the rest bf16)"
                             : "TI2V-5B sizes, random bf16 weights";
    } else {
      engine = CudaEngine::load(*paths, eo);
      weights = "checkpoint " + paths->root;
    }
    return engine;
  };
  auto tokenizer = [&]() -> std::optional<models::text::T5Tokenizer> {
    if (random) return std::nullopt;
    return models::text::T5Tokenizer::load(paths->tokenizer);
  };

  // ---- every component resident (no budget) ----
  {
    std::string weights;
    const auto t_load = Clock::now();
    CudaEngineOptions eo;
    if (opts.dit_fp8) eo.plan.dit_format = plan::WeightFormat::kFP8;
    const bool with_text = wanted(opts.parts, std::string("text")) || gen_wanted;
    std::unique_ptr<CudaEngine> engine = make_engine(eo, weights, with_text);
    const double load_s = std::chrono::duration<double>(Clock::now() - t_load).count();
    CudaEngine& eng = *engine;
    pipeline::Ti2vPipeline pipe(std::move(engine), tokenizer());
    Runner r(opts, eng, pipe, weights);
    r.metrics.push_back(value_metric("load_s", load_s, "s", bench::Better::kLower,
                                     "engine creation (" + weights + "): weights on the device"));
    // Per workload: its forward and VAE timings, then (where asked) its whole generation, so that the
    // costly measurements of the first workload come before the others'.
    bool text_done = false;
    for (const Workload& w : all_workloads()) {
      const bool gen = gen_wanted && wanted(gen_w, w.name);
      if (wanted(opts.workloads, w.name)) {
        if (wanted(opts.parts, std::string("dit"))) r.dit(w);
        if (wanted(opts.parts, std::string("vae"))) r.vae(w);
      }
      if ((gen || wanted(opts.workloads, w.name)) && !text_done && wanted(opts.parts, std::string("text"))) {
        r.text();
        text_done = true;
      }
      if (gen && !opts.budget_only) {
        r.generate(w);
        r.step_graph(w);
      }
    }
    out.insert(out.end(), r.metrics.begin(), r.metrics.end());
  }
  allocator()->empty_cache();

  // ---- the same generations under the VRAM budget: a planned engine per workload ----
  if (opts.vram_budget_gib > 0 && gen_wanted) {
    char bud[32];
    std::snprintf(bud, sizeof bud, "%g", opts.vram_budget_gib);
    const std::string variant = std::string("budget") + bud;
    for (const Workload& w : all_workloads()) {
      if (!wanted(gen_w, w.name)) continue;
      allocator()->empty_cache();  // the previous engine's memory back to the device
      PlannedRun pr = plan_for(opts, w.width, w.height, w.frames);
      if (opts.on_progress) {
        opts.on_progress("budget " + plan::gib_str(opts.vram_budget_gib * plan::kGiB) + ", " + w.name + ": plan " +
                         pr.plan.str() + " (predicted peak " + plan::gib_str(pr.predicted_peak) + ")");
      }
      CudaEngineOptions eo;
      eo.plan = pr.plan;
      eo.vram_budget_bytes = opts.vram_budget_gib * plan::kGiB;
      eo.on_notice = opts.on_progress;
      std::string weights;
      std::unique_ptr<CudaEngine> engine = make_engine(eo, weights, true);
      CudaEngine& eng = *engine;
      pipeline::Ti2vPipeline pipe(std::move(engine), tokenizer());
      Runner r(opts, eng, pipe, weights + "; VRAM budget " + plan::gib_str(eo.vram_budget_bytes) + ", plan " +
                                    pr.plan.str());
      r.generate(w, variant);
      const std::string tag = (opts.dit_fp8 ? "fp8_" : "") + w.name + "_" + variant +
                              (opts.generate_steps == 50 ? std::string()
                                                         : "_" + std::to_string(opts.generate_steps) + "steps");
      // The memory model's prediction of each measured peak (bench reports pair predicted_<name> with <name>).
      const std::string pnote = "the planner's memory model for this plan: the stage's allocator bytes, workspaces "
                                "and fragmentation margin + the CUDA context measured before the engine (" +
                                plan::gib_str(pr.context) + ") + the libraries' memory outside the allocator (the "
                                "engine's reserve, " + plan::gib_str(plan::kWorkspaceReserveBytes) + ")";
      for (const StageMemoryUse& u : eng.memory_use()) {
        const std::string stage = plan::stage_name(u.stage);
        r.metrics.push_back(value_metric("predicted_generate_" + tag + "_" + stage + "_peak_gib",
                                         pr.stage_peak(u.stage) / plan::kGiB, "GiB", bench::Better::kLower, pnote));
        if (u.stage == plan::Stage::kVaeDecode) {
          r.metrics.push_back(value_metric("predicted_vae_decode_" + std::string(opts.dit_fp8 ? "fp8_" : "") + w.name +
                                               "_budget_peak_gib",
                                           pr.stage_peak(u.stage) / plan::kGiB, "GiB", bench::Better::kLower, pnote));
        }
      }
      r.metrics.push_back(value_metric("predicted_generate_" + tag + "_peak_gib", pr.predicted_peak / plan::kGiB, "GiB",
                                       bench::Better::kLower, pnote));
      r.metrics.push_back(value_metric("predicted_generate_" + tag + "_step_s", pr.predicted_step_s, "s",
                                       bench::Better::kLower, "the planner's time model for this plan: one denoising step"));
      // The slowdown against the unconstrained generation of this run, where it ran.
      const std::string free_name = "generate_" + std::string(opts.dit_fp8 ? "fp8_" : "") + w.name + "_" +
                                    std::to_string(opts.generate_steps) + "steps_s";
      for (const Metric& m : out) {
        if (m.name != free_name) continue;
        for (const Metric& b : r.metrics) {
          if (b.name == "generate_" + tag + "_s" && m.value > 0) {
            r.metrics.push_back(value_metric("generate_" + tag + "_slowdown", b.value / m.value, "x",
                                             bench::Better::kLower,
                                             "budgeted generation time / unconstrained (" + free_name + ")"));
            break;
          }
        }
        break;
      }
      out.insert(out.end(), r.metrics.begin(), r.metrics.end());
    }
  }
  return out;
}

MachineInfo machine_info() {
  MachineInfo m;
  if (device_count() == 0) return m;
  const auto devs = devices();
  if (!devs.empty()) m.gpu = devs.front().name;
  m.driver = driver_release();
  int rt = 0, drv = 0;
  if (cudaRuntimeGetVersion(&rt) == cudaSuccess) m.cuda = version_str(rt);
  if (m.driver.empty() && cudaDriverGetVersion(&drv) == cudaSuccess) m.driver = "CUDA " + version_str(drv);
  return m;
}

}  // namespace wan22::cuda
