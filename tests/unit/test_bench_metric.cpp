#include <gtest/gtest.h>

#include <cmath>

#include "bench/metric.h"

using wan22::bench::median;

TEST(BenchMetric, MedianOddEvenEmpty) {
  EXPECT_DOUBLE_EQ(median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_DOUBLE_EQ(median({4.0, 1.0, 3.0, 2.0}), 2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

TEST(BenchMetric, TimingMetricUsesMedian) {
  auto m = wan22::bench::timing_metric("x_s", {0.5, 0.1, 0.3});
  EXPECT_EQ(m.name, "x_s");
  EXPECT_DOUBLE_EQ(m.value, 0.3);
  EXPECT_EQ(m.unit, "s");
  EXPECT_EQ(m.samples.size(), 3u);
}
