// The pipeline benchmarks of the guide on the CPU backend, through Ti2vPipeline: model load time,
// a single image (1 frame), a 2-second video (49 frames at 24 fps), time per denoising step, VAE
// decode time, peak host memory and throughput. Each timing is the median of `repeats` runs after
// `warmup` runs; the samples are kept for the noise band.
#pragma once
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "bench/run_record.h"
#include "pipeline/checkpoint.h"

namespace wan22::bench {

struct CpuSuiteOptions {
  std::string suite = "quick";            // quick | full
  pipeline::CheckpointPaths paths;        // the checkpoint (the demo model or a real one)
  int repeats = 0;                        // 0: the suite's default
  int warmup = -1;                        // < 0: the suite's default
  int steps = 0;                          // denoising steps; 0: the suite's default
  std::vector<std::array<int, 2>> sizes;  // {width, height}; empty: the suite's default
  // "load", "image", "video"; empty = all
  std::vector<std::string> workloads;
  std::function<void(const std::string&)> on_progress;  // one line per finished measurement
};

// What a suite will run once its defaults are filled in.
struct CpuSuitePlan {
  int repeats = 0, warmup = 0, steps = 0;
  std::vector<std::array<int, 2>> sizes;  // the first is the main size (plain metric names)
  std::vector<std::string> workloads;
  int video_frames = 49;  // 2 seconds at 24 fps (4n+1)
  int fps = 24;
};

// quick: demo model 384x224 (big enough for the thread pool to pay), 4 steps, 3 repeats after 1
// warm-up; a real checkpoint 832x480, 2 steps, 1 repeat, no warm-up. full: demo 384x224 (main),
// 256x160, 512x288, 8 steps, 5 repeats after 1 warm-up; real 832x480 and 1280x704, 10 steps,
// 2 repeats after 1 warm-up. Explicit options override.
// Throws Error(kInvalidArgument) for an unknown suite or workload, or a size not a multiple of 32.
CpuSuitePlan plan_cpu_suite(const CpuSuiteOptions& opt);

struct CpuSuiteResult {
  std::vector<Metric> metrics;
  std::vector<Stage> stages;  // the stages of the main video workload (medians)
  std::string stages_of;      // "the 2-second video (49 frames 256x160, 4 steps)"
  CpuSuitePlan plan;
};

// Metric names (the main size; other sizes insert _<W>x<H> before the unit suffix, e.g.
// video_2s_256x160_s): model_load_s (+ load_text_encoder_s, load_dit_s, load_vae_s),
// single_image_s, video_2s_s, text_encode_s, denoise_s, step_s, vae_decode_s, throughput_fps
// (frames/s of the video, higher is better), cpu_utilization (process CPU time / (wall time x
// threads) during the main video: low when the threads wait for each other or for a CPU other
// processes hold), peak_rss_gib (host high-water over the suite).
CpuSuiteResult run_cpu_suite(const CpuSuiteOptions& opt);

// "video_2s_s" for the main size, "video_2s_256x160_s" for others.
std::string sized_name(const std::string& base, const std::string& unit_suffix,
                       const std::array<int, 2>& size, bool main_size);

}  // namespace wan22::bench
