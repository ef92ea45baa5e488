// Every JSON snippet of the performance guide (../shared/seed/WAN22_PERFORMANCE_OPTIMIZATION_GUIDE.md),
// copied verbatim (comments included), parses and validates; together they set exactly the keys the
// schema marks as coming from the guide; configs/guide-verbatim.json holds them all.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "config/jsonc.h"
#include "config/settings.h"
#include "config/validate.h"
#include "test_util.h"

using namespace wan22;
using namespace wan22::config;

namespace {

// The guide's ```json blocks, in the order they appear.
const std::vector<std::string>& guide_snippets() {
  static const std::vector<std::string> s = {
      R"GUIDE({
  "memory_optimization": {
    "gradient_checkpointing": true,
    "checkpoint_segments": 4
  }
}
)GUIDE",
      R"GUIDE({
  "cpu_offload": {
    "text_encoder": true,
    "vae": true,
    "safety_checker": true
  }
}
)GUIDE",
      R"GUIDE({
  "attention_optimization": {
    "enable_memory_efficient_attention": true,
    "attention_slice_size": 8
  }
}
)GUIDE",
      R"GUIDE({
  "memory_pool": {
    "enabled": true,
    "pool_size_gb": 32,
    "fragmentation_threshold": 0.1
  }
}
)GUIDE",
      R"GUIDE({
  "rtx4080_optimizations": {
    "enable_tensor_cores": true,
    "mixed_precision": "bf16",
    "tensor_core_utilization": "aggressive"
  }
}
)GUIDE",
      R"GUIDE({
  "tile_optimization": {
    "vae_tile_size": [256, 256],
    "unet_tile_size": [64, 64],
    "overlap_pixels": 32
  }
}
)GUIDE",
      R"GUIDE({
  "memory_bandwidth": {
    "coalesced_access": true,
    "prefetch_enabled": true,
    "cache_optimization": "aggressive"
  }
}
)GUIDE",
      R"GUIDE({
  "cpu_optimization": {
    "max_workers": 32,
    "thread_affinity": "numa_aware",
    "workload_distribution": "balanced"
  }
}
)GUIDE",
      R"GUIDE({
  "numa_optimization": {
    "enabled": true,
    "memory_binding": "local",
    "thread_binding": "numa_aware"
  }
}
)GUIDE",
      R"GUIDE({
  "memory_optimization": {
    "memory_channels": 8,
    "prefetch_distance": 64,
    "memory_interleaving": true
  }
}
)GUIDE",
      R"GUIDE({
  "ti2v_5b_loading": {
    "sequential_loading": true,
    "component_order": ["text_encoder", "unet", "vae"],
    "clear_cache_between": true
  }
}
)GUIDE",
      R"GUIDE({
  "ti2v_5b_quantization": {
    "strategy": "bf16",
    "components": ["unet", "text_encoder"],
    "quality_threshold": 0.95
  }
}
)GUIDE",
      R"GUIDE({
  "model_caching": {
    "cache_components": true,
    "cache_size_gb": 8,
    "cache_location": "ssd"
  }
}
)GUIDE",
      R"GUIDE({
  "batch_optimization": {
    "dynamic_sizing": true,
    "max_batch_size": 8,
    "vram_threshold": 0.9
  }
}
)GUIDE",
      R"GUIDE({
  "pipeline_parallelization": {
    "enabled": true,
    "stages": ["preprocessing", "generation", "postprocessing"],
    "buffer_size": 3
  }
}
)GUIDE",
      R"GUIDE({
  "inference_optimization": {
    "adaptive_steps": true,
    "quality_mode": "balanced",
    "min_steps": 20,
    "max_steps": 50
  }
}
)GUIDE",
      R"GUIDE({
  "storage_optimization": {
    "model_storage_path": "D:/models", // NVMe drive
    "enable_read_ahead": true,
    "buffer_size_mb": 256
  }
}
)GUIDE",
      R"GUIDE({
  "temp_file_optimization": {
    "temp_location": "D:/temp", // Fast SSD
    "cleanup_interval": 300,
    "max_temp_size_gb": 50
  }
}
)GUIDE",
      R"GUIDE({
  "download_optimization": {
    "parallel_downloads": 4,
    "chunk_size_mb": 64,
    "resume_downloads": true
  }
}
)GUIDE",
      R"GUIDE({
  "performance_monitoring": {
    "enabled": true,
    "metrics_interval": 5,
    "adaptive_optimization": true,
    "performance_targets": {
      "generation_speed": 0.5,
      "vram_efficiency": 0.8,
      "cpu_utilization": 0.7
    }
  }
}
)GUIDE",
      R"GUIDE({
  "thermal_management": {
    "gpu_temp_target": 80,
    "cpu_temp_target": 75,
    "performance_scaling": "adaptive",
    "cooling_curves": "aggressive"
  }
}
)GUIDE",
  };
  return s;
}

}  // namespace

TEST(ConfigGuide, HasEverySnippet) { EXPECT_EQ(guide_snippets().size(), 21U); }

TEST(ConfigGuide, EverySnippetParsesAndValidates) {
  for (size_t i = 0; i < guide_snippets().size(); ++i) {
    SCOPED_TRACE("guide snippet " + std::to_string(i + 1) + ":\n" + guide_snippets()[i]);
    Settings s;
    auto problems = s.try_load_text(guide_snippets()[i], "file:snippet" + std::to_string(i + 1));
    EXPECT_TRUE(problems.empty()) << join_problems(problems);
    EXPECT_GE(s.num_set(), 2U);
  }
}

TEST(ConfigGuide, SnippetsSetExactlyTheGuideKeys) {
  std::set<std::string> from_snippets;
  for (const auto& text : guide_snippets()) {
    ParsedText p = parse_jsonc(text, "snippet");
    Validated v = validate_document(p.value, "snippet");
    ASSERT_TRUE(v.problems.empty()) << join_problems(v.problems);
    for (const auto& fv : v.values) from_snippets.insert(fv.path);
  }
  std::set<std::string> marked;
  for (const auto& k : schema())
    if (k.from_guide) marked.insert(k.path);
  for (const auto& k : from_snippets) EXPECT_TRUE(marked.count(k)) << k << " is in the guide but not marked from_guide";
  for (const auto& k : marked) EXPECT_TRUE(from_snippets.count(k)) << k << " is marked from_guide but no snippet sets it";
}

TEST(ConfigGuide, GuideVerbatimFileHoldsEverySnippet) {
  const std::string path = test::source_dir() + "/configs/guide-verbatim.json";
  Settings merged;
  auto problems = merged.try_load_file(path);
  ASSERT_TRUE(problems.empty()) << join_problems(problems);
  for (const auto& text : guide_snippets()) {
    Validated v = validate_document(parse_jsonc(text, "snippet").value, "snippet");
    for (const auto& fv : v.values) {
      EXPECT_EQ(merged.get_json(fv.path), fv.value) << fv.path;
      EXPECT_EQ(merged.source(fv.path).str(), "file:" + path) << fv.path;
    }
  }
  // Spot checks of the guide's own values, including ones that differ from our defaults.
  EXPECT_EQ(merged.get_int("cpu_optimization.max_workers"), 32);
  EXPECT_EQ(merged.get_string("storage_optimization.model_storage_path"), "D:/models");
  EXPECT_EQ(merged.get_string("rtx4080_optimizations.mixed_precision"), "bf16");
  EXPECT_DOUBLE_EQ(merged.get_double("performance_monitoring.performance_targets.vram_efficiency"), 0.8);
  EXPECT_EQ(merged.get_int_pair("tile_optimization.vae_tile_size"), (std::array<int64_t, 2>{256, 256}));
}
