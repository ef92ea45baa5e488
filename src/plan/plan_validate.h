// `wan22 optimize --validate`: a short benchmark that runs a few denoising steps of the workload
// through the pipeline on the device in use and compares the measured step time and activation
// peak with the predictions. In this build the pipeline runs on the CPU backend (the demo model
// when no checkpoint is given); the CPU's throughputs (GEMM at the DiT's shapes, attention,
// memory bandwidth) are measured first and become the hardware anchors of the prediction, so
// the check tests the model's composition of the stage, not the anchors.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "plan/hardware.h"
#include "plan/model_spec.h"
#include "plan/plan.h"

namespace wan22::plan {

// Measures GEMM (a DiT block's linear layers at batch x tokens rows), attention and elementwise
// bandwidth of the CPU backend with the model's sizes; returns `base` with those fields set.
CpuSpec calibrate_cpu(const ModelSpec& m, const LatentGrid& g, int batch, CpuSpec base);
// The same with the weights in `weight_dtype` (the checkpoint's: bf16 for the official ones).
CpuSpec calibrate_cpu_dtype(const ModelSpec& m, const LatentGrid& g, int batch, CpuSpec base, DType weight_dtype);

struct ValidationCheck {
  std::string name;       // "denoise step time", "denoise activation peak"
  double predicted = 0, measured = 0;
  double tolerance = 0;   // relative: pass when |measured / predicted - 1| <= tolerance
  std::string unit;
  bool pass() const;
  double ratio() const { return predicted > 0 ? measured / predicted : 0; }
};

struct ValidationResult {
  std::string device;     // "cpu"
  std::string model;      // checkpoint path (or the demo model's)
  int steps = 0;
  std::vector<ValidationCheck> checks;
  std::vector<std::string> notes;
  bool pass() const;
  nlohmann::json to_json() const;
  std::string str() const;
};

struct ValidateOptions {
  std::string checkpoint;  // "" = the built-in demo model
  int steps = 2;           // denoising steps measured
  double time_tolerance = 0.5;
  double memory_tolerance = 0.25;
};

// Runs `o.steps` denoising steps of `w` (size, frames, guidance; CFG as the pipeline runs it) on
// the CPU backend and checks the predictions of the CPU plan of the time and memory models.
ValidationResult validate_on_cpu(const Workload& w, Hardware hw, const ValidateOptions& o);

}  // namespace wan22::plan
