#include "bench/cpu_suite.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include "bench/host_memory.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "pipeline/ti2v_pipeline.h"

namespace wan22::bench {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// User + system CPU time of the whole process (every thread), seconds.
double process_cpu_seconds() {
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

constexpr const char* kPrompt = "a red cat walks on the beach at sunset, cinematic";
constexpr int64_t kSeed = 42;

std::string steps_str(int n) { return std::to_string(n) + (n == 1 ? " step" : " steps"); }

std::string size_str(const std::array<int, 2>& s) {
  return std::to_string(s[0]) + "x" + std::to_string(s[1]);
}

bool wants(const CpuSuitePlan& p, const char* w) {
  return std::find(p.workloads.begin(), p.workloads.end(), w) != p.workloads.end();
}

std::string fmt_s(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g s", s);
  return buf;
}

// Collects per-repeat samples of named quantities and turns them into metrics.
class Samples {
 public:
  void add(const std::string& name, double v) { s_[name].push_back(v); }
  const std::vector<double>& get(const std::string& name) { return s_[name]; }

 private:
  std::map<std::string, std::vector<double>> s_;
};

double stage_seconds(const pipeline::GenerateResult& r, const std::string& stage) {
  for (const auto& s : r.stages)
    if (s.stage == stage) return s.seconds;
  return 0;
}

}  // namespace

std::string sized_name(const std::string& base, const std::string& unit_suffix,
                       const std::array<int, 2>& size, bool main_size) {
  return main_size ? base + "_" + unit_suffix : base + "_" + size_str(size) + "_" + unit_suffix;
}

CpuSuitePlan plan_cpu_suite(const CpuSuiteOptions& o) {
  CpuSuitePlan p;
  const bool demo = o.paths.demo;
  if (o.suite == "quick") {
    p.repeats = demo ? 3 : 1;
    p.warmup = demo ? 1 : 0;
    p.steps = demo ? 4 : 2;
    p.sizes = demo ? std::vector<std::array<int, 2>>{{384, 224}}
                   : std::vector<std::array<int, 2>>{{832, 480}};
  } else if (o.suite == "full") {
    p.repeats = demo ? 5 : 2;
    p.warmup = 1;
    p.steps = demo ? 8 : 10;
    p.sizes = demo ? std::vector<std::array<int, 2>>{{384, 224}, {256, 160}, {512, 288}}
                   : std::vector<std::array<int, 2>>{{832, 480}, {1280, 704}};
  } else {
    throw Error(ErrorCode::kInvalidArgument,
                "bench: the CPU suites are quick and full, not '" + o.suite + "'");
  }
  if (o.repeats > 0) p.repeats = o.repeats;
  if (o.warmup >= 0) p.warmup = o.warmup;
  if (o.steps > 0) p.steps = o.steps;
  if (!o.sizes.empty()) p.sizes = o.sizes;
  for (const auto& s : p.sizes) {
    if (s[0] <= 0 || s[1] <= 0 || s[0] % 32 != 0 || s[1] % 32 != 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "bench: size " + size_str(s) + " is not a multiple of 32");
  }
  p.workloads =
      o.workloads.empty() ? std::vector<std::string>{"load", "image", "video"} : o.workloads;
  for (const auto& w : p.workloads) {
    if (w != "load" && w != "image" && w != "video")
      throw Error(ErrorCode::kInvalidArgument, "bench: unknown CPU workload '" + w +
                                                   "' (the CPU suite has: load, image, video)");
  }
  return p;
}

namespace {

using Progress = std::function<void(const std::string&)>;

pipeline::GenerateRequest request(const CpuSuitePlan& p, const std::array<int, 2>& size,
                                  int frames) {
  pipeline::GenerateRequest req;
  req.prompt = kPrompt;
  req.width = size[0];
  req.height = size[1];
  req.frames = frames;
  req.denoise.steps = p.steps;
  req.seed = kSeed;
  return req;
}

// Loads the pipeline warmup + repeats times; leaves the last one in `pipe`.
void measure_load(const CpuSuiteOptions& o, const CpuSuitePlan& p, const std::string& model_note,
                  std::optional<pipeline::Ti2vPipeline>& pipe, CpuSuiteResult& res,
                  const Progress& progress) {
  Samples s;
  for (int r = 0; r < p.warmup + p.repeats; ++r) {
    pipe.reset();
    pipeline::LoadReport rep;
    auto t0 = Clock::now();
    pipe.emplace(pipeline::Ti2vPipeline::load(o.paths, &rep));
    const double t = since(t0);
    if (r < p.warmup) continue;
    s.add("model_load_s", t);
    for (const auto& st : rep.stages) s.add(st.stage + "_s", st.seconds);
  }
  const std::string note = model_note + ", " + std::to_string(p.repeats) + " loads after " +
                           std::to_string(p.warmup) + " warm-up (page cache warm)";
  res.metrics.push_back(timing_metric("model_load_s", s.get("model_load_s"), note));
  for (const char* part : {"load_text_encoder_s", "load_dit_s", "load_vae_s"})
    if (!s.get(part).empty()) res.metrics.push_back(timing_metric(part, s.get(part), note));
  progress("model_load_s " + fmt_s(median(s.get("model_load_s"))));
}

void measure_image(const pipeline::Ti2vPipeline& pipe, const CpuSuitePlan& p,
                   const std::array<int, 2>& size, bool main, const std::string& model_note,
                   CpuSuiteResult& res, const Progress& progress) {
  std::vector<double> t;
  for (int r = 0; r < p.warmup + p.repeats; ++r) {
    auto t0 = Clock::now();
    pipe.generate(request(p, size, 1));
    if (r >= p.warmup) t.push_back(since(t0));
  }
  const std::string name = sized_name("single_image", "s", size, main);
  res.metrics.push_back(timing_metric(
      name, t, "1 frame " + size_str(size) + ", " + steps_str(p.steps) + ", " + model_note));
  progress(name + " " + fmt_s(res.metrics.back().value));
}

Metric ratio_metric(const std::string& name, const std::string& unit, std::vector<double> samples,
                    const std::string& note) {
  Metric m;
  m.name = name;
  m.unit = unit;
  m.better = Better::kHigher;
  m.value = median(samples);
  m.samples = std::move(samples);
  m.note = note;
  return m;
}

// The 2-second video: its total, stages, median step, throughput and (main size) CPU utilisation.
void measure_video(const pipeline::Ti2vPipeline& pipe, const CpuSuitePlan& p,
                   const std::array<int, 2>& size, bool main, const std::string& model_note,
                   CpuSuiteResult& res, const Progress& progress) {
  const int threads = default_pool().num_threads();
  Samples s;
  for (int r = 0; r < p.warmup + p.repeats; ++r) {
    const double cpu0 = process_cpu_seconds();
    auto t0 = Clock::now();
    pipeline::GenerateResult g = pipe.generate(request(p, size, p.video_frames));
    const double total = since(t0);
    const double cpu = process_cpu_seconds() - cpu0;
    if (r < p.warmup) continue;
    s.add("total", total);
    s.add("text_encode", stage_seconds(g, "text_encode"));
    s.add("denoise", stage_seconds(g, "denoise"));
    s.add("vae_decode", stage_seconds(g, "vae_decode"));
    s.add("step", median(g.step_seconds));
    s.add("fps", static_cast<double>(g.frames) / total);
    s.add("cpu", total > 0 ? cpu / (total * threads) : 0);
  }
  const std::string work = std::to_string(p.video_frames) + " frames " + size_str(size) + ", " +
                           steps_str(p.steps) + ", " + model_note;
  auto add = [&](const std::string& base, const std::string& key, const std::string& what) {
    res.metrics.push_back(
        timing_metric(sized_name(base, "s", size, main), s.get(key), what + work));
  };
  add("video_2s", "total", "");
  add("text_encode", "text_encode", "text encoding (prompt + negative) of the video: ");
  add("denoise", "denoise", "denoising loop of the video: ");
  add("step", "step", "median denoising step (CFG batch of 2) of the video: ");
  add("vae_decode", "vae_decode", "VAE decode of the video: ");
  res.metrics.push_back(ratio_metric(sized_name("throughput", "fps", size, main), "frames/s",
                                     s.get("fps"),
                                     "output frames per second of wall time: " + work));
  if (main) {
    res.metrics.push_back(
        ratio_metric("cpu_utilization", "", s.get("cpu"),
                     "CPU time of the process / (wall time x " + std::to_string(threads) +
                         " threads) during the video: under 1 when threads wait for each "
                         "other or for the CPU"));
    for (const char* st : {"text_encode", "denoise", "vae_decode"})
      res.stages.push_back({st, median(s.get(st))});
    res.stages_of = "the 2-second video (" + work.substr(0, work.rfind(", ")) + ")";
  }
  progress(sized_name("video_2s", "s", size, main) + " " + fmt_s(median(s.get("total"))) +
           " (step " + fmt_s(median(s.get("step"))) + ", VAE decode " +
           fmt_s(median(s.get("vae_decode"))) + ")");
}

}  // namespace

CpuSuiteResult run_cpu_suite(const CpuSuiteOptions& o) {
  CpuSuiteResult res;
  res.plan = plan_cpu_suite(o);
  const CpuSuitePlan& p = res.plan;
  const Progress progress = [&](const std::string& line) {
    if (o.on_progress) o.on_progress(line);
  };
  const std::string model_note = o.paths.demo ? "demo model" : "model " + o.paths.root;
  const bool hwm_reset = reset_peak_rss();

  std::optional<pipeline::Ti2vPipeline> pipe;
  if (wants(p, "load")) measure_load(o, p, model_note, pipe, res, progress);
  if (!pipe) pipe.emplace(pipeline::Ti2vPipeline::load(o.paths));
  for (size_t si = 0; wants(p, "image") && si < p.sizes.size(); ++si)
    measure_image(*pipe, p, p.sizes[si], si == 0, model_note, res, progress);
  for (size_t si = 0; wants(p, "video") && si < p.sizes.size(); ++si)
    measure_video(*pipe, p, p.sizes[si], si == 0, model_note, res, progress);
  if (auto m = peak_rss_metric("over the suite", hwm_reset)) res.metrics.push_back(*m);
  return res;
}

}  // namespace wan22::bench
