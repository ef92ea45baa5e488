// The CUDA engine of the TI2V pipeline (see pipeline_cuda.h).
#include "backends/cuda/pipeline_cuda.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cache.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/pipeline_cuda_kernels.h"
#include "backends/cuda/sched_cuda.h"
#include "backends/cuda/t5_cuda.h"
#include "backends/cuda/vae_cuda.h"
#include "core/status.h"
#include "models/text/t5_encoder.h"
#include "pipeline/model_loading.h"
#include "plan/memory_model.h"
#include "plan/planner.h"
#include "bench/host_memory.h"
#include "core/log.h"

namespace wan22::cuda {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// One blocking stream (ordered with the legacy default stream, which some library calls use).
class Stream {
 public:
  Stream() { WAN22_CUDA_CHECK(cudaStreamCreate(&s_)); }
  ~Stream() {
    if (s_) {
      cudaStreamSynchronize(s_);
      cudaStreamDestroy(s_);
    }
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// A prompt's encoder rows [n, text_dim] (host f32) as the DiT's bf16 context on the device; the
// DiT zero-pads it to text_len.
struct DeviceContext {
  Tensor rows;  // bf16 [n, text_dim]
  int64_t n = 0;
};

DeviceContext upload_context(const Tensor& host, int64_t text_dim, int64_t text_len, CudaStepExecutor& exec) {
  if (host.ndim() != 2 || host.dim(1) != text_dim) {
    throw Error(ErrorCode::kInvalidArgument, "text context " + host.str() + " does not match the DiT's text_dim " +
                                                 std::to_string(text_dim) + " ([n, text_dim] expected)");
  }
  if (host.dim(0) > text_len || host.dim(0) < 1) {
    throw Error(ErrorCode::kInvalidArgument, "text context has " + std::to_string(host.dim(0)) +
                                                 " rows; the DiT takes 1.." + std::to_string(text_len));
  }
  const Tensor f32 = exec.upload(host);
  DeviceContext c;
  c.n = host.dim(0);
  c.rows = Tensor::empty(host.shape(), DType::kBF16, exec.device());
  f32_to_bf16(f32.data<float>(), static_cast<bf16*>(c.rows.raw_data()), f32.numel(), exec.stream());
  // `f32` goes back to the caching allocator; its reuse is ordered on the same stream.
  return c;
}

}  // namespace

struct CudaEngine::Impl {
  Stream stream;  // first: destroyed last
  models::dit::DitConfig dit_cfg;
  std::unique_ptr<DitCuda> dit;
  std::unique_ptr<VaeCuda> vae;
  std::unique_ptr<T5Cuda> t5;
  std::optional<models::text::T5Encoder> t5_cpu;
  std::unique_ptr<CudaStepExecutor> exec;
  std::string device_name;
  CudaEngineOptions opts;
  plan::Plan plan;                    // in force (after backoff)
  std::optional<pipeline::CheckpointPaths> paths;  // a loaded checkpoint (reloads, CPU text encoder)
  uint64_t seed = 0;                  // random weights
  double outside = 0;                 // device bytes outside the allocator
  std::vector<StageMemoryUse> use;    // one per stage, the last run
  std::vector<std::string> notices;
  std::vector<ComponentLoad> loads;
  bool quality_checked = false;
  double quality_cosine = -1.0;

  Impl() : exec(std::make_unique<CudaStepExecutor>(stream.get())) {
    const auto devs = devices();
    device_name = devs.empty() ? std::string("?") : devs.front().name;
  }

  cudaStream_t st() const { return stream.get(); }

  void notice(const std::string& m) {
    notices.push_back(m);
    if (opts.on_notice) {
      opts.on_notice(m);
    } else {
      LOG_WARN << m;
    }
  }

  WeightFormat dit_format() const {
    switch (plan.dit_format) {
      case plan::WeightFormat::kFP8: return WeightFormat::kFP8;
      case plan::WeightFormat::kBF16: return WeightFormat::kBF16;
      case plan::WeightFormat::kInt8: return WeightFormat::kInt8;
      default:
        throw Error(ErrorCode::kUnsupported, std::string("CUDA engine: DiT weights in ") +
                                                 plan::format_name(plan.dit_format) +
                                                 " are not supported (bf16, fp8 or int8)");
    }
  }
  int dit_blocks_for_denoise() const {
    return plan.dit == plan::Placement::kResident ? -1 : plan.dit_resident_blocks;
  }

  // Device memory outside the caching allocator: used - reserved, right after the components are
  // up (context, cuBLAS/cuDNN handles; workspaces come with the first calls and are bounded).
  void measure_outside() { outside = device_bytes_outside_allocator(); }
  void apply_budget() {
    if (opts.allocator_cap_bytes > 0) {
      allocator()->set_budget(static_cast<size_t>(opts.allocator_cap_bytes));
      return;
    }
    if (opts.vram_budget_bytes <= 0) return;
    const double cap = opts.vram_budget_bytes - outside;
    if (cap < 1024.0 * 1024) {
      throw Error(ErrorCode::kOutOfMemory,
                  "--vram-budget " + plan::gib_str(opts.vram_budget_bytes) + " leaves no room: the CUDA context, "
                  "library handles and workspaces alone take " + plan::gib_str(outside));
    }
    allocator()->set_budget(static_cast<size_t>(cap));
  }

  // Moves the weights where the plan wants them for `stage` (weights of other stages leave the
  // device first, so the stage's own fit in the budget).
  void arrange(plan::Stage stage) {
    const bool denoise = stage == plan::Stage::kDenoise;
    const bool vae_stage = stage == plan::Stage::kVaeDecode || stage == plan::Stage::kImageEncode;
    if (!denoise && plan.dit == plan::Placement::kStreamed && dit->resident_blocks() > 0) {
      dit->release_device_weights(st());
    }
    if (!vae_stage && plan.vae == plan::Placement::kOffloaded) vae->offload(st());
    if (t5) {
      if (stage == plan::Stage::kTextEncode && plan.text == plan::Placement::kResident) {
        t5->restore(st());
        t5->set_resident_layers(-1, st());
      } else if (plan.text != plan::Placement::kResident) {
        t5->offload(st());  // streamed: layer by layer from pinned host memory when it runs
      }
    }
    if (denoise) {
      dit->set_resident_blocks(dit_blocks_for_denoise(), st());
      dit->set_segments(std::max(1, plan.checkpoint_segments));
      dit->set_attention_slice(std::max(0, plan.attention_slice));
    }
    // Under a budget the VAE encoder (image-to-video only) waits in pinned host memory.
    if ((opts.vram_budget_bytes > 0 || opts.allocator_cap_bytes > 0) && stage != plan::Stage::kImageEncode)
      vae->offload_encoder(st());
    if (vae_stage) {
      // decode brings the decoder back, encode the encoder (each only the part it runs)
      vae->set_reuse_buffers(plan.vae_reuse_buffers);
    }
    allocator()->empty_cache();  // what left the device goes back to it
  }

  // The DiT's weights from the checkpoint, through the model cache when it is on (dit_cache.h).
  std::string load_dit_weights(DitCuda& d, const io::WeightStore& ws, const DitLoadOptions& lo, double* write_s,
                               bool write_cache = true) {
    return load_dit_cached(d, ws, lo, opts.model_cache, st(), [this](const std::string& m) { notice(m); }, write_s,
                           write_cache);
  }

  // DiT weights in another format (backoff to fp8): rebuilt from the checkpoint or the seed.
  void reload_dit() {
    const WeightFormat f = dit_format();
    if (dit->format() == f) return;
    dit.reset();
    allocator()->empty_cache();
    dit = std::make_unique<DitCuda>(dit_config_from(dit_cfg));
    if (paths) {
      io::WeightStore ws = pipeline::open_dit_weights(*paths);
      DitLoadOptions lo;
      lo.resident_blocks = 0;
      lo.format = f;
      load_dit_weights(*dit, ws, lo, nullptr);
    } else {
      dit->init_random(seed + 2, st(), f);
      dit->release_device_weights(st());
    }
    if (opts.cudnn_attention) dit->use_cudnn_attention(true);
  }

  // Text encoder moved to the CPU (backoff): needs the checkpoint's weights.
  bool text_to_cpu() {
    if (!paths || paths->t5.empty()) return false;
    t5.reset();
    allocator()->empty_cache();
    t5_cpu.emplace(models::text::T5Encoder::load(paths->t5, paths->t5_config));
    return true;
  }

  // Applies plan `next` (from backoff); false when this engine cannot (then the error stands).
  bool adopt(const plan::Plan& next) {
    const plan::Plan prev = plan;
    plan = next;
    try {
      if (next.dit_format != prev.dit_format) reload_dit();
      if (next.text == plan::Placement::kCpu && prev.text != plan::Placement::kCpu && !text_to_cpu()) {
        plan = prev;
        return false;
      }
    } catch (const Error&) {
      plan = prev;
      return false;
    }
    return true;
  }

  // The plan's VAE tiles in latent pixels (tile 0: untiled).
  TileOptions tile_options() const {
    const int s = static_cast<int>(vae->config().spatial_stride());
    TileOptions to;
    to.tile = plan.vae_tile / s;
    to.overlap = plan.vae_overlap / s;
    return to;
  }

  // The decode stage as the plan in force says (after any backoff): tiles blended on the host
  // (vae_tiles_to_host) or on the device, or untiled; the video (clamped to [-1, 1] if asked) on
  // the host.
  Tensor decode_to_host(const Tensor& latent, bool clamp) {
    return run_stage(plan::Stage::kVaeDecode, [&]() -> Tensor {
      const TileOptions to = tile_options();
      if (to.tile > 0 && plan.vae_tiles_to_host) return vae->decode_tiled_to_host(latent, to, st(), clamp);
      Tensor video = to.tile > 0 ? vae->decode_tiled(latent, to, st()) : vae->decode(latent, st());
      if (clamp) clamp_f32_inplace(video.data<float>(), video.numel(), -1.0f, 1.0f, st());
      return exec->download(video);
    });
  }

  // Runs `f` as stage `stage`: weights arranged for it, its memory recorded; on out-of-memory the
  // plan backs off and the stage runs again.
  template <class F>
  auto run_stage(plan::Stage stage, F&& f) -> decltype(f()) {
    for (int attempt = 0;; ++attempt) {
      try {
        arrange(stage);
        allocator()->reset_peak();
        auto result = f();
        WAN22_CUDA_CHECK(cudaStreamSynchronize(st()));
        record(stage);
        return result;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kOutOfMemory || !opts.backoff_on_oom || attempt >= 32) throw;
        cudaStreamSynchronize(st());
        cudaGetLastError();
        plan::ModelSpec m;
        m.dit.num_layers = dit_cfg.num_layers;
        std::optional<plan::Backoff> b = plan::backoff(plan, stage, m);
        if (!b || !adopt(b->plan)) {
          // nothing smaller, or a step this engine cannot take (fp8 weights it cannot make, the CPU
          // text encoder without a checkpoint)
          throw Error(ErrorCode::kOutOfMemory,
                      std::string(e.what()) + " (in " + plan::stage_name(stage) + "; no smaller plan " +
                          (b ? "this engine can apply after: " : "after: ") + plan.str() +
                          (b ? "; next would be " + b->change : std::string()) + ")");
        }
        notice(std::string("out of memory in ") + plan::stage_name(stage) + ": " + b->change + "; retrying");
      }
    }
  }

  void record(plan::Stage stage) {
    const CachingStats cs = allocator()->caching_stats();
    StageMemoryUse u;
    u.stage = stage;
    u.alloc_peak_bytes = static_cast<double>(cs.peak_bytes);
    u.reserved_peak_bytes = static_cast<double>(cs.peak_reserved_bytes);
    // What lies outside the allocator now (context, handles, the workspaces the stage created):
    // measured, not the reserve the budget keeps for it.
    u.outside_bytes = device_context_bytes();
    u.plan = plan.str();
    for (auto& x : use) {
      if (x.stage == stage) {
        x = u;
        return;
      }
    }
    use.push_back(u);
  }
};

namespace {

double cosine_host(const Tensor& a, const Tensor& b) {
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  double xy = 0, xx = 0, yy = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    xy += static_cast<double>(x[i]) * y[i];
    xx += static_cast<double>(x[i]) * x[i];
    yy += static_cast<double>(y[i]) * y[i];
  }
  return xx > 0 && yy > 0 ? xy / std::sqrt(xx * yy) : (xx == yy ? 1.0 : 0.0);
}

}  // namespace

// The denoising stage: each CFG pair runs as stage kDenoise (weights arranged, memory recorded,
// out-of-memory backoff and retry).
class CudaGuidedModel final : public pipeline::GuidedModel {
 public:
  CudaGuidedModel(CudaEngine::Impl& m, DeviceContext cond, DeviceContext uncond, bool first_frame_clean)
      : m_(m), cond_(std::move(cond)), uncond_(std::move(uncond)), first_frame_clean_(first_frame_clean) {}

  void predict(const Tensor& latent, double t, Tensor& cond, Tensor& uncond) override {
    if (latent.ndim() != 4 || !latent.device().is_cuda() || latent.dtype() != DType::kF32 || !latent.is_contiguous()) {
      throw Error(ErrorCode::kInvalidArgument, "CUDA engine: the latent must be f32 [z, F, h, w] contiguous on the "
                                               "GPU, got " + latent.str());
    }
    m_.run_stage(plan::Stage::kDenoise, [&]() -> int {
      const DitInputs in = cond_inputs(latent, t);
      const CfgBatching mode = m_.plan.cfg_batch ? CfgBatching::kAuto : CfgBatching::kSequential;
      m_.dit->forward_cfg(in, static_cast<const bf16*>(uncond_.rows.raw_data()), uncond_.n, cond, uncond,
                          m_.st(), mode);
      return 0;
    });
    if (!m_.quality_checked && m_.opts.quality_threshold > 0 && m_.plan.dit_format != plan::WeightFormat::kBF16) {
      m_.quality_checked = true;
      quality_check(latent, t, cond, uncond);
    }
  }

 private:
  // The conditional branch's inputs at step time t (frame 0 at t = 0 for image-to-video).
  DitInputs cond_inputs(const Tensor& latent, double t) const {
    DitInputs in;
    in.latent = latent.data<float>();
    in.frames = latent.dim(1);
    in.height = latent.dim(2);
    in.width = latent.dim(3);
    in.context = static_cast<const bf16*>(cond_.rows.raw_data());
    in.context_len = cond_.n;
    in.timestep = t;
    in.first_frame_clean = first_frame_clean_;
    in.first_frame_timestep = 0.0;
    return in;
  }

  // The first step's conditional output against a bf16 DiT (checkpoint weights, every block
  // streamed); under the threshold the engine switches to bf16 and redoes this step.
  void quality_check(const Tensor& latent, double t, Tensor& cond, Tensor& uncond) {
    const std::string fmt = plan::format_name(m_.plan.dit_format);
    if (!m_.paths) {
      m_.notice("DiT " + fmt + " quality check skipped: random weights have no bf16 checkpoint to compare with");
      return;
    }
    Tensor ref_out;
    {
      DitCuda ref(dit_config_from(m_.dit_cfg));
      io::WeightStore ws = pipeline::open_dit_weights(*m_.paths);
      DitLoadOptions lo;
      lo.resident_blocks = 0;  // pinned host memory, streamed: the budget holds
      m_.load_dit_weights(ref, ws, lo, nullptr, /*write_cache=*/false);  // one forward: never evict for it
      if (m_.opts.cudnn_attention) ref.use_cudnn_attention(true);
      ref.forward(cond_inputs(latent, t), ref_out, m_.st());
    }
    const double c = cosine_host(m_.exec->download(cond), m_.exec->download(ref_out));
    m_.quality_cosine = c;
    char buf[160];
    std::snprintf(buf, sizeof buf, "DiT %s quality check on the first step: cosine similarity %.6f vs bf16 (threshold %.4f)",
                  fmt.c_str(), c, m_.opts.quality_threshold);
    if (c >= m_.opts.quality_threshold) {
      m_.notice(std::string(buf) + ": kept");
      return;
    }
    m_.notice(std::string(buf) + ": below, falling back to bf16 weights");
    plan::Plan p = m_.plan;
    p.dit_format = plan::WeightFormat::kBF16;
    m_.plan = p;
    m_.reload_dit();
    predict(latent, t, cond, uncond);  // this step again, in bf16
  }

 public:

 private:
  CudaEngine::Impl& m_;
  DeviceContext cond_, uncond_;
  bool first_frame_clean_;
};

CudaEngine::CudaEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaEngine::~CudaEngine() = default;

namespace {

// Checks the plan's placements; weight formats this engine cannot run for the text encoder and the
// VAE fall back to bf16 with a note (the DiT's format is checked when it loads).
plan::Plan normalize_plan(plan::Plan p, std::vector<std::string>* notes) {
  if (!p.on_gpu) throw Error(ErrorCode::kInvalidArgument, "CUDA engine: the plan is for the CPU backend");
  if (p.vae == plan::Placement::kStreamed || p.vae == plan::Placement::kCpu) {
    throw Error(ErrorCode::kUnsupported, std::string("CUDA engine: VAE placement ") + plan::placement_name(p.vae) +
                                             " is not supported (resident or offloaded)");
  }
  if (p.dit == plan::Placement::kOffloaded || p.dit == plan::Placement::kCpu) {
    throw Error(ErrorCode::kUnsupported, std::string("CUDA engine: DiT placement ") + plan::placement_name(p.dit) +
                                             " is not supported (resident or streamed)");
  }
  if (p.vae_format != plan::WeightFormat::kBF16 && p.vae_format != plan::WeightFormat::kF32) {
    notes->push_back(std::string("VAE weights in ") + plan::format_name(p.vae_format) +
                     " are not supported by the CUDA VAE: bf16 (quantizing its convolutions would cost visible "
                     "quality for 0.7 GB)");
    p.vae_format = plan::WeightFormat::kBF16;
  }
  if (p.text_format != plan::WeightFormat::kBF16) {
    notes->push_back(std::string("text encoder weights in ") + plan::format_name(p.text_format) +
                     " are not supported by the CUDA UMT5: bf16 (it runs once per prompt; stream it instead)");
    p.text_format = plan::WeightFormat::kBF16;
  }
  return p;
}

}  // namespace

std::unique_ptr<CudaEngine> CudaEngine::load(const pipeline::CheckpointPaths& p, const CudaEngineOptions& opts,
                                             std::vector<pipeline::StageTime>* stages) {
  init();  // throws Error(kUnsupported) with the reason when there is no usable GPU
  std::vector<std::string> notes;
  const plan::Plan plan0 = normalize_plan(opts.plan, &notes);
  auto record = [&](const char* stage, Clock::time_point t0) {
    if (stages) stages->push_back({stage, since(t0)});
  };
  auto im = std::make_unique<Impl>();
  im->opts = opts;
  im->plan = plan0;
  for (const auto& n : notes) im->notice(n);
  im->paths = p;
  cudaStream_t st = im->stream.get();
  im->measure_outside();
  im->apply_budget();
  const bool streamed_text = opts.plan.text == plan::Placement::kStreamed;
  auto load_text = [&]() -> std::string {
    if (p.t5.empty()) return "";
    if (opts.plan.text == plan::Placement::kCpu) {
      im->t5_cpu.emplace(models::text::T5Encoder::load(p.t5, p.t5_config));
      return "cpu";
    }
    T5CudaOptions to;
    to.embedding_on_host = streamed_text;
    to.resident_layers = streamed_text ? 0 : -1;
    im->t5 = T5Cuda::load(p.t5, p.t5_config, st, to);
    return streamed_text ? "cuda, streamed from pinned host memory" : "cuda";
  };
  std::string cache_state;   // what the model cache did for the DiT
  double cache_write_s = 0;
  auto load_dit = [&]() -> std::string {
    io::WeightStore ws = pipeline::open_dit_weights(p);
    im->dit_cfg = pipeline::dit_config_for(p, ws);
    im->dit = std::make_unique<DitCuda>(dit_config_from(im->dit_cfg));
    DitLoadOptions lo;
    // Streamed: the blocks wait in pinned host memory until denoising starts.
    lo.resident_blocks = im->plan.dit == plan::Placement::kResident ? -1 : 0;
    lo.format = im->dit_format();
    double write_s = 0;
    try {
      cache_state = im->load_dit_weights(*im->dit, ws, lo, &write_s);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kOutOfMemory || !opts.backoff_on_oom || lo.resident_blocks == 0) throw;
      // Resident weights do not fit (the budget or the device): stream them instead.
      im->notice(std::string("out of memory loading the DiT resident (") + e.what() +
                 "): streaming its blocks from pinned host memory instead");
      im->plan.dit = plan::Placement::kStreamed;
      im->plan.dit_resident_blocks = 0;
      im->dit = std::make_unique<DitCuda>(dit_config_from(im->dit_cfg));
      allocator()->empty_cache();
      lo.resident_blocks = 0;
      cache_state = im->load_dit_weights(*im->dit, ws, lo, &write_s);
    }
    cache_write_s = write_s;
    if (opts.cudnn_attention) im->dit->use_cudnn_attention(true);
    return std::string("cuda, ") + plan::format_name(im->plan.dit_format) +
           (im->plan.dit == plan::Placement::kResident ? "" : ", streamed from pinned host memory");
  };
  auto load_vae = [&]() -> std::string {
    VaeCudaOptions vo;
    if (opts.vae_f32) vo.dtype = DType::kF32;
    vo.decode_chunk = std::max(1, opts.plan.vae_chunk);
    vo.reuse_buffers = opts.plan.vae_reuse_buffers;
    im->vae = VaeCuda::open(p.vae, p.vae_config, vo, st);
    if (opts.plan.vae == plan::Placement::kOffloaded) {
      im->vae->offload(st);
      return "cuda, offloaded to pinned host memory between its stages";
    }
    return "cuda";
  };
  std::vector<std::string> order = opts.component_order;
  for (const char* c : {"text_encoder", "unet", "vae"}) {
    if (std::find(order.begin(), order.end(), c) == order.end()) order.push_back(c);
  }
  for (const std::string& c : order) {
    if (c != "text_encoder" && c != "unet" && c != "vae") {
      throw Error(ErrorCode::kInvalidArgument, "CUDA engine: unknown component '" + c +
                                                   "' in the load order (text_encoder, unet, vae)");
    }
    const bool hwm_reset = bench::reset_peak_rss();
    const double dev0 = static_cast<double>(allocator()->caching_stats().current_bytes);
    const auto t0 = Clock::now();
    ComponentLoad cl;
    cl.component = c;
    cl.where = c == "text_encoder" ? load_text() : c == "unet" ? load_dit() : load_vae();
    WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
    cl.seconds = since(t0);
    if (c == "text_encoder" && cl.where.empty()) continue;  // no text encoder (contexts are injected)
    cl.host_rss_bytes = static_cast<double>(bench::current_rss_bytes());
    cl.host_peak_bytes = static_cast<double>(bench::peak_rss_bytes());
    if (!hwm_reset) cl.where += " (host peak since process start: the kernel refused the reset)";
    cl.device_bytes = static_cast<double>(allocator()->caching_stats().current_bytes) - dev0;
    if (c == "unet") {
      cl.cache = cache_state;
      cl.cache_write_seconds = cache_write_s;
    }
    record(c == "text_encoder" ? "load_text_encoder" : c == "unet" ? "load_dit" : "load_vae", t0);
    im->loads.push_back(cl);
    if (opts.clear_cache_between) {
      allocator()->empty_cache();
      malloc_trim(0);
    }
  }
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  return std::unique_ptr<CudaEngine>(new CudaEngine(std::move(im)));
}

std::unique_ptr<CudaEngine> CudaEngine::random(const RandomEngineSpec& spec, const CudaEngineOptions& opts) {
  init();
  std::vector<std::string> notes;
  const plan::Plan plan0 = normalize_plan(opts.plan, &notes);
  if (opts.plan.text == plan::Placement::kCpu) {
    throw Error(ErrorCode::kUnsupported, "CUDA engine with random weights: the text encoder on the CPU needs a "
                                         "checkpoint (plan text kCpu)");
  }
  auto im = std::make_unique<Impl>();
  im->opts = opts;
  im->plan = plan0;
  for (const auto& n : notes) im->notice(n);
  im->seed = spec.seed;
  cudaStream_t st = im->stream.get();
  // Random weights are generated on the device, every component whole, and then moved where the
  // plan wants them: the budget applies from the end of the creation (a checkpoint loads straight
  // into its placement, under the budget).
  const bool streamed_text = opts.plan.text == plan::Placement::kStreamed;
  if (spec.t5) {
    T5CudaOptions to;
    to.embedding_on_host = streamed_text;
    to.resident_layers = streamed_text ? 0 : -1;
    im->t5 = std::make_unique<T5Cuda>(*spec.t5, spec.seed + 1, st, to);
  }
  im->dit_cfg = spec.dit;
  im->dit = std::make_unique<DitCuda>(dit_config_from(spec.dit));
  im->dit->init_random(spec.seed + 2, st, im->dit_format());
  if (opts.plan.dit != plan::Placement::kResident) im->dit->release_device_weights(st);
  if (opts.cudnn_attention) im->dit->use_cudnn_attention(true);
  VaeCudaOptions vo;
  if (opts.vae_f32) vo.dtype = DType::kF32;
  vo.decode_chunk = std::max(1, opts.plan.vae_chunk);
  vo.reuse_buffers = opts.plan.vae_reuse_buffers;
  im->vae = VaeCuda::random(spec.vae, spec.seed + 3, vo, st);
  if (opts.plan.vae == plan::Placement::kOffloaded) im->vae->offload(st);
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  allocator()->empty_cache();
  im->measure_outside();
  im->apply_budget();
  return std::unique_ptr<CudaEngine>(new CudaEngine(std::move(im)));
}

std::string CudaEngine::name() const { return "cuda (" + impl_->device_name + ")"; }

pipeline::ModelGeometry CudaEngine::geometry() const {
  return pipeline::geometry_of(impl_->dit_cfg, impl_->vae->config());
}

bool CudaEngine::has_text_encoder() const { return impl_->t5 != nullptr || impl_->t5_cpu.has_value(); }

std::vector<Tensor> CudaEngine::encode_text(const models::text::TokenizedBatch& tokens) {
  Impl& m = *impl_;
  return m.run_stage(plan::Stage::kTextEncode, [&]() -> std::vector<Tensor> {
    if (m.t5_cpu) return m.t5_cpu->encode_trimmed(tokens.ids, tokens.mask);
    if (!m.t5) throw Error(ErrorCode::kInvalidArgument, "this pipeline has no text encoder loaded");
    std::vector<Tensor> rows = m.t5->encode_trimmed(tokens.ids, tokens.mask, stream());
    std::vector<Tensor> host;
    for (const Tensor& r : rows) host.push_back(m.exec->download(r));
    return host;
  });
}

Tensor CudaEngine::encode_image(const Tensor& image) {
  Impl& m = *impl_;
  return m.run_stage(plan::Stage::kImageEncode, [&]() -> Tensor {
    const TileOptions to = m.tile_options();
    Tensor z = to.tile > 0 ? m.vae->encode_tiled(image, to, stream()) : m.vae->encode(image, stream());
    return m.exec->download(z);
  });
}

Tensor CudaEngine::decode_on_device(const Tensor& latent) {
  Impl& m = *impl_;
  return m.run_stage(plan::Stage::kVaeDecode, [&]() -> Tensor {
    const TileOptions to = m.tile_options();
    return to.tile > 0 ? m.vae->decode_tiled(latent, to, stream()) : m.vae->decode(latent, stream());
  });
}

Tensor CudaEngine::decode(const Tensor& latent) { return impl_->decode_to_host(latent, /*clamp=*/false); }

Tensor CudaEngine::decode_clamped(const Tensor& latent) { return impl_->decode_to_host(latent, /*clamp=*/true); }

sched::StepExecutor& CudaEngine::executor() { return *impl_->exec; }

std::unique_ptr<pipeline::GuidedModel> CudaEngine::guided_model(const Tensor& context, const Tensor& context_null,
                                                                bool first_frame_clean) {
  const auto& c = impl_->dit_cfg;
  DeviceContext cond = upload_context(context, c.text_dim, c.text_len, *impl_->exec);
  DeviceContext uncond = upload_context(context_null, c.text_dim, c.text_len, *impl_->exec);
  return std::make_unique<CudaGuidedModel>(*impl_, std::move(cond), std::move(uncond), first_frame_clean);
}

const plan::Plan& CudaEngine::plan() const { return impl_->plan; }
std::vector<StageMemoryUse> CudaEngine::memory_use() const { return impl_->use; }
double CudaEngine::outside_bytes() const { return impl_->outside; }
const std::vector<ComponentLoad>& CudaEngine::load_report() const { return impl_->loads; }
double CudaEngine::quality_cosine() const { return impl_->quality_cosine; }
std::vector<std::string> CudaEngine::notices() const { return impl_->notices; }

DitCuda& CudaEngine::dit() { return *impl_->dit; }
VaeCuda& CudaEngine::vae() { return *impl_->vae; }
T5Cuda* CudaEngine::t5_cuda() { return impl_->t5.get(); }
const models::dit::DitConfig& CudaEngine::dit_config() const { return impl_->dit_cfg; }
cudaStream_t CudaEngine::stream() const { return impl_->stream.get(); }

double device_context_bytes() {
  size_t free_b = 0, total_b = 0;
  WAN22_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  const double used = static_cast<double>(total_b - free_b);
  const double reserved = allocator() ? static_cast<double>(allocator()->caching_stats().reserved_bytes) : 0.0;
  return std::max(0.0, used - reserved);
}

double device_bytes_outside_allocator() { return device_context_bytes() + kWorkspaceReserveBytes; }

models::dit::DitConfig ti2v_5b_dit_config() {
  models::dit::DitConfig c;
  c.model_type = "ti2v";
  c.patch_size = {1, 2, 2};
  c.text_len = 512;
  c.in_dim = c.out_dim = 48;
  c.dim = 3072;
  c.ffn_dim = 14336;
  c.freq_dim = 256;
  c.text_dim = 4096;
  c.num_heads = 24;
  c.num_layers = 30;
  c.qk_norm = c.cross_attn_norm = true;
  c.eps = 1e-6;
  return c;
}

}  // namespace wan22::cuda
