// The schema table. To wire a key to the code that uses it, change its status here to
// applied("component") and regenerate the reference of docs/config.md (`wan22 config docs`).
#include "config/schema.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <sstream>

namespace wan22::config {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kBool: return "bool";
    case ValueType::kInt: return "integer";
    case ValueType::kNumber: return "number";
    case ValueType::kString: return "string";
    case ValueType::kEnum: return "string (enum)";
    case ValueType::kIntPair: return "[integer, integer]";
    case ValueType::kEnumList: return "array of strings";
  }
  return "?";
}

std::string KeyStatus::str() const {
  switch (kind) {
    case Availability::kApplied: return "applied: " + detail;
    case Availability::kFixed: return "fixed: " + detail;
    case Availability::kPlanned: return "planned: " + detail;
    case Availability::kNotApplicable: return "not applicable: " + detail;
  }
  return detail;
}

namespace {

std::string num_str(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v >= 9.2e18) return "9223372036854775807";
  if (v == std::floor(v) && std::fabs(v) < 1e18) {
    std::ostringstream s;
    s << static_cast<long long>(v);
    return s.str();
  }
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

}  // namespace

std::string KeySpec::allowed() const {
  std::string base;
  switch (type) {
    case ValueType::kBool: base = "true or false"; break;
    case ValueType::kInt: base = "an integer in [" + num_str(min) + ", " + num_str(max) + "]"; break;
    case ValueType::kNumber: base = "a number in [" + num_str(min) + ", " + num_str(max) + "]"; break;
    case ValueType::kString: base = "a string"; break;
    case ValueType::kEnum: base = "one of: " + join(choices, ", "); break;
    case ValueType::kIntPair:
      base = "[a, b] with integers in [" + num_str(min) + ", " + num_str(max) + "]";
      break;
    case ValueType::kEnumList: base = "an array of distinct values from: " + join(choices, ", "); break;
  }
  if (!allowed_note.empty()) base += " (" + allowed_note + ")";
  return base;
}

namespace {

// ---------------- status helpers ----------------
KeyStatus applied(std::string d) { return {Availability::kApplied, std::move(d)}; }
KeyStatus fixed(std::string d) { return {Availability::kFixed, std::move(d)}; }
KeyStatus planned(std::string d) { return {Availability::kPlanned, std::move(d)}; }
KeyStatus na(std::string d) { return {Availability::kNotApplicable, std::move(d)}; }

// ---------------- key constructors ----------------
KeySpec boolean(std::string path, bool def, std::string desc, KeyStatus st) {
  KeySpec k;
  k.path = std::move(path);
  k.type = ValueType::kBool;
  k.default_value = def;
  k.description = std::move(desc);
  k.status = std::move(st);
  return k;
}
KeySpec integer(std::string path, int64_t def, double lo, double hi, std::string desc, KeyStatus st) {
  KeySpec k;
  k.path = std::move(path);
  k.type = ValueType::kInt;
  k.default_value = def;
  k.min = lo;
  k.max = hi;
  k.description = std::move(desc);
  k.status = std::move(st);
  return k;
}
KeySpec number(std::string path, double def, double lo, double hi, std::string desc, KeyStatus st) {
  KeySpec k = integer(std::move(path), 0, lo, hi, std::move(desc), std::move(st));
  k.type = ValueType::kNumber;
  // Keep integral defaults integral in JSON (32, not 32.0), as the guide writes them.
  if (def == std::floor(def) && std::fabs(def) < 1e15)
    k.default_value = static_cast<int64_t>(def);
  else
    k.default_value = def;
  return k;
}
KeySpec string(std::string path, std::string def, std::string desc, KeyStatus st) {
  KeySpec k;
  k.path = std::move(path);
  k.type = ValueType::kString;
  k.default_value = std::move(def);
  k.description = std::move(desc);
  k.status = std::move(st);
  return k;
}
KeySpec choice(std::string path, std::string def, std::vector<std::string> choices, std::string desc,
               KeyStatus st) {
  KeySpec k = string(std::move(path), std::move(def), std::move(desc), std::move(st));
  k.type = ValueType::kEnum;
  k.choices = std::move(choices);
  return k;
}
KeySpec pair(std::string path, int64_t a, int64_t b, double lo, double hi, std::string desc, KeyStatus st) {
  KeySpec k = integer(std::move(path), 0, lo, hi, std::move(desc), std::move(st));
  k.type = ValueType::kIntPair;
  k.default_value = Json::array({a, b});
  return k;
}
KeySpec list(std::string path, std::vector<std::string> def, std::vector<std::string> choices,
             std::string desc, KeyStatus st) {
  KeySpec k;
  k.path = std::move(path);
  k.type = ValueType::kEnumList;
  k.default_value = def;
  k.choices = std::move(choices);
  k.description = std::move(desc);
  k.status = std::move(st);
  return k;
}
KeySpec engine(KeySpec k) {
  k.from_guide = false;
  return k;
}
KeySpec guide_says(KeySpec k, Json guide) {
  k.guide_value = std::move(guide);
  return k;
}
KeySpec with_check(KeySpec k, std::string (*check)(const Json&), std::string note) {
  k.check = check;
  k.allowed_note = std::move(note);
  return k;
}

// ---------------- custom checks ----------------
std::string check_tile_pair(const Json& v) {
  int64_t a = v[0].get<int64_t>(), b = v[1].get<int64_t>();
  if ((a == 0) != (b == 0)) return "both 0 (tiling off) or both non-zero";
  return "";
}
std::string check_vae_tile(const Json& v) {
  if (auto e = check_tile_pair(v); !e.empty()) return e;
  int64_t a = v[0].get<int64_t>(), b = v[1].get<int64_t>();
  if (a == 0) return "";
  if (a < 64 || b < 64 || a % 16 || b % 16) return "[0, 0] (off) or multiples of 16 of at least 64";
  return "";
}
std::string check_component_order(const Json& v) {
  std::set<std::string> s;
  for (const auto& e : v) s.insert(e.get<std::string>());
  if (s.size() != 3) return "each of text_encoder, unet, vae exactly once";
  return "";
}
std::string check_nonempty_list(const Json& v) {
  if (v.empty()) return "at least one entry";
  return "";
}
std::string check_size(const Json& v) {
  static const std::regex re("^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$");
  std::smatch m;
  const std::string s = v.get<std::string>();
  if (!std::regex_match(s, m, re)) return "WIDTHxHEIGHT, e.g. 1280x704";
  if (std::stoi(m[1]) > 16384 || std::stoi(m[2]) > 16384) return "WIDTHxHEIGHT with each side at most 16384";
  return "";
}
std::string check_device(const Json& v) {
  static const std::regex re("^(auto|cpu|cuda|cuda:[0-9]{1,2})$");
  if (!std::regex_match(v.get<std::string>(), re)) return "auto, cpu, cuda or cuda:N";
  return "";
}
std::string check_cache_location(const Json& v) {
  const std::string s = v.get<std::string>();
  if (s == "ssd" || s == "ram" || s.find('/') != std::string::npos) return "";
  return "\"ssd\" (the default cache directory), \"ram\" (memory only) or a directory path containing '/'";
}
std::string check_nonempty_string(const Json& v) {
  if (v.get<std::string>().empty()) return "a non-empty string";
  return "";
}

constexpr double kI64Max = 9223372036854775807.0;

std::vector<KeySpec> build_schema() {
  const std::string i5 = "issue 5 (CUDA backend)";
  const std::string i6 = "issue 6 (memory system)";
  const std::string i7 = "issue 7 (performance system)";
  const std::string i4 = "issue 4 (wan22 generate)";
  const std::string kLoadApplied =
      "the CUDA engine's loader (wan22 generate --device cuda prints each component's time and host memory); "
      "the CPU backend loads in the same order";
  const std::string kPlanApplied =
      "the CUDA engine's memory plan (wan22 generate --device cuda, wan22 bench; docs/memory.md); "
      "the CPU backend names it as not applied";
  const std::string kCacheApplied =
      "the CUDA engine's DiT loader (wan22 generate --device cuda prints hit / stored; wan22 cache lists the "
      "entries; docs/memory.md); the CPU backend names it as not applied";
  std::vector<KeySpec> k;

  // ---- memory_optimization ----
  k.push_back(boolean("memory_optimization.gradient_checkpointing", true,
                      "activation chunking: each block's FFN and attention run over the tokens in "
                      "checkpoint_segments parts (inference has no backward pass; same compute-for-memory trade)",
                      applied(kPlanApplied)));
  k.push_back(integer("memory_optimization.checkpoint_segments", 4, 1, 256,
                      "number of token segments for activation chunking; peak activation memory drops by about this factor",
                      applied(kPlanApplied)));
  k.push_back(integer("memory_optimization.memory_channels", 8, 1, 64,
                      "host memory channels, used by the host-bandwidth model of `wan22 optimize` and bench reports",
                      planned(i7)));
  k.push_back(integer("memory_optimization.prefetch_distance", 64, 0, 65536,
                      "read-ahead in MiB (madvise WILLNEED) ahead of the tensor being loaded from a mapped checkpoint; 0 = none",
                      planned(i6)));
  k.push_back(boolean("memory_optimization.memory_interleaving", true,
                      "interleave large pinned host buffers (offloaded weights) across NUMA nodes",
                      planned(i6)));

  // ---- cpu_offload ----
  k.push_back(boolean("cpu_offload.text_encoder", true,
                      "keep the UMT5 text encoder in pinned host memory and move it to the GPU only while it runs",
                      applied(kPlanApplied)));
  k.push_back(boolean("cpu_offload.vae", true,
                      "keep the VAE in pinned host memory and move it to the GPU only while it encodes/decodes",
                      applied(kPlanApplied)));
  k.push_back(boolean("cpu_offload.safety_checker", true, "offload the safety checker",
                      na("Wan2.2 has no safety checker")));
  k.push_back(engine(choice("cpu_offload.text_encoder_device", "gpu", {"gpu", "cpu"},
                            "where the text encoder computes: gpu (with cpu_offload.text_encoder its layers are "
                            "streamed from pinned host memory while it runs) or cpu (no device memory; slower)",
                            applied(kPlanApplied))));
  k.push_back(engine(boolean("cpu_offload.unet", false,
                             "stream the DiT (the guide's unet) from pinned host memory: its blocks are prefetched on a "
                             "copy stream, double-buffered, and it is on the device only while denoising",
                             applied(kPlanApplied))));
  k.push_back(engine(integer("cpu_offload.unet_resident_blocks", 0, 0, 1000,
                             "with cpu_offload.unet: DiT blocks (of each expert) kept on the device while denoising; "
                             "the others are streamed (wan22 optimize picks the most that fit the budget)",
                             applied(kPlanApplied))));

  // ---- attention_optimization ----
  k.push_back(boolean("attention_optimization.enable_memory_efficient_attention", true,
                      "flash-style attention (tiled, online softmax; never an L x L matrix)",
                      fixed("attention is always flash-style in this engine (ops::attention, the CUDA kernels)")));
  k.push_back(integer("attention_optimization.attention_slice_size", 8, 0, 4096,
                      "attention processes this many heads at a time (0 = all heads at once)",
                      applied(kPlanApplied)));

  // ---- memory_pool ----
  k.push_back(boolean("memory_pool.enabled", true,
                      "serve device tensors from the caching allocator's pool", planned(i5)));
  k.push_back(number("memory_pool.pool_size_gb", 32, 0, 4096,
                     "GiB reserved up front by the device caching allocator (capped at free device memory; 0 = grow on demand)",
                     planned(i5)));
  k.push_back(number("memory_pool.fragmentation_threshold", 0.1, 0, 1,
                     "trim/compact the pool when free-but-unusable memory exceeds this fraction of the reserved bytes",
                     planned(i5)));

  // ---- gpu_optimizations (the guide's rtx4080_optimizations) ----
  k.push_back(boolean("gpu_optimizations.enable_tensor_cores", true,
                      "use tensor-core GEMMs and attention (bf16/fp16/fp8); false = plain fp32 kernels", planned(i5)));
  k.push_back(choice("gpu_optimizations.mixed_precision", "bf16", {"bf16", "fp16", "fp32"},
                     "compute dtype of the linear layers and attention on the GPU (residual stream, norms stay fp32)",
                     planned(i5)));
  k.push_back(choice("gpu_optimizations.tensor_core_utilization", "aggressive",
                     {"conservative", "balanced", "aggressive"},
                     "conservative: exact fp32 matmuls; balanced: TF32 for fp32 matmuls; aggressive: TF32 and fp8 "
                     "GEMMs for fp8-quantized components on sm_89+",
                     planned(i5)));

  // ---- tile_optimization ----
  k.push_back(with_check(pair("tile_optimization.vae_tile_size", 256, 256, 0, 16384,
                              "[width, height] in pixels of the spatial tiles of VAE encode/decode ([0, 0] = untiled)",
                              applied(kPlanApplied)),
                         check_vae_tile, "[0, 0] or multiples of 16 of at least 64"));
  k.push_back(with_check(pair("tile_optimization.unet_tile_size", 64, 64, 0, 4096,
                              "[width, height] in latent pixels of tiled denoising, used only when the planner finds the "
                              "whole latent does not fit ([0, 0] = never tile)",
                              planned(i6 + ": placement planner")),
                         check_tile_pair, "both 0 or both non-zero"));
  k.push_back(integer("tile_optimization.overlap_pixels", 32, 0, 1024,
                      "pixels by which neighbouring VAE tiles overlap; the overlap is blended linearly",
                      applied(kPlanApplied)));
  k.push_back(engine(integer("tile_optimization.vae_temporal_chunk", 1, 1, 64,
                             "latent frames decoded per causal chunk of the VAE (1 = the official schedule: the first "
                             "frame, then one latent frame = 4 video frames at a time); more is faster and needs more memory",
                             applied(kPlanApplied))));

  // ---- memory_bandwidth ----
  k.push_back(boolean("memory_bandwidth.coalesced_access", true, "coalesced, vectorised memory access in kernels",
                      fixed("every kernel is written for coalesced, vectorised access; there is no other variant")));
  k.push_back(boolean("memory_bandwidth.prefetch_enabled", true,
                      "prefetch the next block's weights on a copy stream while the current block computes (weight streaming)",
                      planned(i6)));
  k.push_back(choice("memory_bandwidth.cache_optimization", "aggressive", {"off", "balanced", "aggressive"},
                     "L2 persistence hints: off; balanced: the modulation/norm parameters; aggressive: also the "
                     "current block's weights",
                     planned(i5)));

  // ---- cpu_optimization ----
  k.push_back(guide_says(integer("cpu_optimization.max_workers", 0, 0, 4096,
                                 "threads of the CPU pool (kernels, image/video pre- and post-processing); 0 = all "
                                 "allowed CPUs (or WAN22_NUM_THREADS)",
                                 applied("core/thread_pool (config::apply_runtime)")),
                         32));
  k.push_back(choice("cpu_optimization.thread_affinity", "numa_aware", {"none", "compact", "scatter", "numa_aware"},
                     "pinning of the pool's threads: none (OS decides), compact (worker i on CPU i), scatter "
                     "(round-robin over cores/NUMA nodes), numa_aware (scatter, each worker kept on one node)",
                     applied("core/thread_pool (config::apply_runtime)")));
  k.push_back(choice("cpu_optimization.workload_distribution", "balanced", {"balanced", "static", "dynamic"},
                     "how parallel loops are split over the pool",
                     fixed("parallel_for always splits work into equal contiguous chunks (balanced)")));

  // ---- numa_optimization ----
  k.push_back(boolean("numa_optimization.enabled", true,
                      "NUMA-aware placement of host buffers and loader/copy threads (hwloc)", planned(i6)));
  k.push_back(choice("numa_optimization.memory_binding", "local", {"local", "interleave", "none"},
                     "host buffers on the node of the thread that uses them (local), spread over nodes (interleave), "
                     "or left to the OS",
                     planned(i6)));
  k.push_back(choice("numa_optimization.thread_binding", "numa_aware", {"none", "compact", "scatter", "numa_aware"},
                     "pinning of the loader and host-to-device copy threads (the compute pool follows "
                     "cpu_optimization.thread_affinity)",
                     planned(i6)));

  // ---- ti2v_5b_loading ----
  k.push_back(boolean("ti2v_5b_loading.sequential_loading", true,
                      "load components one at a time, streaming tensors from mmap into their final place", fixed("components always load one at a time, in component_order (the CUDA engine reports each)")));
  k.push_back(with_check(list("ti2v_5b_loading.component_order", {"text_encoder", "unet", "vae"},
                              {"text_encoder", "unet", "vae"},
                              "order of sequential loading (unet = the DiT, the guide's name)", applied(kLoadApplied)),
                         check_component_order, "each of the three exactly once"));
  k.push_back(boolean("ti2v_5b_loading.clear_cache_between", true,
                      "release staging buffers and trim the allocator between components", applied(kLoadApplied)));

  // ---- ti2v_5b_quantization ----
  k.push_back(choice("ti2v_5b_quantization.strategy", "bf16", {"none", "bf16", "fp16", "fp8", "int8"},
                     "weight format of the listed components: none (as stored), bf16, fp16, fp8 (e4m3 with per-output-"
                     "channel scales), int8 (weight-only)",
                     applied(kPlanApplied)));
  k.push_back(list("ti2v_5b_quantization.components", {"unet", "text_encoder"}, {"unet", "text_encoder", "vae"},
                   "components the strategy applies to (unet = the DiT)", applied(kPlanApplied)));
  k.push_back(number("ti2v_5b_quantization.quality_threshold", 0.95, 0, 1,
                     "minimum cosine similarity to the bf16 output of the first denoising step; below it the component "
                     "falls back to bf16 and says so",
                     applied(kPlanApplied)));

  // ---- model_caching ----
  k.push_back(boolean("model_caching.cache_components", true,
                      "cache the DiT's converted/quantized weights in load-ready form (written by the first load of "
                      "a checkpoint and format, read by the next; `wan22 cache` lists them)",
                      applied(kCacheApplied)));
  k.push_back(number("model_caching.cache_size_gb", 8, 0, 1e6,
                     "GiB limit of the cache (least recently used entries are evicted; an entry larger than "
                     "the limit is not written, and the load says so)",
                     applied(kCacheApplied)));
  k.push_back(with_check(string("model_caching.cache_location", "ssd",
                                "where the cache lives: ssd = $XDG_CACHE_HOME/wan22 (else ~/.cache/wan22), ram = "
                                "this process's memory only (kept between jobs of one process), or a directory path",
                                applied(kCacheApplied)),
                         check_cache_location, "ssd, ram or a directory path containing '/'"));

  // ---- batch_optimization ----
  k.push_back(boolean("batch_optimization.dynamic_sizing", true,
                      "the planner chooses the batch (one generation's batch is the CFG pair: 2 or 1) from its memory "
                      "estimate under vram_threshold, backing off to 1 on out-of-memory; false: cfg_batch as set",
                      applied(kPlanApplied)));
  k.push_back(integer("batch_optimization.max_batch_size", 8, 1, 1024,
                      "upper bound of the batch size: 1 keeps the CFG branches sequential; a generation batches at "
                      "most its CFG pair, so values above 2 act as 2",
                      applied(kPlanApplied)));
  k.push_back(number("batch_optimization.vram_threshold", 0.9, 0.05, 1,
                     "fraction of the VRAM budget the denoise stage with a batch of 2 may use (its predicted peak)",
                     applied(kPlanApplied)));
  k.push_back(engine(boolean("batch_optimization.cfg_batch", true,
                             "run the two classifier-free-guidance branches as one batch of 2 (one pass over the "
                             "weights per step); false: one after the other (half the activation memory)",
                             applied(kPlanApplied))));

  // ---- pipeline_parallelization ----
  const std::string jobs = "not yet filed (overlapping the stages of several jobs: the service's job queue)";
  k.push_back(boolean("pipeline_parallelization.enabled", true,
                      "overlap text encoding, denoising and decoding of different jobs", planned(jobs)));
  k.push_back(with_check(list("pipeline_parallelization.stages", {"preprocessing", "generation", "postprocessing"},
                              {"preprocessing", "generation", "postprocessing"},
                              "stages that run concurrently (preprocessing = text/image encoding, generation = "
                              "denoising, postprocessing = VAE decode and video encoding)",
                              planned(jobs)),
                         check_nonempty_list, "at least one"));
  k.push_back(integer("pipeline_parallelization.buffer_size", 3, 1, 1024,
                      "capacity of the bounded queue between two stages (jobs)", planned(jobs)));

  // ---- inference_optimization ----
  const std::string steps = "not yet filed (adaptive steps and step reuse)";
  k.push_back(guide_says(boolean("inference_optimization.adaptive_steps", false,
                                 "choose the step count per quality_mode and skip steps by reusing the model output "
                                 "when it changes little (TeaCache-style); off by default so output matches the "
                                 "official sampler",
                                 planned(steps)),
                         true));
  k.push_back(choice("inference_optimization.quality_mode", "balanced", {"fast", "balanced", "quality"},
                     "with adaptive_steps: fast = min_steps and eager reuse, quality = max_steps and no reuse, "
                     "balanced = in between",
                     planned(steps)));
  k.push_back(integer("inference_optimization.min_steps", 20, 1, 1000,
                      "lower bound of the adaptive step count", planned(steps)));
  k.push_back(integer("inference_optimization.max_steps", 50, 1, 1000,
                      "upper bound of the adaptive step count", planned(steps)));

  // ---- storage_optimization ----
  k.push_back(guide_says(string("storage_optimization.model_storage_path", "",
                                "directory where --model NAME is looked up when NAME is not a path (\"\" = only "
                                "paths)",
                                planned(i4 + ": checkpoint discovery")),
                         "D:/models"));
  k.push_back(boolean("storage_optimization.enable_read_ahead", true,
                      "read-ahead hints (madvise/posix_fadvise) on checkpoint files while loading", planned(i6)));
  k.push_back(integer("storage_optimization.buffer_size_mb", 256, 1, 65536,
                      "I/O buffer for .pth reads and model-cache writes, MiB", planned(i6)));

  // ---- temp_file_optimization ----
  const std::string temp = "not yet filed (temporary-file manager of the service)";
  k.push_back(guide_says(string("temp_file_optimization.temp_location", "",
                                "directory for temporary files (\"\" = $TMPDIR, else /tmp)", planned(temp)),
                         "D:/temp"));
  k.push_back(integer("temp_file_optimization.cleanup_interval", 300, 0, 604800,
                      "seconds between sweeps that delete stale temporary files (0 = never)", planned(temp)));
  k.push_back(number("temp_file_optimization.max_temp_size_gb", 50, 0, 1e6,
                     "cap of the temporary directory's size, GiB; the oldest files go first", planned(temp)));

  // ---- download_optimization ----
  const std::string dl = "not yet filed (`wan22 download`)";
  k.push_back(integer("download_optimization.parallel_downloads", 4, 1, 64,
                      "concurrent ranged HTTP requests per download", planned(dl)));
  k.push_back(integer("download_optimization.chunk_size_mb", 64, 1, 4096, "size of each ranged request, MiB",
                      planned(dl)));
  k.push_back(boolean("download_optimization.resume_downloads", true,
                      "resume partial downloads and verify checksums", planned(dl)));

  // ---- performance_monitoring ----
  const std::string mon = "perf/monitor (wan22 monitor; perf::monitor_options)";
  k.push_back(boolean("performance_monitoring.enabled", true,
                      "sample GPU/CPU/RAM/disk metrics while working (NVML loaded at run time, hwmon, /proc); "
                      "false = the monitor's sampler thread does not start",
                      applied(mon)));
  k.push_back(number("performance_monitoring.metrics_interval", 5, 0.1, 3600,
                     "seconds between samples (also the default --interval of wan22 monitor)", applied(mon)));
  k.push_back(boolean("performance_monitoring.adaptive_optimization", true,
                      "let the monitor adjust settings (batch size, pacing) when targets are missed", planned(i7)));
  k.push_back(engine(integer("performance_monitoring.history_size", 720, 1, 1000000,
                             "samples kept in the monitor's history ring (720 = one hour at 5 s)", applied(mon))));
  k.push_back(number("performance_monitoring.performance_targets.generation_speed", 0.5, 0, 1e6,
                     "minimum output frames per second of wall time of a finished job; slower raises a "
                     "degradation alert (0 = off)",
                     applied("perf/monitor_alerts")));
  k.push_back(number("performance_monitoring.performance_targets.vram_efficiency", 0.8, 0, 1,
                     "minimum ratio of allocated to reserved device memory at peak", planned(i7)));
  k.push_back(number("performance_monitoring.performance_targets.cpu_utilization", 0.7, 0, 1,
                     "target mean CPU utilisation while steps run and no GPU is busy; lower raises an under-use "
                     "alert (0 = off)",
                     applied("perf/monitor_alerts")));
  k.push_back(engine(number("performance_monitoring.alerts.degradation_fraction", 0.7, 0, 1,
                            "degradation alert when the step rate falls below this fraction of the running median "
                            "of the job's earlier samples",
                            applied("perf/monitor_alerts"))));
  k.push_back(engine(number("performance_monitoring.alerts.memory_percent", 95, 1, 100,
                            "memory alert when VRAM or RAM use is over this % of the total",
                            applied("perf/monitor_alerts"))));
  k.push_back(engine(number("performance_monitoring.alerts.min_free_storage_gb", 10, 0, 1e6,
                            "storage alert when a watched path (model, output, temp directory) has less free "
                            "space than this, GiB (0 = off)",
                            applied("perf/monitor_alerts"))));

  // ---- thermal_management ----
  const std::string gov = "perf/thermal (ThermalGovernor) and the monitor's thermal alerts";
  k.push_back(number("thermal_management.gpu_temp_target", 80, 30, 120,
                     "GPU temperature (C) above which the governor paces the work and the monitor alerts",
                     applied(gov)));
  k.push_back(number("thermal_management.cpu_temp_target", 75, 30, 120,
                     "CPU temperature (C) above which the governor paces the work and the monitor alerts",
                     applied(gov)));
  k.push_back(choice("thermal_management.performance_scaling", "adaptive", {"off", "adaptive", "strict"},
                     "off: only warn; adaptive: pause between steps in proportion to the overshoot and recommend "
                     "the smaller batch; strict: wait between steps until back under the target",
                     applied("perf/thermal (ThermalGovernor)")));
  k.push_back(choice("thermal_management.cooling_curves", "aggressive", {"quiet", "balanced", "aggressive"},
                     "fan curve preference",
                     na("fan curves belong to the driver and firmware; wan22 reads temperatures but does not "
                        "control fans")));
  k.push_back(engine(number("thermal_management.hysteresis_c", 3, 0, 50,
                            "a hot sensor counts as cool again only at or below its target minus this (C)",
                            applied("perf/thermal (ThermalGovernor)"))));
  k.push_back(engine(number("thermal_management.pause_per_degree_s", 0.5, 0, 60,
                            "adaptive scaling: seconds of pause between steps per degree over the target",
                            applied("perf/thermal (ThermalGovernor)"))));
  k.push_back(engine(number("thermal_management.max_pause_s", 10, 0, 3600,
                            "adaptive scaling: the longest pause between two steps, seconds",
                            applied("perf/thermal (ThermalGovernor)"))));

  // ---- performance_targets / performance_baseline (the guide's benchmarking tables) ----
  const KeyStatus by_bench = applied("wan22 bench: pass/fail per metric (bench/targets.cpp)");
  k.push_back(engine(number("performance_targets.model_load_s", 180, 0, 1e6,
                            "target TI2V-5B load time, seconds (guide: < 3 minutes)", by_bench)));
  k.push_back(engine(number("performance_targets.single_image_s", 35, 0, 1e6,
                            "target single-image (1 frame) generation time, seconds (guide: 25-35 s)", by_bench)));
  k.push_back(engine(number("performance_targets.video_2s_s", 120, 0, 1e6,
                            "target 2-second video generation time, seconds (guide: < 2 minutes)", by_bench)));
  k.push_back(engine(number("performance_targets.peak_vram_gb", 12, 0, 1e6,
                            "target peak device memory, GiB (guide: 10-12 GB)", by_bench)));
  k.push_back(engine(number("performance_baseline.model_load_s", 420, 0, 1e6,
                            "unoptimized load time, seconds (guide: 5-7 minutes)", by_bench)));
  k.push_back(engine(number("performance_baseline.single_image_s", 60, 0, 1e6,
                            "unoptimized single-image time, seconds (guide: 45-60 s)", by_bench)));
  k.push_back(engine(number("performance_baseline.video_2s_s", 240, 0, 1e6,
                            "unoptimized 2-second video time, seconds (guide: 3-4 minutes)", by_bench)));
  k.push_back(engine(number("performance_baseline.peak_vram_gb", 18, 0, 1e6,
                            "unoptimized peak device memory, GiB (guide: 16-18 GB)", by_bench)));

  // ---- generation (the engine's defaults for `wan22 generate`) ----
  k.push_back(engine(string("generation.model", "",
                            "checkpoint directory or file (official, Diffusers or ComfyUI layout); \"\" = the "
                            "built-in demo model",
                            applied("wan22 generate"))));
  k.push_back(engine(with_check(string("generation.size", "1280x704",
                                       "output WIDTHxHEIGHT (multiple of the model's stride: 32 for TI2V-5B)",
                                       applied("wan22 generate")),
                                check_size, "WIDTHxHEIGHT")));
  k.push_back(engine(integer("generation.frames", 121, 1, 100001,
                             "number of frames (rounded to 4n+1 with a notice)", applied("wan22 generate"))));
  k.push_back(engine(integer("generation.fps", 24, 1, 1000, "frames per second of the output video", applied("wan22 generate"))));
  k.push_back(engine(integer("generation.steps", 50, 1, 10000, "denoising steps", applied("wan22 generate"))));
  k.push_back(engine(number("generation.guidance", 5.0, 0, 100,
                            "classifier-free guidance scale (1 = no guidance)", applied("wan22 generate"))));
  k.push_back(engine(number("generation.shift", 5.0, 0.001, 1000, "flow-matching sigma shift", applied("wan22 generate"))));
  k.push_back(engine(choice("generation.solver", "unipc", {"unipc", "dpm++", "euler"}, "flow-matching solver",
                            applied("wan22 generate"))));
  k.push_back(engine(integer("generation.seed", -1, -1, kI64Max,
                             "noise seed (-1 = random, printed so the run can be repeated)", applied("wan22 generate"))));
  k.push_back(engine(string("generation.negative_prompt", "",
                            "negative prompt for guidance (\"\" = the official default negative prompt)",
                            applied("wan22 generate"))));
  k.push_back(engine(with_check(string("generation.output", "output.mp4",
                                       "output path: .mp4 (H.264), .webm, or a directory for PNG frames",
                                       applied("wan22 generate")),
                                check_nonempty_string, "non-empty")));
  k.push_back(engine(with_check(string("generation.device", "auto",
                                       "where to run: auto (CUDA when available, else CPU), cpu, cuda, cuda:N",
                                       applied("wan22 generate")),
                                check_device, "auto, cpu, cuda or cuda:N")));
  k.push_back(engine(number("generation.vram_budget_gb", 0, 0, 1e6,
                            "device memory budget in GiB of the whole process (CUDA context and library workspaces included) "
                            "that the placement planner and the engine's allocator honour (0 = the whole device)",
                            applied(kPlanApplied))));
  return k;
}

std::vector<SectionSpec> build_sections() {
  return {
      {"memory_optimization", "VRAM and host memory",
       "activation chunking (the guide's gradient checkpointing) and host memory tuning", true},
      {"cpu_offload", "component offload", "components kept in host memory between uses", true},
      {"attention_optimization", "attention", "memory-efficient attention and head slicing", true},
      {"memory_pool", "device memory pool", "the CUDA caching allocator", true},
      {"gpu_optimizations", "GPU kernels",
       "tensor cores and precision; the guide's `rtx4080_optimizations` is accepted as an alias", true},
      {"tile_optimization", "tiling", "tiled VAE and (optional) tiled denoising", true},
      {"memory_bandwidth", "memory bandwidth", "kernel memory access and weight prefetch", true},
      {"cpu_optimization", "CPU thread pool", "threads for kernels and media processing", true},
      {"numa_optimization", "NUMA", "placement of host buffers and helper threads over NUMA nodes", true},
      {"ti2v_5b_loading", "model loading", "sequential loading of the components", true},
      {"ti2v_5b_quantization", "quantization", "weight formats per component, with a quality check", true},
      {"model_caching", "model cache", "load-ready converted weights on disk and in RAM", true},
      {"batch_optimization", "batching", "batch size under a VRAM threshold", true},
      {"pipeline_parallelization", "stage overlap", "overlap the stages of several jobs", true},
      {"inference_optimization", "step count", "adaptive steps and step reuse", true},
      {"storage_optimization", "storage", "model paths and read-ahead", true},
      {"temp_file_optimization", "temporary files", "temp directory, cleanup and size cap", true},
      {"download_optimization", "downloads", "parallel ranged downloads with resume", true},
      {"performance_monitoring", "monitoring", "sampled metrics, targets and alerts", true},
      {"performance_monitoring.performance_targets", "live targets", "targets the monitor checks while working",
       true},
      {"performance_monitoring.alerts", "alert thresholds", "when the monitor raises its alerts", false},
      {"thermal_management", "thermal governor", "temperature targets and pacing", true},
      {"performance_targets", "benchmark targets",
       "the guide's \"Optimized Performance Targets\", checked by `wan22 bench`", false},
      {"performance_baseline", "benchmark baseline",
       "the guide's unoptimized \"Baseline Performance Metrics\" (upper end of each range)", false},
      {"generation", "generation defaults",
       "defaults of `wan22 generate`; its command-line options override them. A value still at its default "
       "means \"the model's default\" for models other than TI2V-5B",
       false},
  };
}

}  // namespace

const std::vector<KeySpec>& schema() {
  static const std::vector<KeySpec> s = build_schema();
  return s;
}

const std::vector<SectionSpec>& sections() {
  static const std::vector<SectionSpec> s = build_sections();
  return s;
}

const std::vector<SectionAlias>& section_aliases() {
  static const std::vector<SectionAlias> a = {{"rtx4080_optimizations", "gpu_optimizations"}};
  return a;
}

std::string canonical_path(const std::string& path) {
  for (const auto& a : section_aliases()) {
    if (path == a.alias) return a.canonical;
    if (path.size() > a.alias.size() && path.compare(0, a.alias.size(), a.alias) == 0 &&
        path[a.alias.size()] == '.')
      return a.canonical + path.substr(a.alias.size());
  }
  return path;
}

const KeySpec* find_key(const std::string& path) {
  const std::string p = canonical_path(path);
  for (const auto& k : schema())
    if (k.path == p) return &k;
  return nullptr;
}

bool is_section(const std::string& path) {
  const std::string p = canonical_path(path);
  for (const auto& s : sections())
    if (s.name == p) return true;
  return false;
}

std::vector<std::string> children_of(const std::string& section) {
  const std::string sec = canonical_path(section);
  const std::string prefix = sec.empty() ? "" : sec + ".";
  std::vector<std::string> out;
  auto add = [&](const std::string& full) {
    if (full.compare(0, prefix.size(), prefix) != 0) return;
    std::string rest = full.substr(prefix.size());
    std::string child = rest.substr(0, rest.find('.'));
    if (!child.empty() && std::find(out.begin(), out.end(), child) == out.end()) out.push_back(child);
  };
  for (const auto& s : sections()) add(s.name);
  for (const auto& k : schema()) add(k.path);
  return out;
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (best_d == std::string::npos || best_d > std::max<size_t>(2, name.size() / 3)) return "";
  return best;
}

}  // namespace wan22::config
