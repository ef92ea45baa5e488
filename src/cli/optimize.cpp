// wan22 optimize: picks memory/placement settings for this machine (or a described one) and a
// workload from the memory and time models (src/plan), prints the predicted peak and time per
// stage, writes them as a config file, applies / resets / restores the active config, and
// validates the predictions with a short benchmark.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "bench/metric.h"
#include "cli/command.h"
#include "config/cli_options.h"
#include "config/settings.h"
#include "core/status.h"
#include "perf/sysinfo.h"
#include "plan/hardware.h"
#include "plan/plan_config.h"
#include "plan/plan_report.h"
#include "plan/plan_validate.h"
#include "plan/planner.h"
#ifdef WAN22_HAVE_CUDA
#include "backends/cuda/bench_cuda.h"
#include "backends/cuda/device.h"
#include "backends/cuda/pipeline_cuda.h"
#endif

namespace wan22::cli {
namespace {

const char* kHelp =
    "usage: wan22 optimize [options]\n"
    "\n"
    "Picks the memory and placement settings for a machine and a workload from the memory and time\n"
    "models of the pipeline (docs/optimize.md): which components stay on the GPU, which are offloaded\n"
    "or streamed (and how many DiT blocks stay), the text encoder on the CPU or the GPU, CFG as a batch\n"
    "of 2 or sequential, activation segments, VAE tiles, weight formats. It prints the predicted peak\n"
    "memory and time of each stage and can write the settings as a config file.\n"
    "\n"
    "workload (defaults: the generation.* keys of --config files, else the model's defaults):\n"
    "  --model NAME|PATH       ti2v-5b (default), t2v-a14b, i2v-a14b, demo, or a checkpoint directory\n"
    "  --size WxH              output size (default 1280x704 for ti2v-5b)\n"
    "  --frames N              frames (default 121)\n"
    "  --steps N               denoising steps (default 50)\n"
    "  --guidance G            CFG scale; 1 = no guidance (one branch per step)\n"
    "  --i2v                   image-to-video (an input image is encoded)\n"
    "\n"
    "machine and budget:\n"
    "  --hardware PRESET|FILE  plan for another machine: a preset (h200, h100, a100-80gb, l40s, rtx4090,\n"
    "                          rtx4080, rtx4060ti-16gb, rtx3090, cpu) or a JSON file (a saved\n"
    "                          `wan22 sysinfo --json`, or the simple form of docs/optimize.md);\n"
    "                          default: this machine (wan22 sysinfo)\n"
    "  --vram-budget GB        device memory the plan may use (GiB; default: the whole device)\n"
    "  --vae-budget GB         also cap the VAE decode stage's peak (GiB; e.g. 4 for issue 6's target)\n"
    "  --device cpu|cuda|auto  cpu: plan for the CPU backend even when a GPU is present\n"
    "  --allow-quantization    fp8/int8 DiT weights whenever they are faster (default: bf16, quantized only\n"
    "                          when nothing else fits)\n"
    "\n"
    "output:\n"
    "  --json                  the plan, the predicted peak/time of every stage and each term as JSON\n"
    "  --terms                 list each stage's memory and time terms with their formulas\n"
    "  --output FILE           write the settings as a config file (the format of `wan22 config init`)\n"
    "  --force                 overwrite an existing --output FILE\n"
    "  --apply                 write the settings to the active config file ($WAN22_CONFIG, else\n"
    "                          $XDG_CONFIG_HOME/wan22/config.json, else ~/.config/wan22/config.json);\n"
    "                          the first --apply saves the previous file as <name>.baseline.json\n"
    "  --reset                 write the optimal defaults for this hardware (the model's default workload,\n"
    "                          no budget) to the active config file\n"
    "  --restore-baseline      put the saved baseline back as the active config file\n"
    "  --config-path FILE      the file --apply/--reset/--restore-baseline act on (default: the active one)\n"
    "  --validate              run a short benchmark of the workload (a few denoising steps through the\n"
    "                          pipeline on the device in use: the CPU backend in this build, the demo\n"
    "                          model unless --model is a checkpoint) and check the predicted step time and\n"
    "                          activation peak against the measured ones (exit 1 on FAIL)\n"
    "  --validate-steps N      steps of the benchmark (default 2)\n";

struct Args {
  std::string model, size, hardware, device, output, config_path;
  int frames = 0, steps = 0, validate_steps = 2;
  double guidance = -1, budget = -1, vae_budget = -1;
  bool i2v = false, allow_quant = false, json = false, terms = false, force = false;
  bool apply = false, reset = false, restore = false, validate = false;
  config::ConfigOptions copt;
};

int to_int(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < 1 || x > INT32_MAX)
    throw Error(ErrorCode::kInvalidArgument, opt + " expects a positive integer, got '" + v + "'");
  return static_cast<int>(x);
}
double to_num(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end || errno || !(x >= 0))
    throw Error(ErrorCode::kInvalidArgument, opt + " expects a non-negative number, got '" + v + "'");
  return x;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    if (config::take_config_option(argc, argv, i, a.copt)) continue;
    const std::string o = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, "optimize: " + o + " needs a value");
      return argv[++i];
    };
    if (o == "--model") a.model = val();
    else if (o == "--size") a.size = val();
    else if (o == "--frames") a.frames = to_int(o, val());
    else if (o == "--steps") a.steps = to_int(o, val());
    else if (o == "--guidance") a.guidance = to_num(o, val());
    else if (o == "--i2v") a.i2v = true;
    else if (o == "--hardware") a.hardware = val();
    else if (o == "--vram-budget") a.budget = to_num(o, val());
    else if (o == "--vae-budget") a.vae_budget = to_num(o, val());
    else if (o == "--device") a.device = val();
    else if (o == "--allow-quantization") a.allow_quant = true;
    else if (o == "--json") a.json = true;
    else if (o == "--terms") a.terms = true;
    else if (o == "--output" || o == "-o") a.output = val();
    else if (o == "--force" || o == "-f") a.force = true;
    else if (o == "--apply") a.apply = true;
    else if (o == "--reset") a.reset = true;
    else if (o == "--restore-baseline") a.restore = true;
    else if (o == "--config-path") a.config_path = val();
    else if (o == "--validate") a.validate = true;
    else if (o == "--validate-steps") a.validate_steps = to_int(o, val());
    else throw Error(ErrorCode::kInvalidArgument, "optimize: unknown option '" + o + "' (see wan22 optimize --help)");
  }
  if (a.reset + a.restore + a.apply > 1)
    throw Error(ErrorCode::kInvalidArgument, "optimize: --apply, --reset and --restore-baseline exclude each other");
  if (!a.device.empty() && a.device != "cpu" && a.device != "cuda" && a.device != "auto" && a.device.rfind("cuda:", 0) != 0)
    throw Error(ErrorCode::kInvalidArgument, "optimize: --device expects cpu, cuda or auto, got '" + a.device + "'");
  return a;
}

plan::Hardware this_machine() {
  perf::SysinfoOptions so;
  so.paths = {"."};
  perf::SystemInfo info = perf::collect_sysinfo(so);
#ifdef WAN22_HAVE_CUDA
  std::vector<perf::CudaGpu> gpus;
  const int n = cuda::device_count();
  if (n > 0)
    for (const auto& d : cuda::devices())
      gpus.push_back({d.index, d.name, d.cc_major, d.cc_minor, static_cast<uint64_t>(d.total_memory), d.multiprocessors,
                      d.pci_bus});
  perf::attach_cuda_gpus(info, gpus, n > 0 ? "ok" : cuda::unavailable_reason());
#else
  perf::attach_cuda_gpus(info, {}, "this wan22 was built without the CUDA backend");
#endif
  plan::Hardware hw = plan::hardware_from_sysinfo(info);
#ifdef WAN22_HAVE_CUDA
  // A budget covers the process: the context is measured here, as the engine measures it.
  if (hw.gpu && n > 0) {
    cuda::init();
    hw.gpu->context_bytes = static_cast<uint64_t>(cuda::device_context_bytes());
  }
#endif
  return hw;
}

// `--validate` of a GPU plan: a short run of the CUDA workloads (cuda::run_bench: the whole
// generation of the plan's size with a few steps) compared with the predictions. nullopt when
// this build or machine cannot run it (the caller falls back to the CPU validation).
std::optional<plan::ValidationResult> validate_on_gpu(const plan::Workload& w, const plan::Hardware& hw,
                                                      const plan::ValidateOptions& vo, const plan::Plan& plan) {
#ifdef WAN22_HAVE_CUDA
  if (!hw.gpu || cuda::device_count() == 0) return std::nullopt;
  const std::string wl = plan::gpu_bench_workload(w);
  if (wl.empty()) return plan::validate_gpu_metrics(w, hw, {}, vo.steps, vo);  // says which sizes can be validated
  cuda::BenchOptions bo;
  bo.model_dir = vo.checkpoint;
  bo.random_weights = vo.checkpoint.empty();
  bo.parts = {"generate"};
  bo.workloads = {wl};
  bo.generate_workloads = {wl};
  bo.generate_steps = std::max(1, vo.steps);
  if (vo.budget_gib > 0) {
    bo.vram_budget_gib = vo.budget_gib;  // the engine runs the plan printed above under this budget
    bo.budget_only = true;
    bo.budget_plan = plan;
  }
  bo.repeats = 1;
  bo.warmup = 0;
  const std::vector<bench::Metric> metrics = cuda::run_bench(bo);
  return plan::validate_gpu_metrics(w, hw, metrics, bo.generate_steps, vo);
#else
  (void)w;
  (void)hw;
  (void)vo;
  (void)plan;
  return std::nullopt;
#endif
}

int run_optimize(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      std::fputs(config::config_options_help(), stdout);
      return 0;
    }
  }
  Args a = parse(argc, argv);
  const std::string target = a.config_path.empty() ? plan::active_config_path() : a.config_path;

  if (a.restore) {
    plan::ApplyResult r = plan::restore_baseline(target);
    std::printf("restored %s from the baseline %s\n", r.path.c_str(), r.baseline.c_str());
    return 0;
  }

  config::Settings settings = config::load_settings(a.copt);
  const plan::Hardware hw = a.hardware.empty() ? this_machine() : plan::load_hardware(a.hardware);
  std::string model_name = a.model;
  if (model_name.empty()) model_name = settings.get_string("generation.model");
  if (model_name.empty()) model_name = a.validate && a.hardware.empty() && !hw.gpu ? "demo" : "ti2v-5b";
  const plan::ModelSpec model = plan::resolve_model(model_name);

  plan::Workload w = plan::workload_from_settings(settings, model);
  plan::PlannerOptions opt = plan::planner_options(settings);
  if (a.reset) {  // the model's default workload, the whole device
    w = plan::Workload{};
    w.model = model.name;
    w.width = model.default_width, w.height = model.default_height;
    w.frames = model.default_frames, w.steps = model.default_steps, w.guidance = model.default_guidance;
    w.image_to_video = model.needs_image;
    opt.budget_gib = 0;
  }
  if (!a.size.empty()) {
    settings.set_cli("generation.size", a.size, "--size");  // validates WIDTHxHEIGHT
    auto s = settings.get_size("generation.size");
    w.width = static_cast<int>(s[0]), w.height = static_cast<int>(s[1]);
  }
  if (a.frames) w.frames = a.frames;
  if (a.steps) w.steps = a.steps;
  if (a.guidance >= 0) w.guidance = a.guidance;
  if (a.i2v) w.image_to_video = true;
  if (a.budget >= 0) opt.budget_gib = a.budget;
  if (a.vae_budget >= 0) opt.vae_budget_gib = a.vae_budget;
  if (a.allow_quant) opt.allow_quantization = true;
  if (a.device == "cpu") opt.force_cpu = true;
  if ((a.device == "cuda" || a.device.rfind("cuda:", 0) == 0) && !hw.gpu)
    return fail("optimize: --device " + a.device + ": no GPU on " + hw.name + " (" + hw.gpu_status + ")");

  const plan::PlanResult r = plan::make_plan(model, w, hw, opt);

  nlohmann::json out;
  if (a.json) out = plan::plan_json(r, hw);
  else std::printf("%s", plan::plan_text(r, hw, a.terms).c_str());

  const std::string text = plan::render_plan_config(r);
  auto check_written = [&](const std::string& path) {
    config::Settings check;
    auto problems = check.try_load_file(path);
    if (!problems.empty())
      throw Error(ErrorCode::kInternal, path + " does not validate:\n" + config::join_problems(problems));
  };
  if (!a.output.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(a.output, ec) && !a.force)
      return fail("optimize: " + a.output + " exists (use --force to overwrite)");
    FILE* f = std::fopen(a.output.c_str(), "wb");
    if (!f) return fail("optimize: cannot write " + a.output);
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok) return fail("optimize: write error on " + a.output);
    check_written(a.output);
    if (a.json) out["written"] = a.output;
    else std::printf("wrote %s (validated; use it with --config %s)\n", a.output.c_str(), a.output.c_str());
  }
  if (a.apply || a.reset) {
    plan::ApplyResult ar = plan::apply_config_text(target, text);
    check_written(target);
    if (a.json) {
      out["applied"] = {{"path", ar.path}, {"baseline", ar.baseline}, {"baseline_created", ar.baseline_created}};
    } else {
      std::printf("%s %s%s\n", a.reset ? "reset" : "applied to", ar.path.c_str(),
                  ar.baseline_created ? (" (the previous config was saved as " + ar.baseline + ")").c_str()
                                      : (" (baseline kept: " + ar.baseline + ")").c_str());
    }
  }
  int rc = 0;
  if (a.validate) {
    plan::ValidateOptions vo;
    vo.steps = a.validate_steps;
    vo.budget_gib = opt.budget_gib;  // a budgeted plan is validated under that budget
    std::error_code ec;
    if (std::filesystem::exists(model_name, ec)) vo.checkpoint = model_name;
    std::optional<plan::ValidationResult> gv;
    if (r.plan.on_gpu) gv = validate_on_gpu(w, hw, vo, r.plan);
    plan::ValidationResult v;
    if (gv) {
      v = std::move(*gv);
    } else {
      std::string note;
      if (r.plan.on_gpu)
        note = "this build or machine cannot run the CUDA backend: the GPU plan above cannot be measured here; the "
               "CPU plan of the same workload is validated instead";
      if (vo.checkpoint.empty() && model.name != "demo")
        note += std::string(note.empty() ? "" : "; ") + "no checkpoint given: the demo model (" + model.name +
                " sizes are not loaded) runs the workload's size";
      v = plan::validate_on_cpu(w, hw, vo);
      if (!note.empty()) v.notes.insert(v.notes.begin(), note);
    }
    if (a.json) out["validation"] = v.to_json();
    else std::printf("%s", v.str().c_str());
    rc = v.pass() ? 0 : 1;
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
  return rc;
}

const CommandRegistrar kReg({"optimize", "pick memory/placement settings from the memory and time models (docs/optimize.md)",
                             run_optimize});

}  // namespace
}  // namespace wan22::cli
