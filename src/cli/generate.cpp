// wan22 generate: text/image to video with a Wan2.2 TI2V checkpoint (or the built-in demo model).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <vector>

#include "cli/command.h"
#ifdef WAN22_HAVE_CUDA
#include "backends/cuda/device.h"
#include "backends/cuda/pipeline_cuda.h"
#endif
#include "config/apply.h"
#include "config/cli_options.h"
#include "config/settings.h"
#include "core/log.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/preprocess.h"
#include "media/video.h"
#include "pipeline/checkpoint.h"
#include "pipeline/demo_model.h"
#include "pipeline/progress.h"
#include "perf/monitor.h"
#include "perf/sysinfo.h"
#include "perf/thermal.h"
#include "plan/memory_model.h"
#include "plan/plan_config.h"
#include "plan/planner.h"
#include "pipeline/ti2v_pipeline.h"
#include "sched/scheduler.h"

namespace fs = std::filesystem;

namespace wan22::cli {
namespace {

const char* kHelp =
    "usage: wan22 generate --prompt TEXT [options]\n"
    "\n"
    "Generates a video from a prompt (text-to-video) or from a prompt and an image\n"
    "(image-to-video) with a Wan2.2 TI2V checkpoint. Without --model, the built-in demo model is\n"
    "used: a tiny model with random weights (its output is noise-like; it shows the pipeline works).\n"
    "\n"
    "model:\n"
    "  --model PATH            checkpoint: the official Wan2.2-TI2V-5B directory, the Diffusers\n"
    "                          directory, or a single DiT .safetensors file (ComfyUI) together with\n"
    "                          --vae, --text-encoder and --tokenizer\n"
    "  --vae FILE              VAE weights (single-file layouts; overrides the directory's)\n"
    "  --text-encoder FILE     UMT5 encoder weights (single-file layouts)\n"
    "  --tokenizer FILE        sentencepiece model (spiece.model)\n"
    "  --device auto|cpu|cuda  where to run (default auto: the GPU when this build has the CUDA\n"
    "                          backend and a GPU is present, else the CPU)\n"
    "  --text-encoder-device cpu|cuda\n"
    "                          where the UMT5 text encoder runs (default: with --device; cpu keeps\n"
    "                          its ~11 GB of weights off the GPU)\n"
    "  --vram-budget GB        GPU memory the whole run may use (generation.vram_budget_gb; 0 = the\n"
    "                          whole card): the planner decides what stays on the GPU, what streams\n"
    "                          from pinned host memory, VAE tiles (docs/memory.md); out of memory\n"
    "                          backs off to a smaller plan and retries. Plan keys set in the config\n"
    "                          (cpu_offload.*, tile_optimization.*, ...) replace the planner\n"
    "  --config FILE           settings file (docs/config.md; repeatable); options given here win\n"
    "  --set KEY=VALUE         one setting by its key path (e.g. --set generation.steps=30)\n"
    "\n"
    "generation:\n"
    "  --prompt TEXT           what to generate (required)\n"
    "  --negative-prompt TEXT  what to avoid (default: the official Chinese negative prompt)\n"
    "  --image FILE            PNG/JPEG/WebP first frame: image-to-video; the output size is the\n"
    "                          best fit of the image's aspect ratio within --size's area\n"
    "  --size WxH              width x height, multiples of 32 for TI2V-5B (default 1280x704)\n"
    "  --frames N              frame count, 4n+1 (others are rounded, with a notice; default 121)\n"
    "  --fps N                 frames per second of the output (default 24)\n"
    "  --steps N               denoising steps (default 50)\n"
    "  --guidance G            classifier-free guidance scale (default 5.0)\n"
    "  --shift S               noise-schedule shift (default 5.0)\n"
    "  --solver NAME           unipc | dpm++ | euler (default unipc)\n"
    "  --seed N                noise seed (default: random, printed); same seed + settings + backend\n"
    "                          = same video. The generator is wan22's own counter-based normal\n"
    "                          generator (docs/generation.md), not PyTorch's.\n"
    "\n"
    "output:\n"
    "  --output PATH           .mp4 (H.264), .webm (VP9) or a directory for PNG frames\n"
    "                          (default output.mp4); a JSON sidecar PATH.json records every setting\n"
    "                          and the time of each stage\n"
    "  --crf N                 video quality (lower is better; default 10 for H.264)\n"
    "  --threads N             CPU threads (default: all)\n"
    "  --plain                 plain progress lines instead of a progress bar\n"
    "  --quiet                 no progress or information output (warnings and errors only)\n";

int to_int(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < INT32_MIN || x > INT32_MAX) {
    throw Error(ErrorCode::kInvalidArgument, opt + " expects an integer, got '" + v + "'");
  }
  return static_cast<int>(x);
}

struct Args {
  std::string vae, text_encoder, tokenizer;
  std::string text_encoder_device;  // "" = with --device
  bool have_prompt = false;
  std::string prompt, image;
  int crf = -1;
  bool plain = false, quiet = false;
  config::ConfigOptions copt;
  // generation.* values given as options, applied over the config files
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> sets;  // path -> (text, option)
};

Args parse(int argc, char** argv) {
  Args a;
  static const std::map<std::string, std::string> kSettingOptions = {
      {"--model", "generation.model"},   {"--negative-prompt", "generation.negative_prompt"},
      {"--size", "generation.size"},     {"--frames", "generation.frames"},
      {"--fps", "generation.fps"},       {"--steps", "generation.steps"},
      {"--guidance", "generation.guidance"}, {"--shift", "generation.shift"},
      {"--solver", "generation.solver"}, {"--seed", "generation.seed"},
      {"--output", "generation.output"}, {"-o", "generation.output"},
      {"--device", "generation.device"}, {"--threads", "cpu_optimization.max_workers"},
      {"--vram-budget", "generation.vram_budget_gb"}};
  for (int i = 1; i < argc; ++i) {
    if (config::take_config_option(argc, argv, i, a.copt)) continue;
    std::string o = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, o + " needs a value");
      return argv[++i];
    };
    if (auto it = kSettingOptions.find(o); it != kSettingOptions.end()) {
      std::string v = val();
      a.sets.push_back({it->second, {v, o}});
    } else if (o == "--vae") a.vae = val();
    else if (o == "--text-encoder") a.text_encoder = val();
    else if (o == "--tokenizer") a.tokenizer = val();
    else if (o == "--text-encoder-device") a.text_encoder_device = val();
    else if (o == "--prompt") { a.prompt = val(); a.have_prompt = true; }
    else if (o == "--image") a.image = val();
    else if (o == "--crf") a.crf = to_int(o, val());
    else if (o == "--plain") a.plain = true;
    else if (o == "--quiet") {
      a.quiet = true;
      if (log_level() < LogLevel::kWarn) set_log_level(LogLevel::kWarn);
    }
    else throw Error(ErrorCode::kInvalidArgument, "generate: unknown option '" + o + "' (see wan22 generate --help)");
  }
  return a;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// "auto" -> "cuda" when this build has the CUDA backend and a GPU is usable, else "cpu"; "cuda"
// and "cuda:0" -> "cuda" when possible, else an Error that says why.
std::string choose_device(const std::string& want) {
  const bool is_cuda = want == "cuda" || want.rfind("cuda:", 0) == 0;
  if (want == "cpu") return "cpu";
  if (want != "auto" && !is_cuda) {
    throw Error(ErrorCode::kInvalidArgument, "generate: --device must be auto, cpu or cuda, got '" + want + "'");
  }
  if (is_cuda && want != "cuda" && want != "cuda:0") {
    throw Error(ErrorCode::kUnsupported, "generate: --device " + want + ": generation uses GPU 0 (cuda or cuda:0)");
  }
#ifdef WAN22_HAVE_CUDA
  if (cuda::device_count() > 0) return "cuda";
  if (is_cuda) {
    throw Error(ErrorCode::kUnsupported, "generate: --device cuda: " + cuda::unavailable_reason() +
                                             " (use --device cpu)");
  }
  return "cpu";  // the load line names the engine
#else
  if (is_cuda) {
    throw Error(ErrorCode::kUnsupported, "generate: --device cuda: this wan22 was built without the CUDA backend "
                                         "(nvcc was not found or WAN22_WITH_CUDA=OFF); use --device cpu");
  }
  return "cpu";
#endif
}

// The memory-plan keys (plan::plan_from_settings reads them); they act on the CUDA engine.
const char* const kPlanKeys[] = {
    "memory_optimization.gradient_checkpointing", "memory_optimization.checkpoint_segments",
    "attention_optimization.attention_slice_size", "tile_optimization.vae_tile_size",
    "tile_optimization.overlap_pixels",          "tile_optimization.vae_temporal_chunk",
    "batch_optimization.cfg_batch",               "cpu_offload.text_encoder",
    "cpu_offload.vae",                            "cpu_offload.text_encoder_device",
    "cpu_offload.unet",                           "cpu_offload.unet_resident_blocks",
    "ti2v_5b_quantization.strategy",              "ti2v_5b_quantization.components",
    "generation.vram_budget_gb"};

std::vector<std::string> set_plan_keys(const config::Settings& s) {
  std::vector<std::string> out;
  for (const char* k : kPlanKeys) {
    if (!s.is_default(k)) out.push_back(k);
  }
  return out;
}

void warn_plan_keys_on_cpu(const config::Settings& s) {
  std::vector<std::string> keys = set_plan_keys(s);
  // the cache holds the CUDA DiT's load-ready weights; the batch keys steer the CUDA planner
  for (const char* k : {"model_caching.cache_components", "model_caching.cache_size_gb", "model_caching.cache_location",
                        "batch_optimization.dynamic_sizing", "batch_optimization.max_batch_size",
                        "batch_optimization.vram_threshold"}) {
    if (!s.is_default(k)) keys.push_back(k);
  }
  if (keys.empty()) return;
  std::string list;
  for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
  LOG_WARN << "not applied on the CPU backend (they lay out GPU memory; use --device cuda): " << list;
}

#ifdef WAN22_HAVE_CUDA
// The memory plan of a CUDA generation: the config's plan keys when any of them is set (e.g. a
// config written by `wan22 optimize --apply`), else the planner's choice for this workload, this
// GPU and generation.vram_budget_gb. --text-encoder-device cpu puts the text encoder on the CPU.
plan::Plan cuda_plan(const config::Settings& settings, const pipeline::CheckpointPaths& paths,
                     const pipeline::GenerateRequest& req, const std::string& te_device, std::string* line) {
  std::vector<std::string> keys = set_plan_keys(settings);
  keys.erase(std::remove(keys.begin(), keys.end(), std::string("generation.vram_budget_gb")), keys.end());
  plan::Plan p;
  if (!keys.empty()) {
    p = plan::plan_from_settings(settings);
    *line = "memory plan from the config (" + std::to_string(keys.size()) + " key(s) set): " + p.str();
  } else {
    const plan::ModelSpec m = plan::resolve_model(paths.root);
    plan::Workload w = plan::workload_from_settings(settings, m);
    w.width = req.width;
    w.height = req.height;
    w.frames = req.frames;
    w.steps = req.denoise.steps;
    w.guidance = req.denoise.guidance;
    w.image_to_video = !req.image_path.empty() || m.needs_image;
    perf::SysinfoOptions so;
    so.use_hwloc = false;
    plan::Hardware hw = plan::hardware_from_sysinfo(perf::collect_sysinfo(so));
    plan::PlannerOptions po = plan::planner_options(settings);
    // The budget covers the process: the planner takes off the CUDA context (measured now) and the
    // workspace reserve, as the engine does when it caps its allocator.
    const double context = cuda::device_context_bytes();
    if (hw.gpu) hw.gpu->context_bytes = static_cast<uint64_t>(context);
    const plan::PlanResult r = plan::make_plan(m, w, hw, po);  // kOutOfMemory names the smallest budget
    p = r.plan;
    *line = "memory plan for " + r.device + " (" + r.budget_source + "): " + p.str() + "; predicted peak " +
            plan::gib_str(r.memory.peak_device + plan::outside_allocator_bytes(hw)) +
            " for the process (CUDA context and library memory included)";
  }
  if (te_device == "cpu") p.text = plan::Placement::kCpu;
  return p;
}
#endif

int run_generate(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
  }
  Args a = parse(argc, argv);
  if (!a.have_prompt) return fail("generate: --prompt is required (see wan22 generate --help)");
  config::Settings settings = config::load_settings(a.copt);
  for (const auto& [path, tv] : a.sets) settings.set_cli(path, tv.first, tv.second);
  config::apply_runtime(settings);
  config::warn_not_applied(settings);

  pipeline::GenerateRequest req;
  req.prompt = a.prompt;
  req.image_path = a.image;
  req.negative_prompt = settings.get_string("generation.negative_prompt");
  auto size = settings.get_size("generation.size");
  req.width = static_cast<int>(size[0]);
  req.height = static_cast<int>(size[1]);
  req.frames = static_cast<int>(settings.get_int("generation.frames"));
  req.denoise.steps = static_cast<int>(settings.get_int("generation.steps"));
  req.denoise.guidance = settings.get_double("generation.guidance");
  req.denoise.shift = settings.get_double("generation.shift");
  req.denoise.solver = settings.get_string("generation.solver");
  req.seed = settings.get_int("generation.seed");
  const int fps = static_cast<int>(settings.get_int("generation.fps"));
  const std::string model = settings.get_string("generation.model");
  const std::string output = settings.get_string("generation.output");
  const std::string device = choose_device(settings.get_string("generation.device"));
  std::string te_device = a.text_encoder_device.empty() ? device : a.text_encoder_device;
  if (te_device != "cpu" && te_device != "cuda") {
    return fail("generate: --text-encoder-device must be cpu or cuda, got '" + te_device + "'");
  }
  if (te_device == "cuda" && device != "cuda") {
    return fail("generate: --text-encoder-device cuda needs --device cuda (the denoising runs on the " + device + ")");
  }
  auto t_start = std::chrono::steady_clock::now();

  pipeline::CheckpointPaths paths;
  if (model.empty()) {
    std::string dir = pipeline::ensure_demo_model(pipeline::default_demo_model_dir());
    if (!a.quiet) std::fprintf(stderr, "wan22: no --model given: using the built-in DEMO model at %s (tiny, random weights: "
                         "the video will be noise-like; pass --model for a real checkpoint)\n", dir.c_str());
    paths = pipeline::locate_checkpoint(dir);
  } else {
    paths = pipeline::locate_checkpoint(model, {a.vae, a.text_encoder, a.tokenizer});
  }
  // Check the output location before spending minutes on the generation.
  media::VideoFormat fmt = media::video_format_from_path(output);
  fs::path out_parent = fs::absolute(output).parent_path();
  if (!fs::is_directory(out_parent)) return fail("output directory " + out_parent.string() + " does not exist");

  pipeline::LoadReport load;
  pipeline::EngineLoader engine_loader;  // empty: the CPU engine
  std::string plan_line;
#ifdef WAN22_HAVE_CUDA
  if (device == "cuda") {
    cuda::CudaEngineOptions eo;
    eo.plan = cuda_plan(settings, paths, req, te_device, &plan_line);
    eo.vram_budget_bytes = settings.get_double("generation.vram_budget_gb") * plan::kGiB;
    eo.quality_threshold = settings.get_double("ti2v_5b_quantization.quality_threshold");
    eo.component_order = settings.get_string_list("ti2v_5b_loading.component_order");
    eo.clear_cache_between = settings.get_bool("ti2v_5b_loading.clear_cache_between");
    eo.model_cache.enabled = settings.get_bool("model_caching.cache_components");
    eo.model_cache.location = settings.get_string("model_caching.cache_location");
    eo.model_cache.size_gb = settings.get_double("model_caching.cache_size_gb");
    eo.on_notice = [quiet = a.quiet](const std::string& m) {
      if (!quiet) std::fprintf(stderr, "wan22: notice: %s\n", m.c_str());
    };
    engine_loader = [eo](const pipeline::CheckpointPaths& p, std::vector<pipeline::StageTime>* stages) {
      return std::unique_ptr<pipeline::Engine>(cuda::CudaEngine::load(p, eo, stages));
    };
  }
#endif
  if (device == "cpu") warn_plan_keys_on_cpu(settings);
  auto pipe = pipeline::Ti2vPipeline::load(paths, &load, engine_loader);
  const bool show = !a.quiet;
  if (show) {
    std::fprintf(stderr, "wan22: %s (%s layout) loaded on %s in %.2fs; %s %dx%d, %d frames, %d steps, %s\n",
                 paths.root.c_str(), paths.layout.c_str(), pipe.engine().name().c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(),
                 req.image_path.empty() ? "text-to-video" : "image-to-video", req.width, req.height,
                 req.frames, req.denoise.steps, req.denoise.solver.c_str());
  }
  if (show && !plan_line.empty()) std::fprintf(stderr, "wan22: %s\n", plan_line.c_str());
#ifdef WAN22_HAVE_CUDA
  if (auto* ce = dynamic_cast<cuda::CudaEngine*>(&pipe.engine()); ce && show) {
    for (const auto& l : ce->load_report()) {
      std::fprintf(stderr, "wan22: loaded %s in %.2fs (%s): host RSS %s (peak %s), device %s\n", l.component.c_str(),
                   l.seconds, l.where.c_str(), plan::gib_str(l.host_rss_bytes).c_str(),
                   plan::gib_str(l.host_peak_bytes).c_str(), plan::gib_str(l.device_bytes).c_str());
      if (!l.cache.empty()) {
        std::fprintf(stderr, "wan22:   model cache: %s%s\n", l.cache.c_str(),
                     l.cache_write_seconds > 0
                         ? (" (writing took " + std::to_string(l.cache_write_seconds).substr(0, 5) + " s of the load)").c_str()
                         : "");
      }
    }
  }
#endif
  pipeline::ProgressBar bar("denoising", req.denoise.steps, show ? stderr : nullptr, a.plain);
  // Monitoring (performance_monitoring.*) samples in the background while the job runs; the
  // thermal governor (thermal_management.*) paces the steps when a GPU or CPU runs hot.
  auto notice = [&](const std::string& m) {
    if (show) std::fprintf(stderr, "wan22: notice: %s\n", m.c_str());
  };
  std::shared_ptr<perf::GpuProvider> gpu(perf::make_nvml_provider());
  perf::MonitorOptions mo = perf::monitor_options(settings);
  mo.gpu = gpu;
  perf::Monitor monitor(mo);
  monitor.start();
  perf::ThermalGovernor governor(perf::thermal_options(settings), perf::direct_thermal_sensor(gpu), notice);
  const auto t_job = std::chrono::steady_clock::now();
  auto result = pipe.generate(
      req,
      [&](int i, int n, double step_s) {
        bar.update(i);
        monitor.speed().step_done(step_s);
        if (i < n) governor.between_steps(i);  // pauses happen here, outside the step timing
      },
      notice);
  bar.finish();
  monitor.speed().job_done(static_cast<uint64_t>(result.frames),
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t_job).count());
  monitor.stop();

  auto t0 = std::chrono::steady_clock::now();
  auto frames = media::video_tensor_to_frames(result.video);
  media::VideoWriteOptions vo;
  vo.format = fmt;
  vo.fps_num = fps;
  vo.crf = a.crf;
  vo.title = req.prompt;
  std::string summary = "seed=" + std::to_string(result.seed) + " size=" + std::to_string(result.width) + "x" +
                         std::to_string(result.height) + " frames=" + std::to_string(result.frames) +
                         " steps=" + std::to_string(req.denoise.steps) +
                         " guidance=" + std::to_string(req.denoise.guidance) +
                         " shift=" + std::to_string(req.denoise.shift) + " solver=" + req.denoise.solver +
                         (paths.demo ? " model=demo(random weights)" : " model=" + paths.root);
  vo.comment = summary;
  vo.metadata = {{"wan22_prompt", req.prompt}, {"wan22_seed", std::to_string(result.seed)},
                 {"wan22_settings", summary}};
  auto written = media::write_video(output, frames, vo);
  double save_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::json side;
  side["wan22_version"] = WAN22_VERSION;
  side["created"] = now_iso();
  side["output"] = output;
  side["format"] = media::video_format_name(fmt);
  side["model"] = {{"path", paths.root}, {"layout", paths.layout}, {"demo", paths.demo}};
  side["prompt"] = req.prompt;
  side["negative_prompt"] = req.negative_prompt.empty() ? "(official default)" : req.negative_prompt;
  side["image"] = req.image_path;
  side["seed"] = result.seed;
  side["noise_generator"] = "wan22 counter-based normal (SplitMix64 + Box-Muller)";
  side["width"] = result.width;
  side["height"] = result.height;
  side["frames"] = result.frames;
  side["fps"] = fps;
  side["steps"] = req.denoise.steps;
  side["guidance"] = req.denoise.guidance;
  side["shift"] = req.denoise.shift;
  side["solver"] = req.denoise.solver;
  side["device"] = device;
  side["engine"] = pipe.engine().name();
  side["text_encoder_device"] = te_device;
  side["threads"] = default_pool().num_threads();
  side["notices"] = result.notices;
#ifdef WAN22_HAVE_CUDA
  if (auto* ce = dynamic_cast<cuda::CudaEngine*>(&pipe.engine())) {
    nlohmann::json mem = nlohmann::json::object();
    mem["plan"] = ce->plan().str();
    mem["vram_budget_gb"] = settings.get_double("generation.vram_budget_gb");
    mem["outside_allocator_gib"] = ce->outside_bytes() / plan::kGiB;
    std::string line;
    for (const auto& u : ce->memory_use()) {
      const std::string st = plan::stage_name(u.stage);
      mem[st + "_peak_gib"] = u.device_peak_bytes() / plan::kGiB;
      line += (line.empty() ? "" : ", ") + st + " " + plan::gib_str(u.device_peak_bytes());
    }
    mem["notices"] = ce->notices();
    nlohmann::json loads = nlohmann::json::array();
    for (const auto& l : ce->load_report()) {
      loads.push_back({{"component", l.component}, {"where", l.where}, {"seconds", l.seconds},
                       {"host_rss_gib", l.host_rss_bytes / plan::kGiB}, {"host_peak_gib", l.host_peak_bytes / plan::kGiB},
                       {"device_gib", l.device_bytes / plan::kGiB}, {"model_cache", l.cache},
                       {"model_cache_write_s", l.cache_write_seconds}});
    }
    mem["loads"] = loads;
    if (ce->quality_cosine() >= 0) mem["quantization_cosine"] = ce->quality_cosine();
    side["device_memory"] = mem;
    if (show) std::fprintf(stderr, "wan22: device memory peak per stage: %s\n", line.c_str());
  }
#endif
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& s : load.stages) stages[s.stage + "_s"] = s.seconds;
  for (const auto& s : result.stages) stages[s.stage + "_s"] = s.seconds;
  stages["save_s"] = save_s;
  stages["total_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  side["timings"] = stages;
  side["step_seconds"] = result.step_seconds;
  std::string side_path = (fmt == media::VideoFormat::kPngFrames ? output + "/settings" : output) + ".json";
  {
    std::string tmp = side_path + ".tmp";
    std::ofstream out(tmp);
    out << side.dump(2) << "\n";
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return fail("cannot write " + side_path + " (disk full?); the video itself was written to " + output);
    }
    fs::rename(tmp, side_path);
  }
  if (show) {
    std::fprintf(stderr, "wan22: wrote %s (%d frames %dx%d at %d fps, %s) and %s in %s total\n", output.c_str(),
                 result.frames, result.width, result.height, fps, written.codec.c_str(), side_path.c_str(),
                 pipeline::format_duration(stages["total_s"].get<double>()).c_str());
  }
  return 0;
}

const CommandRegistrar kReg({"generate", "generate a video from a prompt (and optionally an image)", run_generate});

}  // namespace
}  // namespace wan22::cli
