// The CUDA engine of the TI2V pipeline (see pipeline_cuda.h).
#include "backends/cuda/pipeline_cuda.h"

#include <chrono>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/dit_cuda.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/pipeline_cuda_kernels.h"
#include "backends/cuda/sched_cuda.h"
#include "backends/cuda/t5_cuda.h"
#include "backends/cuda/vae_cuda.h"
#include "core/status.h"
#include "models/text/t5_encoder.h"
#include "pipeline/model_loading.h"

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

class CudaGuidedModel final : public pipeline::GuidedModel {
 public:
  CudaGuidedModel(DitCuda& dit, DeviceContext cond, DeviceContext uncond, bool first_frame_clean, cudaStream_t st)
      : dit_(dit), cond_(std::move(cond)), uncond_(std::move(uncond)), first_frame_clean_(first_frame_clean),
        stream_(st) {}

  void predict(const Tensor& latent, double t, Tensor& cond, Tensor& uncond) override {
    if (latent.ndim() != 4 || !latent.device().is_cuda() || latent.dtype() != DType::kF32 || !latent.is_contiguous()) {
      throw Error(ErrorCode::kInvalidArgument, "CUDA engine: the latent must be f32 [z, F, h, w] contiguous on the "
                                               "GPU, got " + latent.str());
    }
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
    dit_.forward_cfg(in, static_cast<const bf16*>(uncond_.rows.raw_data()), uncond_.n, cond, uncond, stream_);
  }

 private:
  DitCuda& dit_;
  DeviceContext cond_, uncond_;
  bool first_frame_clean_;
  cudaStream_t stream_;
};

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

  Impl() : exec(std::make_unique<CudaStepExecutor>(stream.get())) {
    const auto devs = devices();
    device_name = devs.empty() ? std::string("?") : devs.front().name;
  }
};

CudaEngine::CudaEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaEngine::~CudaEngine() = default;

std::unique_ptr<CudaEngine> CudaEngine::load(const pipeline::CheckpointPaths& p, const CudaEngineOptions& opts,
                                             std::vector<pipeline::StageTime>* stages) {
  init();  // throws Error(kUnsupported) with the reason when there is no usable GPU
  auto record = [&](const char* stage, Clock::time_point t0) {
    if (stages) stages->push_back({stage, since(t0)});
  };
  auto im = std::make_unique<Impl>();
  cudaStream_t st = im->stream.get();
  if (!p.t5.empty()) {
    auto t0 = Clock::now();
    if (opts.text_encoder_on_cpu) {
      im->t5_cpu.emplace(models::text::T5Encoder::load(p.t5, p.t5_config));
    } else {
      im->t5 = T5Cuda::load(p.t5, p.t5_config, st);
    }
    record("load_text_encoder", t0);
  }
  auto t0 = Clock::now();
  io::WeightStore ws = pipeline::open_dit_weights(p);
  im->dit_cfg = pipeline::dit_config_for(p, ws);
  im->dit = std::make_unique<DitCuda>(dit_config_from(im->dit_cfg));
  DitLoadOptions lo;
  lo.resident_blocks = opts.dit_resident_blocks;
  lo.format = opts.dit_fp8 ? WeightFormat::kFP8 : WeightFormat::kBF16;
  im->dit->load(ws, st, lo);
  if (opts.cudnn_attention) im->dit->use_cudnn_attention(true);
  record("load_dit", t0);
  t0 = Clock::now();
  VaeCudaOptions vo;
  if (opts.vae_f32) vo.dtype = DType::kF32;
  im->vae = VaeCuda::open(p.vae, p.vae_config, vo, st);
  record("load_vae", t0);
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  return std::unique_ptr<CudaEngine>(new CudaEngine(std::move(im)));
}

std::unique_ptr<CudaEngine> CudaEngine::random(const RandomEngineSpec& spec) {
  init();
  auto im = std::make_unique<Impl>();
  cudaStream_t st = im->stream.get();
  if (spec.t5) im->t5 = std::make_unique<T5Cuda>(*spec.t5, spec.seed + 1, st);
  im->dit_cfg = spec.dit;
  im->dit = std::make_unique<DitCuda>(dit_config_from(spec.dit));
  im->dit->init_random(spec.seed + 2, st, spec.dit_fp8 ? WeightFormat::kFP8 : WeightFormat::kBF16);
  if (spec.cudnn_attention) im->dit->use_cudnn_attention(true);
  im->vae = VaeCuda::random(spec.vae, spec.seed + 3, VaeCudaOptions{}, st);
  WAN22_CUDA_CHECK(cudaStreamSynchronize(st));
  return std::unique_ptr<CudaEngine>(new CudaEngine(std::move(im)));
}

std::string CudaEngine::name() const { return "cuda (" + impl_->device_name + ")"; }

pipeline::ModelGeometry CudaEngine::geometry() const {
  return pipeline::geometry_of(impl_->dit_cfg, impl_->vae->config());
}

bool CudaEngine::has_text_encoder() const { return impl_->t5 != nullptr || impl_->t5_cpu.has_value(); }

std::vector<Tensor> CudaEngine::encode_text(const models::text::TokenizedBatch& tokens) {
  if (impl_->t5_cpu) return impl_->t5_cpu->encode_trimmed(tokens.ids, tokens.mask);
  if (!impl_->t5) throw Error(ErrorCode::kInvalidArgument, "this pipeline has no text encoder loaded");
  std::vector<Tensor> rows = impl_->t5->encode_trimmed(tokens.ids, tokens.mask, stream());
  std::vector<Tensor> host;
  for (const Tensor& r : rows) host.push_back(impl_->exec->download(r));
  return host;
}

Tensor CudaEngine::encode_image(const Tensor& image) {
  Tensor z = impl_->vae->encode(image, stream());
  return impl_->exec->download(z);
}

Tensor CudaEngine::decode_on_device(const Tensor& latent) { return impl_->vae->decode(latent, stream()); }

Tensor CudaEngine::decode(const Tensor& latent) { return impl_->exec->download(decode_on_device(latent)); }

Tensor CudaEngine::decode_clamped(const Tensor& latent) {
  Tensor video = decode_on_device(latent);
  clamp_f32_inplace(video.data<float>(), video.numel(), -1.0f, 1.0f, stream());
  return impl_->exec->download(video);
}

sched::StepExecutor& CudaEngine::executor() { return *impl_->exec; }

std::unique_ptr<pipeline::GuidedModel> CudaEngine::guided_model(const Tensor& context, const Tensor& context_null,
                                                                bool first_frame_clean) {
  const auto& c = impl_->dit_cfg;
  DeviceContext cond = upload_context(context, c.text_dim, c.text_len, *impl_->exec);
  DeviceContext uncond = upload_context(context_null, c.text_dim, c.text_len, *impl_->exec);
  return std::make_unique<CudaGuidedModel>(*impl_->dit, std::move(cond), std::move(uncond), first_frame_clean,
                                           stream());
}

DitCuda& CudaEngine::dit() { return *impl_->dit; }
VaeCuda& CudaEngine::vae() { return *impl_->vae; }
T5Cuda* CudaEngine::t5_cuda() { return impl_->t5.get(); }
const models::dit::DitConfig& CudaEngine::dit_config() const { return impl_->dit_cfg; }
cudaStream_t CudaEngine::stream() const { return impl_->stream.get(); }

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
