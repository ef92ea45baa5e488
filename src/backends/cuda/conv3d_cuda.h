// 3-D convolution on the GPU for the VAE: channels-last activations (one video, N = 1)
// x [T, H, W, Cin], weights [Cout, kt, kh, kw, Cin], y [To, Ho, Wo, Cout], bf16 or f32 storage with
// fp32 accumulation. Two implementations behind one front:
//  - cuDNN (cudnn_conv.h): the fast path, loaded at run time;
//  - a direct kernel (one thread per output element): the reference and the fallback for shapes
//    or machines cuDNN does not serve. It is slow (no tensor cores): meant for tests and tiny
//    models, never for the real 720p decode.
// Padding is symmetric and zero per spatial/temporal axis (causal time padding is the caller's:
// it passes the cached frames in front of the chunk).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/dtype.h"

namespace wan22::cuda {

struct ConvGeom {
  int64_t t = 1, h = 1, w = 1, cin = 1;  // input [t, h, w, cin]
  int64_t cout = 1;
  int kt = 1, kh = 1, kw = 1;
  int st = 1, sh = 1, sw = 1;
  int pt = 0, ph = 0, pw = 0;  // zero padding on both sides of each axis

  int64_t out_t() const { return (t + 2 * pt - kt) / st + 1; }
  int64_t out_h() const { return (h + 2 * ph - kh) / sh + 1; }
  int64_t out_w() const { return (w + 2 * pw - kw) / sw + 1; }
  int64_t out_numel() const { return out_t() * out_h() * out_w() * cout; }
  int64_t in_numel() const { return t * h * w * cin; }
  int64_t weight_numel() const { return cout * kt * kh * kw * cin; }
  // 2 * MACs actually executed (padded channels included).
  double flops() const {
    return 2.0 * static_cast<double>(out_t() * out_h() * out_w()) * static_cast<double>(cout) *
           static_cast<double>(cin) * kt * kh * kw;
  }
  std::string str() const;  // "x[t,h,w,c] k(kt,kh,kw) s(..) p(..) -> cout"
  // Throws Error(kInvalidArgument) on an empty output or non-positive sizes.
  void validate() const;
};

// The reference kernel: y = conv(x, w) with fp32 accumulation (dt: kBF16 or kF32).
void conv3d_direct(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
                   cudaStream_t stream);
// The same per-element code as a CPU loop over host pointers (tests without a GPU).
void conv3d_host(const ConvGeom& g, DType dt, const void* x, const void* w, void* y);

enum class ConvImpl {
  kAuto,    // cuDNN when it loads and serves the shape, else the direct kernel (logged once per
            // shape)
  kCudnn,   // cuDNN or an Error
  kDirect,  // always the direct kernel
};

class CudnnConv;

// The front the VAE calls. Counts the FLOPs it executes (per implementation) for reports.
class Conv3dCuda {
 public:
  explicit Conv3dCuda(ConvImpl impl = ConvImpl::kAuto);
  ~Conv3dCuda();
  Conv3dCuda(const Conv3dCuda&) = delete;
  Conv3dCuda& operator=(const Conv3dCuda&) = delete;

  void forward(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
               cudaStream_t stream);

  ConvImpl impl() const { return impl_; }
  CudnnConv* cudnn() { return cudnn_active() ? cudnn_.get() : nullptr; }
  // Whether cuDNN is in use (loaded and not disabled) and, if not, why.
  bool cudnn_active() const;
  std::string cudnn_reason() const;
  void set_autotune(bool on);

  double flops_cudnn() const { return flops_cudnn_; }
  double flops_direct() const { return flops_direct_; }
  int64_t calls() const { return calls_; }
  void reset_counters();
  // One line per conv shape seen: the implementation and (cuDNN) the algorithm chosen.
  std::string report() const;

 private:
  ConvImpl impl_;
  std::unique_ptr<CudnnConv> cudnn_;
  std::map<std::string, std::string> fallbacks_;  // shape -> why cuDNN was not used
  double flops_cudnn_ = 0.0, flops_direct_ = 0.0;
  int64_t calls_ = 0;
};

}  // namespace wan22::cuda
