// cuDNN convolution forward through the convolution API, libcudnn loaded at run time
// (see cudnn_conv.h).
#include "backends/cuda/cudnn_conv.h"

#if __has_include(<cudnn.h>)
#define WAN22_HAVE_CUDNN_HEADER 1
#include <cudnn.h>

#include "backends/cuda/cudnn_library.h"
#endif

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "core/status.h"
#include "core/tensor.h"

namespace wan22::cuda {

#ifdef WAN22_HAVE_CUDNN_HEADER
namespace {

struct Api {
  void* lib = nullptr;
  std::string path, error;
  decltype(&cudnnGetVersion) GetVersion = nullptr;
  decltype(&cudnnGetErrorString) GetErrorString = nullptr;
  decltype(&cudnnGetLastErrorString) GetLastErrorString = nullptr;
  decltype(&cudnnCreate) Create = nullptr;
  decltype(&cudnnDestroy) Destroy = nullptr;
  decltype(&cudnnSetStream) SetStream = nullptr;
  decltype(&cudnnCreateTensorDescriptor) CreateTensor = nullptr;
  decltype(&cudnnSetTensorNdDescriptor) SetTensorNd = nullptr;
  decltype(&cudnnDestroyTensorDescriptor) DestroyTensor = nullptr;
  decltype(&cudnnCreateFilterDescriptor) CreateFilter = nullptr;
  decltype(&cudnnSetFilterNdDescriptor) SetFilterNd = nullptr;
  decltype(&cudnnDestroyFilterDescriptor) DestroyFilter = nullptr;
  decltype(&cudnnCreateConvolutionDescriptor) CreateConv = nullptr;
  decltype(&cudnnSetConvolutionNdDescriptor) SetConvNd = nullptr;
  decltype(&cudnnSetConvolutionMathType) SetConvMath = nullptr;
  decltype(&cudnnDestroyConvolutionDescriptor) DestroyConv = nullptr;
  decltype(&cudnnGetConvolutionNdForwardOutputDim) GetOutputDim = nullptr;
  decltype(&cudnnGetConvolutionForwardAlgorithmMaxCount) GetAlgoMaxCount = nullptr;
  decltype(&cudnnGetConvolutionForwardAlgorithm_v7) GetAlgo = nullptr;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) GetWorkspace = nullptr;
  decltype(&cudnnConvolutionForward) Forward = nullptr;
};

const Api& api() {
  static Api a = [] {
    Api r;
    const CudnnLibrary& lib = cudnn_library();
    r.path = lib.path;
    if (!lib.handle) {
      r.error = lib.error;
      return r;
    }
    r.lib = lib.handle;
    bool ok = cudnn_symbol(r, r.GetVersion, "cudnnGetVersion") &&
              cudnn_symbol(r, r.GetErrorString, "cudnnGetErrorString") &&
              cudnn_symbol(r, r.GetLastErrorString, "cudnnGetLastErrorString") &&
              cudnn_symbol(r, r.Create, "cudnnCreate") &&
              cudnn_symbol(r, r.Destroy, "cudnnDestroy") &&
              cudnn_symbol(r, r.SetStream, "cudnnSetStream") &&
              cudnn_symbol(r, r.CreateTensor, "cudnnCreateTensorDescriptor") &&
              cudnn_symbol(r, r.SetTensorNd, "cudnnSetTensorNdDescriptor") &&
              cudnn_symbol(r, r.DestroyTensor, "cudnnDestroyTensorDescriptor") &&
              cudnn_symbol(r, r.CreateFilter, "cudnnCreateFilterDescriptor") &&
              cudnn_symbol(r, r.SetFilterNd, "cudnnSetFilterNdDescriptor") &&
              cudnn_symbol(r, r.DestroyFilter, "cudnnDestroyFilterDescriptor") &&
              cudnn_symbol(r, r.CreateConv, "cudnnCreateConvolutionDescriptor") &&
              cudnn_symbol(r, r.SetConvNd, "cudnnSetConvolutionNdDescriptor") &&
              cudnn_symbol(r, r.SetConvMath, "cudnnSetConvolutionMathType") &&
              cudnn_symbol(r, r.DestroyConv, "cudnnDestroyConvolutionDescriptor") &&
              cudnn_symbol(r, r.GetOutputDim, "cudnnGetConvolutionNdForwardOutputDim") &&
              cudnn_symbol(r, r.GetAlgoMaxCount, "cudnnGetConvolutionForwardAlgorithmMaxCount") &&
              cudnn_symbol(r, r.GetAlgo, "cudnnGetConvolutionForwardAlgorithm_v7") &&
              cudnn_symbol(r, r.GetWorkspace, "cudnnGetConvolutionForwardWorkspaceSize") &&
              cudnn_symbol(r, r.Forward, "cudnnConvolutionForward");
    if (!ok) r.lib = nullptr;  // the handle stays open: it is shared
    return r;
  }();
  return a;
}

[[noreturn]] void fail(cudnnStatus_t s, const char* expr, int line) {
  const Api& a = api();
  char last[512] = {0};
  if (a.GetLastErrorString) a.GetLastErrorString(last, sizeof(last));
  const ErrorCode code = s == CUDNN_STATUS_NOT_SUPPORTED || s == CUDNN_STATUS_BAD_PARAM
                             ? ErrorCode::kUnsupported
                             : ErrorCode::kInternal;
  throw Error(code, std::string("cuDNN error ") + (a.GetErrorString ? a.GetErrorString(s) : "?") +
                        " in " + expr + " at " __FILE__ ":" + std::to_string(line) +
                        (last[0] ? std::string(": ") + last : std::string()));
}

#define CUDNN_CHECK(expr)                                      \
  do {                                                         \
    cudnnStatus_t s_ = (expr);                                 \
    if (s_ != CUDNN_STATUS_SUCCESS) fail(s_, #expr, __LINE__); \
  } while (0)

const char* algo_name(int a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
      return "implicit_gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
      return "implicit_precomp_gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      return "gemm";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
      return "direct";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
      return "fft";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING:
      return "fft_tiling";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
      return "winograd";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
      return "winograd_nonfused";
    default:
      return "?";
  }
}

const char* math_name(int m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH:
      return "default";
    case CUDNN_TENSOR_OP_MATH:
      return "tensor_op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return "tensor_op_conv";
    case CUDNN_FMA_MATH:
      return "fma";
    default:
      return "?";
  }
}

}  // namespace

struct CudnnConv::Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  int math = 0;
  size_t workspace = 0;
  std::string note;
  float best_ms = 0.0f;  // autotuned time (0: not timed)
  double flops = 0.0;
  int64_t calls = 0;
  ~Plan() {
    const Api& a = api();
    if (x) a.DestroyTensor(x);
    if (y) a.DestroyTensor(y);
    if (w) a.DestroyFilter(w);
    if (conv) a.DestroyConv(conv);
  }
};

CudnnConv::CudnnConv() {
  const Api& a = api();
  if (!a.lib) {
    reason_ = a.error;
    return;
  }
  library_ = a.path;
  version_ = static_cast<int>(a.GetVersion());
  cudnnHandle_t h = nullptr;
  const cudnnStatus_t s = a.Create(&h);
  if (s != CUDNN_STATUS_SUCCESS) {
    reason_ = std::string("cudnnCreate failed: ") + a.GetErrorString(s);
    return;
  }
  handle_ = h;
}

CudnnConv::~CudnnConv() {
  plans_.clear();
  if (handle_) api().Destroy(static_cast<cudnnHandle_t>(handle_));
}

void CudnnConv::run(const Plan& p, const void* x, const void* w, void* y, cudaStream_t stream,
                    int algo, int math, float beta) {
  const Api& a = api();
  cudnnHandle_t h = static_cast<cudnnHandle_t>(handle_);
  CUDNN_CHECK(a.SetStream(h, stream));
  CUDNN_CHECK(a.SetConvMath(p.conv, static_cast<cudnnMathType_t>(math)));
  size_t ws_bytes = 0;
  CUDNN_CHECK(a.GetWorkspace(h, p.x, p.w, p.conv, p.y, static_cast<cudnnConvolutionFwdAlgo_t>(algo),
                             &ws_bytes));
  if (ws_bytes > 0 && (!ws_.defined() || ws_.nbytes() < ws_bytes)) {
    // grown on demand and kept: a per-call workspace would churn the caching allocator
    ws_ = Tensor();
    ws_ = Tensor::empty({static_cast<int64_t>(ws_bytes)}, DType::kU8, Device::cuda(0));
  }
  const float one = 1.0f;
  CUDNN_CHECK(a.Forward(h, &one, p.x, x, p.w, w, p.conv,
                        static_cast<cudnnConvolutionFwdAlgo_t>(algo),
                        ws_bytes ? ws_.raw_data() : nullptr, ws_bytes, &beta, p.y, y));
}

CudnnConv::Plan& CudnnConv::plan_for(const ConvGeom& g, DType dt, const void* x, const void* w,
                                     void* y, cudaStream_t stream) {
  const std::string key = g.str() + " " + dtype_name(dt);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;

  const Api& a = api();
  cudnnHandle_t h = static_cast<cudnnHandle_t>(handle_);
  const cudnnDataType_t cdt = dt == DType::kBF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  const int64_t limit = int64_t{1} << 31;
  if (g.in_numel() >= limit || g.out_numel() >= limit || g.weight_numel() >= limit) {
    throw Error(ErrorCode::kUnsupported,
                "cuDNN conv: tensor too large for 32-bit sizes: " + g.str());
  }
  auto p = std::make_unique<Plan>();
  CUDNN_CHECK(a.CreateTensor(&p->x));
  CUDNN_CHECK(a.CreateTensor(&p->y));
  CUDNN_CHECK(a.CreateFilter(&p->w));
  CUDNN_CHECK(a.CreateConv(&p->conv));
  const int T = static_cast<int>(g.t), H = static_cast<int>(g.h), W = static_cast<int>(g.w),
            C = static_cast<int>(g.cin);
  const int xd[5] = {1, C, T, H, W}, xs[5] = {T * H * W * C, 1, H * W * C, W * C, C};
  CUDNN_CHECK(a.SetTensorNd(p->x, cdt, 5, xd, xs));
  const int K = static_cast<int>(g.cout);
  const int wd[5] = {K, C, g.kt, g.kh, g.kw};
  CUDNN_CHECK(a.SetFilterNd(p->w, cdt, CUDNN_TENSOR_NHWC, 5, wd));
  const int pad[3] = {g.pt, g.ph, g.pw}, str[3] = {g.st, g.sh, g.sw}, dil[3] = {1, 1, 1};
  CUDNN_CHECK(a.SetConvNd(p->conv, 3, pad, str, dil, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  const int want_math = dt == DType::kBF16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  CUDNN_CHECK(a.SetConvMath(p->conv, static_cast<cudnnMathType_t>(want_math)));
  int od[5] = {0, 0, 0, 0, 0};
  CUDNN_CHECK(a.GetOutputDim(p->conv, p->x, p->w, 5, od));
  if (od[0] != 1 || od[1] != K || od[2] != g.out_t() || od[3] != g.out_h() || od[4] != g.out_w()) {
    throw Error(ErrorCode::kInternal, "cuDNN conv: output dims [" + std::to_string(od[2]) + "," +
                                          std::to_string(od[3]) + "," + std::to_string(od[4]) +
                                          "] differ from " + g.str());
  }
  const int To = od[2], Ho = od[3], Wo = od[4];
  const int yd[5] = {1, K, To, Ho, Wo}, ys[5] = {To * Ho * Wo * K, 1, Ho * Wo * K, Wo * K, K};
  CUDNN_CHECK(a.SetTensorNd(p->y, cdt, 5, yd, ys));

  int max_count = 0;
  CUDNN_CHECK(a.GetAlgoMaxCount(h, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<size_t>(std::max(max_count, 1)));
  int got = 0;
  CUDNN_CHECK(
      a.GetAlgo(h, p->x, p->w, p->conv, p->y, static_cast<int>(perf.size()), &got, perf.data()));
  struct Cand {
    int algo, math;
    size_t ws;
    float ms = -1.0f;
  };
  std::vector<Cand> cands;
  std::string skipped;
  for (int i = 0; i < got && static_cast<int>(cands.size()) < kCandidates; ++i) {
    const auto& r = perf[static_cast<size_t>(i)];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    // f32 must stay exact fp32 (no TF32 tensor-op conversions)
    if (dt == DType::kF32 && r.mathType != CUDNN_FMA_MATH && r.mathType != CUDNN_DEFAULT_MATH)
      continue;
    if (r.memory > ws_limit_) {
      skipped +=
          std::string(" ") + algo_name(r.algo) + "(ws " + std::to_string(r.memory >> 20) + " MiB)";
      continue;
    }
    // f32 runs with FMA math whatever the heuristic's entry says (CUDNN_DEFAULT_MATH may use TF32)
    const int math =
        dt == DType::kF32 ? static_cast<int>(CUDNN_FMA_MATH) : static_cast<int>(r.mathType);
    cands.push_back(Cand{static_cast<int>(r.algo), math, r.memory});
  }
  if (cands.empty()) {
    throw Error(ErrorCode::kUnsupported,
                "cuDNN conv: no algorithm for " + key + " (" + std::to_string(got) +
                    " heuristic results" +
                    (skipped.empty() ? "" : "; over the workspace limit:" + skipped) + ")");
  }
  size_t best = 0;
  std::string timings;
  if (autotune_) {  // a single candidate is timed too (the report shows every shape's rate)
    cudaEvent_t e0, e1;
    WAN22_CUDA_CHECK(cudaEventCreate(&e0));
    WAN22_CUDA_CHECK(cudaEventCreate(&e1));
    float best_ms = 0.0f;
    bool have = false;
    for (size_t i = 0; i < cands.size(); ++i) {
      try {
        run(*p, x, w, y, stream, cands[i].algo, cands[i].math);  // warm-up
        WAN22_CUDA_CHECK(cudaEventRecord(e0, stream));
        run(*p, x, w, y, stream, cands[i].algo, cands[i].math);
        WAN22_CUDA_CHECK(cudaEventRecord(e1, stream));
        WAN22_CUDA_CHECK(cudaEventSynchronize(e1));
      } catch (const Error&) {
        timings += std::string(" ") + algo_name(cands[i].algo) + ":failed";
        continue;
      }
      float ms = 0.0f;
      WAN22_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
      cands[i].ms = ms;
      std::ostringstream t;
      t.precision(3);
      t << " " << algo_name(cands[i].algo) << "/" << math_name(cands[i].math) << ":" << ms << "ms";
      timings += t.str();
      if (!have || ms < best_ms) {
        best_ms = ms;
        best = i;
        have = true;
      }
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (!have)
      throw Error(ErrorCode::kUnsupported,
                  "cuDNN conv: every candidate failed for " + key + ":" + timings);
  }
  p->algo = cands[best].algo;
  p->math = cands[best].math;
  p->workspace = cands[best].ws;
  p->best_ms = cands[best].ms > 0 ? cands[best].ms : 0.0f;
  p->flops = g.flops();
  std::ostringstream n;
  n.precision(4);
  n << key << ": " << algo_name(p->algo) << "/" << math_name(p->math) << " ws "
    << (p->workspace >> 10) << " KiB, " << g.flops() / 1e9 << " GFLOP";
  if (cands[best].ms > 0) n << ", " << g.flops() / (cands[best].ms * 1e-3) / 1e12 << " TFLOP/s";
  if (!timings.empty()) n << " [" << timings << " ]";
  if (!skipped.empty()) n << " (skipped:" << skipped << ")";
  p->note = n.str();
  return *plans_.emplace(key, std::move(p)).first->second;
}

void CudnnConv::forward(const ConvGeom& g, DType dt, const void* x, const void* w, void* y,
                        cudaStream_t stream, float beta) {
  if (!available()) throw Error(ErrorCode::kUnsupported, "cuDNN conv unavailable: " + reason_);
  if (dt != DType::kBF16 && dt != DType::kF32) {
    throw Error(ErrorCode::kUnsupported, std::string("cuDNN conv: dtype ") + dtype_name(dt));
  }
  g.validate();
  if (beta != 0.0f && plans_.find(g.str() + " " + dtype_name(dt)) == plans_.end()) {
    // autotuning overwrites y: keep its contents for the accumulation
    const size_t bytes = static_cast<size_t>(g.out_numel()) * dtype_size(dt);
    Tensor keep = Tensor::empty({static_cast<int64_t>(bytes)}, DType::kU8, Device::cuda(0));
    WAN22_CUDA_CHECK(cudaMemcpyAsync(keep.raw_data(), y, bytes, cudaMemcpyDeviceToDevice, stream));
    plan_for(g, dt, x, w, y, stream);
    WAN22_CUDA_CHECK(cudaMemcpyAsync(y, keep.raw_data(), bytes, cudaMemcpyDeviceToDevice, stream));
  }
  Plan& p = plan_for(g, dt, x, w, y, stream);
  run(p, x, w, y, stream, p.algo, p.math, beta);
  ++p.calls;
}

std::string CudnnConv::report() const {
  std::string s;
  for (const auto& [k, p] : plans_) {
    std::ostringstream n;
    n.precision(4);
    n << "cudnn " << p->note << " | calls " << p->calls;
    if (p->best_ms > 0) n << ", est " << p->calls * p->best_ms << " ms";
    s += n.str() + "\n";
  }
  return s;
}

double CudnnConv::estimated_seconds() const {
  double t = 0.0;
  for (const auto& [k, p] : plans_) t += static_cast<double>(p->calls) * p->best_ms * 1e-3;
  return t;
}

void CudnnConv::reset_calls() {
  for (auto& [k, p] : plans_) p->calls = 0;
}

#else  // built without cudnn.h: the wrapper exists and reports why it is unavailable

struct CudnnConv::Plan {};
CudnnConv::CudnnConv() { reason_ = "built without cudnn.h"; }
CudnnConv::~CudnnConv() = default;
CudnnConv::Plan& CudnnConv::plan_for(const ConvGeom&, DType, const void*, const void*, void*,
                                     cudaStream_t) {
  throw Error(ErrorCode::kUnsupported, reason_);
}
void CudnnConv::run(const Plan&, const void*, const void*, void*, cudaStream_t, int, int, float) {
  throw Error(ErrorCode::kUnsupported, reason_);
}
void CudnnConv::forward(const ConvGeom&, DType, const void*, const void*, void*, cudaStream_t,
                        float) {
  throw Error(ErrorCode::kUnsupported, "cuDNN conv unavailable: " + reason_);
}
std::string CudnnConv::report() const { return {}; }
double CudnnConv::estimated_seconds() const { return 0.0; }
void CudnnConv::reset_calls() {}
#endif

}  // namespace wan22::cuda
