// rope_3d against a direct double-precision transcription of Wan's rope_params + rope_apply.
#include <gtest/gtest.h>

#include <complex>

#include "ops/ops.h"
#include "test_ops_util.h"

using namespace wan22;
using namespace wan22::test;

namespace {
// freqs = cat(rope_params(P, D - 4*(D/6)), rope_params(P, 2*(D/6)), rope_params(P, 2*(D/6))) as
// complex [P, D/2]; then the split [c - 2*(c/3), c/3, c/3] picks per-axis columns.
std::vector<double> ref_rope(const Tensor& x, int64_t f, int64_t h, int64_t w, double theta) {
  const int64_t B = x.dim(0), L = x.dim(1), H = x.dim(2), D = x.dim(3), c = D / 2;
  const int64_t P = 64;
  const int64_t dims[3] = {D - 4 * (D / 6), 2 * (D / 6), 2 * (D / 6)};
  std::vector<std::vector<std::complex<double>>> freqs(P);
  for (int64_t p = 0; p < P; ++p)
    for (int a = 0; a < 3; ++a)
      for (int64_t i = 0; i < dims[a] / 2; ++i) {
        const double ang = double(p) * (1.0 / std::pow(theta, double(2 * i) / double(dims[a])));
        freqs[p].push_back(std::polar(1.0, ang));
      }
  const int64_t split[3] = {c - 2 * (c / 3), c / 3, c / 3};
  const auto xv = as_double(x);
  std::vector<double> y(xv);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t fi = 0; fi < f; ++fi)
      for (int64_t hi = 0; hi < h; ++hi)
        for (int64_t wi = 0; wi < w; ++wi) {
          const int64_t l = (fi * h + hi) * w + wi;
          const int64_t pos[3] = {fi, hi, wi};
          for (int64_t n = 0; n < H; ++n) {
            int64_t j = 0;
            for (int a = 0; a < 3; ++a) {
              const int64_t col0 = a == 0 ? 0 : (a == 1 ? split[0] : split[0] + split[1]);
              for (int64_t i = 0; i < split[a]; ++i, ++j) {
                const int64_t base = ((b * L + l) * H + n) * D + 2 * j;
                const std::complex<double> z(xv[base], xv[base + 1]);
                const std::complex<double> r = z * freqs[pos[a]][col0 + i];
                y[base] = r.real();
                y[base + 1] = r.imag();
              }
            }
          }
        }
  return y;
}
}  // namespace

TEST(OpsRope, MatchesWanFormula) {
  // D = 128 (Wan head dim): parts 22/21/21.
  Tensor x = rnd({2, 3 * 4 * 5 + 7, 3, 128}, 1, -2.f, 2.f);
  Tensor y = ops::rope_3d(x, 3, 4, 5);
  EXPECT_REL_CLOSE(y, ref_rope(x, 3, 4, 5, 10000.0), 2e-7);
  // Tokens beyond the grid are unchanged, bit for bit.
  const auto xv = x.to_vector(), yv = y.to_vector();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 60 * 3 * 128; i < 67 * 3 * 128; ++i) ASSERT_EQ(yv[b * 67 * 3 * 128 + i], xv[b * 67 * 3 * 128 + i]);
  // Rotation happens (not identity) and preserves each pair's norm.
  EXPECT_GT(rel_err(y, x), 0.1);
}

TEST(OpsRope, OddHeadDimsAndTheta) {
  // D = 22 -> c = 11: parts 5/3/3, axis dims 14/6/6.
  Tensor x = rnd({1, 2 * 3 * 7, 2, 22}, 2);
  EXPECT_REL_CLOSE(ops::rope_3d(x, 2, 3, 7, 500.0), ref_rope(x, 2, 3, 7, 500.0), 2e-7);
  // A non-contiguous input (transposed heads and tokens).
  Tensor xt = rnd({1, 2, 42, 22}, 3).transpose(1, 2);
  EXPECT_REL_CLOSE(ops::rope_3d(xt, 2, 3, 7), ref_rope(xt.contiguous(), 2, 3, 7, 10000.0), 2e-7);
}

TEST(OpsRope, BadInputThrows) {
  EXPECT_THROW(ops::rope_3d(rnd({1, 10, 2, 7}, 1), 1, 2, 5), Error);   // odd D
  EXPECT_THROW(ops::rope_3d(rnd({1, 10, 2, 8}, 1), 2, 2, 3), Error);   // grid > L
  EXPECT_THROW(ops::rope_3d(rnd({10, 2, 8}, 1), 1, 2, 5), Error);      // not 4-d
}
