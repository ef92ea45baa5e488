// The flow-matching solvers against the official Wan2.2 schedulers (fixture cases with a "solver"
// key that hold a solver trajectory: timesteps, sigmas, x_init, model_out_i, x_i).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/weight_store.h"
#include "sched/scheduler.h"
#include "test_util.h"

using namespace wan22;

namespace {

struct SchedCase {
  std::string name;    // manifest case name (the file <name>.safetensors)
  std::string solver;  // "unipc", "dpm++", ...
  int steps = 0;
  double shift = 0.0;
  std::string setup_error;  // non-empty when the manifest could not be read
  bool every_case = false;  // re-reads the manifest when it runs and checks all its cases
};

// gtest prints the parameter of a failing case with this.
void PrintTo(const SchedCase& c, std::ostream* os) {
  *os << c.name << " (" << c.solver << ", steps " << c.steps << ", shift " << c.shift << ")";
}

std::string manifest_path() { return test::golden_dir() + "/manifest.json"; }

bool file_has_tensor(const std::string& path, const std::string& key) {
  if (!std::filesystem::exists(path)) return false;
  try {
    return io::WeightStore::open(path).contains(key);
  } catch (const std::exception&) {
    return false;
  }
}

// Every manifest case with a "solver" key that is a solver trajectory (named sched_* or holding
// x_init). A missing or unreadable manifest yields one case that fails with the reason.
std::vector<SchedCase> manifest_cases() {
  std::vector<SchedCase> out;
  try {
    std::ifstream in(manifest_path());
    if (!in.good()) throw std::runtime_error("cannot open " + manifest_path());
    const nlohmann::json manifest = nlohmann::json::parse(in);
    const nlohmann::json& cases = manifest.at("cases");
    for (auto it = cases.begin(); it != cases.end(); ++it) {
      const nlohmann::json& c = it.value();
      if (!c.contains("solver")) continue;
      const std::string file = test::golden_dir() + "/" + it.key() + ".safetensors";
      if (it.key().rfind("sched_", 0) != 0 && !file_has_tensor(file, "x_init")) continue;
      SchedCase sc;
      sc.name = it.key();
      sc.solver = c.at("solver").get<std::string>();
      sc.steps = c.at("steps").get<int>();
      sc.shift = c.at("shift").get<double>();
      out.push_back(sc);
    }
    if (out.empty()) throw std::runtime_error(manifest_path() + " lists no solver cases");
  } catch (const std::exception& e) {
    SchedCase bad;
    bad.name = "manifest_unreadable";
    bad.setup_error = e.what();
    out = {bad};
  }
  return out;
}

// The manifest's cases plus "every_solver_case": ctest lists the tests when they are built, so
// this one keeps every case checked when the fixture directory seen at run time differs.
std::vector<SchedCase> load_cases() {
  std::vector<SchedCase> out = manifest_cases();
  SchedCase all;
  all.name = "every_solver_case";
  all.every_case = true;
  out.push_back(all);
  return out;
}

std::string case_test_name(const testing::TestParamInfo<SchedCase>& info) {
  std::string s = info.param.name;
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

class SchedGolden : public testing::TestWithParam<SchedCase> {};

// One fixture case: the schedule, then the whole trajectory.
void check_case(const SchedCase& c) {
  ASSERT_TRUE(c.setup_error.empty()) << c.setup_error;
  const std::string file = test::golden_dir() + "/" + c.name + ".safetensors";
  auto ws = io::WeightStore::open(file);

  auto sched = sched::make_scheduler(c.solver);
  sched->set_timesteps(c.steps, c.shift);

  // Schedule: the model's timesteps (integers) exactly, the float32 sigmas to rounding.
  const std::vector<float> ref_t = ws.get_f32("timesteps").to_vector();
  const std::vector<float> ref_s = ws.get_f32("sigmas").to_vector();
  ASSERT_EQ(ref_t.size(), static_cast<size_t>(c.steps)) << "manifest steps vs fixture timesteps";
  ASSERT_EQ(sched->timesteps().size(), ref_t.size());
  ASSERT_EQ(sched->sigmas().size(), ref_s.size());
  for (size_t i = 0; i < ref_t.size(); ++i) {
    EXPECT_EQ(sched->timesteps()[i], static_cast<double>(ref_t[i])) << "timestep " << i;
  }
  double worst_sigma = 0.0;
  for (size_t i = 0; i < ref_s.size(); ++i) {
    const double d = std::fabs(sched->sigmas()[i] - static_cast<double>(ref_s[i]));
    worst_sigma = std::max(worst_sigma, d);
    EXPECT_LE(d, 1e-6) << "sigma " << i << ": got " << sched->sigmas()[i] << ", want " << ref_s[i];
  }

  // Trajectory: x_i = step(model_out_i, i, x_{i-1}) from x_init, on our own samples.
  Tensor x = ws.get_f32("x_init");
  double worst = 0.0;
  int worst_step = -1;
  for (int i = 0; i < c.steps; ++i) {
    const std::string idx = std::to_string(i);
    Tensor model_out = ws.get_f32("model_out_" + idx);
    x = sched->step(model_out, i, x);
    Tensor ref = ws.get_f32("x_" + idx);
    ASSERT_EQ(shape_str(x.shape()), shape_str(ref.shape())) << "x_" << idx;
    const double err = test::rel_err(x, ref);
    EXPECT_LE(err, 1e-4) << c.name << " x_" << idx;
    if (std::getenv("WAN22_SCHED_VERBOSE")) std::cout << "  x_" << idx << " " << err << "\n";
    if (worst_step < 0 || err > worst) {
      worst = err;
      worst_step = i;
    }
  }
  std::cout << "[sched] " << c.name << " (" << c.solver << ", " << c.steps << " steps, shift "
            << c.shift << "): worst rel err " << worst << " at x_" << worst_step
            << ", worst sigma diff " << worst_sigma << std::endl;
  testing::Test::RecordProperty(c.name + "_worst_rel_err", std::to_string(worst));
  testing::Test::RecordProperty(c.name + "_worst_step", worst_step);
}

TEST_P(SchedGolden, MatchesReference) {
  const SchedCase& c = GetParam();
  if (!c.every_case) {
    check_case(c);
    return;
  }
  for (const SchedCase& each : manifest_cases()) {
    SCOPED_TRACE(each.name);
    check_case(each);
  }
}

INSTANTIATE_TEST_SUITE_P(Manifest, SchedGolden, testing::ValuesIn(load_cases()), case_test_name);

}  // namespace
