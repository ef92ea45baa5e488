// The GPU side of `wan22 optimize --validate` (plan::validate_gpu_metrics) on the metrics of the
// committed H200 run of `wan22 bench` (bench/results/h200_pipeline_cuda_2026-11-28.json, read at
// test time): the whole generation's median step and peak against the models' predictions.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "plan/hardware.h"
#include "plan/plan_validate.h"
#include "test_util.h"

namespace wan22::plan {
namespace {

std::vector<bench::Metric> result_metrics(const std::string& file) {
  const std::string path = test::source_dir() + "/bench/results/" + file;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  const nlohmann::json j = nlohmann::json::parse(f);
  std::vector<bench::Metric> out;
  for (const auto& m : j.at("details")) {
    bench::Metric x;
    x.name = m.at("name").get<std::string>();
    x.value = m.at("value").get<double>();
    out.push_back(x);
  }
  return out;
}

std::vector<bench::Metric> pipeline_metrics() { return result_metrics("h200_pipeline_cuda_2026-11-28.json"); }

Workload w720() {
  Workload w;
  w.width = 1280;
  w.height = 704;
  w.frames = 121;
  return w;
}

TEST(PlanValidateGpu, TheH200GenerationRunPassesBothChecks) {
  const ValidationResult r = validate_gpu_metrics(w720(), load_hardware("h200"), pipeline_metrics(), 50, ValidateOptions{});
  std::cout << r.str();
  ASSERT_EQ(r.checks.size(), 2u);
  EXPECT_EQ(r.checks[0].name, "denoise step time");
  EXPECT_EQ(r.checks[1].name, "generation peak VRAM");
  EXPECT_DOUBLE_EQ(r.checks[1].tolerance, 0.15);
  EXPECT_NEAR(r.checks[1].measured, 32.63, 0.01);
  EXPECT_TRUE(r.checks[0].pass()) << r.str();
  EXPECT_TRUE(r.checks[1].pass()) << r.str();
  EXPECT_TRUE(r.pass());
}

TEST(PlanValidateGpu, AMissingMetricIsNotValidated) {
  // the run had 50 steps; asking for the 2-step metrics finds nothing
  const ValidationResult r = validate_gpu_metrics(w720(), load_hardware("h200"), pipeline_metrics(), 2, ValidateOptions{});
  EXPECT_TRUE(r.checks.empty());
  EXPECT_FALSE(r.pass());
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("generate_720p_121f_2steps_step_s"), std::string::npos) << r.notes[0];
}

TEST(PlanValidateGpu, OtherSizesNameTheOnesThatCanBeValidated) {
  Workload w = w720();
  w.frames = 33;
  EXPECT_EQ(gpu_bench_workload(w), "");
  EXPECT_EQ(gpu_bench_workload(w720()), "720p_121f");
  const ValidationResult r = validate_gpu_metrics(w, load_hardware("h200"), {}, 2, ValidateOptions{});
  EXPECT_FALSE(r.pass());
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("832x480x121 (480p_121f)"), std::string::npos) << r.notes[0];
  EXPECT_NE(r.notes[0].find("1280x704x33"), std::string::npos) << r.notes[0];
}

// --validate --vram-budget 8: the budgeted run's measurements against the predictions the bench
// reported for the plan it ran. Run F (bench/results/h200_budget8_runF_2026-11-29.json) predates the
// predicted step metric: it is named as missing; with the time model's step added, both checks run.
TEST(PlanValidateGpu, BudgetedRunChecksItsOwnPlan) {
  ValidateOptions o;
  o.budget_gib = 8;
  std::vector<bench::Metric> m = result_metrics("h200_budget8_runF_2026-11-29.json");
  ValidationResult r = validate_gpu_metrics(w720(), load_hardware("h200"), m, 50, o);
  EXPECT_TRUE(r.checks.empty());
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("generate_720p_121f_budget8_step_s"), std::string::npos) << r.notes[0];
  bench::Metric step;
  step.name = "predicted_generate_720p_121f_budget8_step_s";
  step.value = 1.79;  // the time model's step for that plan (wan22 optimize --hardware h200 --vram-budget 8)
  m.push_back(step);
  r = validate_gpu_metrics(w720(), load_hardware("h200"), m, 50, o);
  std::cout << r.str();
  ASSERT_EQ(r.checks.size(), 2u);
  EXPECT_NEAR(r.checks[0].measured, 1.744, 0.01);
  EXPECT_NEAR(r.checks[1].measured, 7.46, 0.01);   // process peak, measured
  EXPECT_NEAR(r.checks[1].predicted, 7.74, 0.01);  // the plan's prediction, reported by the bench
  EXPECT_TRUE(r.pass()) << r.str();
  // A peak far from its prediction fails.
  for (auto& x : m)
    if (x.name == "generate_720p_121f_budget8_peak_gib") x.value = 10.0;
  EXPECT_FALSE(validate_gpu_metrics(w720(), load_hardware("h200"), m, 50, o).pass());
}

}  // namespace
}  // namespace wan22::plan
