// The comparison maths of wan22 bench: noise band, threshold, regression / improvement verdicts.
#include <gtest/gtest.h>

#include <cmath>

#include "bench/compare.h"
#include "bench/stats.h"

using namespace wan22::bench;

namespace {
Metric timing(const std::string& name, std::vector<double> samples) {
  return timing_metric(name, samples);
}
Metric rate(const std::string& name, std::vector<double> samples) {
  Metric m = timing_metric(name, samples);
  m.unit = "frames/s";
  m.better = Better::kHigher;
  return m;
}
const MetricChange& find(const std::vector<MetricChange>& v, const std::string& n) {
  for (const auto& c : v)
    if (c.name == n) return c;
  throw std::runtime_error("no change " + n);
}
}  // namespace

TEST(BenchStats, SpreadOfSamples) {
  Spread s = spread_of({1.0, 1.2, 0.9, 1.1, 5.0});
  EXPECT_EQ(s.n, 5u);
  EXPECT_DOUBLE_EQ(s.median, 1.1);
  EXPECT_DOUBLE_EQ(s.min, 0.9);
  EXPECT_DOUBLE_EQ(s.max, 5.0);
  // deviations from 1.1: 0.1, 0.1, 0.2, 0, 3.9 -> median 0.1
  EXPECT_NEAR(s.mad, 0.1, 1e-12);
  EXPECT_NEAR(s.rel_mad, 0.1 / 1.1, 1e-12);
  EXPECT_NEAR(s.rel_spread, 4.1 / 1.1, 1e-12);
}

TEST(BenchStats, NoiseBandIsHalfTheRelativeSpread) {
  EXPECT_NEAR(noise_band(timing("a", {0.9, 1.0, 1.1})), 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(noise_band(timing("a", {2.0})), 0.0);  // one sample: no band
  EXPECT_DOUBLE_EQ(noise_band(timing("a", {})), 0.0);
  EXPECT_DOUBLE_EQ(noise_band(timing("a", {0.0, 0.0})), 0.0);  // median 0: no relative band
}

TEST(BenchCompare, SlowdownBeyondNoiseIsARegression) {
  // baseline 1.0 +-2%, now 1.5 +-2%: +50% >> threshold max(5%, 4%)
  auto ch = compare_metrics({timing("video_2s_s", {1.48, 1.5, 1.52})},
                            {timing("video_2s_s", {0.98, 1.0, 1.02})});
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_EQ(ch[0].verdict, Verdict::kRegression);
  EXPECT_NEAR(ch[0].change, 0.5, 1e-12);
  EXPECT_NEAR(ch[0].threshold, 0.05, 1e-12);
  EXPECT_STREQ(verdict_name(ch[0].verdict), "regression");
}

TEST(BenchCompare, ChangeInsideTheNoiseBandIsUnchanged) {
  // +20% median change, but the repeats scatter by +-15% each: threshold 30%
  auto ch = compare_metrics({timing("s", {1.02, 1.2, 1.38})}, {timing("s", {0.85, 1.0, 1.15})});
  EXPECT_NEAR(ch[0].band_baseline, 0.15, 1e-12);
  EXPECT_NEAR(ch[0].band_current, 0.15, 1e-12);
  EXPECT_NEAR(ch[0].threshold, 0.30, 1e-12);
  EXPECT_EQ(ch[0].verdict, Verdict::kUnchanged);
  // the same +20% with tight repeats is a regression
  auto tight = compare_metrics({timing("s", {1.19, 1.2, 1.21})}, {timing("s", {0.99, 1.0, 1.01})});
  EXPECT_EQ(tight[0].verdict, Verdict::kRegression);
}

TEST(BenchCompare, MinimumChangeAppliesWithoutNoise) {
  // single samples (no band): 4% is below the 5% minimum, 6% above it
  EXPECT_EQ(compare_metrics({timing("s", {1.04})}, {timing("s", {1.0})})[0].verdict,
            Verdict::kUnchanged);
  EXPECT_EQ(compare_metrics({timing("s", {1.06})}, {timing("s", {1.0})})[0].verdict,
            Verdict::kRegression);
  CompareOptions strict;
  strict.min_change = 0.01;
  EXPECT_EQ(compare_metrics({timing("s", {1.04})}, {timing("s", {1.0})}, strict)[0].verdict,
            Verdict::kRegression);
}

TEST(BenchCompare, DirectionFollowsBetter) {
  // faster timing = improvement; lower throughput = regression
  auto ch = compare_metrics({timing("t", {0.5, 0.5}), rate("fps", {10, 10})},
                            {timing("t", {1.0, 1.0}), rate("fps", {20, 20})});
  EXPECT_EQ(find(ch, "t").verdict, Verdict::kImprovement);
  EXPECT_NEAR(find(ch, "t").change, -0.5, 1e-12);
  EXPECT_EQ(find(ch, "fps").verdict, Verdict::kRegression);
  EXPECT_NEAR(find(ch, "fps").change, -0.5, 1e-12);
  // higher throughput = improvement
  EXPECT_EQ(compare_metrics({rate("fps", {30})}, {rate("fps", {20})})[0].verdict,
            Verdict::kImprovement);
}

TEST(BenchCompare, NewAndMissingMetrics) {
  auto ch = compare_metrics({timing("a", {1}), timing("new_one", {2})},
                            {timing("a", {1}), timing("gone", {3})});
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].name, "a");
  EXPECT_EQ(ch[0].verdict, Verdict::kUnchanged);
  EXPECT_EQ(ch[1].name, "new_one");
  EXPECT_EQ(ch[1].verdict, Verdict::kNew);
  EXPECT_FALSE(ch[1].has_baseline);
  EXPECT_EQ(ch[2].name, "gone");
  EXPECT_EQ(ch[2].verdict, Verdict::kMissing);
  EXPECT_FALSE(ch[2].has_current);
  EXPECT_EQ(count_verdict(ch, Verdict::kNew), 1u);
}

TEST(BenchCompare, ZeroAndNanBaselines) {
  auto zero = compare_metrics({timing("z", {0.0})}, {timing("z", {0.0})});
  EXPECT_EQ(zero[0].verdict, Verdict::kUnchanged);
  auto from_zero = compare_metrics({timing("z", {1.0})}, {timing("z", {0.0})});
  EXPECT_TRUE(std::isinf(from_zero[0].change));
  EXPECT_EQ(from_zero[0].verdict, Verdict::kRegression);
  Metric nan = timing("n", {});
  auto n = compare_metrics({timing("n", {1.0})}, {nan});
  EXPECT_EQ(n[0].verdict, Verdict::kUnchanged);  // nothing to judge against
}
