// `wan22 optimize`'s config files: a plan written in the guide's sections validates with the
// config validator and reads back to the same plan; --apply keeps a baseline; the active path.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/render.h"
#include "config/settings.h"
#include "plan/plan_config.h"
#include "plan/plan_report.h"
#include "test_util.h"

namespace wan22::plan {
namespace {

std::string read(const std::string& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

PlanResult plan_for(const std::string& hw, double budget, bool quant = false) {
  PlannerOptions o;
  o.budget_gib = budget;
  o.allow_quantization = quant;
  return make_plan(model_preset("ti2v-5b"), Workload{}, load_hardware(hw), o);
}

TEST(OptimizeConfig, WrittenConfigValidatesAndReloadsToTheSamePlan) {
  for (auto [hw, budget, quant] : {std::tuple{"h200", 8.0, false}, {"h200", 0.0, false}, {"h200", 3.0, true},
                                   {"rtx4080", 0.0, false}, {"rtx4060ti-16gb", 10.0, false}, {"cpu", 0.0, false}}) {
    const PlanResult r = plan_for(hw, budget, quant);
    const std::string path = test::temp_dir() + "/plan.json";
    {
      std::ofstream out(path);
      out << render_plan_config(r);
    }
    config::Settings s;
    auto problems = s.try_load_file(path);
    ASSERT_TRUE(problems.empty()) << hw << ": " << config::join_problems(problems);
    const Plan back = plan_from_settings(s);
    EXPECT_TRUE(back == r.plan) << hw << " " << budget << ": wrote " << r.plan.str() << ", read " << back.str();
    const Workload w = workload_from_settings(s, model_preset("ti2v-5b"));
    EXPECT_EQ(w.width, r.workload.width);
    EXPECT_EQ(w.frames, r.workload.frames);
    EXPECT_EQ(w.steps, r.workload.steps);
    // the plan read back predicts the same peak and time
    const PlannerOptions o = planner_options(s);
    EXPECT_EQ(o.budget_gib, budget);
    const PlanResult again = evaluate_plan(model_preset("ti2v-5b"), w, load_hardware(hw), back, o);
    EXPECT_DOUBLE_EQ(again.memory.peak_device, r.memory.peak_device) << hw;
    EXPECT_DOUBLE_EQ(again.time.total_s, r.time.total_s) << hw;
    // and re-planning from the written settings finds the same plan
    const PlanResult replan = make_plan(model_preset("ti2v-5b"), w, load_hardware(hw), o);
    EXPECT_TRUE(replan.plan == r.plan) << hw << ": " << replan.plan.str() << " vs " << r.plan.str();
  }
}

TEST(OptimizeConfig, SameFormatAsConfigInit) {
  const std::string text = render_plan_config(plan_for("h200", 8));
  // every key of the schema, with the comment lines of `config init`
  const std::string init = config::example_config();
  size_t keys_plan = 0, keys_init = 0;
  for (size_t i = 0; (i = text.find("\": ", i)) != std::string::npos; ++i) ++keys_plan;
  for (size_t i = 0; (i = init.find("\": ", i)) != std::string::npos; ++i) ++keys_init;
  EXPECT_EQ(keys_plan, keys_init);
  EXPECT_NE(text.find("\"checkpoint_segments\""), std::string::npos);
  EXPECT_NE(text.find("// predicted peak"), std::string::npos);
}

TEST(OptimizeConfig, ApplyKeepsABaselineAndRestoreBringsItBack) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/sub/config.json";
  ApplyResult a = apply_config_text(path, "{\"generation\": {\"steps\": 7}}\n");
  EXPECT_TRUE(a.baseline_created);
  EXPECT_EQ(a.baseline, dir + "/sub/config.baseline.json");
  EXPECT_EQ(read(a.baseline), config::example_config()) << "no previous config: the baseline is the defaults";
  ApplyResult b = apply_config_text(path, "{\"generation\": {\"steps\": 9}}\n");
  EXPECT_FALSE(b.baseline_created);
  EXPECT_EQ(read(path), "{\"generation\": {\"steps\": 9}}\n");
  restore_baseline(path);
  EXPECT_EQ(read(path), config::example_config());

  // an existing config becomes the baseline
  const std::string p2 = dir + "/mine.json";
  { std::ofstream(p2) << "{\"generation\": {\"steps\": 3}}\n"; }
  apply_config_text(p2, "{}\n");
  EXPECT_EQ(read(baseline_path(p2)), "{\"generation\": {\"steps\": 3}}\n");
  restore_baseline(p2);
  EXPECT_EQ(read(p2), "{\"generation\": {\"steps\": 3}}\n");
  EXPECT_THROW(restore_baseline(dir + "/none.json"), Error);
}

TEST(OptimizeConfig, ActiveConfigPath) {
  const char* old = std::getenv("WAN22_CONFIG");
  const std::string saved = old ? old : "";
  setenv("WAN22_CONFIG", "/tmp/x/wan22.json", 1);
  EXPECT_EQ(active_config_path(), "/tmp/x/wan22.json");
  unsetenv("WAN22_CONFIG");
  const std::string p = active_config_path();
  EXPECT_NE(p.find("wan22/config.json"), std::string::npos) << p;
  if (old) setenv("WAN22_CONFIG", saved.c_str(), 1);
}

TEST(OptimizeConfig, JsonReportHasThePeakOfEveryStage) {
  const PlanResult r = plan_for("h200", 8);
  const nlohmann::json j = plan_json(r, load_hardware("h200"));
  for (const char* s : {"text_encode", "denoise", "vae_decode"}) {
    ASSERT_TRUE(j["predicted"]["stages"].contains(s)) << s;
    EXPECT_GT(j["predicted"]["stages"][s]["peak_gib"].get<double>(), 0) << s;
    EXPECT_LE(j["predicted"]["stages"][s]["peak_gib"].get<double>(), 8.0) << s;
    EXPECT_GT(j["predicted"]["stages"][s]["seconds"].get<double>(), 0) << s;
  }
  EXPECT_TRUE(j["predicted"]["metrics"].contains("denoise_peak_gib"));
  EXPECT_EQ(j["settings"]["generation"]["vram_budget_gb"].get<double>(), 8.0);
}

}  // namespace
}  // namespace wan22::plan
