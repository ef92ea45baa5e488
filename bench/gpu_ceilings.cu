// Measures this GPU's ceilings once: bf16 GEMM rate (cuBLASLt, the DiT's shapes), device copy
// bandwidth, and pinned host<->device bandwidth. Prints a table and writes JSON (argv[1]).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "backends/cuda/cublaslt_gemm.h"
#include "backends/cuda/cuda_check.h"

using namespace wan22::cuda;

namespace {
template <class F>
double median_ms(F&& f, int reps = 10) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 3; ++i) f();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(a);
    f();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return t[t.size() / 2];
}

__global__ void fill_bf16(__nv_bfloat16* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    unsigned h = (unsigned)i * 2654435761u ^ seed;
    h ^= h >> 13;
    h *= 0x5bd1e995;
    p[i] = __float2bfloat16(((h & 0xffff) / 65536.0f - 0.5f));
  }
}
}  // namespace

int main(int argc, char** argv) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no GPU\n");
    return 1;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("GPU: %s, %d SMs, %.1f GiB, L2 %d MiB\n", prop.name, prop.multiProcessorCount,
              prop.totalGlobalMem / double(1 << 30), prop.l2CacheSize >> 20);
  LtGemm gemm;
  struct Shape {
    const char* name;
    int64_t m, n, k;
  } shapes[] = {{"ffn_up_720p (27280x14336x3072)", 27280, 14336, 3072},
                {"ffn_down_720p (27280x3072x14336)", 27280, 3072, 14336},
                {"qkvo_720p (27280x3072x3072)", 27280, 3072, 3072},
                {"square_8192", 8192, 8192, 8192}};
  std::string json = "{\n  \"gpu\": \"" + std::string(prop.name) + "\",\n  \"gemm_bf16_tflops\": {";
  bool first = true;
  for (const auto& s : shapes) {
    size_t xa = s.m * s.k, wa = s.n * s.k, ya = s.m * s.n;
    __nv_bfloat16 *x, *w, *y, *bias;
    WAN22_CUDA_CHECK(cudaMalloc(&x, xa * 2));
    WAN22_CUDA_CHECK(cudaMalloc(&w, wa * 2));
    WAN22_CUDA_CHECK(cudaMalloc(&y, ya * 2));
    WAN22_CUDA_CHECK(cudaMalloc(&bias, s.n * 2));
    fill_bf16<<<1024, 256>>>(x, xa, 1);
    fill_bf16<<<1024, 256>>>(w, wa, 2);
    fill_bf16<<<64, 256>>>(bias, s.n, 3);
    double ms = median_ms([&] { gemm.linear_bf16(x, w, nullptr, y, s.m, s.n, s.k, Epilogue::kNone, 0); });
    double ms_b = median_ms([&] { gemm.linear_bf16(x, w, bias, y, s.m, s.n, s.k, Epilogue::kBias, 0); });
    double ms_g = median_ms([&] { gemm.linear_bf16(x, w, bias, y, s.m, s.n, s.k, Epilogue::kBiasGelu, 0); });
    double fl = 2.0 * s.m * s.n * s.k;
    std::printf("GEMM %-34s %8.3f ms %7.1f TFLOP/s | +bias %7.1f | +bias+gelu %7.1f\n", s.name, ms,
                fl / ms / 1e9, fl / ms_b / 1e9, fl / ms_g / 1e9);
    char buf[256];
    std::snprintf(buf, sizeof(buf), "%s\n    \"%s\": {\"plain\": %.1f, \"bias\": %.1f, \"bias_gelu\": %.1f}",
                  first ? "" : ",", s.name, fl / ms / 1e9, fl / ms_b / 1e9, fl / ms_g / 1e9);
    json += buf;
    first = false;
    cudaFree(x);
    cudaFree(w);
    cudaFree(y);
    cudaFree(bias);
  }
  json += "\n  },\n";
  // Device-to-device copy: 4 GiB read + 4 GiB written.
  size_t bytes = size_t(4) << 30;
  void *a, *b;
  WAN22_CUDA_CHECK(cudaMalloc(&a, bytes));
  WAN22_CUDA_CHECK(cudaMalloc(&b, bytes));
  cudaMemset(a, 1, bytes);
  double ms = median_ms([&] { cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice); });
  double d2d = 2.0 * bytes / ms / 1e6;
  std::printf("device copy (read+write)              %8.3f ms %7.0f GB/s\n", ms, d2d);
  cudaFree(b);
  // Pinned host <-> device.
  size_t hb = size_t(1) << 30;
  void* h;
  WAN22_CUDA_CHECK(cudaMallocHost(&h, hb));
  std::memset(h, 1, hb);
  double h2d = hb / median_ms([&] { cudaMemcpy(a, h, hb, cudaMemcpyHostToDevice); }, 5) / 1e6;
  double d2h = hb / median_ms([&] { cudaMemcpy(h, a, hb, cudaMemcpyDeviceToHost); }, 5) / 1e6;
  std::printf("pinned H2D %7.1f GB/s, D2H %7.1f GB/s\n", h2d, d2h);
  char buf[256];
  std::snprintf(buf, sizeof(buf), "  \"d2d_copy_gbs\": %.0f,\n  \"h2d_pinned_gbs\": %.1f,\n  \"d2h_pinned_gbs\": %.1f\n}\n",
                d2d, h2d, d2h);
  json += buf;
  if (argc > 1) {
    FILE* f = std::fopen(argv[1], "w");
    if (f) {
      std::fputs(json.c_str(), f);
      std::fclose(f);
    }
  }
  cudaFreeHost(h);
  cudaFree(a);
  return 0;
}
