#include "test_util.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>

namespace wan22::test {

std::string source_dir() { return WAN22_SOURCE_DIR; }

std::string golden_dir() {
  if (const char* e = std::getenv("WAN22_GOLDEN"); e && *e) return e;
  return source_dir() + "/../shared/testdata/golden";
}

std::string diffusers_dir() {
  if (const char* e = std::getenv("WAN22_GOLDEN_DIFFUSERS"); e && *e) return e;
  return source_dir() + "/../shared/testdata/diffusers";
}

std::string temp_dir() {
  static std::atomic<int> counter{0};
  auto p = std::filesystem::temp_directory_path() /
           ("wan22_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  // A directory left by an earlier process with the same pid would leak its files into this test.
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

Tensor random_tensor(const Shape& shape, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape, DType::kF32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

double rel_err(const Tensor& got, const Tensor& ref) {
  auto g = got.to_vector();
  auto r = ref.to_vector();
  if (g.size() != r.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!std::isfinite(g[i])) return std::numeric_limits<double>::infinity();
    double d = static_cast<double>(g[i]) - r[i];
    num += d * d;
    den += static_cast<double>(r[i]) * r[i];
  }
  if (den == 0) return num == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(num / den);
}

double cosine(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    ab += static_cast<double>(va[i]) * vb[i];
    aa += static_cast<double>(va[i]) * va[i];
    bb += static_cast<double>(vb[i]) * vb[i];
  }
  return ab / std::sqrt(aa * bb + 1e-300);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector();
  auto y = b.to_vector();
  if (x.size() != y.size()) return std::numeric_limits<double>::infinity();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double d = std::fabs(static_cast<double>(x[i]) - y[i]);
    if (!(d <= m)) m = d;  // NaN propagates as a large value
  }
  return m;
}

}  // namespace wan22::test
