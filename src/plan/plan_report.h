// What `wan22 optimize` prints: the plan, the predicted peak and time per stage (text), and the
// same as JSON (`--json`) with every memory and time term, so predictions can be compared with
// measured peaks key by key.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "plan/hardware.h"
#include "plan/planner.h"

namespace wan22::plan {

nlohmann::json plan_json(const PlanResult& r, const Hardware& hw);
// `terms`: also list each stage's memory and time terms with their formulas.
std::string plan_text(const PlanResult& r, const Hardware& hw, bool terms);

}  // namespace wan22::plan
