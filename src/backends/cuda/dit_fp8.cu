// fp8 e4m3 quantisation kernels and the fp8 linear layer (see dit_fp8.h).
#include <cublasLt.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cuda/dit_fp8.h"
#include "backends/cuda/kernel_util.cuh"

#define WAN22_FP8_CUBLAS_CHECK(expr)                                                          \
  do {                                                                                        \
    cublasStatus_t s_ = (expr);                                                               \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                        \
      throw ::wan22::Error(::wan22::ErrorCode::kInternal,                                     \
                           std::string("cuBLASLt error ") + cublasLtGetStatusName(s_) + " in " + \
                               #expr + " at " __FILE__ ":" + std::to_string(__LINE__));       \
    }                                                                                         \
  } while (0)

namespace wan22::cuda {

using detail::require;

namespace {

constexpr float kE4M3Max = 448.0f;

__device__ __forceinline__ uint8_t to_e4m3(float f) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(f, __NV_SATFINITE, __NV_E4M3));
}

// One block per row; kVec: 8 elements per access (cols % 8 == 0, 16-byte aligned rows).
template <bool kVec>
__global__ void quantize_rows_kernel(const bf16* __restrict__ x, int64_t cols, uint8_t* __restrict__ q,
                                     float* __restrict__ scale) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const bf16* xr = x + row * cols;
  uint8_t* qr = q + row * cols;
  float amax = 0.0f;
  if constexpr (kVec) {
    for (int64_t i = threadIdx.x; i < cols / 8; i += blockDim.x) {
      float f[8];
      detail::bf16x8_to_f32(reinterpret_cast<const detail::Bf16x8*>(xr)[i], f);
#pragma unroll
      for (int e = 0; e < 8; ++e) amax = fmaxf(amax, fabsf(f[e]));
    }
  } else {
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) amax = fmaxf(amax, fabsf(__bfloat162float(xr[i])));
  }
  amax = detail::block_max(amax, scratch);
  const float s = amax > 0.0f ? amax / kE4M3Max : 1.0f;
  const float inv = 1.0f / s;
  if constexpr (kVec) {
    for (int64_t i = threadIdx.x; i < cols / 8; i += blockDim.x) {
      float f[8];
      detail::bf16x8_to_f32(reinterpret_cast<const detail::Bf16x8*>(xr)[i], f);
      uint32_t lo = 0, hi = 0;
#pragma unroll
      for (int e = 0; e < 4; ++e) lo |= static_cast<uint32_t>(to_e4m3(f[e] * inv)) << (8 * e);
#pragma unroll
      for (int e = 0; e < 4; ++e) hi |= static_cast<uint32_t>(to_e4m3(f[4 + e] * inv)) << (8 * e);
      reinterpret_cast<uint2*>(qr)[i] = make_uint2(lo, hi);
    }
  } else {
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) qr[i] = to_e4m3(__bfloat162float(xr[i]) * inv);
  }
  if (threadIdx.x == 0) scale[row] = s;
}

__global__ void dequantize_rows_kernel(const uint8_t* __restrict__ q, const float* __restrict__ scale, int64_t rows,
                                       int64_t cols, bf16* __restrict__ out) {
  const int64_t total = rows * cols;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    __nv_fp8_e4m3 v;
    v.__x = q[idx];
    out[idx] = __float2bfloat16_rn(static_cast<float>(v) * scale[idx / cols]);
  }
}

__device__ __forceinline__ float gelu_tanh(float x) {
  const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}

// Vectorised: thread v owns columns [8v, 8v+8) (their weight scales and bias stay in registers) and
// walks the rows r = blockIdx.y, + gridDim.y, ...
__global__ void scale_bias_act_vec_kernel(bf16* y, int64_t m, int64_t n, const float* __restrict__ xs,
                                          const float* __restrict__ ws, const bf16* __restrict__ bias, bool gelu) {
  const int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (v >= n / 8) return;
  float w[8], b[8];
  const float4 w0 = reinterpret_cast<const float4*>(ws)[2 * v], w1 = reinterpret_cast<const float4*>(ws)[2 * v + 1];
  w[0] = w0.x, w[1] = w0.y, w[2] = w0.z, w[3] = w0.w, w[4] = w1.x, w[5] = w1.y, w[6] = w1.z, w[7] = w1.w;
  if (bias) {
    detail::bf16x8_to_f32(reinterpret_cast<const detail::Bf16x8*>(bias)[v], b);
  } else {
#pragma unroll
    for (int e = 0; e < 8; ++e) b[e] = 0.0f;
  }
  for (int64_t r = blockIdx.y; r < m; r += gridDim.y) {
    detail::Bf16x8* p = reinterpret_cast<detail::Bf16x8*>(y + r * n) + v;
    float f[8];
    detail::bf16x8_to_f32(*p, f);
    const float s = xs[r];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const float t = fmaf(f[e] * s, w[e], b[e]);
      f[e] = gelu ? gelu_tanh(t) : t;
    }
    *p = detail::f32_to_bf16x8(f);
  }
}

__global__ void scale_bias_act_kernel(bf16* y, int64_t m, int64_t n, const float* __restrict__ xs,
                                      const float* __restrict__ ws, const bf16* __restrict__ bias, bool gelu) {
  const int64_t total = m * n;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / n, c = idx % n;
    float v = __bfloat162float(y[idx]) * xs[r] * ws[c];
    if (bias) v += __bfloat162float(bias[c]);
    if (gelu) v = gelu_tanh(v);
    y[idx] = __float2bfloat16_rn(v);
  }
}

}  // namespace

void quantize_rows_e4m3(const bf16* x, int64_t rows, int64_t cols, uint8_t* q, float* scale, cudaStream_t stream) {
  constexpr const char* kOp = "cuda::quantize_rows_e4m3";
  require(rows >= 0 && cols > 0, kOp, "bad shape");
  require(rows <= 0x7fffffff, kOp, "too many rows");
  if (rows == 0) return;
  require(x && q && scale, kOp, "null pointer");
  const bool vec = cols % 8 == 0 && detail::aligned16(x) && (reinterpret_cast<uintptr_t>(q) & 7u) == 0;
  const int threads = cols >= 2048 ? 256 : 128;
  if (vec) {
    quantize_rows_kernel<true><<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, cols, q, scale);
  } else {
    quantize_rows_kernel<false><<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, cols, q, scale);
  }
  WAN22_CUDA_CHECK_LAUNCH();
}

void dequantize_rows_e4m3(const uint8_t* q, const float* scale, int64_t rows, int64_t cols, bf16* out,
                          cudaStream_t stream) {
  require(rows >= 0 && cols > 0, "cuda::dequantize_rows_e4m3", "bad shape");
  if (rows == 0) return;
  dequantize_rows_kernel<<<detail::grid_for(rows * cols, 256), 256, 0, stream>>>(q, scale, rows, cols, out);
  WAN22_CUDA_CHECK_LAUNCH();
}

void scale_bias_act_bf16(bf16* y, int64_t m, int64_t n, const float* xs, const float* ws, const bf16* bias, bool gelu,
                         cudaStream_t stream) {
  require(m >= 0 && n > 0, "cuda::scale_bias_act_bf16", "bad shape");
  if (m == 0) return;
  if (n % 8 == 0 && detail::aligned16(y) && detail::aligned16(ws) && (bias == nullptr || detail::aligned16(bias))) {
    constexpr int kThreads = 128;
    const dim3 grid(static_cast<unsigned>((n / 8 + kThreads - 1) / kThreads),
                    static_cast<unsigned>(std::min<int64_t>(m, 2048)));
    scale_bias_act_vec_kernel<<<grid, kThreads, 0, stream>>>(y, m, n, xs, ws, bias, gelu);
    WAN22_CUDA_CHECK_LAUNCH();
    return;
  }
  scale_bias_act_kernel<<<detail::grid_for(m * n, 256), 256, 0, stream>>>(y, m, n, xs, ws, bias, gelu);
  WAN22_CUDA_CHECK_LAUNCH();
}

std::string fp8_gemm_probe(int64_t m, int64_t n, int64_t k) {
  cublasLtHandle_t h = nullptr;
  WAN22_FP8_CUBLAS_CHECK(cublasLtCreate(&h));
  std::string out;
  struct Variant {
    const char* name;
    int a_mode, b_mode;  // cublasLtMatmulMatrixScale_t
    cublasLtEpilogue_t ep;
    int8_t fast;
    cudaDataType_t d;
    cublasLtPointerMode_t pm;
  };
  const int kS = CUBLASLT_MATMUL_MATRIX_SCALE_SCALAR_32F, kV = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  const Variant vs[] = {
      {"scalar scales, no epilogue, fast accum, bf16 out", kS, kS, CUBLASLT_EPILOGUE_DEFAULT, 1, CUDA_R_16BF,
       CUBLASLT_POINTER_MODE_HOST},
      {"scalar scales, bias, bf16 out", kS, kS, CUBLASLT_EPILOGUE_BIAS, 1, CUDA_R_16BF, CUBLASLT_POINTER_MODE_HOST},
      {"scalar scales, bias+GELU, bf16 out", kS, kS, CUBLASLT_EPILOGUE_GELU_BIAS, 1, CUDA_R_16BF,
       CUBLASLT_POINTER_MODE_HOST},
      {"outer-vector A+B, no epilogue, fast accum", kV, kV, CUBLASLT_EPILOGUE_DEFAULT, 1, CUDA_R_16BF,
       CUBLASLT_POINTER_MODE_HOST},
      {"outer-vector A+B, no epilogue, exact accum", kV, kV, CUBLASLT_EPILOGUE_DEFAULT, 0, CUDA_R_16BF,
       CUBLASLT_POINTER_MODE_HOST},
      {"outer-vector A+B, bias", kV, kV, CUBLASLT_EPILOGUE_BIAS, 1, CUDA_R_16BF, CUBLASLT_POINTER_MODE_HOST},
      {"outer-vector A+B, f32 out", kV, kV, CUBLASLT_EPILOGUE_DEFAULT, 1, CUDA_R_32F, CUBLASLT_POINTER_MODE_HOST},
      {"outer-vector A only, scalar B", kV, kS, CUBLASLT_EPILOGUE_DEFAULT, 1, CUDA_R_16BF, CUBLASLT_POINTER_MODE_HOST},
      {"scalar scales, per-row alpha vector (device), bf16 out", kS, kS, CUBLASLT_EPILOGUE_DEFAULT, 1, CUDA_R_16BF,
       CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO},
  };
  for (const Variant& v : vs) {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    auto set = [&](cublasLtMatmulDescAttributes_t attr, const void* val, size_t sz) {
      if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulDescSetAttribute(op, attr, val, sz);
    };
    const int32_t am = v.a_mode, bm = v.b_mode;
    const cudaDataType_t bt = CUDA_R_16BF;
    set(CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
    set(CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
    set(CUBLASLT_MATMUL_DESC_FAST_ACCUM, &v.fast, sizeof(v.fast));
    set(CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &am, sizeof(am));
    set(CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &bm, sizeof(bm));
    set(CUBLASLT_MATMUL_DESC_EPILOGUE, &v.ep, sizeof(v.ep));
    if (v.ep != CUBLASLT_EPILOGUE_DEFAULT) set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt));
    set(CUBLASLT_MATMUL_DESC_POINTER_MODE, &v.pm, sizeof(v.pm));
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&a, CUDA_R_8F_E4M3, k, n, k);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&b, CUDA_R_8F_E4M3, k, m, k);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&c, v.d, n, m, n);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulHeuristicResult_t res[4] = {};
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulAlgoGetHeuristic(h, op, a, b, c, c, pref, 4, res, &found);
    out += std::string("  ") + v.name + ": " +
           (st == CUBLAS_STATUS_SUCCESS ? std::to_string(found) + " algorithm(s)" : cublasLtGetStatusName(st)) + "\n";
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (op) cublasLtMatmulDescDestroy(op);
  }
  cublasLtDestroy(h);
  return out;
}

// ---------------- Fp8Linear ----------------

struct Fp8Linear::Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool outer = false;    // outer-vector scales + fused epilogue (else: unscaled GEMM + scale kernel)
  bool dequant = false;  // no fp8 algorithm for this shape: dequantise the weight, bf16 GEMM
  ~Plan() {
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

Fp8Linear::Fp8Linear() {
  cublasLtHandle_t h = nullptr;
  WAN22_FP8_CUBLAS_CHECK(cublasLtCreate(&h));
  handle_ = h;
  WAN22_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
}

Fp8Linear::~Fp8Linear() {
  for (auto& [k, p] : plans_) delete p;
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(static_cast<cublasLtHandle_t>(handle_));
}

Fp8Linear::Plan& Fp8Linear::plan_for(int64_t m, int64_t n, int64_t k, Epilogue ep) {
  auto key = std::make_tuple(m, n, k, static_cast<int>(ep));
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  auto h = static_cast<cublasLtHandle_t>(handle_);
  // Try the outer-vector scaled GEMM with the fused epilogue first, then the unscaled one.
  for (bool outer : {true, false}) {
    auto* p = new Plan;
    p->outer = outer;
    bool ok = cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS;
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const int8_t fast = 1;
    ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof(fast)) ==
                   CUBLAS_STATUS_SUCCESS;
    if (outer) {
      const int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof(mode)) ==
                     CUBLAS_STATUS_SUCCESS;
      ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof(mode)) ==
                     CUBLAS_STATUS_SUCCESS;
      const cublasLtEpilogue_t e = ep == Epilogue::kBiasGelu ? CUBLASLT_EPILOGUE_GELU_BIAS
                                   : ep == Epilogue::kBias   ? CUBLASLT_EPILOGUE_BIAS
                                                             : CUBLASLT_EPILOGUE_DEFAULT;
      ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof(e)) ==
                     CUBLAS_STATUS_SUCCESS;
      if (ep != Epilogue::kNone) {
        const cudaDataType_t bt = CUDA_R_16BF;
        ok = ok && cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)) ==
                       CUBLAS_STATUS_SUCCESS;
      }
    }
    ok = ok && cublasLtMatrixLayoutCreate(&p->a, CUDA_R_8F_E4M3, k, n, k) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasLtMatrixLayoutCreate(&p->b, CUDA_R_8F_E4M3, k, m, k) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasLtMatrixLayoutCreate(&p->c, CUDA_R_16BF, n, m, n) == CUBLAS_STATUS_SUCCESS;
    int found = 0;
    cublasLtMatmulHeuristicResult_t res{};
    if (ok) {
      cublasLtMatmulPreference_t pref = nullptr;
      ok = cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS;
      ok = ok && cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes_,
                                                      sizeof(workspace_bytes_)) == CUBLAS_STATUS_SUCCESS;
      ok = ok && cublasLtMatmulAlgoGetHeuristic(h, p->op, p->a, p->b, p->c, p->c, pref, 1, &res, &found) ==
                     CUBLAS_STATUS_SUCCESS;
      if (pref) cublasLtMatmulPreferenceDestroy(pref);
    }
    if (ok && found > 0) {
      p->algo = res.algo;
      plans_.emplace(key, p);
      return *p;
    }
    delete p;
  }
  auto* p = new Plan;
  p->dequant = true;
  plans_.emplace(key, p);
  return *p;
}

void Fp8Linear::linear(LtGemm& bf16_gemm, const bf16* x, const void* wq, const float* ws, const void* bias, bf16* y,
                       int64_t m, int64_t n, int64_t k, Epilogue ep, cudaStream_t stream) {
  if (m == 0) return;
  auto dequant_path = [&](const std::string& why) {
    if (!wdq_.defined() || wdq_.numel() < n * k) wdq_ = Tensor::empty({n * k}, DType::kBF16, Device::cuda(0));
    dequantize_rows_e4m3(static_cast<const uint8_t*>(wq), ws, n, k, static_cast<bf16*>(wdq_.raw_data()), stream);
    bf16_gemm.linear_bf16(x, wdq_.raw_data(), bias, y, m, n, k, ep, stream);
    note_ = "weight dequantised, bf16 GEMM (" + why + ")";
  };
  if (k % 16 != 0 || n % 16 != 0) {
    dequant_path("k, n not multiples of 16");
    return;
  }
  Plan& p = plan_for(m, n, k, ep);
  if (p.dequant) {
    dequant_path("no fp8 algorithm for " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k));
    return;
  }
  // activations: per-token e4m3 with one scale per row
  if (!xq_.defined() || xq_.numel() < m * k) xq_ = Tensor::empty({m * k}, DType::kU8, Device::cuda(0));
  if (!xs_.defined() || xs_.numel() < m) xs_ = Tensor::empty({m}, DType::kF32, Device::cuda(0));
  auto* xq = static_cast<uint8_t*>(xq_.raw_data());
  auto* xs = static_cast<float*>(xs_.raw_data());
  quantize_rows_e4m3(x, m, k, xq, xs, stream);

  auto h = static_cast<cublasLtHandle_t>(handle_);
  if (p.outer) {
    WAN22_FP8_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &ws, sizeof(ws)));
    const float* xsc = xs;
    WAN22_FP8_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &xsc, sizeof(xsc)));
    if (ep != Epilogue::kNone) {
      WAN22_FP8_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    }
  }
  const float alpha = 1.0f, beta = 0.0f;
  const cublasStatus_t s = cublasLtMatmul(h, p.op, &alpha, wq, p.a, xq, p.b, &beta, y, p.c, y, p.c, &p.algo,
                                          workspace_, workspace_bytes_, stream);
  if (s != CUBLAS_STATUS_SUCCESS) {
    // the heuristic offered an algorithm the library then refused: use the bf16 path from now on
    p.dequant = true;
    dequant_path(std::string("fp8 GEMM refused: ") + cublasLtGetStatusName(s));
    return;
  }
  if (!p.outer) {
    scale_bias_act_bf16(y, m, n, xs, ws, ep == Epilogue::kNone ? nullptr : static_cast<const bf16*>(bias),
                        ep == Epilogue::kBiasGelu, stream);
    note_ = "unscaled fp8 GEMM + scale/bias/GELU kernel";
  } else {
    note_ = "fp8 GEMM with outer-vector scales, fused epilogue";
  }
}

}  // namespace wan22::cuda
