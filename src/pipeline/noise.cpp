#include "pipeline/noise.h"

#include <cmath>
#include <random>

#include "core/thread_pool.h"

namespace wan22::pipeline {

namespace {
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline double to_unit(uint64_t v) {  // (0, 1]
  return (static_cast<double>(v >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}
}  // namespace

Tensor gaussian_noise(const Shape& shape, uint64_t seed, uint64_t stream) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  float* p = t.data<float>();
  const int64_t n = t.numel();
  const uint64_t key = splitmix64(seed ^ splitmix64(stream + 0x632be59bd9b4e019ull));
  const int64_t pairs = (n + 1) / 2;
  parallel_for(0, pairs, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      uint64_t c = key + 2 * static_cast<uint64_t>(i);
      double u1 = to_unit(splitmix64(c)), u2 = to_unit(splitmix64(c + 1));
      double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
      p[2 * i] = static_cast<float>(r * std::cos(th));
      if (2 * i + 1 < n) p[2 * i + 1] = static_cast<float>(r * std::sin(th));
    }
  });
  return t;
}

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32 | rd()) & 0x7fffffffffffffffull;
}

}  // namespace wan22::pipeline
