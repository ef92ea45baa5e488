#include "plan/plan_validate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "bench/metric.h"
#include "core/allocator.h"
#include "core/status.h"
#include "io/weight_store.h"
#include "models/dit/dit_keys.h"
#include "ops/ops.h"
#include "pipeline/checkpoint.h"
#include "pipeline/demo_model.h"
#include "pipeline/noise.h"
#include "pipeline/ti2v_pipeline.h"
#include "plan/memory_model.h"
#include "plan/time_model.h"

namespace wan22::plan {

namespace {

using Clock = std::chrono::steady_clock;

// Median seconds of fn over at least 3 runs and 0.2 s (after one warm-up run).
template <class Fn>
double time_it(Fn&& fn) {
  fn();
  std::vector<double> s;
  const auto start = Clock::now();
  while (s.size() < 3 || (std::chrono::duration<double>(Clock::now() - start).count() < 0.2 && s.size() < 50)) {
    const auto t0 = Clock::now();
    fn();
    s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return bench::median(s);
}

std::string fixed(double v, int d) {
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", d, v);
  return b;
}

}  // namespace

CpuSpec calibrate_cpu(const ModelSpec& m, const LatentGrid& g, int batch, CpuSpec base) {
  return calibrate_cpu_dtype(m, g, batch, base, DType::kBF16);
}

CpuSpec calibrate_cpu_dtype(const ModelSpec& m, const LatentGrid& g, int batch, CpuSpec base, DType weight_dtype) {
  const int64_t rows = batch * g.tokens, D = m.dit.dim, F = m.dit.ffn_dim, H = m.dit.num_heads, hd = D / H;
  Tensor x = pipeline::gaussian_noise({rows, D}, 11);
  Tensor h = pipeline::gaussian_noise({rows, F}, 12);
  Tensor w_dd = pipeline::gaussian_noise({D, D}, 13).to(weight_dtype);
  Tensor w_fd = pipeline::gaussian_noise({F, D}, 14).to(weight_dtype);
  Tensor w_df = pipeline::gaussian_noise({D, F}, 15).to(weight_dtype);
  const double t_dd = time_it([&] { ops::linear(x, w_dd); });
  const double t_up = time_it([&] { ops::linear(x, w_fd); });
  const double t_down = time_it([&] { ops::linear(h, w_df); });
  const double r = static_cast<double>(rows), d = static_cast<double>(D), f = static_cast<double>(F);
  // One block: q, k, v, o, cross q, cross o (dim x dim), FFN up and down.
  base.gemm_gflops = (2 * r * d * 6 * d + 2 * r * d * 2 * f) / (6 * t_dd + t_up + t_down) / 1e9;
  Tensor q = pipeline::gaussian_noise({batch, g.tokens, H, hd}, 16);
  Tensor k = pipeline::gaussian_noise({batch, g.tokens, H, hd}, 17);
  Tensor v = pipeline::gaussian_noise({batch, g.tokens, H, hd}, 18);
  const double t_att = time_it([&] { ops::attention(q, k, v); });
  const double L = static_cast<double>(g.tokens);
  base.attention_gflops = batch * 4 * L * L * d / t_att / 1e9;
  const double t_add = time_it([&] { ops::add(x, x); });
  base.mem_bw_gbs = 3 * r * d * 4 / t_add / 1e9;
  base.source = "measured now at the workload's shapes (GEMM, attention, elementwise add)";
  return base;
}

bool ValidationCheck::pass() const { return predicted > 0 && std::fabs(measured / predicted - 1) <= tolerance; }

bool ValidationResult::pass() const {
  for (const auto& c : checks)
    if (!c.pass()) return false;
  return !checks.empty();
}

nlohmann::json ValidationResult::to_json() const {
  nlohmann::json j;
  j["device"] = device;
  j["model"] = model;
  j["steps"] = steps;
  j["pass"] = pass();
  j["checks"] = nlohmann::json::array();
  for (const auto& c : checks)
    j["checks"].push_back({{"name", c.name},
                           {"predicted", c.predicted},
                           {"measured", c.measured},
                           {"unit", c.unit},
                           {"ratio", c.ratio()},
                           {"tolerance", c.tolerance},
                           {"pass", c.pass()}});
  j["notes"] = notes;
  return j;
}

std::string ValidationResult::str() const {
  std::ostringstream o;
  o << "validation on the " << device << " (" << steps << " denoising steps of " << model << "):\n";
  for (const auto& n : notes) o << "  " << n << "\n";
  for (const auto& c : checks) {
    o << "  " << (c.pass() ? "PASS" : "FAIL") << "  " << c.name << ": predicted " << fixed(c.predicted, 4) << " "
      << c.unit << ", measured " << fixed(c.measured, 4) << " " << c.unit << " (x" << fixed(c.ratio(), 2)
      << ", tolerance +-" << fixed(c.tolerance * 100, 0) << "%)\n";
  }
  o << "  " << (pass() ? "PASS" : "FAIL") << "\n";
  return o.str();
}

ValidationResult validate_on_cpu(const Workload& w_in, Hardware hw, const ValidateOptions& o) {
  ValidationResult r;
  r.device = "cpu";
  r.steps = o.steps;
  const std::string dir = o.checkpoint.empty() ? pipeline::ensure_demo_model(pipeline::default_demo_model_dir())
                                               : o.checkpoint;
  r.model = o.checkpoint.empty() ? "the demo model (" + dir + ")" : dir;
  const ModelSpec m = model_from_checkpoint(dir);
  const pipeline::CheckpointPaths paths = pipeline::locate_checkpoint(dir);
  Workload w = w_in;
  w.model = m.name;
  w.steps = o.steps;
  // The CPU pipeline always runs both CFG branches as one batch of 2.
  if (!w.cfg()) {
    w.guidance = 5.0;
    r.notes.push_back("guidance 1 given: the CPU pipeline still runs both branches; predicted for a batch of 2");
  }
  const LatentGrid g = latent_grid(m, w.width, w.height, w.frames);
  DType wdt = DType::kBF16;
  {
    io::WeightStore ws = io::WeightStore::open(paths.dit);
    models::dit::install_dit_key_map(ws);
    wdt = ws.info("blocks.0.ffn.0.weight").dtype;
  }
  hw.cpu = calibrate_cpu_dtype(m, g, 2, hw.cpu, wdt);
  r.notes.push_back("CPU anchors measured: GEMM " + fixed(hw.cpu.gemm_gflops, 1) + " GFLOP/s, attention " +
                    fixed(hw.cpu.attention_gflops, 1) + " GFLOP/s, elementwise " + fixed(hw.cpu.mem_bw_gbs, 1) + " GB/s");

  Plan p;
  p.on_gpu = false;
  p.dit = p.text = p.vae = Placement::kCpu;
  p.cfg_batch = true;
  const MemoryEstimate me = estimate_memory(m, w, p);
  const TimeEstimate te = estimate_time(m, w, p, hw);

  auto pipe = pipeline::Ti2vPipeline::load(paths);
  const Tensor ctx = pipe.encode_prompt("a red fox runs through fresh snow, validation run of wan22 optimize");
  const Tensor ctx_null = pipe.encode_prompt("");
  const Tensor noise = pipeline::gaussian_noise({m.vae.z_dim, g.frames, g.height, g.width}, 1234);
  Allocator* a = cpu_allocator();
  a->reset_peak();
  const double base = static_cast<double>(a->stats().current_bytes);
  std::vector<double> step_s;
  pipeline::DenoiseParams dp;
  dp.steps = o.steps;
  dp.guidance = w.guidance;
  pipe.denoise(noise, ctx, ctx_null, Tensor(), dp, [&](int, int, double s) { step_s.push_back(s); });
  const double peak = static_cast<double>(a->stats().peak_bytes) - base;

  const StageMemory* dm = me.stage(Stage::kDenoise);
  double predicted_act = dm->activation_bytes;
  for (const auto& t : dm->terms)
    if (t.name == "text context input (bf16)") predicted_act -= t.bytes;  // allocated before the measurement
  r.checks.push_back({"denoise step time", te.step_s, bench::median(step_s), o.time_tolerance, "s"});
  r.checks.push_back({"denoise activation peak", predicted_act / kMiB, peak / kMiB, o.memory_tolerance, "MiB"});
  r.notes.push_back("workload " + w.str() + ": " + std::to_string(g.tokens) + " tokens, CFG batch of 2");
  return r;
}

}  // namespace wan22::plan
