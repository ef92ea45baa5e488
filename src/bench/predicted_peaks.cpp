#include "bench/predicted_peaks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "plan/hardware.h"
#include "plan/memory_model.h"
#include "plan/model_spec.h"
#include "plan/planner.h"

namespace wan22::bench {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}
// Removes `p` from the front of `s` when there.
bool eat(std::string& s, const std::string& p) {
  if (!starts_with(s, p)) return false;
  s = s.substr(p.size());
  return true;
}

// The CUDA DiT's CfgBatching::kAuto: a batch of 2 up to cfg_batch_max_tokens() tokens per item.
constexpr int64_t kCfgBatchMaxTokens = 8192;

}  // namespace

// The video workloads of src/backends/cuda/bench_cuda.cpp (all_workloads(), less the single image).
const std::vector<GpuBenchSize>& gpu_bench_sizes() {
  static const std::vector<GpuBenchSize> s = {
      {"720p_121f", 1280, 704, 121}, {"480p_121f", 832, 480, 121}, {"720p_49f", 1280, 704, 49}};
  return s;
}

const GpuBenchSize* find_gpu_bench_size(const std::string& name) {
  for (const GpuBenchSize& z : gpu_bench_sizes())
    if (name == z.name) return &z;
  return nullptr;
}

std::optional<PeakWorkload> peak_workload(const std::string& name, const PeakPredictionOptions& o) {
  PeakWorkload pw;
  std::string rest = name;
  bool fp8 = false, i2v = false;
  if (starts_with(rest, "dit_forward_") && ends_with(rest, "_peak_gib")) {
    pw.kind = PeakWorkload::Kind::kDitForward;
    rest = rest.substr(12, rest.size() - 12 - 9);
    fp8 = eat(rest, "fp8_");
    i2v = eat(rest, "i2v_");
  } else if (starts_with(rest, "vae_decode_") && ends_with(rest, "_peak_gib")) {
    pw.kind = PeakWorkload::Kind::kVaeDecode;
    rest = rest.substr(11, rest.size() - 11 - 9);
  } else if (eat(rest, "peak_vram_gib_generate_")) {
    pw.kind = PeakWorkload::Kind::kGenerate;
    fp8 = eat(rest, "fp8_");
  } else {
    return std::nullopt;
  }
  const GpuBenchSize* z = find_gpu_bench_size(rest);
  if (!z) return std::nullopt;
  pw.size = z->name;
  plan::Workload& w = pw.workload;
  w.model = "ti2v-5b";
  w.width = z->width;
  w.height = z->height;
  w.frames = z->frames;
  w.guidance = pw.kind == PeakWorkload::Kind::kGenerate ? 5.0 : 1.0;
  w.image_to_video = i2v;
  const plan::ModelSpec m = plan::model_preset(w.model);
  const plan::LatentGrid g = plan::latent_grid(m, w.width, w.height, w.frames);

  plan::Plan& p = pw.plan;
  if (o.vram_budget_gib > 0) {
    plan::PlannerOptions po;
    po.budget_gib = o.vram_budget_gib;
    po.allow_quantization = fp8;
    p = plan::make_plan(m, w, plan::load_hardware(o.hardware), po).plan;  // throws when nothing fits
  } else {
    p.on_gpu = true;
    p.cfg_batch = g.tokens <= kCfgBatchMaxTokens;
    p.vae_reuse_buffers = true;  // VaeCudaOptions' default
  }
  if (fp8) p.dit_format = plan::WeightFormat::kFP8;
  const char* what = pw.kind == PeakWorkload::Kind::kDitForward ? "DiT forward "
                     : pw.kind == PeakWorkload::Kind::kVaeDecode ? "VAE decode "
                                                                  : "generation ";
  pw.label = std::string(what) + (i2v ? "i2v " : "") + pw.size + (fp8 ? " (fp8)" : "");
  return pw;
}

double predicted_peak_gib(const PeakWorkload& pw, bool text_encoder) {
  const plan::ModelSpec m = plan::model_preset(pw.workload.model);
  plan::LoadedComponents c;
  c.text_encoder = text_encoder;
  const double weights = plan::device_weight_bytes(m, pw.plan, c);
  switch (pw.kind) {
    case PeakWorkload::Kind::kDitForward:
      // bench_cuda.cpp resets the high-water mark with every weight resident, then runs batch-1 forwards.
      return (weights + plan::dit_forward_bytes(m, pw.workload, pw.plan, 1)) / plan::kGiB;
    case PeakWorkload::Kind::kVaeDecode:
      // measured above the bytes allocated before the decode (weights and the input latent).
      return plan::vae_decode_bytes(m, pw.workload, pw.plan) / plan::kGiB;
    case PeakWorkload::Kind::kGenerate: {
      // The pipeline's stages; the bench's engine also holds the VAE encoder (t2v does not count it).
      const plan::MemoryEstimate e = plan::estimate_memory(m, pw.workload, pw.plan);
      const bool encoder_counted = pw.workload.image_to_video || m.needs_image;
      const double encoder = pw.plan.vae == plan::Placement::kResident && !encoder_counted
                                 ? plan::vae_weights(m.vae, pw.plan.vae_format, false).total_bytes
                                 : 0;
      return (e.peak_alloc + encoder) / plan::kGiB;
    }
  }
  return 0;
}

std::vector<Metric> predicted_peaks(const std::vector<Metric>& measured, const PeakPredictionOptions& o) {
  bool text = false;
  if (o.text_encoder) {
    text = *o.text_encoder;
  } else {
    for (const Metric& m : measured)
      if (starts_with(m.name, "text_encode_") || starts_with(m.name, "generate_") ||
          starts_with(m.name, "peak_vram_gib_generate_"))
        text = true;
  }
  std::vector<Metric> out;
  for (const Metric& mm : measured) {
    std::optional<PeakWorkload> pw;
    try {
      pw = peak_workload(mm.name, o);
    } catch (const std::exception&) {
      continue;  // no plan fits the budget: nothing to predict
    }
    if (!pw) continue;
    Metric p;
    p.name = "predicted_" + mm.name;
    p.value = predicted_peak_gib(*pw, text);
    p.unit = "GiB";
    p.better = Better::kLower;
    p.note = "memory model (src/plan) of " + pw->label + ", plan: " + pw->plan.str() +
             (text ? "; text encoder held" : "; no text encoder");
    out.push_back(std::move(p));
  }
  return out;
}

bool PeakCheck::pass() const { return measured_gib > 0 && std::fabs(error()) <= tolerance + 1e-12; }

std::string PeakCheck::line() const {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "predicted vs measured peak VRAM: %s %.2f vs %.2f GiB (%+.1f%%)", label.c_str(),
                predicted_gib, measured_gib, error() * 100);
  std::string s = buf;
  if (!pass()) s += " -- FAIL (beyond " + std::to_string(static_cast<int>(std::lround(tolerance * 100))) + "%)";
  return s;
}

std::vector<PeakCheck> peak_checks(const std::vector<Metric>& metrics, double tolerance) {
  std::vector<PeakCheck> out;
  for (const Metric& p : metrics) {
    if (!starts_with(p.name, "predicted_") || p.unit != "GiB") continue;  // peaks only (not predicted step times)
    const std::string name = p.name.substr(10);
    const Metric* it = find_metric(metrics, name);
    if (!it) continue;
    PeakCheck c;
    c.metric = name;
    const auto pw = peak_workload(name, PeakPredictionOptions{});
    c.label = pw ? pw->label : name;
    c.predicted_gib = p.value;
    c.measured_gib = it->value;
    c.tolerance = tolerance;
    out.push_back(c);
  }
  return out;
}

}  // namespace wan22::bench
