#include "plan/time_model.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/status.h"

namespace wan22::plan {

const StageTime* TimeEstimate::stage(Stage s) const {
  for (const auto& st : stages)
    if (st.stage == s) return &st;
  return nullptr;
}

namespace {

std::string num(double v, int prec = 3) {
  std::ostringstream s;
  s.precision(prec);
  s << v;
  return s.str();
}

// Bytes of norm/RoPE/residual/modulation traffic per token, per block and per channel of dim in the
// CUDA DiT (docs/perf/NOTES.md: ~5.5 GB per block at 27,280 tokens and dim 3072).
constexpr double kEltwiseBytesPerTokenDim = 66.0;
// The elementwise kernels reach ~45% of the copy bandwidth (measured 0.088 s of non-GEMM,
// non-attention time per 720p forward against 166 GB of traffic at 4.26 TB/s).
constexpr double kEltwiseEfficiency = 0.45;
constexpr double kLaunchSeconds = 5e-6;   // one kernel launch + tail
constexpr double kKernelsPerBlock = 16;   // kernels of one block and one segment
constexpr double kCpuOpSeconds = 30e-6;   // thread-pool dispatch of one CPU op

struct DitFlops {
  double linear_block = 0;  // block matrices (take the weight format)
  double linear_other = 0;  // embeddings and head
  double attention = 0;
  double elementwise = 0;   // bytes
};

DitFlops dit_flops(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch) {
  const double b = batch, L = static_cast<double>(g.tokens), D = static_cast<double>(d.dim),
               F = static_cast<double>(d.ffn_dim), T = static_cast<double>(text_len),
               layers = static_cast<double>(d.num_layers);
  const double pv = static_cast<double>(d.patch[0] * d.patch[1] * d.patch[2]);
  DitFlops f;
  // per block: qkv, o, cross q, cross o over L tokens; FFN; cross k/v over the text rows
  f.linear_block = b * layers * (2 * L * D * (3 * D + D + D + D + 2 * F) + 2 * T * D * 2 * D);
  f.linear_other = b * (2 * L * static_cast<double>(d.in_dim) * pv * D + 2 * T * D * (static_cast<double>(d.text_dim) + D) +
                        2 * L * D * static_cast<double>(d.out_dim) * pv);
  f.attention = b * layers * (4 * L * L * D + 4 * L * T * D);
  f.elementwise = b * layers * L * D * kEltwiseBytesPerTokenDim;
  return f;
}

}  // namespace

double gemm_efficiency(double rows) { return std::min(1.0, 0.55 + 0.45 * rows / 8192.0); }

ForwardTime dit_forward_time_gpu(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch,
                                 int segments, int attention_slice, WeightFormat fmt, const GpuSpec& gpu) {
  const DitFlops f = dit_flops(d, g, text_len, batch);
  const int N = std::max(1, segments);
  const double rows = batch * std::ceil(static_cast<double>(g.tokens) / N);
  const double eff = gemm_efficiency(rows);
  double block_rate = gpu.gemm_tflops;
  if (fmt == WeightFormat::kFP8 && gpu.fp8_tflops > 0) block_rate = gpu.fp8_tflops;
  if (fmt == WeightFormat::kInt8) block_rate = 0.9 * gpu.gemm_tflops;  // weight-only: dequantised in the GEMM prologue
  if (fmt == WeightFormat::kF32) block_rate = gpu.gemm_tflops / 8;    // TF32
  ForwardTime t;
  t.linear_flops = f.linear_block + f.linear_other;
  t.attention_flops = f.attention;
  t.elementwise_bytes = f.elementwise;
  t.linear_s = f.linear_block / (block_rate * 1e12 * eff) + f.linear_other / (gpu.gemm_tflops * 1e12 * eff);
  // Attention parallelises over batch x heads x 128-row query tiles; fewer than two waves lose efficiency.
  const double ctas = batch * static_cast<double>(d.num_heads) * std::ceil(rows / batch / 128.0);
  const double attn_eff = std::clamp(ctas / (2.0 * std::max(1, gpu.sms)), 0.3, 1.0);
  t.attention_s = f.attention / (gpu.attention_tflops * 1e12 * attn_eff);
  t.elementwise_s = f.elementwise / (kEltwiseEfficiency * gpu.mem_bw_gbs * 1e9);
  const double heads = static_cast<double>(d.num_heads);
  const double slices = attention_slice > 0 ? std::ceil(heads / attention_slice) : 1;
  // Kernel launches: every block runs its kernels once per segment (and its attention once per
  // head slice); a batch of 2 shares them, two sequential forwards pay them twice.
  t.overhead_s = static_cast<double>(d.num_layers) *
                 (N * kKernelsPerBlock * kLaunchSeconds + (slices - 1) * 2 * N * kLaunchSeconds);
  t.total_s = t.linear_s + t.attention_s + t.elementwise_s + t.overhead_s;
  return t;
}

ForwardTime dit_forward_time_cpu(const models::DitShape& d, const LatentGrid& g, int64_t text_len, int batch,
                                 const CpuSpec& cpu) {
  const DitFlops f = dit_flops(d, g, text_len, batch);
  ForwardTime t;
  t.linear_flops = f.linear_block + f.linear_other;
  t.attention_flops = f.attention;
  t.elementwise_bytes = 2 * f.elementwise;  // f32 activations
  t.linear_s = t.linear_flops / (cpu.gemm_gflops * 1e9);
  t.attention_s = t.attention_flops / (cpu.attention_gflops * 1e9);
  t.elementwise_s = t.elementwise_bytes / (cpu.mem_bw_gbs * 1e9);
  t.overhead_s = static_cast<double>(d.num_layers) * 40 * kCpuOpSeconds;
  t.total_s = t.linear_s + t.attention_s + t.elementwise_s + t.overhead_s;
  return t;
}

double stream_exposed(int blocks, int resident, double copy_s, double compute_s) {
  const int streamed = blocks - std::clamp(resident, 0, blocks);
  if (streamed <= 0) return 0;
  const double per_block = std::max(0.0, copy_s - compute_s);
  const double first = std::max(0.0, copy_s - resident * compute_s);
  return streamed * per_block + first;
}

namespace {

void add(StageTime& st, const std::string& name, double s, const std::string& formula) {
  if (s <= 0) return;
  st.terms.push_back({name, s, formula});
  st.seconds += s;
}

double t5_linear_flops(const models::T5Shape& t, double tokens) {
  const double per_layer = 4 * static_cast<double>(t.dim * t.dim_attn) + 3 * static_cast<double>(t.dim * t.dim_ffn);
  return 2 * tokens * per_layer * static_cast<double>(t.num_layers);
}

}  // namespace

TimeEstimate estimate_time(const ModelSpec& m, const Workload& w, const Plan& p, const Hardware& hw) {
  TimeEstimate est;
  const LatentGrid g = latent_grid(m, w.width, w.height, w.frames);
  const bool gpu = p.on_gpu && hw.gpu.has_value();
  const bool i2v = w.image_to_video || m.needs_image;
  const int prompts = w.cfg() ? 2 : 1;
  const bool batched = w.cfg() && p.cfg_batch && (!p.on_gpu || g.tokens <= kCfgBatchMaxTokens);
  const int batch = batched ? 2 : 1;
  est.forwards_per_step = w.cfg() && !batched ? 2 : 1;
  const CpuSpec& cpu = hw.cpu;
  const double pcie = gpu ? hw.gpu->pcie_gbs * 1e9 : 1;

  // ---- text encoding ----
  {
    StageTime st{Stage::kTextEncode, 0, {}};
    const double tokens = prompts * static_cast<double>(m.text_len);
    const double flops = t5_linear_flops(m.t5, tokens);
    const ComponentWeights t5 = t5_weights(m.t5, p.text_format);
    if (!gpu || p.text == Placement::kCpu) {
      add(st, "UMT5 on the CPU", flops / (cpu.gemm_gflops * 1e9),
          num(flops / 1e12) + " TFLOP / " + num(cpu.gemm_gflops) + " GFLOP/s");
    } else {
      const double compute = flops / (hw.gpu->gemm_tflops * 1e12 * gemm_efficiency(tokens));
      add(st, "UMT5 GEMMs", compute, num(flops / 1e12) + " TFLOP at " + num(hw.gpu->gemm_tflops) + " TFLOP/s x efficiency");
      if (p.text == Placement::kStreamed) {
        const double copy = t5.block_bytes * t5.blocks / pcie;
        add(st, "layer streaming (not hidden)", std::max(0.0, copy - compute) + t5.block_bytes / pcie,
            gib_str(t5.block_bytes * t5.blocks) + " over PCIe at " + num(hw.gpu->pcie_gbs) + " GB/s");
      }
    }
    est.stages.push_back(st);
  }

  // ---- image encoding ----
  const VaeTiling tiling = vae_tiling(m, w.width, w.height, p.vae_tile, p.vae_overlap);
  if (i2v) {
    StageTime st{Stage::kImageEncode, 0, {}};
    const VaeWalk e = vae_encode_walk(m.vae, 1, tiling.lat_h * m.vae_stride_s(), tiling.lat_w * m.vae_stride_s(), 2);
    const double flops = e.flops * tiling.tiles_x * tiling.tiles_y;
    if (gpu) {
      add(st, "VAE encoder convolutions", flops / (hw.gpu->conv_tflops * 1e12), num(flops / 1e12) + " TFLOP");
      if (p.vae == Placement::kOffloaded)
        add(st, "copy the encoder in", vae_weights(m.vae, p.vae_format, false).total_bytes / pcie, "");
    } else {
      add(st, "VAE encoder on the CPU", flops / (cpu.gemm_gflops * 1e9), num(flops / 1e12) + " TFLOP");
    }
    est.stages.push_back(st);
  }

  // ---- denoising ----
  {
    StageTime st{Stage::kDenoise, 0, {}};
    ForwardTime f = gpu ? dit_forward_time_gpu(m.dit, g, m.text_len, batch, p.checkpoint_segments, p.attention_slice,
                                               p.dit_format, *hw.gpu)
                        : dit_forward_time_cpu(m.dit, g, m.text_len, batch, cpu);
    est.forward_s = f.total_s;
    const double steps = w.steps, fps = est.forwards_per_step;
    const std::string per = " x " + num(steps * fps, 4) + " forwards";
    add(st, "linear layers", f.linear_s * steps * fps, num(f.linear_flops / 1e12) + " TFLOP per forward" + per);
    add(st, "attention", f.attention_s * steps * fps, num(f.attention_flops / 1e12) + " TFLOP per forward" + per);
    add(st, "norms, RoPE, residuals", f.elementwise_s * steps * fps,
        num(f.elementwise_bytes / 1e9) + " GB per forward" + per);
    add(st, "segment/slice launch overhead", f.overhead_s * steps * fps, "");
    if (gpu && p.dit == Placement::kStreamed) {
      // The first forward (of each expert) brings every block over PCIe, keeping the resident ones;
      // later forwards stream only the others. Copies overlap the compute of earlier blocks.
      const ComponentWeights dw = dit_weights(m.dit, p.dit_format);
      const int k = std::clamp(p.dit_resident_blocks, 0, dw.blocks);
      const double copy = dw.block_bytes / pcie, compute = f.total_s / dw.blocks;
      const double per_forward = stream_exposed(dw.blocks, k, copy, compute);
      const double first = stream_exposed(dw.blocks, 0, copy, compute) + dw.other_bytes / pcie;
      est.stream_exposed_s = fps * per_forward;
      add(st, "block streaming not hidden by compute", est.stream_exposed_s * steps,
          std::to_string(dw.blocks - k) + " blocks x " + num(copy * 1e3) + " ms copy vs " + num(compute * 1e3) +
              " ms compute, per forward");
      add(st, "first forward brings every block", m.experts * (first - per_forward),
          m.experts > 1 ? "per expert (at the start and at the expert switch)" : "once, embeddings/head up front");
    }
    est.step_s = fps * f.total_s + est.stream_exposed_s;
    est.stages.push_back(st);
  }

  // ---- VAE decode ----
  {
    StageTime st{Stage::kVaeDecode, 0, {}};
    const int chunk = std::max(1, p.vae_chunk);
    const VaeWalk d = vae_decode_walk(m.vae, chunk, tiling.lat_h, tiling.lat_w, 2);
    const double chunks = (static_cast<double>(g.frames) - 1) / chunk + 0.25;  // the first chunk yields 1 frame
    const double tiles = tiling.tiles_x * tiling.tiles_y;
    const double flops = d.flops * chunks * tiles;
    const std::string what = num(flops / 1e12) + " TFLOP (" + num(tiles) + " tile(s), recompute x" +
                             num(tiling.recompute) + ")";
    if (gpu) {
      add(st, "VAE decoder convolutions", flops / (hw.gpu->conv_tflops * 1e12), what + " at " + num(hw.gpu->conv_tflops) + " TFLOP/s");
      add(st, "per tile and chunk overhead", tiles * chunks * 2e-3, "2 ms each");
      if (p.vae == Placement::kOffloaded)
        add(st, "copy the decoder in", vae_weights(m.vae, p.vae_format, true).total_bytes / pcie, "");
      add(st, "video to the host", 3.0 * w.frames * w.width * w.height * 4 / pcie, "f32 frames over PCIe");
    } else {
      add(st, "VAE decoder on the CPU", flops / (cpu.gemm_gflops * 1e9), what);
    }
    est.stages.push_back(st);
  }
  for (const auto& st : est.stages) est.total_s += st.seconds;
  return est;
}

}  // namespace wan22::plan
