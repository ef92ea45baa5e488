// The decisions of a memory/placement plan and the workload it is made for. The memory model
// (memory_model.h) and the time model (time_model.h) evaluate a Plan; the planner (planner.h)
// searches for the fastest one that fits a budget; plan_config.h writes it as a config file.
#pragma once
#include <string>

namespace wan22::plan {

// Where a component's weights live.
enum class Placement {
  kResident,   // on the device for the whole run
  kOffloaded,  // pinned host memory; copied to the device whole while its stage runs, freed after
  kStreamed,   // pinned host memory; blocks/layers copied one at a time ahead of use (double-buffered);
               // the DiT keeps `dit_resident_blocks` of them on the device
  kCpu,        // the component runs on the CPU (no device memory)
};
const char* placement_name(Placement p);

enum class WeightFormat { kF32, kBF16, kFP16, kFP8, kInt8 };
const char* format_name(WeightFormat f);
// Bytes per element of a linear layer's weight matrix (fp8/int8 also store one f32 scale per row).
double format_bytes(WeightFormat f);

// The pipeline stages the models estimate.
enum class Stage { kTextEncode, kImageEncode, kDenoise, kVaeDecode };
const char* stage_name(Stage s);  // "text_encode", "image_encode", "denoise", "vae_decode"

struct Workload {
  std::string model = "ti2v-5b";  // preset name or checkpoint path (ModelSpec::name)
  int width = 1280, height = 704, frames = 121, steps = 50;
  double guidance = 5.0;          // > 1: classifier-free guidance (two branches per step)
  bool image_to_video = false;    // an input image is encoded (i2v models always)
  std::string str() const;        // "ti2v-5b 1280x704x121, 50 steps, guidance 5"
  bool cfg() const { return guidance != 1.0; }
};

// The CUDA DiT batches the CFG pair (Plan::cfg_batch) only up to this many tokens per branch
// (DitCuda's kAuto: measured faster there, slower above); above it the branches run one after the other.
constexpr long long kCfgBatchMaxTokens = 8192;
// Device memory the CUDA engine keeps outside its caching allocator for the cuBLASLt / cuDNN / conv
// workspaces that come with the first calls: a VRAM budget covers the whole process, so the engine
// caps its allocator at budget - CUDA context - this, and the planner lays out the same figure.
constexpr double kWorkspaceReserveBytes = 384.0 * 1024 * 1024;

struct Plan {
  bool on_gpu = true;                       // false: everything on the CPU (budget = RAM)
  // ---- DiT ----
  Placement dit = Placement::kResident;     // kResident or kStreamed (kCpu when !on_gpu)
  int dit_resident_blocks = 0;              // kStreamed: blocks of each expert kept on the device
  WeightFormat dit_format = WeightFormat::kBF16;
  bool cfg_batch = true;                    // the two CFG branches as one batch of 2 where that pays
                                            // (<= kCfgBatchMaxTokens on the GPU), else one after the other
  int checkpoint_segments = 1;              // token segments of each block's attention and FFN (1 = none)
  int attention_slice = 0;                  // heads per attention call (0 = all)
  // ---- text encoder (UMT5) ----
  Placement text = Placement::kResident;    // kResident, kStreamed (layer by layer) or kCpu
  WeightFormat text_format = WeightFormat::kBF16;
  // ---- VAE ----
  Placement vae = Placement::kResident;     // kResident or kOffloaded
  WeightFormat vae_format = WeightFormat::kBF16;
  int vae_tile = 0;                         // square spatial tiles of this many output pixels (0 = untiled)
  int vae_overlap = 0;                      // pixels of overlap between neighbouring tiles
  int vae_chunk = 1;                        // latent frames per causal chunk
  // The CUDA VAE keeps freed buffers in a per-call pool for reuse (VaeCudaOptions::reuse_buffers):
  // faster, but it holds several levels' working sets at once (720p untiled: 11.4 vs 7.0 GiB
  // measured). The planner turns it off when a budget is given.
  bool vae_reuse_buffers = true;
  // Tiled decoding blends the tiles on the host (each tile's video copied out), so the whole f32
  // video never sits on the device (the CUDA engine's tiled decode); false: blended on the device
  // (VaeCuda::decode_tiled, as the VAE benchmark runs it).
  bool vae_tiles_to_host = true;
  // ---- allocator ----
  double fragmentation_margin = 0.05;       // extra fraction of the activation bytes kept free for fragmentation

  bool operator==(const Plan& o) const;
  std::string str() const;                  // one line
};

}  // namespace wan22::plan
