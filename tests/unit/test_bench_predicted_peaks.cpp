// bench::predicted_peaks: the mapping of the GPU workloads' peak metrics to the memory model, on
// the metrics of the committed H200 runs of `wan22 bench` (bench/results/h200_pipeline_cuda*.json,
// read at test time), and the check lines of the report.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench/predicted_peaks.h"
#include "bench/report.h"
#include "test_util.h"

namespace wan22::bench {
namespace {

std::vector<Metric> bench_metrics(const std::string& file) {
  const std::string path = test::source_dir() + "/bench/results/" + file;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  const nlohmann::json j = nlohmann::json::parse(f);
  std::vector<Metric> out;
  for (const auto& m : j.at("details")) {
    Metric x;
    x.name = m.at("name").get<std::string>();
    x.value = m.at("value").get<double>();
    x.unit = m.value("unit", "");
    out.push_back(x);
  }
  return out;
}

Metric metric(const std::string& name, double value, const std::string& unit) {
  Metric m;
  m.name = name;
  m.value = value;
  m.unit = unit;
  return m;
}


bool is_peak(const std::string& n) {
  return (n.rfind("dit_forward_", 0) == 0 || n.rfind("vae_decode_", 0) == 0) ? n.size() > 9 &&
                                                                                  n.compare(n.size() - 9, 9, "_peak_gib") == 0
                                                                            : n.rfind("peak_vram_gib_generate_", 0) == 0;
}

void check_file(const std::string& file, int expected_peaks) {
  const std::vector<Metric> measured = bench_metrics(file);
  const std::vector<Metric> predicted = predicted_peaks(measured);
  int peaks = 0;
  for (const auto& m : measured) {
    if (!is_peak(m.name)) {
      EXPECT_EQ(find_metric(predicted, "predicted_" + m.name), nullptr) << m.name;
      continue;
    }
    ++peaks;
    const Metric* p = find_metric(predicted, "predicted_" + m.name);
    ASSERT_NE(p, nullptr) << "no prediction for " << m.name;
    EXPECT_EQ(p->unit, "GiB");
    const double err = p->value / m.value - 1;
    std::printf("  %-42s predicted %7.3f GiB  measured %7.3f GiB  %+6.1f%%\n", m.name.c_str(), p->value, m.value,
                err * 100);
    EXPECT_LE(std::fabs(err), 0.15) << m.name;
  }
  EXPECT_EQ(peaks, expected_peaks);
  EXPECT_EQ(static_cast<int>(predicted.size()), peaks);

  std::vector<Metric> all = measured;
  all.insert(all.end(), predicted.begin(), predicted.end());
  const std::vector<PeakCheck> checks = peak_checks(all);
  EXPECT_EQ(static_cast<int>(checks.size()), peaks);
  for (const auto& c : checks) {
    EXPECT_TRUE(c.pass()) << c.line();
    EXPECT_EQ(c.line().rfind("predicted vs measured peak VRAM: ", 0), 0u) << c.line();
    EXPECT_EQ(c.line().find("FAIL"), std::string::npos);
  }
}

TEST(BenchPredictedPeaks, H200PipelineRunWithin15Percent) { check_file("h200_pipeline_cuda_2026-11-28.json", 10); }

TEST(BenchPredictedPeaks, H200Fp8RunWithin15Percent) { check_file("h200_pipeline_cuda_fp8_2026-11-28.json", 4); }

TEST(BenchPredictedPeaks, NamesMapToWorkloadsAndPlans) {
  auto a = peak_workload("dit_forward_fp8_i2v_480p_121f_peak_gib");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, PeakWorkload::Kind::kDitForward);
  EXPECT_EQ(a->size, "480p_121f");
  EXPECT_EQ(a->workload.width, 832);
  EXPECT_EQ(a->workload.height, 480);
  EXPECT_EQ(a->workload.frames, 121);
  EXPECT_TRUE(a->workload.image_to_video);
  EXPECT_EQ(a->plan.dit_format, plan::WeightFormat::kFP8);
  EXPECT_EQ(a->plan.dit, plan::Placement::kResident);

  auto g = peak_workload("peak_vram_gib_generate_720p_49f");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->kind, PeakWorkload::Kind::kGenerate);
  EXPECT_EQ(g->workload.frames, 49);
  EXPECT_TRUE(g->workload.cfg());
  EXPECT_FALSE(g->plan.cfg_batch);  // 11,440 tokens > 8192: the CUDA DiT runs the branches in sequence
  EXPECT_TRUE(g->plan.vae_reuse_buffers);

  auto v = peak_workload("vae_decode_480p_121f_peak_gib");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, PeakWorkload::Kind::kVaeDecode);
  EXPECT_EQ(v->plan.vae_tile, 0);

  EXPECT_FALSE(peak_workload("dit_forward_720p_121f_s"));
  EXPECT_FALSE(peak_workload("vae_decode_1080p_121f_peak_gib"));
  EXPECT_FALSE(peak_workload("peak_vram_gib_dit"));
}

TEST(BenchPredictedPeaks, TheTextEncoderCountsOnlyWhenLoaded) {
  std::vector<Metric> dit_only = {metric("dit_forward_720p_121f_peak_gib", 12.0, "GiB")};
  std::vector<Metric> with_text = dit_only;
  with_text.push_back(metric("text_encode_512_s", 0.01, "s"));
  const double a = predicted_peaks(dit_only).at(0).value, b = predicted_peaks(with_text).at(0).value;
  EXPECT_NEAR(b - a, 10.58, 0.05);  // the UMT5-XXL encoder's bf16 weights
}

TEST(BenchPredictedPeaks, BudgetPlansTurnTheVaePoolOffAndShrinkThePeak) {
  std::vector<Metric> m = {metric("vae_decode_720p_121f_peak_gib", 11.4, "GiB"), metric("peak_vram_gib_generate_720p_121f", 32.6, "GiB")};
  PeakPredictionOptions o;
  o.vram_budget_gib = 12;
  const auto pw = peak_workload("peak_vram_gib_generate_720p_121f", o);
  ASSERT_TRUE(pw);
  EXPECT_FALSE(pw->plan.vae_reuse_buffers);
  const auto p = predicted_peaks(m, o);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_LT(p[1].value, 12.0);
  EXPECT_LT(p[0].value, predicted_peaks(m).at(0).value);
}

TEST(BenchPredictedPeaks, ACheckBeyondTheToleranceFails) {
  PeakCheck c;
  c.label = "VAE decode 720p_121f";
  c.predicted_gib = 8.0;
  c.measured_gib = 11.0;
  EXPECT_FALSE(c.pass());
  EXPECT_NE(c.line().find("8.00 vs 11.00 GiB (-27.3%)"), std::string::npos) << c.line();
  EXPECT_NE(c.line().find("FAIL"), std::string::npos);
  c.predicted_gib = 10.0;
  EXPECT_TRUE(c.pass());
}

// Only peaks are paired: a budgeted run also reports the time model's step (predicted_..._step_s).
TEST(BenchPredictedPeaks, PredictedStepTimesAreNotPeakChecks) {
  Metric peak, ppeak, step, pstep;
  peak.name = "generate_720p_121f_budget8_peak_gib";
  peak.value = 7.16;
  peak.unit = "GiB";
  ppeak = peak;
  ppeak.name = "predicted_" + peak.name;
  ppeak.value = 7.20;
  step.name = "generate_720p_121f_budget8_step_s";
  step.value = 1.76;
  step.unit = "s";
  pstep = step;
  pstep.name = "predicted_" + step.name;
  pstep.value = 1.79;
  const auto checks = peak_checks({peak, ppeak, step, pstep});
  ASSERT_EQ(checks.size(), 1u);
  EXPECT_EQ(checks[0].metric, peak.name);
}

TEST(BenchPredictedPeaks, ReportsCarryTheChecks) {
  BenchReport r;
  r.run.suite = "gpu";
  r.run.device = "cuda";
  r.run.metrics = {metric("vae_decode_720p_121f_peak_gib", 11.37, "GiB"), metric("predicted_vae_decode_720p_121f_peak_gib", 11.17, "GiB")};
  r.peak_checks = peak_checks(r.run.metrics);
  ASSERT_EQ(r.peak_checks.size(), 1u);
  const std::string line = r.peak_checks[0].line();
  EXPECT_NE(report_text(r).find(line), std::string::npos);
  EXPECT_NE(report_markdown(r).find(line), std::string::npos);
  EXPECT_NE(report_html(r).find("predicted_vae_decode_720p_121f_peak_gib"), std::string::npos);
  EXPECT_NE(report_html(r).find("id=\"peaks\""), std::string::npos);
  const auto j = report_json(r);
  ASSERT_EQ(j.at("peak_vram_predictions").size(), 1u);
  EXPECT_EQ(j.at("peak_vram_predictions")[0].at("status"), "pass");
}

}  // namespace
}  // namespace wan22::bench
