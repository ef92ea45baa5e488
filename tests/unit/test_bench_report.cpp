// wan22 bench reports: JSON (format and round trip), HTML (well-formed, self-contained, charts),
// Markdown, terminal text; targets and recommendations computed from the numbers.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <stack>

#include "bench/gpu_stages.h"
#include "bench/record_json.h"
#include "bench/report.h"
#include "bench/svg_chart.h"
#include "core/status.h"

using namespace wan22::bench;

namespace {

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

// Checks that every element is closed in order (HTML void elements and <.../> excepted).
// Returns "" when balanced, else the first problem.
std::string tag_balance(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta",  "br",   "hr",      "img",
                                              "input", "link", "!doctype"};
  std::stack<std::string> open;
  size_t p = 0;
  while ((p = html.find('<', p)) != std::string::npos) {
    size_t e = html.find('>', p);
    if (e == std::string::npos) return "unterminated tag at " + std::to_string(p);
    std::string tag = html.substr(p + 1, e - p - 1);
    p = e + 1;
    if (tag.empty()) return "empty tag";
    if (tag.rfind("!--", 0) == 0) continue;
    const bool closing = tag[0] == '/';
    const bool self_closing = tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \t\n/"));
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (kVoid.count(name) || self_closing) continue;
    if (name == "style" && !closing) {  // skip the CSS body
      size_t end = html.find("</style>", p);
      if (end == std::string::npos) return "unclosed style";
      p = end + 8;
      continue;
    }
    if (!closing) {
      open.push(name);
    } else {
      if (open.empty()) return "close </" + name + "> without an open element";
      if (open.top() != name) return "close </" + name + "> while <" + open.top() + "> is open";
      open.pop();
    }
  }
  if (!open.empty()) return "<" + open.top() + "> never closed";
  return "";
}

RunRecord sample_run() {
  RunRecord r;
  r.id = 7;
  r.machine.cpu = "Test CPU <9000> & co";
  r.machine.logical_cores = 8;
  r.machine.physical_cores = 4;
  r.machine.ram_bytes = 16ull << 30;
  r.machine.gpu = "NVIDIA H200";
  r.machine.driver = "580.1";
  r.machine.cuda = "12.8";
  r.machine.os = "Linux 6.1";
  r.threads = 2;
  r.revision = "abc1234";
  r.date = "2026-11-28T10:00:00Z";
  r.suite = "quick";
  r.device = "cpu";
  r.model = "demo";
  r.metrics.push_back(timing_metric("model_load_s", {0.2, 0.21, 0.19}));
  r.metrics.push_back(timing_metric("single_image_s", {0.1, 0.105, 0.095}));
  r.metrics.push_back(
      timing_metric("video_2s_s", {1.0, 1.1, 0.9}, "note with <script>alert(1)</script>"));
  r.metrics.push_back(timing_metric("step_s", {0.05, 0.05, 0.05}));
  r.metrics.push_back(timing_metric("vae_decode_s", {0.7, 0.7, 0.7}));
  Metric fps;
  fps.name = "throughput_fps";
  fps.unit = "frames/s";
  fps.better = Better::kHigher;
  fps.samples = {49, 45, 53};
  fps.value = 49;
  r.metrics.push_back(fps);
  r.stages = {{"text_encode", 0.05}, {"denoise", 0.25}, {"vae_decode", 0.7}};
  r.stages_of = "the 2-second video (49 frames 256x160, 4 steps)";
  return r;
}

BenchReport sample_report() {
  BenchReport rep;
  rep.run = sample_run();
  rep.targets = check_targets(rep.run.metrics, default_target_specs(), true);
  Comparison c;
  c.baseline_name = "base";
  c.baseline = sample_run();
  c.baseline.id = 3;
  c.baseline.threads = 4;
  for (auto& m : c.baseline.metrics) {
    if (m.name == "video_2s_s") {
      m.samples = {0.5, 0.51, 0.49};
      m.value = 0.5;
    }
  }
  c.changes = compare_metrics(rep.run.metrics, c.baseline.metrics);
  c.warnings = comparison_warnings(rep.run, c.baseline);
  rep.comparison = c;
  RecommendInputs ri;
  ri.run = &rep.run;
  ri.targets = &rep.targets;
  ri.changes = &rep.comparison->changes;
  ri.baseline_name = "base";
  ri.hardware_threads = 8;
  rep.recommendations = recommend(ri);
  for (const auto& m : rep.run.metrics) {
    rep.history[m.name] = {{3, "2026-11-27T10:00:00Z", "0000aaa", 4, m.value * 0.5, 0.02},
                           {5, "2026-11-27T12:00:00Z", "0000bbb", 4, m.value * 0.6, 0.0},
                           {7, "2026-11-28T10:00:00Z", "abc1234", 2, m.value, 0.1}};
  }
  rep.notes.push_back("demo model: tiny");
  return rep;
}

}  // namespace

TEST(BenchReport, ComparisonFindsTheSlowdown) {
  BenchReport rep = sample_report();
  ASSERT_TRUE(rep.comparison);
  size_t regressions = count_verdict(rep.comparison->changes, Verdict::kRegression);
  EXPECT_EQ(regressions, 1u);  // video_2s_s doubled
  ASSERT_FALSE(rep.comparison->warnings.empty());
  EXPECT_NE(rep.comparison->warnings[0].find("4 CPU threads"), std::string::npos)
      << rep.comparison->warnings[0];
}

TEST(BenchReport, JsonHasTheDocumentedFormat) {
  BenchReport rep = sample_report();
  auto j = report_json(rep);
  for (const char* k : {"gpu", "driver", "cuda", "cpu", "threads", "fingerprint"})
    EXPECT_TRUE(j["machine"].contains(k)) << k;
  EXPECT_EQ(j["machine"]["gpu"], "NVIDIA H200");
  EXPECT_EQ(j["machine"]["threads"], 2);
  EXPECT_EQ(j["revision"], "abc1234");
  EXPECT_EQ(j["date"], "2026-11-28T10:00:00Z");
  EXPECT_EQ(j["suite"], "quick");
  EXPECT_DOUBLE_EQ(j["metrics"]["video_2s_s"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["metrics"]["throughput_fps"].get<double>(), 49.0);
  ASSERT_EQ(j["details"].size(), rep.run.metrics.size());
  EXPECT_EQ(j["details"][2]["samples"].size(), 3u);
  EXPECT_EQ(j["details"][5]["better"], "higher");
  EXPECT_NEAR(j["details"][2]["noise_band"].get<double>(), 0.1, 1e-12);
  ASSERT_EQ(j["targets"].size(), 4u);
  EXPECT_EQ(j["targets"][2]["key"], "video_2s_s");
  EXPECT_EQ(j["targets"][2]["status"], "pass");
  EXPECT_EQ(j["targets"][3]["status"], "not measured");
  EXPECT_TRUE(j["targets"][3]["value"].is_null());
  EXPECT_EQ(j["comparison"]["baseline"], "base");
  EXPECT_EQ(j["comparison"]["regressions"], 1);
  bool found = false;
  for (const auto& c : j["comparison"]["changes"]) {
    if (c["name"] == "video_2s_s") {
      found = true;
      EXPECT_EQ(c["verdict"], "regression");
      EXPECT_NEAR(c["change"].get<double>(), 1.0, 1e-12);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(j["recommendations"].empty());
  // NaN values are written as null, and the text is valid JSON
  RunRecord r = sample_run();
  r.metrics.push_back(timing_metric("nan_s", {}));
  auto jr = run_to_json(r);
  EXPECT_TRUE(jr["metrics"]["nan_s"].is_null());
  EXPECT_NO_THROW(nlohmann::json::parse(jr.dump()));
}

TEST(BenchReport, JsonRoundTrips) {
  RunRecord in = sample_run();
  RunRecord out = run_from_json(nlohmann::ordered_json::parse(run_to_json(in).dump()));
  EXPECT_EQ(out.machine.fingerprint(), in.machine.fingerprint());
  EXPECT_EQ(out.machine.cuda, "12.8");
  EXPECT_EQ(out.threads, 2);
  EXPECT_EQ(out.revision, in.revision);
  ASSERT_EQ(out.metrics.size(), in.metrics.size());
  for (size_t i = 0; i < in.metrics.size(); ++i) {
    EXPECT_EQ(out.metrics[i].name, in.metrics[i].name);
    EXPECT_DOUBLE_EQ(out.metrics[i].value, in.metrics[i].value);
    EXPECT_EQ(out.metrics[i].samples, in.metrics[i].samples);
    EXPECT_EQ(out.metrics[i].better, in.metrics[i].better);
  }
  ASSERT_EQ(out.stages.size(), 3u);
  EXPECT_EQ(out.stages_of, in.stages_of);
  EXPECT_THROW(run_from_json(nlohmann::ordered_json::parse(R"({"revision": "x"})")), wan22::Error);
}

TEST(BenchReport, HtmlIsWellFormedSelfContainedAndHasTheCharts) {
  const std::string html = report_html(sample_report());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(tag_balance(html), "");
  // charts: the stage bar chart and one history line chart per metric
  EXPECT_EQ(count(html, "<svg"), 1u + sample_run().metrics.size());
  EXPECT_EQ(count(html, "class=\"chart bar-chart\""), 1u);
  EXPECT_NE(html.find("Time per stage of the 2-second video (49 frames 256x160, 4 steps)"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"targets\""), std::string::npos);
  EXPECT_NE(html.find("id=\"comparison\""), std::string::npos);
  EXPECT_NE(html.find(">regression<"), std::string::npos);
  EXPECT_NE(html.find("id=\"history\""), std::string::npos);
  // self-contained: no scripts, no external resources
  EXPECT_EQ(html.find("<script"), std::string::npos);  // the metric note's <script> is escaped
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  std::regex url(R"(https?://)");
  std::string without_ns =
      std::regex_replace(html, std::regex(R"(xmlns="http://www\.w3\.org/2000/svg")"), "");
  EXPECT_FALSE(std::regex_search(without_ns, url));
  EXPECT_NE(html.find("Test CPU &lt;9000&gt; &amp; co"), std::string::npos);
  EXPECT_EQ(tag_balance("<p><b>x</p></b>"), "close </p> while <b> is open");  // the checker itself
}

TEST(BenchReport, MarkdownHasTablesAndSections) {
  const std::string md = report_markdown(sample_report());
  for (const char* h :
       {"# wan22 bench report", "## Run", "## Time per stage", "## Metrics", "## Targets",
        "## Comparison with baseline 'base'", "## Recommendations", "## History", "### video_2s_s"})
    EXPECT_NE(md.find(h), std::string::npos) << h;
  // every row of the comparison table has 6 cells
  std::istringstream in(md.substr(md.find("## Comparison")));
  std::string line;
  int rows = 0;
  while (std::getline(in, line) && line.rfind("## Recommendations", 0) != 0) {
    if (line.rfind("| ", 0) != 0) continue;
    ++rows;
    EXPECT_EQ(count(line, " | ") + 2, 7u) << line;
  }
  EXPECT_EQ(rows, 2 + static_cast<int>(sample_run().metrics.size()));
  EXPECT_NE(md.find("| regression |"), std::string::npos);
}

TEST(BenchReport, TextNamesRegressionsTargetsAndRecommendations) {
  const std::string t = report_text(sample_report());
  EXPECT_NE(t.find("regression"), std::string::npos);
  EXPECT_NE(t.find("comparison with baseline 'base'"), std::string::npos);
  EXPECT_NE(t.find("targets"), std::string::npos);
  EXPECT_NE(t.find("recommendations"), std::string::npos);
  EXPECT_NE(t.find("1 regression(s)"), std::string::npos) << t;
}

TEST(BenchTargets, PassFailAndNotMeasured) {
  std::vector<Metric> m = {timing_metric("model_load_s", {200}),
                           timing_metric("single_image_s", {30})};
  auto t = check_targets(m, default_target_specs(), false);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].status, TargetStatus::kFail);  // 200 > 180
  EXPECT_NEAR(t[0].vs_baseline, 1 - 200.0 / 420.0, 1e-12);
  EXPECT_EQ(t[1].status, TargetStatus::kPass);  // 30 <= 35
  EXPECT_EQ(t[2].status, TargetStatus::kNotMeasured);
  EXPECT_EQ(t[3].status, TargetStatus::kNotMeasured);
  EXPECT_NE(t[3].note.find("no device memory measured"), std::string::npos);
  EXPECT_TRUE(t[1].note.empty());
  auto demo = check_targets(m, default_target_specs(), true);
  EXPECT_NE(demo[1].note.find("demo model"), std::string::npos);
}

TEST(BenchTargets, GpuMetricsAnswerTheVideoAndMemoryTargets) {
  Metric peak1, peak2, budget;
  peak1.name = "peak_vram_gib_generate_720p_121f";
  peak1.value = 11.0;
  peak2.name = "peak_vram_gib_generate_720p_49f";
  peak2.value = 13.0;
  budget.name = "peak_vram_gib_budget8";  // a budget run is not the resident peak
  budget.value = 30.0;
  std::vector<Metric> m = {timing_metric("generate_720p_49f_50steps_s", {40}), peak1, peak2,
                           budget};
  auto t = check_targets(m, default_target_specs(), false);
  EXPECT_EQ(t[2].metric, "generate_720p_49f_50steps_s");
  EXPECT_EQ(t[2].status, TargetStatus::kPass);
  EXPECT_EQ(t[3].metric, "peak_vram_gib_generate_720p_49f");
  EXPECT_EQ(t[3].status, TargetStatus::kFail);  // 13 > 12
  // configured targets
  auto specs = default_target_specs();
  specs[3].target = 14;
  EXPECT_EQ(check_targets(m, specs, false)[3].status, TargetStatus::kPass);
  // A run of budgeted generations only: their process peak answers the memory target.
  Metric bpeak;
  bpeak.name = "generate_720p_121f_budget8_peak_gib";
  bpeak.value = 7.2;
  auto tb = check_targets({bpeak}, default_target_specs(), false);
  EXPECT_EQ(tb[3].metric, "generate_720p_121f_budget8_peak_gib");
  EXPECT_EQ(tb[3].status, TargetStatus::kPass);
}

TEST(BenchRecommend, OnlyWhatTheNumbersShow) {
  RunRecord r = sample_run();
  r.metrics[2] = timing_metric("video_2s_s", {1.0, 1.05, 0.95});  // +-5%
  RecommendInputs in;
  in.run = &r;
  in.hardware_threads = 2;  // all threads used: no thread advice
  auto recs = recommend(in);
  auto has = [&](const std::string& topic, const std::string& text) {
    for (const auto& x : recs)
      if (x.topic == topic && x.text.find(text) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("stage", "VAE decoding is 70% of the time"))
      << (recs.empty() ? "" : recs[0].text);
  EXPECT_TRUE(has("loading", "loading the model takes longer"));  // 0.2 s load > 0.1 s image
  EXPECT_FALSE(has("threads", ""));
  EXPECT_FALSE(has("regression", ""));  // no comparison given
  EXPECT_FALSE(has("noise", ""));       // every band <= 10%

  r.stages = {
      {"text_encode", 0.1}, {"denoise", 0.5}, {"vae_decode", 0.4}};  // denoise is the largest: 50%
  r.metrics[1] = timing_metric("single_image_s", {0.5});
  r.metrics[2] = timing_metric("video_2s_s", {1.0, 1.3, 0.8});  // +-25%
  in.hardware_threads = 8;
  recs = recommend(in);
  EXPECT_FALSE(has("stage", "VAE"));
  EXPECT_TRUE(has("stage", "denoising is 50% of the time"));
  EXPECT_FALSE(has("loading", ""));  // 0.2 s < 0.5 s
  EXPECT_TRUE(has("threads", "2 of 8"));
  EXPECT_TRUE(has("noise", "+-25%"));
  for (const auto& x : recs) EXPECT_FALSE(x.evidence.empty()) << x.text;
  EXPECT_FALSE(has("cpu", ""));  // no cpu_utilization measured

  Metric util;
  util.name = "cpu_utilization";
  util.better = Better::kHigher;
  util.value = 0.3;
  util.samples = {0.3};
  r.metrics.push_back(util);
  recs = recommend(in);
  EXPECT_TRUE(has("cpu", "the process got 30% of the CPU time its 2 thread(s) could use"));
  r.metrics.back().value = 0.9;
  recs = recommend(in);
  EXPECT_FALSE(has("cpu", ""));
}

TEST(BenchSvg, ChartsHaveOneMarkPerValue) {
  std::string bars = svg_bar_chart("Stages", {{"a", 1.0}, {"b", 3.0}, {"c & d", 0.5}}, "s");
  EXPECT_EQ(count(bars, "<rect"), 3u);
  EXPECT_NE(bars.find("c &amp; d"), std::string::npos);
  EXPECT_NE(bars.find("(66.7%)"), std::string::npos);  // b's share of 4.5 s
  EXPECT_EQ(tag_balance(bars), "");
  std::string line = svg_line_chart(
      "video_2s_s (s)", {{"run 1", 1.0, 0.1}, {"run 2", 1.2, 0}, {"run 3", 2.0, 0, true}}, "s");
  EXPECT_EQ(count(line, "<circle"), 3u);
  EXPECT_EQ(count(line, "<polyline"), 1u);
  EXPECT_EQ(count(line, "fill=\"#d9480f\""), 1u);  // the current run
  EXPECT_EQ(tag_balance(line), "");
  std::string empty = svg_line_chart("x", {}, "s");
  EXPECT_NE(empty.find("no stored runs"), std::string::npos);
  EXPECT_EQ(tag_balance(empty), "");
}

TEST(BenchRecommend, GpuWorkloadShares) {
  RunRecord r;
  r.device = "cuda";
  r.metrics = {timing_metric("generate_720p_121f_50steps_s", {80}),
               timing_metric("generate_720p_121f_50steps_decode_s", {20}),
               timing_metric("generate_720p_121f_50steps_text_s", {1}),
               timing_metric("generate_480p_121f_50steps_s", {30}),
               timing_metric("vae_decode_480p_121f_s", {3})};  // the fallback: 10%
  RecommendInputs in;
  in.run = &r;
  auto recs = recommend(in);
  ASSERT_EQ(recs.size(), 1u);  // 720p VAE 25%; its text 1.25% and 480p VAE 10% say nothing
  EXPECT_NE(recs[0].text.find("VAE decoding is 25% of the whole 720p_121f generation"),
            std::string::npos)
      << recs[0].text;
  EXPECT_NE(recs[0].evidence.find("generate_720p_121f_50steps_decode_s"), std::string::npos);
  r.metrics[4] = timing_metric("vae_decode_480p_121f_s", {9});  // 30% through the fallback
  recs = recommend(in);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_NE(recs[1].evidence.find("vae_decode_480p_121f_s"), std::string::npos);
}

TEST(BenchGpuStages, LongestGenerationGivesTheStages) {
  std::vector<Metric> m = {timing_metric("generate_480p_121f_50steps_s", {30}),
                           timing_metric("generate_480p_121f_50steps_text_s", {0.5}),
                           timing_metric("generate_720p_121f_50steps_s", {80}),
                           timing_metric("generate_720p_121f_50steps_text_s", {1}),
                           timing_metric("generate_720p_121f_50steps_denoise_s", {70}),
                           timing_metric("generate_720p_121f_50steps_decode_s", {9}),
                           timing_metric("generate_720p_121f_50steps_step_s", {1.4})};
  StageSet s = gpu_generation_stages(m);
  ASSERT_EQ(s.stages.size(), 3u);
  EXPECT_EQ(s.stages[0].name, "text_encode");
  EXPECT_DOUBLE_EQ(s.stages[1].seconds, 70);
  EXPECT_EQ(s.stages[2].name, "vae_decode");
  EXPECT_EQ(s.of, "the whole 720p_121f generation (50 steps)");
  EXPECT_TRUE(
      gpu_generation_stages({timing_metric("dit_forward_720p_121f_s", {0.8})}).stages.empty());
  // the stage advice speaks of the GPU run's own stages
  RunRecord r;
  r.device = "cuda";
  r.metrics = m;
  r.stages = s.stages;
  r.stages_of = s.of;
  RecommendInputs in;
  in.run = &r;
  auto recs = recommend(in);
  ASSERT_FALSE(recs.empty());
  EXPECT_NE(recs[0].text.find("denoising is 88% of the time"), std::string::npos) << recs[0].text;
  EXPECT_EQ(recs[0].text.find("GPU DiT"), std::string::npos) << recs[0].text;
  EXPECT_NE(recs[0].evidence.find("of the whole 720p_121f generation"), std::string::npos);
}
