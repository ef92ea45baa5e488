// The configuration system: JSON with comments, validation messages naming the key path,
// precedence default < file < cli, typed accessors, not-applied reporting, rendering.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "config/apply.h"
#include "config/cli_options.h"
#include "config/jsonc.h"
#include "config/render.h"
#include "config/settings.h"
#include "config/validate.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "test_util.h"

using namespace wan22;
using namespace wan22::config;

namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::vector<Problem> load(const std::string& text, Settings* out = nullptr) {
  Settings s;
  auto p = s.try_load_text(text, "file:t.json");
  if (out) *out = s;
  return p;
}

// The single problem of `text`; fails the test when there is not exactly one.
Problem only_problem(const std::string& text) {
  auto p = load(text);
  EXPECT_EQ(p.size(), 1U) << join_problems(p);
  return p.empty() ? Problem{} : p[0];
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// ---------------- comments and syntax ----------------

TEST(ConfigParse, LineAndBlockCommentsAllowed) {
  Settings s;
  auto p = load(R"(// leading comment
{
  /* block
     comment */
  "memory_pool": {
    "pool_size_gb": 16, // trailing comment
    "fragmentation_threshold": /* inline */ 0.25
  }
}
// final comment without newline)",
                &s);
  ASSERT_TRUE(p.empty()) << join_problems(p);
  EXPECT_DOUBLE_EQ(s.get_double("memory_pool.pool_size_gb"), 16);
  EXPECT_DOUBLE_EQ(s.get_double("memory_pool.fragmentation_threshold"), 0.25);
}

TEST(ConfigParse, CommentMarkersInsideStringsAreKept) {
  Settings s;
  auto p = load(R"({
  "storage_optimization": { "model_storage_path": "https://example.com//models/* not a comment */" }, // a comment
  "generation": { "negative_prompt": "a // b /* c */ d", "model": "/data//wan" }
})",
                &s);
  ASSERT_TRUE(p.empty()) << join_problems(p);
  EXPECT_EQ(s.get_string("storage_optimization.model_storage_path"), "https://example.com//models/* not a comment */");
  EXPECT_EQ(s.get_string("generation.negative_prompt"), "a // b /* c */ d");
  EXPECT_EQ(s.get_string("generation.model"), "/data//wan");
}

TEST(ConfigParse, SyntaxErrorGivesLineAndColumn) {
  try {
    parse_jsonc("{\n  \"memory_pool\": {\n    \"enabled\": true\n    \"pool_size_gb\": 3\n  }\n}\n", "file:x.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "x.json:4:5:")) << e.what();
    EXPECT_TRUE(contains(e.what(), "syntax error")) << e.what();
  }
  try {
    parse_jsonc("{\"a\": 1,}", "file:y.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "y.json:1:9:")) << e.what();
  }
  // An unterminated block comment is a syntax error too.
  EXPECT_THROW(parse_jsonc("{\"a\": 1 /* open", "file:z.json"), Error);
  EXPECT_THROW(parse_jsonc("", "file:empty.json"), Error);
}

TEST(ConfigParse, DeepNestingIsRejected) {
  std::string deep = "{\"generation\": " + std::string(10000, '[') + std::string(10000, ']') + "}";
  try {
    parse_jsonc(deep, "file:deep.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "deep.json: nesting deeper than")) << std::string(e.what()).substr(0, 200);
  }
}

TEST(ConfigParse, SyntaxErrorIsOneProblemAndChangesNothing) {
  Settings s;
  auto p = s.try_load_text("{\"memory_pool\": {\"pool_size_gb\": 4,}}", "file:bad.json");
  ASSERT_EQ(p.size(), 1U);
  EXPECT_TRUE(contains(p[0].str(), "bad.json:1:")) << p[0].str();
  EXPECT_TRUE(s.is_default("memory_pool.pool_size_gb"));
}

TEST(ConfigParse, RepeatedSectionsMergeRepeatedKeysAreProblems) {
  // The guide has two memory_optimization snippets; pasted one after the other they merge.
  Settings s;
  auto p = load(R"({
  "memory_optimization": { "gradient_checkpointing": false, "checkpoint_segments": 2 },
  "memory_optimization": { "memory_channels": 4, "prefetch_distance": 16 }
})",
                &s);
  ASSERT_TRUE(p.empty()) << join_problems(p);
  EXPECT_FALSE(s.get_bool("memory_optimization.gradient_checkpointing"));
  EXPECT_EQ(s.get_int("memory_optimization.checkpoint_segments"), 2);
  EXPECT_EQ(s.get_int("memory_optimization.memory_channels"), 4);
  EXPECT_EQ(s.get_int("memory_optimization.prefetch_distance"), 16);

  Problem dup = only_problem(R"({
  "memory_optimization": { "checkpoint_segments": 2 },
  "memory_optimization": { "checkpoint_segments": 3 }
})");
  EXPECT_EQ(dup.path, "memory_optimization.checkpoint_segments");
  EXPECT_TRUE(contains(dup.message, "more than once")) << dup.message;
}

// ---------------- validation messages ----------------

TEST(ConfigValidate, UnknownKeyNamesPathAndAllowedKeys) {
  Problem p = only_problem(R"({"memory_pool": {"pool_size": 16}})");
  EXPECT_EQ(p.path, "memory_pool.pool_size");
  EXPECT_TRUE(contains(p.message, "unknown key")) << p.message;
  EXPECT_TRUE(contains(p.message, "pool_size_gb")) << p.message;  // suggestion and list
  EXPECT_TRUE(contains(p.str(), "t.json: memory_pool.pool_size: unknown key")) << p.str();

  Problem sec = only_problem(R"({"memory_pol": {}})");
  EXPECT_EQ(sec.path, "memory_pol");
  EXPECT_TRUE(contains(sec.message, "unknown section")) << sec.message;
  EXPECT_TRUE(contains(sec.message, "did you mean \"memory_pool\"")) << sec.message;

  Problem nested = only_problem(R"({"performance_monitoring": {"performance_targets": {"fps": 3}}})");
  EXPECT_EQ(nested.path, "performance_monitoring.performance_targets.fps");
  EXPECT_TRUE(contains(nested.message, "generation_speed")) << nested.message;

  // A key placed in the wrong section says where it belongs.
  Problem moved = only_problem(R"({"performance_targets": {"generation_speed": 0.5}})");
  EXPECT_EQ(moved.path, "performance_targets.generation_speed");
  EXPECT_TRUE(contains(moved.message, "is a key of performance_monitoring.performance_targets")) << moved.message;
}

TEST(ConfigValidate, WrongTypeNamesPathAndExpectedType) {
  Problem b = only_problem(R"({"memory_pool": {"enabled": "yes"}})");
  EXPECT_EQ(b.path, "memory_pool.enabled");
  EXPECT_TRUE(contains(b.message, "expected true or false")) << b.message;
  EXPECT_TRUE(contains(b.message, "\"yes\"")) << b.message;

  Problem i = only_problem(R"({"memory_optimization": {"checkpoint_segments": 2.5}})");
  EXPECT_EQ(i.path, "memory_optimization.checkpoint_segments");
  EXPECT_TRUE(contains(i.message, "expected an integer in [1, 256]")) << i.message;

  Problem pair = only_problem(R"({"tile_optimization": {"vae_tile_size": 256}})");
  EXPECT_EQ(pair.path, "tile_optimization.vae_tile_size");
  EXPECT_TRUE(contains(pair.message, "expected [a, b]")) << pair.message;

  Problem sec = only_problem(R"({"cpu_offload": true})");
  EXPECT_EQ(sec.path, "cpu_offload");
  EXPECT_TRUE(contains(sec.message, "expected an object")) << sec.message;

  Problem null = only_problem(R"({"cpu_offload": {"vae": null}})");
  EXPECT_EQ(null.path, "cpu_offload.vae");

  Problem root = only_problem("[1, 2]");
  EXPECT_EQ(root.path, "");
  EXPECT_TRUE(contains(root.message, "top level")) << root.message;
}

TEST(ConfigValidate, OutOfRangeNamesPathAndRange) {
  Problem f = only_problem(R"({"memory_pool": {"fragmentation_threshold": 1.5}})");
  EXPECT_EQ(f.path, "memory_pool.fragmentation_threshold");
  EXPECT_TRUE(contains(f.message, "out of range")) << f.message;
  EXPECT_TRUE(contains(f.message, "a number in [0, 1]")) << f.message;

  Problem n = only_problem(R"({"tile_optimization": {"overlap_pixels": -1}})");
  EXPECT_EQ(n.path, "tile_optimization.overlap_pixels");
  EXPECT_TRUE(contains(n.message, "[0, 1024]")) << n.message;

  Problem e = only_problem(R"({"rtx4080_optimizations": {"mixed_precision": "bf17"}})");
  EXPECT_EQ(e.path, "rtx4080_optimizations.mixed_precision");  // the path as written
  EXPECT_TRUE(contains(e.message, "one of: bf16, fp16, fp32")) << e.message;
  EXPECT_TRUE(contains(e.message, "did you mean \"bf16\"")) << e.message;

  Problem l = only_problem(R"({"ti2v_5b_quantization": {"components": ["unet", "dit"]}})");
  EXPECT_EQ(l.path, "ti2v_5b_quantization.components");
  EXPECT_TRUE(contains(l.message, "\"dit\"")) << l.message;

  Problem d = only_problem(R"({"ti2v_5b_loading": {"component_order": ["vae", "unet"]}})");
  EXPECT_EQ(d.path, "ti2v_5b_loading.component_order");
  EXPECT_TRUE(contains(d.message, "exactly once")) << d.message;

  Problem t = only_problem(R"({"tile_optimization": {"vae_tile_size": [250, 256]}})");
  EXPECT_TRUE(contains(t.message, "multiples of 16")) << t.message;

  Problem s = only_problem(R"({"generation": {"size": "1280*704"}})");
  EXPECT_EQ(s.path, "generation.size");
  EXPECT_TRUE(contains(s.message, "WIDTHxHEIGHT")) << s.message;

  Problem dev = only_problem(R"({"generation": {"device": "gpu"}})");
  EXPECT_TRUE(contains(dev.message, "cuda:N")) << dev.message;

  Problem loc = only_problem(R"({"model_caching": {"cache_location": "hdd"}})");
  EXPECT_EQ(loc.path, "model_caching.cache_location");
}

TEST(ConfigValidate, EveryProblemIsReported) {
  auto p = load(R"({
  "memory_pool": {"enabled": "yes", "fragmentation_threshold": 2},
  "memory_pol": {},
  "cpu_optimization": {"max_workers": -3, "thread_affinity": "pinned"},
  "generation": {"steps": 0}
})");
  std::set<std::string> paths;
  for (const auto& x : p) paths.insert(x.path);
  EXPECT_EQ(paths, (std::set<std::string>{"memory_pool.enabled", "memory_pool.fragmentation_threshold", "memory_pol",
                                          "cpu_optimization.max_workers", "cpu_optimization.thread_affinity",
                                          "generation.steps"}))
      << join_problems(p);
}

TEST(ConfigValidate, ConstraintsBetweenKeys) {
  Problem steps = only_problem(R"({"inference_optimization": {"min_steps": 60, "max_steps": 40}})");
  EXPECT_EQ(steps.path, "inference_optimization.min_steps");
  EXPECT_TRUE(contains(steps.message, "max_steps")) << steps.message;

  Problem overlap = only_problem(R"({"tile_optimization": {"vae_tile_size": [64, 64], "overlap_pixels": 32}})");
  EXPECT_EQ(overlap.path, "tile_optimization.overlap_pixels");
  EXPECT_TRUE(load(R"({"tile_optimization": {"vae_tile_size": [0, 0], "overlap_pixels": 512}})").empty());
}

TEST(ConfigValidate, AliasSection) {
  Settings s;
  ASSERT_TRUE(load(R"({"rtx4080_optimizations": {"mixed_precision": "fp16"}})", &s).empty());
  EXPECT_EQ(s.get_string("gpu_optimizations.mixed_precision"), "fp16");
  EXPECT_EQ(s.get_string("rtx4080_optimizations.mixed_precision"), "fp16");
  ASSERT_TRUE(load(R"({"gpu_optimizations": {"mixed_precision": "fp32"}})", &s).empty());
  EXPECT_EQ(s.get_string("rtx4080_optimizations.mixed_precision"), "fp32");
  // Different keys through both names merge; the same key through both is a problem.
  EXPECT_TRUE(load(R"({"rtx4080_optimizations": {"mixed_precision": "fp16"},
                       "gpu_optimizations": {"enable_tensor_cores": false}})")
                  .empty());
  Problem both = only_problem(R"({"rtx4080_optimizations": {"mixed_precision": "fp16"},
                                  "gpu_optimizations": {"mixed_precision": "bf16"}})");
  EXPECT_TRUE(contains(both.message, "also set as")) << both.message;
}

// ---------------- precedence and sources ----------------

TEST(ConfigSettings, PrecedenceDefaultFileCli) {
  const std::string a = write_file("a.json", R"({"memory_pool": {"pool_size_gb": 16, "fragmentation_threshold": 0.2},
                                                  "generation": {"steps": 30}})");
  const std::string b = write_file("b.json", R"({"memory_pool": {"pool_size_gb": 8}})");
  ConfigOptions o;
  o.files = {a, b};
  o.sets = {"memory_pool.fragmentation_threshold=0.3"};
  Settings s = load_settings(o);
  // default
  EXPECT_DOUBLE_EQ(s.get_double("memory_pool.pool_size_gb"), 8);  // b over a
  EXPECT_EQ(s.source("memory_pool.pool_size_gb").str(), "file:" + b);
  EXPECT_EQ(s.get_int("generation.steps"), 30);
  EXPECT_EQ(s.source("generation.steps").str(), "file:" + a);
  EXPECT_DOUBLE_EQ(s.get_double("memory_pool.fragmentation_threshold"), 0.3);  // cli over file
  EXPECT_EQ(s.source("memory_pool.fragmentation_threshold").str(), "cli");
  EXPECT_TRUE(s.is_default("generation.fps"));
  EXPECT_EQ(s.get_int("generation.fps"), 24);
  EXPECT_EQ(s.source("generation.fps").str(), "default");
  EXPECT_EQ(s.files(), (std::vector<std::string>{a, b}));
  EXPECT_EQ(s.num_set(), 3U);

  // The command's own flags come last and win over --set.
  s.set_cli("generation.steps", "12", "--steps");
  EXPECT_EQ(s.get_int("generation.steps"), 12);
  EXPECT_EQ(s.source("generation.steps").str(), "cli");
}

TEST(ConfigSettings, BatchOrderIndependentAndFailedLoadChangesNothing) {
  ConfigOptions o;
  o.sets = {"inference_optimization.min_steps=60", "inference_optimization.max_steps=80"};
  Settings s = load_settings(o);  // min 60 > default max 50 until the second --set
  EXPECT_EQ(s.get_int("inference_optimization.min_steps"), 60);

  ConfigOptions bad;
  bad.sets = {"inference_optimization.min_steps=60"};
  try {
    load_settings(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "inference_optimization.min_steps")) << e.what();
  }

  Settings t;
  auto p = t.try_load_text(R"({"memory_pool": {"pool_size_gb": 4, "enabled": 3}})", "file:x.json");
  EXPECT_EQ(p.size(), 1U);
  EXPECT_TRUE(t.is_default("memory_pool.pool_size_gb"));  // nothing of a bad file is applied
  EXPECT_THROW(t.set_cli("inference_optimization.min_steps", "70"), Error);
  EXPECT_TRUE(t.is_default("inference_optimization.min_steps"));
}

TEST(ConfigSettings, LoadFileErrors) {
  Settings s;
  try {
    s.load_file(test::temp_dir() + "/missing.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "missing.json")) << e.what();
  }
  const std::string bad = write_file("bad.json", R"({"memory_pool": {"enabled": 1, "pool_size_gb": -1}})");
  try {
    s.load_file(bad);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(e.what(), "2 problems")) << e.what();
    EXPECT_TRUE(contains(e.what(), "memory_pool.enabled")) << e.what();
    EXPECT_TRUE(contains(e.what(), "memory_pool.pool_size_gb")) << e.what();
  }
}

TEST(ConfigSettings, CliValuesParsedByType) {
  Settings s;
  s.set_cli("cpu_offload.vae", "no");
  EXPECT_FALSE(s.get_bool("cpu_offload.vae"));
  s.set_cli("cpu_offload.vae", "ON");
  EXPECT_TRUE(s.get_bool("cpu_offload.vae"));
  s.set_cli("tile_optimization.vae_tile_size", "512x256");
  EXPECT_EQ(s.get_int_pair("tile_optimization.vae_tile_size"), (std::array<int64_t, 2>{512, 256}));
  s.set_cli("tile_optimization.vae_tile_size", "[128, 192]");
  EXPECT_EQ(s.get_int_pair("tile_optimization.vae_tile_size"), (std::array<int64_t, 2>{128, 192}));
  s.set_cli("ti2v_5b_quantization.components", "vae, unet");
  EXPECT_EQ(s.get_string_list("ti2v_5b_quantization.components"), (std::vector<std::string>{"vae", "unet"}));
  s.set_cli_assignment("memory_pool.pool_size_gb=1.5");
  EXPECT_DOUBLE_EQ(s.get_double("memory_pool.pool_size_gb"), 1.5);
  s.set_cli_assignment("rtx4080_optimizations.tensor_core_utilization=balanced");
  EXPECT_EQ(s.get_string("gpu_optimizations.tensor_core_utilization"), "balanced");
  s.set_cli("generation.size", "832x480");
  EXPECT_EQ(s.get_size("generation.size"), (std::array<int64_t, 2>{832, 480}));
  s.set_cli("generation.negative_prompt", "  spaces kept ");
  EXPECT_EQ(s.get_string("generation.negative_prompt"), "  spaces kept ");

  auto message = [&](const std::string& path, const std::string& text) -> std::string {
    try {
      s.set_cli(path, text, "--opt");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_TRUE(contains(message("generation.steps", "abc"), "--opt: generation.steps: expected an integer"));
  EXPECT_TRUE(contains(message("cpu_offload.vae", "maybe"), "cpu_offload.vae: expected true or false"));
  EXPECT_TRUE(contains(message("memory_pool.fragmentation_threshold", "7"), "out of range"));
  EXPECT_TRUE(contains(message("memory_pool.size", "7"), "unknown setting 'memory_pool.size'"));
  EXPECT_THROW(s.set_cli_assignment("no_equals_sign"), Error);
}

TEST(ConfigSettings, TypedAccessorsRejectMisuse) {
  Settings s;
  EXPECT_EQ(s.get_int("memory_optimization.checkpoint_segments"), 4);
  EXPECT_DOUBLE_EQ(s.get_double("memory_optimization.checkpoint_segments"), 4.0);  // ints read as double
  EXPECT_EQ(s.get_string("gpu_optimizations.mixed_precision"), "bf16");
  EXPECT_EQ(s.get_string_list("ti2v_5b_loading.component_order"),
            (std::vector<std::string>{"text_encoder", "unet", "vae"}));
  try {
    s.get_int("memory_optimization.no_such_key");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_TRUE(contains(e.what(), "memory_optimization.no_such_key")) << e.what();
  }
  EXPECT_THROW(s.get_bool("memory_pool.pool_size_gb"), Error);
  EXPECT_THROW(s.get_int("memory_pool.pool_size_gb"), Error);  // a number, not an integer
  EXPECT_THROW(s.get_string("cpu_offload.vae"), Error);
}

// ---------------- not applied ----------------

TEST(ConfigSettings, NotAppliedListsEverySetButUnusedKey) {
  Settings s;
  EXPECT_TRUE(s.not_applied().empty());  // nothing set
  ASSERT_TRUE(s.try_load_text(R"({
    "cpu_offload": {"safety_checker": true, "vae": false},
    "memory_optimization": {"prefetch_distance": 16},
    "cpu_optimization": {"max_workers": 2, "workload_distribution": "balanced"},
    "attention_optimization": {"enable_memory_efficient_attention": false}
  })",
                              "file:n.json")
                  .empty());
  std::map<std::string, NotApplied> by_path;
  for (const auto& n : s.not_applied()) by_path[n.path] = n;
  // not applicable: reported with the reason
  ASSERT_TRUE(by_path.count("cpu_offload.safety_checker"));
  EXPECT_EQ(by_path["cpu_offload.safety_checker"].status.kind, Availability::kNotApplicable);
  EXPECT_TRUE(contains(by_path["cpu_offload.safety_checker"].str(), "no safety checker"));
  // planned
  ASSERT_TRUE(by_path.count("memory_optimization.prefetch_distance"));
  EXPECT_TRUE(contains(by_path["memory_optimization.prefetch_distance"].str(), "planned: issue 6"));
  EXPECT_TRUE(contains(by_path["memory_optimization.prefetch_distance"].str(), "file:n.json"));
  // applied by the CUDA engine's memory plan: not listed
  EXPECT_FALSE(by_path.count("cpu_offload.vae"));
  // fixed: reported only when it differs from what the engine does
  EXPECT_TRUE(by_path.count("attention_optimization.enable_memory_efficient_attention"));
  EXPECT_FALSE(by_path.count("cpu_optimization.workload_distribution"));
  // applied
  EXPECT_FALSE(by_path.count("cpu_optimization.max_workers"));
  EXPECT_EQ(by_path.size(), 3U);
}

TEST(ConfigSettings, ApplyRuntimeSetsThreadPool) {
  const int before_threads = default_pool().num_threads();
  const Affinity before_aff = default_pool().affinity();
  Settings s;
  s.set_cli("cpu_optimization.max_workers", "3");
  s.set_cli("cpu_optimization.thread_affinity", "none");
  std::string d = apply_runtime(s);
  EXPECT_EQ(default_pool().num_threads(), 3);
  EXPECT_EQ(default_pool().affinity(), Affinity::kNone);
  EXPECT_TRUE(contains(d, "3 threads")) << d;
  set_default_pool(before_threads, before_aff);
}

// ---------------- schema, rendering ----------------

TEST(ConfigSchema, EveryKeyIsComplete) {
  std::set<std::string> paths;
  for (const auto& k : schema()) {
    SCOPED_TRACE(k.path);
    EXPECT_TRUE(paths.insert(k.path).second) << "duplicate key";
    EXPECT_EQ(check_value(k, k.default_value), "") << "default fails its own check";
    EXPECT_FALSE(k.description.empty());
    EXPECT_FALSE(k.status.detail.empty());
    const std::string section = k.path.substr(0, k.path.rfind('.'));
    EXPECT_TRUE(is_section(section)) << "section " << section << " missing";
    if (!k.guide_value.is_null()) {
      EXPECT_EQ(check_value(k, k.guide_value), "") << "guide value rejected";
    }
  }
  for (const auto& sec : sections()) EXPECT_FALSE(children_of(sec.name).empty()) << sec.name;
  EXPECT_TRUE(Settings().cross_problems().empty());
}

TEST(ConfigRender, ExampleConfigHoldsEveryDefault) {
  const std::string text = example_config();
  Settings s;
  auto p = s.try_load_text(text, "file:example.json");
  ASSERT_TRUE(p.empty()) << join_problems(p);
  EXPECT_EQ(s.num_set(), schema().size());
  for (const auto& k : schema()) EXPECT_EQ(s.get_json(k.path), k.default_value) << k.path;
  EXPECT_TRUE(contains(text, "// ")) << "no comments";
  EXPECT_TRUE(contains(text, "[not applicable: Wan2.2"));
}

TEST(ConfigRender, RoundTripThroughJson) {
  Settings s;
  s.set_cli("generation.steps", "7");
  s.set_cli("tile_optimization.unet_tile_size", "32x48");
  Settings t;
  auto p = t.try_load_text(s.to_json().dump(), "file:rt.json");
  ASSERT_TRUE(p.empty()) << join_problems(p);
  for (const auto& k : schema()) EXPECT_EQ(t.get_json(k.path), s.get_json(k.path)) << k.path;
  Json meta = s.to_json_with_sources();
  EXPECT_EQ(meta["generation.steps"]["source"], "cli");
  EXPECT_EQ(meta["generation.steps"]["value"], 7);
  EXPECT_EQ(meta["generation.fps"]["source"], "default");
}

TEST(ConfigRender, ReferenceNamesEveryKeyAndStatus) {
  const std::string md = reference_markdown();
  for (const auto& k : schema()) {
    const std::string leaf = k.path.substr(k.path.rfind('.') + 1);
    EXPECT_TRUE(contains(md, "| `" + leaf + "` |")) << k.path;
    EXPECT_TRUE(contains(md, k.status.str())) << k.path;
  }
  for (const auto& sec : sections()) EXPECT_TRUE(contains(md, "### `" + sec.name + "`")) << sec.name;
  EXPECT_TRUE(contains(md, "rtx4080_optimizations"));
}
