#include "plan/planner.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/status.h"

namespace wan22::plan {

namespace {

// Plans whose predicted times differ by less than this fraction count as equally fast.
constexpr double kTimeTie = 0.0005;

std::string num(double v, int prec = 3) {
  std::ostringstream s;
  s.precision(prec);
  s << v;
  return s.str();
}

struct Search {
  const ModelSpec& m;
  const Workload& w;
  const Hardware& hw;
  const PlannerOptions& o;
  double budget = 0;      // what the plan's stages may hold (the allocator cap: budget - outside)
  double vae_cap = 0;     // the VAE decode stage's cap in the same terms (0: none)
  double ram_limit = 0;   // 0: unknown RAM, not checked
  int evals = 0;

  bool fits(const Plan& p, MemoryEstimate* out = nullptr) {
    ++evals;
    MemoryEstimate e = estimate_memory(m, w, p);
    bool ok = e.peak_device <= budget && (ram_limit <= 0 || e.host_bytes <= ram_limit) &&
              (vae_cap <= 0 || e.stage(Stage::kVaeDecode)->device_bytes <= vae_cap);
    // A CFG batch of 2 (chosen by the planner) only within the threshold's share of the budget.
    if (ok && o.dynamic_batch && p.cfg_batch && w.cfg() && p.on_gpu) {
      ok = e.stage(Stage::kDenoise)->device_bytes <= o.batch_threshold * budget;
    }
    if (out) *out = std::move(e);
    return ok;
  }

  // The DiT streamed with as many resident blocks as fit (memory grows with them). False when not
  // even 0 resident blocks fit. (Resident and streamed are both candidates: a resident DiT also
  // occupies the other stages, so streaming it can leave room for a faster VAE decode.)
  bool stream_dit(Plan& p) {
    p.dit = Placement::kStreamed;
    const int layers = static_cast<int>(m.dit.num_layers);
    p.dit_resident_blocks = 0;
    if (!fits(p)) return false;
    int lo = 0, hi = layers;  // lo fits
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      p.dit_resident_blocks = mid;
      if (fits(p)) lo = mid;
      else hi = mid - 1;
    }
    p.dit_resident_blocks = lo;
    return true;
  }
};

std::vector<WeightFormat> dit_formats(const Hardware& hw, bool quantized) {
  std::vector<WeightFormat> f = {WeightFormat::kBF16};
  if (quantized) {
    if (hw.gpu && hw.gpu->has_fp8()) f.push_back(WeightFormat::kFP8);
    f.push_back(WeightFormat::kInt8);
  }
  return f;
}

// How many memory-saving measures a plan takes (0: everything resident, bf16, one segment, CFG as
// a batch, untiled VAE).
int complexity(const Plan& p, const Workload& w) {
  return (p.dit != Placement::kResident) + (p.text != Placement::kResident) + (p.vae != Placement::kResident) +
         (p.checkpoint_segments > 1) + (w.cfg() && !p.cfg_batch) + (p.vae_tile > 0) +
         (p.dit_format != WeightFormat::kBF16);
}

int overlap_for(int tile, int overlap) { return tile == 0 ? 0 : std::min(overlap, tile / 4); }

// Candidate plans of the GPU grid (the DiT placement is decided by the caller).
template <class Fn>
void for_each_gpu_candidate(const Search& s, const std::vector<WeightFormat>& formats, Fn&& fn) {
  std::vector<bool> cfg_modes = {true};
  if (s.w.cfg()) {
    if (s.o.max_batch < 2) cfg_modes = {false};                 // no batch of 2 allowed
    else if (!s.o.dynamic_batch) cfg_modes = {s.o.cfg_batch};   // as configured
    else cfg_modes = {true, false};                             // the planner decides
  }
  for (WeightFormat f : formats)
    for (Placement text : {Placement::kResident, Placement::kStreamed, Placement::kCpu})
      for (Placement vae : {Placement::kResident, Placement::kOffloaded})
        for (int tile : s.o.tiles)
          for (bool cfg_batch : cfg_modes)
            for (int seg : s.o.segments) {
              Plan p;
              p.on_gpu = true;
              p.dit_format = f;
              p.text = text;
              p.vae = vae;
              p.vae_tile = tile;
              p.vae_overlap = overlap_for(tile, s.o.overlap);
              p.cfg_batch = cfg_batch;
              p.checkpoint_segments = seg;
              p.vae_reuse_buffers = s.o.budget_gib <= 0;  // the CUDA VAE's pool: off under a budget
              fn(p);
            }
}

void finish(PlanResult& r, const Hardware& hw) {
  r.memory = estimate_memory(r.model, r.workload, r.plan);
  r.time = estimate_time(r.model, r.workload, r.plan, hw);
}

std::string dev_name(const Hardware& hw, const Plan& p) {
  if (p.on_gpu && hw.gpu) return hw.gpu->name + " (" + gib_str(static_cast<double>(hw.gpu->memory_bytes)) + ")";
  return "CPU (" + hw.cpu.model + ", " + std::to_string(hw.cpu.cores) + " threads)";
}

void explain(PlanResult& r, const Hardware& hw) {
  const Plan& p = r.plan;
  const ModelSpec& m = r.model;
  auto& n = r.notes;
  if (!p.on_gpu) {
    n.push_back("everything runs on the CPU backend; the budget is the RAM (" + gib_str(r.budget_bytes) + ")");
    n.push_back("activation segments and attention slicing do not apply to the CPU backend's memory (its attention "
                "never materialises the scores)");
    if (p.vae_tile) n.push_back("VAE tiles " + std::to_string(p.vae_tile) + " px keep the decode inside the RAM budget");
    return;
  }
  const ComponentWeights dw = dit_weights(m.dit, p.dit_format);
  const double pcie = hw.gpu->pcie_gbs * 1e9;
  if (p.dit == Placement::kResident) {
    n.push_back("DiT resident in " + std::string(format_name(p.dit_format)) + " (" +
                gib_str(dw.total_bytes * m.experts) + ")");
  } else if (p.dit_resident_blocks >= dw.blocks) {
    n.push_back("DiT on the device only while denoising: uploaded whole from pinned host memory at its start (" +
                num((dw.total_bytes * m.experts) / pcie) + " s), freed for the other stages");
  } else {
    const double copy = dw.block_bytes / pcie;
    const double compute = r.time.forward_s / dw.blocks;
    n.push_back("DiT streamed from pinned host memory: " + std::to_string(p.dit_resident_blocks) + " of " +
                std::to_string(dw.blocks) + " blocks resident during denoising, the rest prefetched double-buffered (" +
                num(copy * 1e3) + " ms copy per block vs " + num(compute * 1e3) + " ms compute: " +
                (copy <= compute ? "hidden" : num(r.time.stream_exposed_s) + " s per step exposed") + ")");
  }
  if (p.dit_format != WeightFormat::kBF16)
    n.push_back("DiT weights quantized to " + std::string(format_name(p.dit_format)) +
                " (per-output-channel scales); the quality check against bf16 (ti2v_5b_quantization.quality_threshold) "
                "decides at run time");
  if (r.workload.cfg())
    n.push_back(!p.cfg_batch ? "CFG: the two branches one after the other (half the activation memory)"
                : p.on_gpu && plan::latent_grid(r.model, r.workload.width, r.workload.height, r.workload.frames).tokens >
                                  kCfgBatchMaxTokens
                    ? "CFG: the two branches one after the other (above " + std::to_string(kCfgBatchMaxTokens) +
                          " tokens a batch of 2 is no faster on the GPU)"
                    : "CFG: both branches as one batch of 2 (one pass over the weights per step)");
  if (p.checkpoint_segments > 1)
    n.push_back("attention queries and FFN run over " + std::to_string(p.checkpoint_segments) +
                " token segments (activation chunking)");
  n.push_back("attention_slice_size 0 (all heads): flash attention never materialises the scores, so slicing "
              "heads saves no device memory");
  switch (p.text) {
    case Placement::kResident: n.push_back("text encoder resident on the GPU"); break;
    case Placement::kStreamed:
      n.push_back("text encoder streamed layer by layer from pinned host memory (token embedding looked up on the "
                  "host)");
      break;
    default: n.push_back("text encoder on the CPU (no device memory)"); break;
  }
  n.push_back(std::string("VAE ") + (p.vae == Placement::kResident ? "resident" : "offloaded (copied in for decoding)") +
              (p.vae_tile ? ", decoded in " + std::to_string(p.vae_tile) + " px tiles with " +
                                std::to_string(p.vae_overlap) + " px overlap"
                          : ", decoded untiled") +
              ", causal chunks of " + std::to_string(p.vae_chunk) + " latent frame(s), " +
              (p.vae_reuse_buffers ? "buffer reuse on (faster, holds more memory)" : "buffer reuse off (smallest peak)"));
}

}  // namespace

double usable_device_bytes(const Hardware& hw) {
  if (!hw.gpu) return 0;
  const double total = static_cast<double>(hw.gpu->memory_bytes);
  const double reserve = std::max(256 * kMiB, 0.02 * total);
  return std::max(0.0, total - static_cast<double>(hw.gpu->context_bytes) - reserve);
}

double outside_allocator_bytes(const Hardware& hw) {
  return hw.gpu ? static_cast<double>(hw.gpu->context_bytes) + kWorkspaceReserveBytes : 0.0;
}

namespace {
// The stages' room under a process budget of `gib` (the engine's allocator cap), capped at the
// usable device memory; 0 when the budget does not even cover what lies outside the allocator.
double stage_room(double gib, const Hardware& hw) {
  return std::max(0.0, std::min(gib * kGiB - outside_allocator_bytes(hw), usable_device_bytes(hw)));
}
std::string budget_words(double gib, const Hardware& hw) {
  return "--vram-budget " + num(gib) + " GiB for the process, minus the CUDA context (" +
         gib_str(static_cast<double>(hw.gpu->context_bytes)) + ") and the workspace reserve (" +
         gib_str(kWorkspaceReserveBytes) + ")";
}
}  // namespace

PlanResult evaluate_plan(const ModelSpec& m, const Workload& w, const Hardware& hw, const Plan& p,
                         const PlannerOptions& o) {
  PlanResult r;
  r.model = m;
  r.workload = w;
  r.plan = p;
  r.requested_budget_gib = o.budget_gib;
  if (p.on_gpu && !hw.gpu) throw Error(ErrorCode::kInvalidArgument, "the plan is for a GPU but the hardware has none");
  if (p.on_gpu) {
    const double usable = usable_device_bytes(hw);
    r.budget_bytes = o.budget_gib > 0 ? stage_room(o.budget_gib, hw) : usable;
    r.budget_source = o.budget_gib > 0 ? budget_words(o.budget_gib, hw) : "device memory minus context and reserve";
  } else {
    r.budget_bytes = static_cast<double>(hw.ram_bytes) * o.ram_fraction;
    r.budget_source = num(o.ram_fraction * 100) + "% of the RAM";
  }
  r.device = dev_name(hw, p);
  finish(r, hw);
  explain(r, hw);
  return r;
}

double smallest_budget(const ModelSpec& m, const Workload& w, const Hardware& hw, const PlannerOptions& o,
                       Plan* smallest) {
  Search s{m, w, hw, o};
  s.budget = 1e300;
  s.ram_limit = hw.ram_bytes > 0 ? static_cast<double>(hw.ram_bytes) * o.ram_fraction : 0;
  double best = 1e300;
  Plan best_plan;
  for_each_gpu_candidate(s, dit_formats(hw, true), [&](Plan p) {
    if (p.text == Placement::kResident || p.vae == Placement::kResident) return;  // never smaller
    p.vae_reuse_buffers = false;  // the smallest VAE peak
    p.dit = Placement::kStreamed;
    p.dit_resident_blocks = 0;
    MemoryEstimate e = estimate_memory(m, w, p);
    if (s.ram_limit > 0 && e.host_bytes > s.ram_limit) return;
    if (e.peak_device < best) {
      best = e.peak_device;
      best_plan = p;
    }
  });
  if (smallest) *smallest = best_plan;
  return best >= 1e299 ? best : best + outside_allocator_bytes(hw);
}

PlanResult make_plan(const ModelSpec& m, const Workload& w, const Hardware& hw, const PlannerOptions& o) {
  latent_grid(m, w.width, w.height, w.frames);  // validates the size
  if (w.steps < 1) throw Error(ErrorCode::kInvalidArgument, "steps must be at least 1");
  Search s{m, w, hw, o};
  s.ram_limit = hw.ram_bytes > 0 ? static_cast<double>(hw.ram_bytes) * o.ram_fraction : 0;
  PlanResult r;
  r.model = m;
  r.workload = w;
  r.requested_budget_gib = o.budget_gib;

  // ---- CPU-only ----
  // The CPU backend memory-maps the weights (page cache, evictable): the RAM budget is checked
  // against the anonymous memory (activations, VAE caches, video); weights that do not fit next to
  // it are a paging warning, not an error.
  if (!hw.gpu || o.force_cpu) {
    s.budget = s.ram_limit > 0 ? s.ram_limit : 1e300;
    auto anon_peak = [&](const MemoryEstimate& e) {
      double a = 0;
      for (const auto& st : e.stages) a = std::max(a, st.device_bytes - st.weight_bytes);
      return a;
    };
    bool found = false;
    double best_t = 1e300, smallest = 1e300;
    for (int tile : o.tiles) {
      Plan p;
      p.on_gpu = false;
      p.dit = p.text = p.vae = Placement::kCpu;
      p.dit_format = p.text_format = WeightFormat::kBF16;
      p.vae_format = WeightFormat::kF32;
      p.vae_tile = tile;
      p.vae_overlap = overlap_for(tile, o.overlap);
      p.checkpoint_segments = 1;
      ++s.evals;
      const double need = anon_peak(estimate_memory(m, w, p));
      smallest = std::min(smallest, need);
      if (need > s.budget) continue;
      const double t = estimate_time(m, w, p, hw).total_s;
      if (!found || t < best_t - 1e-12) {
        found = true;
        best_t = t;
        r.plan = p;
      }
    }
    if (!found) {
      throw Error(ErrorCode::kOutOfMemory, "no CPU plan for " + w.str() + " fits in " + gib_str(s.budget) + " (" +
                                               num(o.ram_fraction * 100) + "% of " +
                                               gib_str(static_cast<double>(hw.ram_bytes)) +
                                               " RAM): the smallest needs " + gib_str(smallest) +
                                               " besides the memory-mapped weights");
    }
    r.budget_bytes = s.budget;
    r.budget_source = hw.ram_bytes > 0 ? num(o.ram_fraction * 100) + "% of the RAM" : "RAM unknown: not checked";
    r.device = dev_name(hw, r.plan);
    r.candidates = s.evals;
    finish(r, hw);
    explain(r, hw);
    if (!hw.gpu)
      r.notes.insert(r.notes.begin(), hw.gpu_status.rfind("no GPU", 0) == 0 ? hw.gpu_status : "no GPU: " + hw.gpu_status);
    if (o.budget_gib > 0) r.notes.push_back("--vram-budget does not apply to a CPU plan");
    if (hw.ram_bytes > 0 && r.memory.peak_device > static_cast<double>(hw.ram_bytes))
      r.notes.push_back("the memory-mapped weights and the activations (" + gib_str(r.memory.peak_device) +
                        ") exceed the RAM (" + gib_str(static_cast<double>(hw.ram_bytes)) + "): expect paging");
    return r;
  }

  // ---- GPU ----
  const double usable = usable_device_bytes(hw);
  s.budget = o.budget_gib > 0 ? stage_room(o.budget_gib, hw) : usable;
  if (o.vae_budget_gib > 0) s.vae_cap = std::max(0.0, o.vae_budget_gib * kGiB - static_cast<double>(hw.gpu->context_bytes));
  r.budget_bytes = s.budget;
  r.budget_source = o.budget_gib > 0 ? budget_words(o.budget_gib, hw) : "device memory minus context and reserve";
  if (o.budget_gib * kGiB - outside_allocator_bytes(hw) > usable)
    r.notes.push_back("the budget " + num(o.budget_gib) + " GiB is more than the usable device memory; capped at " +
                      gib_str(usable));

  // Every feasible candidate; the fastest wins. Among plans within kTimeTie of the fastest (the time
  // model cannot tell them apart) the one with the fewest departures from "everything resident,
  // bf16, untiled, CFG batch" wins, then the one with the smallest peak (headroom).
  struct Candidate {
    Plan plan;
    double time, peak;
  };
  std::vector<Candidate> feasible;
  auto search = [&](const std::vector<WeightFormat>& formats) {
    for_each_gpu_candidate(s, formats, [&](Plan p) {
      p.dit = Placement::kResident;
      MemoryEstimate e;
      if (s.fits(p, &e)) feasible.push_back({p, estimate_time(m, w, p, hw).total_s, e.peak_device});
      if (s.stream_dit(p)) feasible.push_back({p, estimate_time(m, w, p, hw).total_s, estimate_memory(m, w, p).peak_device});
    });
  };
  search(dit_formats(hw, o.allow_quantization));
  bool quantized_to_fit = false;
  if (feasible.empty() && !o.allow_quantization) {
    search(dit_formats(hw, true));
    quantized_to_fit = !feasible.empty();
  }
  const bool found = !feasible.empty();
  if (found) {
    double fastest = 1e300;
    for (const auto& c : feasible) fastest = std::min(fastest, c.time);
    const Candidate* best = nullptr;
    for (const auto& c : feasible) {
      if (c.time > fastest * (1 + kTimeTie)) continue;
      const int cx = complexity(c.plan, w);
      if (!best || cx < complexity(best->plan, w) || (cx == complexity(best->plan, w) && c.peak < best->peak)) best = &c;
    }
    r.plan = best->plan;
  }
  r.candidates = s.evals;
  if (!found && o.vae_budget_gib > 0) {
    Plan small;
    small.vae = Placement::kOffloaded;
    small.text = Placement::kCpu;
    small.dit = Placement::kStreamed;
    small.vae_tile = o.tiles.back();
    small.vae_overlap = overlap_for(small.vae_tile, o.overlap);
    small.vae_reuse_buffers = false;
    const double vae_need = estimate_memory(m, w, small).stage(Stage::kVaeDecode)->device_bytes;
    if (vae_need > s.vae_cap)
      throw Error(ErrorCode::kOutOfMemory, "no VAE decode of " + w.str() + " fits --vae-budget " + num(o.vae_budget_gib) +
                                               " GiB: the smallest tile (" + std::to_string(small.vae_tile) +
                                               " px) needs " + gib_str(vae_need) + " besides the CUDA context (" +
                                               gib_str(static_cast<double>(hw.gpu->context_bytes)) + ")");
  }
  if (!found) {
    Plan smallest;
    const double need = smallest_budget(m, w, hw, o, &smallest);
    std::string msg = "no plan for " + w.str() + " fits in " + r.budget_source + " = " + gib_str(s.budget) + " on " +
                      hw.gpu->name;
    if (need >= 1e299) {
      msg += ": even the smallest plan needs more host memory than " + num(o.ram_fraction * 100) + "% of " +
             gib_str(static_cast<double>(hw.ram_bytes)) + " RAM";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.2f", std::ceil(need / kGiB * 100) / 100);
      msg += ": the smallest plan needs " + gib_str(need) + " with the context and reserve (" + smallest.str() +
             "); give --vram-budget " + buf + " or more";
      if (need - outside_allocator_bytes(hw) > usable) msg += " (more than this device's usable " + gib_str(usable) + ")";
    }
    throw Error(ErrorCode::kOutOfMemory, msg);
  }
  r.device = dev_name(hw, r.plan);
  finish(r, hw);
  explain(r, hw);
  if (quantized_to_fit)
    r.notes.insert(r.notes.begin(), "no bf16 plan fits this budget: the DiT weights are quantized to fit");
  return r;
}

// ---------------------------------------------------------------------------------------------
// backoff

std::optional<Backoff> backoff(const Plan& p, Stage failed, const ModelSpec& m) {
  Backoff b{p, ""};
  const int layers = static_cast<int>(m.dit.num_layers);
  auto text_off = [&]() -> bool {
    if (p.text == Placement::kResident) {
      b.plan.text = Placement::kStreamed;
      b.change = "text encoder resident -> streamed";
      return true;
    }
    return false;
  };
  auto vae_off = [&]() -> bool {
    if (p.vae == Placement::kResident) {
      b.plan.vae = Placement::kOffloaded;
      b.change = "VAE resident -> offloaded";
      return true;
    }
    return false;
  };
  auto dit_off = [&]() -> bool {  // keeps denoising as it is, frees the DiT outside it
    if (p.dit == Placement::kResident) {
      b.plan.dit = Placement::kStreamed;
      b.plan.dit_resident_blocks = layers;
      b.change = "DiT resident -> on the device during denoising only";
      return true;
    }
    return false;
  };
  auto reuse_off = [&]() -> bool {  // the CUDA VAE's buffer pool back to plain allocation
    if (p.vae_reuse_buffers) {
      b.plan.vae_reuse_buffers = false;
      b.change = "VAE buffer reuse on -> off";
      return true;
    }
    return false;
  };
  auto smaller_tile = [&]() -> bool {
    static const int kTiles[] = {1024, 768, 512, 384, 256, 192, 128, 96, 64};
    for (int t : kTiles) {
      if (p.vae_tile == 0 || t < p.vae_tile) {
        b.plan.vae_tile = t;
        b.plan.vae_overlap = std::min(p.vae_overlap > 0 ? p.vae_overlap : 32, t / 4);
        b.change = "VAE tile " + (p.vae_tile ? std::to_string(p.vae_tile) : std::string("off")) + " -> " +
                   std::to_string(t) + " px";
        return true;
      }
    }
    return false;
  };
  auto more_segments = [&]() -> bool {
    if (p.checkpoint_segments < 32) {
      b.plan.checkpoint_segments = std::min(32, std::max(2, p.checkpoint_segments * 2));
      b.change = "checkpoint_segments " + std::to_string(p.checkpoint_segments) + " -> " +
                 std::to_string(b.plan.checkpoint_segments);
      return true;
    }
    return false;
  };
  auto cfg_seq = [&]() -> bool {
    if (p.cfg_batch) {
      b.plan.cfg_batch = false;
      b.change = "CFG batch of 2 -> sequential";
      return true;
    }
    return false;
  };
  auto fewer_blocks = [&]() -> bool {
    if (p.dit == Placement::kResident) {
      b.plan.dit = Placement::kStreamed;
      b.plan.dit_resident_blocks = std::max(0, layers - std::max(1, layers / 4));
    } else if (p.dit_resident_blocks > 0) {
      b.plan.dit_resident_blocks = std::max(0, p.dit_resident_blocks - std::max(1, layers / 4));
    } else {
      return false;
    }
    b.change = "DiT resident blocks " + std::to_string(p.dit == Placement::kResident ? layers : p.dit_resident_blocks) +
               " -> " + std::to_string(b.plan.dit_resident_blocks) + " (the rest streamed)";
    return true;
  };
  auto quantize = [&]() -> bool {
    if (p.dit_format == WeightFormat::kBF16 || p.dit_format == WeightFormat::kFP16 || p.dit_format == WeightFormat::kF32) {
      b.plan.dit_format = WeightFormat::kFP8;
      b.change = std::string("DiT weights ") + format_name(p.dit_format) + " -> fp8";
      return true;
    }
    return false;
  };
  auto text_cpu = [&]() -> bool {
    if (p.text == Placement::kStreamed) {
      b.plan.text = Placement::kCpu;
      b.change = "text encoder streamed -> CPU";
      return true;
    }
    return false;
  };
  if (!p.on_gpu) {
    if (failed == Stage::kVaeDecode || failed == Stage::kImageEncode) {
      if (smaller_tile()) return b;
    }
    return std::nullopt;
  }
  switch (failed) {
    case Stage::kDenoise:
      if (text_off() || vae_off() || more_segments() || cfg_seq() || fewer_blocks() || quantize()) return b;
      break;
    case Stage::kVaeDecode:
    case Stage::kImageEncode:
      if (text_off() || dit_off() || reuse_off() || smaller_tile()) return b;
      break;
    case Stage::kTextEncode:
      if (dit_off() || vae_off() || text_off() || text_cpu()) return b;
      break;
  }
  return std::nullopt;
}

}  // namespace wan22::plan
