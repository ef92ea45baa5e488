// The direct 3-D convolution kernel and the front that picks cuDNN or it (see conv3d_cuda.h).
#include <cuda_bf16.h>

#include <sstream>
#include <type_traits>

#include "backends/cuda/conv3d_cuda.h"
#include "backends/cuda/cudnn_conv.h"
#include "backends/cuda/kernel_util.cuh"
#include "core/log.h"
#include "core/status.h"
#include "core/thread_pool.h"

namespace wan22::cuda {

namespace {

__host__ __device__ inline float load_f(const float* p) { return *p; }
__host__ __device__ inline float load_f(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__host__ __device__ inline void store_f(float* p, float v) { *p = v; }
__host__ __device__ inline void store_f(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// Output element i = ((to*Ho + ho)*Wo + wo)*Cout + co with fp32 accumulation (device and host).
template <class T>
struct DirectConvOp {
  ConvGeom g;
  const T* x;
  const T* w;
  T* y;
  int64_t Ho, Wo;
  __host__ __device__ void operator()(int64_t i) const {
    const int64_t co = i % g.cout;
    int64_t r = i / g.cout;
    const int64_t wo = r % Wo;
    r /= Wo;
    const int64_t ho = r % Ho;
    const int64_t to = r / Ho;
    float acc = 0.0f;
    for (int a = 0; a < g.kt; ++a) {
      const int64_t ti = to * g.st - g.pt + a;
      if (ti < 0 || ti >= g.t) continue;
      for (int b = 0; b < g.kh; ++b) {
        const int64_t hi = ho * g.sh - g.ph + b;
        if (hi < 0 || hi >= g.h) continue;
        for (int c = 0; c < g.kw; ++c) {
          const int64_t wi = wo * g.sw - g.pw + c;
          if (wi < 0 || wi >= g.w) continue;
          const T* xp = x + ((ti * g.h + hi) * g.w + wi) * g.cin;
          const T* wp = w + (((co * g.kt + a) * g.kh + b) * g.kw + c) * g.cin;
          for (int64_t ci = 0; ci < g.cin; ++ci) acc += load_f(xp + ci) * load_f(wp + ci);
        }
      }
    }
    store_f(y + i, acc);
  }
};

template <class T>
__global__ void conv3d_direct_kernel(DirectConvOp<T> op, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    op(i);
  }
}

template <class F>
void with_type(DType dt, const char* what, F&& body) {
  if (dt == DType::kBF16) {
    body(static_cast<__nv_bfloat16*>(nullptr));
  } else if (dt == DType::kF32) {
    body(static_cast<float*>(nullptr));
  } else {
    throw Error(ErrorCode::kUnsupported, std::string(what) + ": dtype " + dtype_name(dt));
  }
}

}  // namespace

std::string ConvGeom::str() const {
  std::ostringstream s;
  s << "x[" << t << "," << h << "," << w << "," << cin << "] k(" << kt << "," << kh << "," << kw
    << ") s(" << st << "," << sh << "," << sw << ") p(" << pt << "," << ph << "," << pw << ") -> "
    << cout;
  return s.str();
}

void ConvGeom::validate() const {
  if (t <= 0 || h <= 0 || w <= 0 || cin <= 0 || cout <= 0 || kt <= 0 || kh <= 0 || kw <= 0 ||
      st <= 0 || sh <= 0 || sw <= 0 || pt < 0 || ph < 0 || pw < 0 || t + 2 * pt < kt ||
      h + 2 * ph < kh || w + 2 * pw < kw) {
    throw Error(ErrorCode::kInvalidArgument, "conv3d: bad geometry " + str());
  }
}

void conv3d_direct(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
                   cudaStream_t stream) {
  g.validate();
  const int64_t total = g.out_numel();
  with_type(dt, "conv3d_direct", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const DirectConvOp<T> op{
        g,        static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), g.out_h(),
        g.out_w()};
    conv3d_direct_kernel<<<detail::grid_for(total, 256), 256, 0, stream>>>(op, total);
  });
  WAN22_CUDA_CHECK_LAUNCH();
}

void conv3d_host(const ConvGeom& g, DType dt, const void* x, const void* w, void* y) {
  g.validate();
  with_type(dt, "conv3d_host", [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const DirectConvOp<T> op{
        g,        static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), g.out_h(),
        g.out_w()};
    parallel_for(0, g.out_numel(), 256, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) op(i);
    });
  });
}

// ---------------- front ----------------

Conv3dCuda::Conv3dCuda(ConvImpl impl) : impl_(impl) {
  if (impl_ != ConvImpl::kDirect) {
    cudnn_ = std::make_unique<CudnnConv>();
    if (!cudnn_->available()) {
      if (impl_ == ConvImpl::kCudnn) {
        throw Error(ErrorCode::kUnsupported,
                    "conv3d: cuDNN requested but unavailable: " + cudnn_->reason());
      }
      LOG_WARN << "conv3d: cuDNN unavailable (" << cudnn_->reason()
               << "); using the slow direct kernel";
    }
  }
}

Conv3dCuda::~Conv3dCuda() = default;

bool Conv3dCuda::cudnn_active() const { return cudnn_ && cudnn_->available(); }

std::string Conv3dCuda::cudnn_reason() const {
  if (impl_ == ConvImpl::kDirect) return "direct kernel requested";
  return cudnn_ ? cudnn_->reason() : std::string("not created");
}

void Conv3dCuda::set_autotune(bool on) {
  if (cudnn_) cudnn_->set_autotune(on);
}

void Conv3dCuda::forward(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
                         cudaStream_t stream) {
  g.validate();
  ++calls_;
  if (cudnn_active()) {
    const std::string key = g.str() + " " + dtype_name(dt);
    if (fallbacks_.find(key) == fallbacks_.end()) {
      try {
        cudnn_->forward(g, dt, x, w, y, stream);
        flops_cudnn_ += g.flops();
        return;
      } catch (const Error& e) {
        if (impl_ == ConvImpl::kCudnn) throw;
        LOG_WARN << "conv3d: cuDNN failed for " << key << " (" << e.what()
                 << "); direct kernel for this shape";
        fallbacks_[key] = e.what();
        cudaGetLastError();
      }
    }
  }
  conv3d_direct(g, dt, x, w, y, stream);
  flops_direct_ += g.flops();
}

void Conv3dCuda::reset_counters() {
  flops_cudnn_ = flops_direct_ = 0.0;
  calls_ = 0;
  if (cudnn_) cudnn_->reset_calls();
}

std::string Conv3dCuda::report() const {
  std::string s = cudnn_ ? cudnn_->report() : std::string();
  for (const auto& [k, why] : fallbacks_) s += "direct (cuDNN failed) " + k + ": " + why + "\n";
  if (!cudnn_active()) s += "all shapes: direct kernel (" + cudnn_reason() + ")\n";
  return s;
}

}  // namespace wan22::cuda
