// wan22 generate: text/image to video with a Wan2.2 TI2V checkpoint (or the built-in demo model).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "core/log.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "media/preprocess.h"
#include "media/video.h"
#include "pipeline/checkpoint.h"
#include "pipeline/demo_model.h"
#include "pipeline/progress.h"
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
    "  --device cpu|cuda       where to run (default cpu; see below)\n"
    "  --config FILE           settings file (docs/config.md); command-line options win\n"
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
    "  --quiet                 no progress output\n";

struct Args {
  std::string model, vae, text_encoder, tokenizer, device = "cpu", config;
  pipeline::GenerateRequest req;
  bool have_prompt = false;
  int fps = 24, crf = -1, threads = 0;
  std::string output = "output.mp4";
  bool plain = false, quiet = false;
};

int to_int(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < INT32_MIN || x > INT32_MAX) {
    throw Error(ErrorCode::kInvalidArgument, opt + " expects an integer, got '" + v + "'");
  }
  return static_cast<int>(x);
}
int64_t to_i64(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno) throw Error(ErrorCode::kInvalidArgument, opt + " expects an integer, got '" + v + "'");
  return x;
}
double to_double(const std::string& opt, const std::string& v) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end) throw Error(ErrorCode::kInvalidArgument, opt + " expects a number, got '" + v + "'");
  return x;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string o = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, o + " needs a value");
      return argv[++i];
    };
    if (o == "--model") a.model = val();
    else if (o == "--vae") a.vae = val();
    else if (o == "--text-encoder") a.text_encoder = val();
    else if (o == "--tokenizer") a.tokenizer = val();
    else if (o == "--device") a.device = val();
    else if (o == "--config") a.config = val();
    else if (o == "--prompt") { a.req.prompt = val(); a.have_prompt = true; }
    else if (o == "--negative-prompt") a.req.negative_prompt = val();
    else if (o == "--image") a.req.image_path = val();
    else if (o == "--size") {
      std::string s = val();
      auto x = s.find_first_of("xX*");
      if (x == std::string::npos) throw Error(ErrorCode::kInvalidArgument, "--size expects WxH, got '" + s + "'");
      a.req.width = to_int("--size", s.substr(0, x));
      a.req.height = to_int("--size", s.substr(x + 1));
    }
    else if (o == "--frames") a.req.frames = to_int(o, val());
    else if (o == "--fps") a.fps = to_int(o, val());
    else if (o == "--steps") a.req.denoise.steps = to_int(o, val());
    else if (o == "--guidance") a.req.denoise.guidance = to_double(o, val());
    else if (o == "--shift") a.req.denoise.shift = to_double(o, val());
    else if (o == "--solver") a.req.denoise.solver = val();
    else if (o == "--seed") a.req.seed = to_i64(o, val());
    else if (o == "--output" || o == "-o") a.output = val();
    else if (o == "--crf") a.crf = to_int(o, val());
    else if (o == "--threads") a.threads = to_int(o, val());
    else if (o == "--plain") a.plain = true;
    else if (o == "--quiet") a.quiet = true;
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

int run_generate(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
  }
  Args a = parse(argc, argv);
  if (!a.have_prompt) return fail("generate: --prompt is required (see wan22 generate --help)");
  if (a.fps < 1 || a.fps > 240) return fail("generate: --fps must be in 1..240, got " + std::to_string(a.fps));
  if (a.device != "cpu") {
    return fail("generate: --device " + a.device + " is not available for generation in this build yet: the "
                "CUDA backend runs its kernels and tests, the full pipeline runs on the CPU (use --device cpu)");
  }
  if (!a.config.empty()) {
    return fail("generate: --config is not wired into generation in this build yet (wan22 config validate "
                "checks a file); pass settings as options");
  }
  if (a.threads > 0) set_default_pool(a.threads);
  auto t_start = std::chrono::steady_clock::now();

  pipeline::CheckpointPaths paths;
  if (a.model.empty()) {
    std::string dir = pipeline::ensure_demo_model(pipeline::default_demo_model_dir());
    std::fprintf(stderr, "wan22: no --model given: using the built-in DEMO model at %s (tiny, random weights: "
                         "the video will be noise-like; pass --model for a real checkpoint)\n", dir.c_str());
    paths = pipeline::locate_checkpoint(dir);
  } else {
    paths = pipeline::locate_checkpoint(a.model, {a.vae, a.text_encoder, a.tokenizer});
  }
  // Check the output location before spending minutes on the generation.
  media::VideoFormat fmt = media::video_format_from_path(a.output);
  fs::path out_parent = fs::absolute(a.output).parent_path();
  if (!fs::is_directory(out_parent)) return fail("output directory " + out_parent.string() + " does not exist");

  pipeline::LoadReport load;
  auto pipe = pipeline::Ti2vPipeline::load(paths, &load);
  const bool show = !a.quiet;
  if (show) {
    std::fprintf(stderr, "wan22: %s (%s layout) loaded in %.2fs; %s %dx%d, %d frames, %d steps, %s\n",
                 paths.root.c_str(), paths.layout.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(),
                 a.req.image_path.empty() ? "text-to-video" : "image-to-video", a.req.width, a.req.height,
                 a.req.frames, a.req.denoise.steps, a.req.denoise.solver.c_str());
  }
  pipeline::ProgressBar bar("denoising", a.req.denoise.steps, show ? stderr : nullptr, a.plain);
  auto result = pipe.generate(
      a.req, [&](int i, int, double) { bar.update(i); },
      [&](const std::string& m) {
        if (show) std::fprintf(stderr, "wan22: notice: %s\n", m.c_str());
      });
  bar.finish();

  auto t0 = std::chrono::steady_clock::now();
  auto frames = media::video_tensor_to_frames(result.video);
  media::VideoWriteOptions vo;
  vo.format = fmt;
  vo.fps_num = a.fps;
  vo.crf = a.crf;
  vo.title = a.req.prompt;
  std::string settings = "seed=" + std::to_string(result.seed) + " size=" + std::to_string(result.width) + "x" +
                         std::to_string(result.height) + " frames=" + std::to_string(result.frames) +
                         " steps=" + std::to_string(a.req.denoise.steps) +
                         " guidance=" + std::to_string(a.req.denoise.guidance) +
                         " shift=" + std::to_string(a.req.denoise.shift) + " solver=" + a.req.denoise.solver +
                         (paths.demo ? " model=demo(random weights)" : " model=" + paths.root);
  vo.comment = settings;
  vo.metadata = {{"wan22_prompt", a.req.prompt}, {"wan22_seed", std::to_string(result.seed)},
                 {"wan22_settings", settings}};
  auto written = media::write_video(a.output, frames, vo);
  double save_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::json side;
  side["wan22_version"] = WAN22_VERSION;
  side["created"] = now_iso();
  side["output"] = a.output;
  side["format"] = media::video_format_name(fmt);
  side["model"] = {{"path", paths.root}, {"layout", paths.layout}, {"demo", paths.demo}};
  side["prompt"] = a.req.prompt;
  side["negative_prompt"] = a.req.negative_prompt.empty() ? "(official default)" : a.req.negative_prompt;
  side["image"] = a.req.image_path;
  side["seed"] = result.seed;
  side["noise_generator"] = "wan22 counter-based normal (SplitMix64 + Box-Muller)";
  side["width"] = result.width;
  side["height"] = result.height;
  side["frames"] = result.frames;
  side["fps"] = a.fps;
  side["steps"] = a.req.denoise.steps;
  side["guidance"] = a.req.denoise.guidance;
  side["shift"] = a.req.denoise.shift;
  side["solver"] = a.req.denoise.solver;
  side["device"] = a.device;
  side["threads"] = default_pool().num_threads();
  side["notices"] = result.notices;
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& s : load.stages) stages[s.stage + "_s"] = s.seconds;
  for (const auto& s : result.stages) stages[s.stage + "_s"] = s.seconds;
  stages["save_s"] = save_s;
  stages["total_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  side["timings"] = stages;
  side["step_seconds"] = result.step_seconds;
  std::string side_path = (fmt == media::VideoFormat::kPngFrames ? a.output + "/settings" : a.output) + ".json";
  {
    std::string tmp = side_path + ".tmp";
    std::ofstream out(tmp);
    out << side.dump(2) << "\n";
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return fail("cannot write " + side_path + " (disk full?); the video itself was written to " + a.output);
    }
    fs::rename(tmp, side_path);
  }
  if (show) {
    std::fprintf(stderr, "wan22: wrote %s (%d frames %dx%d at %d fps, %s) and %s in %s total\n", a.output.c_str(),
                 result.frames, result.width, result.height, a.fps, written.codec.c_str(), side_path.c_str(),
                 pipeline::format_duration(stages["total_s"].get<double>()).c_str());
  }
  return 0;
}

const CommandRegistrar kReg({"generate", "generate a video from a prompt (and optionally an image)", run_generate});

}  // namespace
}  // namespace wan22::cli
