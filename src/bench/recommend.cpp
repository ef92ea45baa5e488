#include "bench/recommend.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>

#include "bench/stats.h"

namespace wan22::bench {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}
std::string pct(double frac) { return fmt("%.0f%%", 100.0 * frac); }
std::string secs(double s) {
  return s >= 100 ? fmt("%.0f s", s) : s >= 1 ? fmt("%.2f s", s) : fmt("%.3f s", s);
}

void stage_advice(const RunRecord& run, std::vector<Recommendation>& out) {
  double total = 0;
  for (const auto& s : run.stages) total += s.seconds;
  if (run.stages.empty() || !(total > 0)) return;
  const Stage& top =
      *std::max_element(run.stages.begin(), run.stages.end(),
                        [](const Stage& a, const Stage& b) { return a.seconds < b.seconds; });
  const double share = top.seconds / total;
  const bool gpu = run.device == "cuda";
  const std::string ev = top.name + " " + secs(top.seconds) + " of " + secs(total) + " (" +
                         pct(share) + ") of " +
                         (run.stages_of.empty() ? "the main workload" : run.stages_of);
  std::string text;
  if (top.name == "vae_decode" && share >= 0.5) {
    text = "VAE decoding is " + pct(share) + " of the time: speed it up first" +
           (gpu ? " (its kernels; tile_optimization bounds its memory)"
                : " (decode on the GPU; tile_optimization bounds its memory)");
  } else if (top.name == "denoise" && share >= 0.5) {
    text = "denoising is " + pct(share) + " of the time and grows with the step count";
    const Metric* step = run.find("step_s");
    if (step && step->value > 0) text += " (" + secs(step->value) + " per step)";
    text += gpu ? ": fewer steps (inference_optimization) shorten it in proportion"
                : ": fewer steps (inference_optimization) or the GPU DiT shorten it in proportion";
  } else if (top.name == "text_encode" && share >= 0.3) {
    text = "text encoding is " + pct(share) +
           " of the time: keep prompt embeddings of repeated prompts instead of re-encoding them";
  } else if (share >= 0.5) {
    text = top.name + " is " + pct(share) + " of the time: optimize it first";
  }
  if (!text.empty()) out.push_back({"stage", text, ev});
}

// GPU workloads: the share of each whole generation that its VAE decode (20-50%) or text encoding
// (10-30%) takes; larger shares of the charted generation are stage_advice's.
void workload_share_advice(const RunRecord& run, std::vector<Recommendation>& out) {
  static const std::regex gen(R"(generate_(.+)_(\d+)steps_s)");
  for (const auto& m : run.metrics) {
    std::smatch mm;
    if (!std::regex_match(m.name, mm, gen) || !(m.value > 0)) continue;
    const std::string w = mm[1], tag = m.name.substr(0, m.name.size() - 2);
    struct Part {
      const char* what;
      std::string own, fallback;
      double lo, hi;
      const char* advice;
    };
    const Part parts[] = {
        {"VAE decoding", tag + "_decode_s", "vae_decode_" + w + "_s", 0.2, 0.5,
         "the next stage to speed up after the DiT"},
        {"text encoding", tag + "_text_s", "", 0.1, 0.3, "worth caching for repeated prompts"}};
    for (const auto& part : parts) {
      const Metric* p = run.find(part.own);
      if (!p && !part.fallback.empty()) p = run.find(part.fallback);
      if (!p || !(p->value > 0)) continue;
      const double share = p->value / m.value;
      if (share < part.lo || share >= part.hi) continue;
      out.push_back({"stage",
                     std::string(part.what) + " is " + pct(share) + " of the whole " + w +
                         " generation: " + part.advice,
                     p->name + " " + secs(p->value) + " of " + m.name + " " + secs(m.value)});
    }
  }
}

void loading_advice(const RunRecord& run, std::vector<Recommendation>& out) {
  const Metric* load = run.find("model_load_s");
  const Metric* image = run.find("single_image_s");
  if (load && image && load->value > image->value && image->value > 0) {
    out.push_back(
        {"loading",
         "loading the model takes longer than generating one image: keep it loaded between "
         "jobs (the service, model_caching) rather than loading per job",
         "model_load_s " + secs(load->value) + " > single_image_s " + secs(image->value)});
  }
}

void thread_advice(const RunRecord& run, int hw, std::vector<Recommendation>& out) {
  if (run.device != "cpu" || hw <= 0 || run.threads <= 0 || run.threads >= hw) return;
  out.push_back(
      {"threads",
       "the CPU work ran on " + std::to_string(run.threads) + " of " + std::to_string(hw) +
           " usable logical CPUs: --threads " + std::to_string(hw) +
           " (cpu_optimization.max_workers) would use them all",
       "threads " + std::to_string(run.threads) + ", logical CPUs " + std::to_string(hw)});
}

void noise_advice(const RunRecord& run, std::vector<Recommendation>& out) {
  std::vector<std::string> noisy;
  double worst = 0;
  for (const auto& m : run.metrics) {
    const double b = noise_band(m);
    if (b > 0.10) {
      noisy.push_back(m.name + " +-" + pct(b));
      worst = std::max(worst, b);
    }
  }
  if (noisy.empty()) return;
  std::string ev;
  for (size_t i = 0; i < noisy.size() && i < 6; ++i) ev += (i ? ", " : "") + noisy[i];
  if (noisy.size() > 6) ev += ", ...";
  out.push_back(
      {"noise",
       "repeats scatter by up to +-" + pct(worst) +
           ": other load on the machine? Changes "
           "smaller than that cannot be told from noise; close other work or raise --repeats",
       ev});
}

void target_advice(const std::vector<TargetCheck>& targets, std::vector<Recommendation>& out) {
  for (const auto& t : targets) {
    if (t.status != TargetStatus::kFail || !(t.spec.target > 0)) continue;
    std::string what =
        t.spec.key == "peak_vram_gb"
            ? "peak device memory is over its target: a VRAM budget (--vram-budget, weight "
              "streaming, tiled VAE) trades some speed for memory"
            : t.spec.label + " misses its target by " + fmt("%.1fx", t.value / t.spec.target);
    out.push_back({"target", what,
                   t.metric + " " + fmt("%.3g", t.value) + " " + t.spec.unit + " > target " +
                       fmt("%.3g", t.spec.target) + " " + t.spec.unit});
  }
}

void contention_advice(const RunRecord& run, std::vector<Recommendation>& out) {
  const Metric* u = run.find("cpu_utilization");
  if (!u || !(u->value < 0.6) || run.threads <= 0) return;
  out.push_back(
      {"cpu",
       "the process got " + pct(u->value) + " of the CPU time its " + std::to_string(run.threads) +
           " thread(s) could use: other processes compete for the CPU (or the threads wait for "
           "each other), so these timings are inflated; benchmark on a quiet machine",
       "cpu_utilization " + fmt("%.2f", u->value) + " with " + std::to_string(run.threads) +
           " threads"});
}

void memory_advice(const RunRecord& run, std::vector<Recommendation>& out) {
  const Metric* rss = run.find("peak_rss_gib");
  if (!rss || run.machine.ram_bytes == 0) return;
  const double ram_gib = static_cast<double>(run.machine.ram_bytes) / (1ull << 30);
  const double share = rss->value / ram_gib;
  if (share >= 0.8) {
    out.push_back(
        {"memory",
         "peak host memory is " + pct(share) +
             " of RAM: sequential loading (ti2v_5b_loading) "
             "and smaller sizes keep it lower",
         "peak_rss_gib " + fmt("%.2f", rss->value) + " of " + fmt("%.1f", ram_gib) + " GiB"});
  }
}

void regression_advice(const std::vector<MetricChange>& changes, const std::string& name,
                       std::vector<Recommendation>& out) {
  std::string ev;
  size_t n = 0;
  for (const auto& c : changes) {
    if (c.verdict != Verdict::kRegression) continue;
    ev += (n++ ? ", " : "") + c.name + " " + fmt("%+.1f%%", 100.0 * c.change);
  }
  if (n == 0) return;
  out.push_back({"regression",
                 std::to_string(n) + " metric(s) regressed against baseline '" + name +
                     "' beyond their noise: check the settings (threads!) and the changes since "
                     "its revision",
                 ev});
}

}  // namespace

std::vector<Recommendation> recommend(const RecommendInputs& in) {
  std::vector<Recommendation> out;
  if (!in.run) return out;
  if (in.changes) regression_advice(*in.changes, in.baseline_name, out);
  if (in.targets) target_advice(*in.targets, out);
  stage_advice(*in.run, out);
  workload_share_advice(*in.run, out);
  loading_advice(*in.run, out);
  thread_advice(*in.run, in.hardware_threads, out);
  memory_advice(*in.run, out);
  contention_advice(*in.run, out);
  noise_advice(*in.run, out);
  return out;
}

}  // namespace wan22::bench
