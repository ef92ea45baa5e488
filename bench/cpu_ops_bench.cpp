// Google Benchmark microbenchmarks of the CPU ops (wan22_cpu_ops_bench).
// Counters: GFLOP/s for GEMM-like ops, GB/s (bytes read + written) for memory-bound ones.
// Threads: WAN22_NUM_THREADS (default: all CPUs). Sizes are small DiT/VAE/T5-like shapes.
#include <benchmark/benchmark.h>

#include "core/tensor.h"
#include "ops/ops.h"

namespace {
using namespace wan22;

Tensor rnd(const Shape& s, uint32_t seed) {
  Tensor t = Tensor::empty(s);
  float* p = t.data<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<float>(x >> 8) / 16777216.0f - 0.5f;
  }
  return t;
}

void flops(benchmark::State& st, double f) {
  st.counters["GFLOP/s"] = benchmark::Counter(f * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
void bytes(benchmark::State& st, double b) {
  st.counters["GB/s"] = benchmark::Counter(b * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Linear(benchmark::State& st) {
  const int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  const bool bf16 = st.range(3) != 0;
  Tensor x = rnd({M, K}, 1), w = rnd({N, K}, 2), b = rnd({N}, 3);
  if (bf16) w = w.to(DType::kBF16);
  for (auto _ : st) benchmark::DoNotOptimize(ops::linear(x, w, &b));
  flops(st, 2.0 * M * K * N);
}
BENCHMARK(BM_Linear)->Args({1024, 3072, 3072, 0})->Args({1024, 3072, 3072, 1})->Args({2, 3072, 18432, 1})->Args({16, 3072, 18432, 1})->Args({32, 3072, 18432, 1})
    ->Args({512, 4096, 10240, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Attention(benchmark::State& st) {
  const int64_t Lq = st.range(0), Lk = st.range(1), H = st.range(2), D = st.range(3);
  Tensor q = rnd({1, Lq, H, D}, 1), k = rnd({1, Lk, H, D}, 2), v = rnd({1, Lk, H, D}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::attention(q, k, v));
  flops(st, 4.0 * Lq * Lk * H * D);
}
BENCHMARK(BM_Attention)->Args({2048, 2048, 4, 128})->Args({2048, 512, 4, 128})->Args({512, 512, 16, 64})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Conv3d(benchmark::State& st) {
  const int64_t C = st.range(0), T = st.range(1), H = st.range(2), W = st.range(3);
  Tensor x = rnd({1, C, T, H, W}, 1), w = rnd({C, C, 3, 3, 3}, 2), b = rnd({C}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::conv3d(x, w, &b, {1, 1, 1}, {2, 0, 1, 1, 1, 1}));
  flops(st, 2.0 * C * C * 27 * T * H * W);
}
BENCHMARK(BM_Conv3d)->Args({96, 4, 64, 64})->Args({384, 2, 32, 32})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LayerNorm(benchmark::State& st) {
  Tensor x = rnd({st.range(0), 3072}, 1), w = rnd({3072}, 2);
  for (auto _ : st) benchmark::DoNotOptimize(ops::layer_norm(x, &w, &w, 1e-6f));
  bytes(st, 8.0 * x.numel());
}
BENCHMARK(BM_LayerNorm)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GeluTanh(benchmark::State& st) {
  Tensor x = rnd({st.range(0), 14336}, 1);
  for (auto _ : st) benchmark::DoNotOptimize(ops::gelu_tanh(x));
  bytes(st, 8.0 * x.numel());
}
BENCHMARK(BM_GeluTanh)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Rope3d(benchmark::State& st) {
  Tensor x = rnd({1, 2048, 24, 128}, 1);
  for (auto _ : st) benchmark::DoNotOptimize(ops::rope_3d(x, 2, 32, 32));
  bytes(st, 8.0 * x.numel());
}
BENCHMARK(BM_Rope3d)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_RmsNormDim(benchmark::State& st) {
  Tensor x = rnd({1, 256, 4, 64, 64}, 1), g = rnd({256, 1, 1, 1}, 2);
  for (auto _ : st) benchmark::DoNotOptimize(ops::rms_norm_dim(x, 1, &g, nullptr));
  bytes(st, 8.0 * x.numel());
}
BENCHMARK(BM_RmsNormDim)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
