// The CPU benchmark suite of wan22 bench on the demo model: plans, metric names, samples, stages.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "bench/cpu_suite.h"
#include "bench/host_memory.h"
#include "core/status.h"
#include "pipeline/checkpoint.h"
#include "pipeline/demo_model.h"
#include "test_util.h"

using namespace wan22::bench;

namespace {
wan22::pipeline::CheckpointPaths demo_paths() {
  static const std::string dir =
      wan22::pipeline::ensure_demo_model(wan22::test::temp_dir() + "/demo");
  auto p = wan22::pipeline::locate_checkpoint(dir);
  p.demo = true;
  return p;
}
}  // namespace

TEST(BenchSuite, PlansFollowTheSuiteAndTheOverrides) {
  CpuSuiteOptions o;
  o.paths.demo = true;
  o.suite = "quick";
  CpuSuitePlan q = plan_cpu_suite(o);
  EXPECT_EQ(q.repeats, 3);
  EXPECT_EQ(q.sizes.size(), 1u);
  EXPECT_EQ(q.video_frames, 49);
  EXPECT_EQ(q.workloads, (std::vector<std::string>{"load", "image", "video"}));
  o.suite = "full";
  CpuSuitePlan f = plan_cpu_suite(o);
  EXPECT_GT(f.repeats, q.repeats);
  EXPECT_GT(f.sizes.size(), q.sizes.size());
  EXPECT_GT(f.steps, q.steps);
  o.repeats = 2;
  o.steps = 1;
  o.warmup = 0;
  o.sizes = {{64, 32}};
  CpuSuitePlan x = plan_cpu_suite(o);
  EXPECT_EQ(x.repeats, 2);
  EXPECT_EQ(x.steps, 1);
  EXPECT_EQ(x.warmup, 0);
  EXPECT_EQ(x.sizes, (std::vector<std::array<int, 2>>{{64, 32}}));

  o.sizes = {{100, 64}};
  EXPECT_THROW(plan_cpu_suite(o), wan22::Error);  // not a multiple of 32
  o.sizes = {};
  o.workloads = {"video", "bogus"};
  EXPECT_THROW(plan_cpu_suite(o), wan22::Error);
  o.workloads = {};
  o.suite = "gpu";
  EXPECT_THROW(plan_cpu_suite(o), wan22::Error);
}

TEST(BenchSuite, SizedNames) {
  EXPECT_EQ(sized_name("video_2s", "s", {128, 96}, true), "video_2s_s");
  EXPECT_EQ(sized_name("video_2s", "s", {256, 160}, false), "video_2s_256x160_s");
  EXPECT_EQ(sized_name("throughput", "fps", {256, 160}, false), "throughput_256x160_fps");
}

TEST(BenchSuite, RunsEveryWorkloadOnTheDemoModel) {
  CpuSuiteOptions o;
  o.suite = "quick";
  o.paths = demo_paths();
  o.repeats = 2;
  o.warmup = 0;
  o.steps = 1;
  o.sizes = {{64, 32}, {96, 64}};
  std::vector<std::string> lines;
  o.on_progress = [&](const std::string& l) { lines.push_back(l); };
  CpuSuiteResult r = run_cpu_suite(o);
  for (const char* name :
       {"model_load_s", "load_dit_s", "load_vae_s", "load_text_encoder_s", "single_image_s",
        "video_2s_s", "text_encode_s", "denoise_s", "step_s", "vae_decode_s", "throughput_fps",
        "single_image_96x64_s", "video_2s_96x64_s", "step_96x64_s", "throughput_96x64_fps"}) {
    const Metric* m = find_metric(r.metrics, name);
    ASSERT_NE(m, nullptr) << name;
    EXPECT_EQ(m->samples.size(), 2u) << name;
    EXPECT_GT(m->value, 0) << name;
  }
  const Metric* util = find_metric(r.metrics, "cpu_utilization");
  ASSERT_NE(util, nullptr);
  EXPECT_EQ(util->better, Better::kHigher);
  EXPECT_GT(util->value, 0.0);
  EXPECT_LE(util->value,
            1.5);  // CPU time cannot exceed wall time x threads (plus clock granularity)
  EXPECT_EQ(find_metric(r.metrics, "cpu_utilization_96x64"), nullptr);  // main size only
  const Metric* fps = find_metric(r.metrics, "throughput_fps");
  EXPECT_EQ(fps->better, Better::kHigher);
  EXPECT_EQ(fps->unit, "frames/s");
  // 49 frames over the video's time
  EXPECT_NEAR(fps->value, 49.0 / find_metric(r.metrics, "video_2s_s")->value, 0.35 * fps->value);
  // the video's stages add up to (nearly) its total
  ASSERT_EQ(r.stages.size(), 3u);
  EXPECT_EQ(r.stages[0].name, "text_encode");
  EXPECT_EQ(r.stages[2].name, "vae_decode");
  double sum = 0;
  for (const auto& s : r.stages) sum += s.seconds;
  EXPECT_LE(sum, find_metric(r.metrics, "video_2s_s")->value * 1.2);
  if (peak_rss_bytes() > 0) {
    const Metric* rss = find_metric(r.metrics, "peak_rss_gib");
    ASSERT_NE(rss, nullptr);
    EXPECT_GT(rss->value, 0.001);
  }
  EXPECT_FALSE(lines.empty());
}

TEST(BenchSuite, HostMemoryHighWaterAndReset) {
  if (current_rss_bytes() == 0) GTEST_SKIP() << "no /proc/self/status here";
  constexpr size_t kBytes = 96u << 20;
  {
    // Touch 96 MiB, then give it back (a block this large is its own mapping: freed to the OS).
    std::unique_ptr<char[]> big(new char[kBytes]);
    std::memset(big.get(), 1, kBytes);
    volatile char sink = big[kBytes / 2];  // keeps the buffer from being optimised away
    (void)sink;
    EXPECT_GE(current_rss_bytes(), kBytes);
  }
  const uint64_t after_free = current_rss_bytes();
  const uint64_t peak = peak_rss_bytes();
  EXPECT_GE(peak, after_free + kBytes / 2) << "the high-water mark forgot the 96 MiB";
  if (!reset_peak_rss()) GTEST_SKIP() << "the kernel refuses /proc/self/clear_refs";
  EXPECT_LT(peak_rss_bytes(), peak - kBytes / 2) << "the reset did not lower the high-water mark";
  auto m = peak_rss_metric("over the test", true);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->name, "peak_rss_gib");
  EXPECT_NEAR(m->value * (1ull << 30), static_cast<double>(peak_rss_bytes()), 4 << 20);
}
