#include "plan/plan_config.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/jsonc.h"
#include "config/render.h"
#include "core/status.h"
#include "media/atomic_file.h"

namespace fs = std::filesystem;

namespace wan22::plan {

namespace {

std::string num(double v, int prec = 3) {
  std::ostringstream s;
  s.precision(prec);
  s << v;
  return s.str();
}

// Rounds up to a quarter GiB.
double quarter_gib_up(double bytes) { return std::ceil(bytes / kGiB * 4) / 4; }

}  // namespace

config::Json plan_document(const PlanResult& r) {
  const Plan& p = r.plan;
  const Workload& w = r.workload;
  config::Json d = config::Json::object();
  const int seg = std::max(1, p.checkpoint_segments);
  d["memory_optimization"] = {{"gradient_checkpointing", seg > 1}, {"checkpoint_segments", seg}};
  d["cpu_offload"] = {{"text_encoder", p.text != Placement::kResident},
                      {"vae", p.on_gpu && p.vae == Placement::kOffloaded},
                      {"text_encoder_device", p.on_gpu && p.text != Placement::kCpu ? "gpu" : "cpu"},
                      {"unet", p.on_gpu && p.dit == Placement::kStreamed},
                      {"unet_resident_blocks", p.dit == Placement::kStreamed ? p.dit_resident_blocks : 0}};
  if (!p.on_gpu) d["cpu_offload"]["text_encoder"] = false;  // on the CPU there is nothing to offload to
  d["attention_optimization"] = {{"enable_memory_efficient_attention", true},
                                 {"attention_slice_size", p.attention_slice}};
  if (p.on_gpu) {
    d["memory_pool"] = {{"enabled", true}, {"pool_size_gb", quarter_gib_up(r.memory.peak_alloc)}};
  }
  d["tile_optimization"] = {{"vae_tile_size", config::Json::array({p.vae_tile, p.vae_tile})},
                            {"overlap_pixels", p.vae_tile ? p.vae_overlap : 0},
                            {"vae_temporal_chunk", std::max(1, p.vae_chunk)}};
  d["memory_bandwidth"] = {{"prefetch_enabled", p.dit == Placement::kStreamed || p.text == Placement::kStreamed}};
  d["batch_optimization"] = {{"cfg_batch", p.cfg_batch}};
  d["ti2v_5b_loading"] = {{"sequential_loading", true},
                          {"component_order", config::Json::array({"text_encoder", "unet", "vae"})},
                          {"clear_cache_between", true}};
  if (p.dit_format == WeightFormat::kFP8 || p.dit_format == WeightFormat::kInt8) {
    d["ti2v_5b_quantization"] = {{"strategy", format_name(p.dit_format)}, {"components", config::Json::array({"unet"})}};
  } else {
    d["ti2v_5b_quantization"] = {{"strategy", "bf16"}, {"components", config::Json::array({"unet", "text_encoder"})}};
  }
  d["generation"] = {{"size", std::to_string(w.width) + "x" + std::to_string(w.height)},
                     {"frames", w.frames},
                     {"steps", w.steps},
                     {"guidance", w.guidance},
                     {"device", p.on_gpu ? "cuda" : "cpu"},
                     {"vram_budget_gb", p.on_gpu ? r.requested_budget_gib : 0.0}};
  std::error_code ec;
  if (fs::exists(r.model.name, ec)) d["generation"]["model"] = r.model.name;
  return d;
}

config::Settings plan_settings(const PlanResult& r) {
  config::Settings s;
  auto problems = s.try_load_text(plan_document(r).dump(), "wan22 optimize");
  if (!problems.empty())
    throw Error(ErrorCode::kInternal, "wan22 optimize wrote settings the schema rejects:\n" + config::join_problems(problems));
  return s;
}

std::string render_plan_config(const PlanResult& r) {
  std::ostringstream h;
  h << "// wan22 configuration written by `wan22 optimize`.\n";
  h << "// hardware: " << r.device << "\n";
  h << "// workload: " << r.workload.str() << "\n";
  h << "// budget:   " << gib_str(r.budget_bytes) << " (" << r.budget_source << ")\n";
  h << "// predicted peak: " << gib_str(r.memory.peak_device) << " in " << stage_name(r.memory.peak_stage)
    << " (allocator " << gib_str(r.memory.peak_alloc) << "); predicted time " << num(r.time.total_s, 4) << " s";
  for (const auto& st : r.time.stages) h << ", " << stage_name(st.stage) << " " << num(st.seconds, 3) << " s";
  h << "\n// decisions:\n";
  for (const auto& n : r.notes) h << "//   - " << n << "\n";
  h << "// Every other key is at its default. The tag after each description is its status in this build;\n"
       "// `wan22 config validate FILE` checks the file, `wan22 optimize --restore-baseline` undoes --apply.\n";
  return config::render_config(plan_settings(r), h.str());
}

Plan plan_from_settings(const config::Settings& s) {
  Plan p;
  p.on_gpu = s.get_string("generation.device") != "cpu";
  p.checkpoint_segments = s.get_bool("memory_optimization.gradient_checkpointing")
                              ? static_cast<int>(s.get_int("memory_optimization.checkpoint_segments"))
                              : 1;
  p.attention_slice = static_cast<int>(s.get_int("attention_optimization.attention_slice_size"));
  const auto tile = s.get_int_pair("tile_optimization.vae_tile_size");
  p.vae_tile = static_cast<int>(std::min(tile[0], tile[1]));
  p.vae_overlap = p.vae_tile ? static_cast<int>(s.get_int("tile_optimization.overlap_pixels")) : 0;
  p.vae_chunk = static_cast<int>(s.get_int("tile_optimization.vae_temporal_chunk"));
  p.cfg_batch = s.get_bool("batch_optimization.cfg_batch");
  // The CUDA VAE's buffer pool holds more memory: off whenever a budget is set (as the planner).
  p.vae_reuse_buffers = !(s.get_double("generation.vram_budget_gb") > 0);
  if (!p.on_gpu) {
    p.dit = p.text = p.vae = Placement::kCpu;
    p.vae_format = WeightFormat::kF32;
    p.checkpoint_segments = 1;
    return p;
  }
  if (s.get_bool("cpu_offload.unet")) {
    p.dit = Placement::kStreamed;
    p.dit_resident_blocks = static_cast<int>(s.get_int("cpu_offload.unet_resident_blocks"));
  }
  if (s.get_string("cpu_offload.text_encoder_device") == "cpu") p.text = Placement::kCpu;
  else if (s.get_bool("cpu_offload.text_encoder")) p.text = Placement::kStreamed;
  p.vae = s.get_bool("cpu_offload.vae") ? Placement::kOffloaded : Placement::kResident;
  const std::string strategy = s.get_string("ti2v_5b_quantization.strategy");
  const auto comps = s.get_string_list("ti2v_5b_quantization.components");
  auto has = [&](const char* c) { return std::find(comps.begin(), comps.end(), c) != comps.end(); };
  auto fmt = [&](bool applies) {
    if (!applies) return WeightFormat::kBF16;
    if (strategy == "fp8") return WeightFormat::kFP8;
    if (strategy == "int8") return WeightFormat::kInt8;
    if (strategy == "fp16") return WeightFormat::kFP16;
    return WeightFormat::kBF16;
  };
  p.dit_format = fmt(has("unet"));
  p.text_format = fmt(has("text_encoder"));
  p.vae_format = fmt(has("vae"));
  return p;
}

Workload workload_from_settings(const config::Settings& s, const ModelSpec& m) {
  Workload w;
  w.model = m.name;
  const auto size = s.get_size("generation.size");
  w.width = s.is_default("generation.size") ? m.default_width : static_cast<int>(size[0]);
  w.height = s.is_default("generation.size") ? m.default_height : static_cast<int>(size[1]);
  w.frames = s.is_default("generation.frames") ? m.default_frames : static_cast<int>(s.get_int("generation.frames"));
  w.steps = s.is_default("generation.steps") ? m.default_steps : static_cast<int>(s.get_int("generation.steps"));
  w.guidance = s.is_default("generation.guidance") ? m.default_guidance : s.get_double("generation.guidance");
  w.image_to_video = m.needs_image;
  return w;
}

PlannerOptions planner_options(const config::Settings& s) {
  PlannerOptions o;
  o.budget_gib = s.get_double("generation.vram_budget_gb");
  // The overlap of tiled decoding (an untiled plan writes 0: keep the planner's default then).
  if (s.get_int("tile_optimization.overlap_pixels") > 0) o.overlap = static_cast<int>(s.get_int("tile_optimization.overlap_pixels"));
  o.force_cpu = s.get_string("generation.device") == "cpu";
  const std::string strategy = s.get_string("ti2v_5b_quantization.strategy");
  o.allow_quantization = strategy == "fp8" || strategy == "int8";
  o.dynamic_batch = s.get_bool("batch_optimization.dynamic_sizing");
  o.cfg_batch = s.get_bool("batch_optimization.cfg_batch");
  o.max_batch = static_cast<int>(s.get_int("batch_optimization.max_batch_size"));
  o.batch_threshold = s.get_double("batch_optimization.vram_threshold");
  return o;
}

std::string active_config_path() {
  if (const char* e = std::getenv("WAN22_CONFIG"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return (fs::path(x) / "wan22" / "config.json").string();
  if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".config" / "wan22" / "config.json").string();
  return "wan22-config.json";
}

std::string baseline_path(const std::string& config_path) {
  fs::path p(config_path);
  return (p.parent_path() / (p.stem().string() + ".baseline.json")).string();
}

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIoError, "cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_atomic(const std::string& path, const std::string& text) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw Error(ErrorCode::kIoError, "cannot create " + parent.string() + ": " + ec.message());
  media::AtomicOutput out(path);
  media::write_file_bytes(out.temp_path(), text.data(), text.size(), path);
  out.commit();
}

}  // namespace

ApplyResult apply_config_text(const std::string& path, const std::string& text) {
  ApplyResult r{path, baseline_path(path), false};
  std::error_code ec;
  if (!fs::exists(r.baseline, ec)) {
    std::string base = fs::exists(path, ec) ? read_all(path) : config::example_config();
    write_atomic(r.baseline, base);
    r.baseline_created = true;
  }
  write_atomic(path, text);
  return r;
}

ApplyResult restore_baseline(const std::string& path) {
  ApplyResult r{path, baseline_path(path), false};
  std::error_code ec;
  if (!fs::exists(r.baseline, ec))
    throw Error(ErrorCode::kNotFound, "no baseline " + r.baseline + " (it is saved by the first `wan22 optimize --apply`)");
  write_atomic(path, read_all(r.baseline));
  return r;
}

}  // namespace wan22::plan
