#include "plan/plan_report.h"
#include "plan/planner.h"

#include <cstdio>
#include <sstream>

#include "plan/plan_config.h"

namespace wan22::plan {

namespace {

double gib(double b) { return b / kGiB; }

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string seconds(double s) {
  if (s >= 100) return fixed(s, 0) + " s";
  if (s >= 10) return fixed(s, 1) + " s";
  if (s >= 0.1) return fixed(s, 2) + " s";
  return fixed(s * 1e3, 1) + " ms";
}

}  // namespace

nlohmann::json plan_json(const PlanResult& r, const Hardware& hw) {
  using nlohmann::json;
  const Plan& p = r.plan;
  const LatentGrid g = latent_grid(r.model, r.workload.width, r.workload.height, r.workload.frames);
  json j;
  j["hardware"] = to_json(hw);
  j["device"] = r.device;
  j["workload"] = {{"model", r.model.name},
                   {"width", r.workload.width},
                   {"height", r.workload.height},
                   {"frames", r.workload.frames},
                   {"steps", r.workload.steps},
                   {"guidance", r.workload.guidance},
                   {"image_to_video", r.workload.image_to_video || r.model.needs_image},
                   {"latent", {{"frames", g.frames}, {"height", g.height}, {"width", g.width}}},
                   {"tokens", g.tokens}};
  j["budget_gib"] = gib(r.budget_bytes);
  j["budget_source"] = r.budget_source;
  j["plan"] = {{"on_gpu", p.on_gpu},
               {"dit", {{"placement", placement_name(p.dit)},
                        {"resident_blocks", p.dit == Placement::kStreamed ? p.dit_resident_blocks : r.model.dit.num_layers},
                        {"blocks", r.model.dit.num_layers},
                        {"experts", r.model.experts},
                        {"format", format_name(p.dit_format)}}},
               {"cfg_batch", p.cfg_batch},
               {"checkpoint_segments", p.checkpoint_segments},
               {"attention_slice_size", p.attention_slice},
               {"text_encoder", {{"placement", placement_name(p.text)}, {"format", format_name(p.text_format)}}},
               {"vae", {{"placement", placement_name(p.vae)},
                        {"format", format_name(p.vae_format)},
                        {"tile", p.vae_tile},
                        {"overlap", p.vae_overlap},
                        {"temporal_chunk", p.vae_chunk},
                        {"reuse_buffers", p.vae_reuse_buffers}}}};
  json stages = json::object();
  json metrics = json::object();
  for (const auto& st : r.memory.stages) {
    json terms = json::array();
    for (const auto& t : st.terms) terms.push_back({{"name", t.name}, {"gib", gib(t.bytes)}, {"formula", t.formula}});
    json o = {{"peak_gib", gib(st.device_bytes)},
              {"alloc_peak_gib", gib(st.alloc_bytes)},
              {"weights_gib", gib(st.weight_bytes)},
              {"activations_gib", gib(st.activation_bytes)},
              {"workspace_gib", gib(st.workspace_bytes)},
              {"margin_gib", gib(st.margin_bytes)},
              {"memory_terms", terms}};
    if (const StageTime* t = r.time.stage(st.stage)) {
      o["seconds"] = t->seconds;
      json tt = json::array();
      for (const auto& x : t->terms) tt.push_back({{"name", x.name}, {"seconds", x.seconds}, {"formula", x.formula}});
      o["time_terms"] = tt;
    }
    stages[stage_name(st.stage)] = o;
    metrics[std::string(stage_name(st.stage)) + "_peak_gib"] = gib(st.device_bytes);
    metrics[std::string(stage_name(st.stage)) + "_alloc_peak_gib"] = gib(st.alloc_bytes);
    if (const StageTime* t = r.time.stage(st.stage)) metrics[std::string(stage_name(st.stage)) + "_s"] = t->seconds;
  }
  metrics["peak_gib"] = gib(r.memory.peak_device);
  metrics["generate_s"] = r.time.total_s;
  metrics["dit_forward_s"] = r.time.forward_s;
  metrics["denoise_step_s"] = r.time.step_s;
  json host = json::array();
  for (const auto& t : r.memory.host_terms) host.push_back({{"name", t.name}, {"gib", gib(t.bytes)}, {"formula", t.formula}});
  const double context = p.on_gpu && hw.gpu ? static_cast<double>(hw.gpu->context_bytes) : 0;
  const double outside = outside_allocator_bytes(hw) * (p.on_gpu ? 1 : 0);
  j["predicted"] = {{"peak_gib", gib(r.memory.peak_device)},
                    {"alloc_peak_gib", gib(r.memory.peak_alloc)},
                    {"peak_stage", stage_name(r.memory.peak_stage)},
                    {"context_gib", gib(context)},
                    {"peak_with_context_gib", gib(r.memory.peak_device + context)},
                    {"process_peak_gib", gib(r.memory.peak_device + outside)},
                    {"total_s", r.time.total_s},
                    {"dit_forward_s", r.time.forward_s},
                    {"forwards_per_step", r.time.forwards_per_step},
                    {"step_s", r.time.step_s},
                    {"stream_exposed_per_step_s", r.time.stream_exposed_s},
                    {"stages", stages},
                    {"host", {{"pinned_gib", gib(r.memory.host_pinned_bytes)}, {"total_gib", gib(r.memory.host_bytes)}, {"terms", host}}},
                    {"metrics", metrics}};
  j["notes"] = r.notes;
  j["settings"] = plan_document(r);
  j["candidates_evaluated"] = r.candidates;
  return j;
}

std::string plan_text(const PlanResult& r, const Hardware& hw, bool terms) {
  std::ostringstream o;
  o << "workload: " << r.workload.str() << "\n";
  o << "device:   " << r.device << "\n";
  if (hw.gpu && r.plan.on_gpu) {
    const GpuSpec& g = *hw.gpu;
    o << "          GEMM " << fixed(g.gemm_tflops, 0) << " TFLOP/s, attention " << fixed(g.attention_tflops, 0)
      << ", conv " << fixed(g.conv_tflops, 0) << (g.has_fp8() ? ", fp8 " + fixed(g.fp8_tflops, 0) : std::string())
      << ", PCIe " << fixed(g.pcie_gbs, 0) << " GB/s (" << g.source << ")\n";
  } else {
    o << "          " << fixed(hw.cpu.gemm_gflops, 0) << " GFLOP/s GEMM (" << hw.cpu.source << ")\n";
  }
  o << "budget:   " << gib_str(r.budget_bytes) << " (" << r.budget_source << ")\n";
  o << "plan:\n";
  for (const auto& n : r.notes) o << "  - " << n << "\n";
  o << "predicted:\n";
  char line[256];
  std::snprintf(line, sizeof(line), "  %-14s %10s %10s %10s\n", "stage", "peak", "allocator", "time");
  o << line;
  for (const auto& st : r.memory.stages) {
    const StageTime* t = r.time.stage(st.stage);
    std::snprintf(line, sizeof(line), "  %-14s %10s %10s %10s\n", stage_name(st.stage), gib_str(st.device_bytes).c_str(),
                  gib_str(st.alloc_bytes).c_str(), t ? seconds(t->seconds).c_str() : "-");
    o << line;
    if (terms) {
      for (const auto& x : st.terms) {
        std::snprintf(line, sizeof(line), "      %-52s %10s  ", x.name.c_str(), gib_str(x.bytes).c_str());
        o << line << x.formula << "\n";
      }
      if (st.workspace_bytes > 0) o << "      workspaces " << gib_str(st.workspace_bytes) << ", fragmentation margin "
                                    << gib_str(st.margin_bytes) << "\n";
      if (t)
        for (const auto& x : t->terms) {
          std::snprintf(line, sizeof(line), "      time: %-46s %10s  ", x.name.c_str(), seconds(x.seconds).c_str());
          o << line << x.formula << "\n";
        }
    }
  }
  std::snprintf(line, sizeof(line), "  %-14s %10s %10s %10s\n", "whole run", gib_str(r.memory.peak_device).c_str(),
                gib_str(r.memory.peak_alloc).c_str(), seconds(r.time.total_s).c_str());
  o << line;
  o << "  peak in " << stage_name(r.memory.peak_stage);
  if (r.plan.on_gpu && hw.gpu)
    o << "; the process with the CUDA context (~" << gib_str(static_cast<double>(hw.gpu->context_bytes))
      << ") and the libraries' memory outside the allocator (<= " << gib_str(kWorkspaceReserveBytes) << ") "
      << gib_str(r.memory.peak_device + outside_allocator_bytes(hw));
  o << "\n  one DiT forward " << seconds(r.time.forward_s) << " (batch " << (r.workload.cfg() && r.time.forwards_per_step == 1 ? 2 : 1)
    << "), one step " << seconds(r.time.step_s);
  if (r.time.stream_exposed_s > 0) o << " incl. " << seconds(r.time.stream_exposed_s) << " of streaming not hidden";
  o << "\n  host memory: " << gib_str(r.memory.host_bytes) << " (pinned " << gib_str(r.memory.host_pinned_bytes) << ")\n";
  return o.str();
}

}  // namespace wan22::plan
