// GEMM kernels: OpenBLAS sgemm, single-threaded per call, parallel over tiles through the pool.
//
// Threading choice: OpenBLAS's own threads are switched off (openblas_set_num_threads(1)) and
// every caller splits its work into per-thread tiles (blocks of output features for linear,
// batches / row blocks for matmul). That keeps one set of threads (the pool's), never
// oversubscribes when an op runs inside a pool worker, and scales with the pool size on real
// multi-core hosts. Measured on the 2-vCPU dev VM (1024x3072x3072, best of 15, machine shared
// with other builds): one single-threaded sgemm call 107 GFLOP/s, one call with 2 OpenBLAS
// threads 105, pool tiles 88. The two vCPUs did not scale for FMA-bound work there (likely one
// physical core / contention), so neither scheme gained from the second thread on that box.
#include <cblas.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cpu/cpu_kernels.h"
#include "backends/cpu/vec_math.h"
#include "core/log.h"
#include "core/thread_pool.h"

// Present only in DYNAMIC_ARCH builds of OpenBLAS (Debian's is one); weak so other builds link.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace wan22::cpu {

namespace {
bool is_one_of(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

// OpenBLAS 0.3.21 does not know recent Xeons (e.g. family 6 model 207) and falls back to its
// SSE3 "Prescott" kernels, 3-4x slower. Unless the user chose OPENBLAS_CORETYPE, re-run its core
// selection with the best kernel set this CPU supports.
void select_blas_core() {
  if (std::getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  const std::string core = openblas_get_corename();
  const char* want = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    if (!is_one_of(core, {"SkylakeX", "Cooperlake", "SapphireRapids", "Zen"})) want = "SkylakeX";
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    if (!is_one_of(core, {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})) want = "Haswell";
  }
  if (!want) return;
  setenv("OPENBLAS_CORETYPE", want, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  LOG_DEBUG << "OpenBLAS core " << core << " -> " << openblas_get_corename();
}

void init_blas_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    select_blas_core();
    openblas_set_num_threads(1);
  });
}

int pool_threads() { return default_pool().num_threads(); }

// Rows of w per converted block: about 4 MiB of f32, a multiple of 16, at least 16.
int64_t weight_block_rows(int64_t K) {
  int64_t rows = (int64_t{1} << 21) / std::max<int64_t>(K, 1);
  rows = std::max<int64_t>(16, rows / 16 * 16);
  return rows;
}

// Rows of x up to which linear() uses per-row dot products instead of sgemm: each weight row is
// converted once into an L1-resident buffer and used by every row of x (no 4 MiB block buffers).
constexpr int64_t kSmallM = 8;  // measured crossover: M=2 2.2x faster, M=16 1.25x slower than sgemm

inline float dot(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  float s = 0.f;
#ifdef WAN22_CPU_AVX2
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  alignas(32) float t[8];
  _mm256_store_ps(t, acc);
  s = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void linear_small_m(const float* x, int64_t M, int64_t K, const void* w, DType wdt, int64_t N,
                    const float* bias, float* y) {
  const size_t wes = dtype_size(wdt);
  const char* wbytes = static_cast<const char*>(w);
  parallel_for(0, N, 64, [&](int64_t nb, int64_t ne) {
    std::vector<float> row(wdt == DType::kF32 ? 0 : static_cast<size_t>(K));
    for (int64_t n = nb; n < ne; ++n) {
      const float* wr;
      if (wdt == DType::kF32) {
        wr = static_cast<const float*>(w) + n * K;
      } else {
        convert_to_f32(wbytes + n * K * static_cast<int64_t>(wes), wdt, row.data(), row.size());
        wr = row.data();
      }
      const float b = bias ? bias[n] : 0.f;
      for (int64_t m = 0; m < M; ++m) y[m * N + n] = dot(x + m * K, wr, K) + b;
    }
  });
}

void fill_bias(float* y, int64_t M, int64_t N, int64_t n0, int64_t n1, const float* bias) {
  for (int64_t m = 0; m < M; ++m) std::copy(bias + n0, bias + n1, y + m * N + n0);
}
}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  constexpr int64_t kMax = std::numeric_limits<blasint>::max();
  if (M > kMax || N > kMax || K > kMax || lda > kMax || ldb > kMax || ldc > kMax) {
    throw Error(ErrorCode::kUnsupported, "sgemm: dimension exceeds the BLAS integer range (M " + std::to_string(M) +
                                             ", N " + std::to_string(N) + ", K " + std::to_string(K) + ")");
  }
  init_blas_threads();
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

void linear(const float* x, int64_t M, int64_t K, const void* w, DType wdt, int64_t N,
            const float* bias, float* y) {
  if (M <= 0 || N <= 0) return;
  if (M <= kSmallM) {
    linear_small_m(x, M, K, w, wdt, N, bias, y);
    return;
  }
  const int nt = pool_threads();
  // Blocks of at most weight_block_rows(K) output features, their count a multiple of the thread
  // count so every thread gets the same share.
  int64_t nblocks = (N + weight_block_rows(K) - 1) / weight_block_rows(K);
  nblocks = (nblocks + nt - 1) / nt * nt;
  const int64_t nb = (N + nblocks - 1) / nblocks;
  nblocks = (N + nb - 1) / nb;
  const size_t wes = dtype_size(wdt);
  const char* wbytes = static_cast<const char*>(w);

  if (nblocks >= nt && nb >= 16) {
    // Split over blocks of output features; each block's weights are converted once.
    parallel_for(0, nblocks, 1, [&](int64_t bb, int64_t be) {
      std::vector<float> buf;
      for (int64_t blk = bb; blk < be; ++blk) {
        const int64_t n0 = blk * nb, n1 = std::min(N, n0 + nb);
        const float* wf;
        if (wdt == DType::kF32) {
          wf = static_cast<const float*>(w) + n0 * K;
        } else {
          buf.resize(static_cast<size_t>((n1 - n0) * K));
          convert_to_f32(wbytes + n0 * K * static_cast<int64_t>(wes), wdt, buf.data(), buf.size());
          wf = buf.data();
        }
        if (bias) fill_bias(y, M, N, n0, n1, bias);
        sgemm(false, true, M, n1 - n0, K, 1.f, x, K, wf, K, bias ? 1.f : 0.f, y + n0, N);
      }
    });
    return;
  }
  // Few output features: convert the (small) weight once, split over rows of x.
  std::vector<float> wbuf;
  const float* wf = static_cast<const float*>(w);
  if (wdt != DType::kF32) {
    wbuf.resize(static_cast<size_t>(N * K));
    convert_f32(w, wdt, wbuf.data(), N * K);
    wf = wbuf.data();
  }
  parallel_for(0, M, 16, [&](int64_t mb, int64_t me) {
    float* yb = y + mb * N;
    if (bias) fill_bias(yb, me - mb, N, 0, N, bias);
    sgemm(false, true, me - mb, N, K, 1.f, x + mb * K, K, wf, K, bias ? 1.f : 0.f, yb, N);
  });
}

void matmul_batched(const float* a, const float* b, float* c, const std::vector<int64_t>& a_off,
                    const std::vector<int64_t>& b_off, int64_t M, int64_t N, int64_t K) {
  const int64_t batch = static_cast<int64_t>(a_off.size());
  if (batch == 0 || M == 0 || N == 0) return;
  const int nt = pool_threads();
  if (batch % nt == 0 || batch >= 4 * nt) {
    parallel_for(0, batch, 1, [&](int64_t ib, int64_t ie) {
      for (int64_t i = ib; i < ie; ++i)
        sgemm(false, false, M, N, K, 1.f, a + a_off[i], K, b + b_off[i], N, 0.f, c + i * M * N, N);
    });
    return;
  }
  for (int64_t i = 0; i < batch; ++i) {
    const float* ai = a + a_off[i];
    const float* bi = b + b_off[i];
    float* ci = c + i * M * N;
    if (M >= N) {
      parallel_for(0, M, 16, [&](int64_t mb, int64_t me) {
        sgemm(false, false, me - mb, N, K, 1.f, ai + mb * K, K, bi, N, 0.f, ci + mb * N, N);
      });
    } else {
      parallel_for(0, N, 16, [&](int64_t nb0, int64_t ne) {
        sgemm(false, false, M, ne - nb0, K, 1.f, ai, K, bi + nb0, N, 0.f, ci + nb0, N);
      });
    }
  }
}

}  // namespace wan22::cpu
