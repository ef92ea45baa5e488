#include "plan/hardware.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>

#include "core/status.h"

namespace wan22::plan {

namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

struct KnownGpu {
  const char* match;  // substring of the device name (case-insensitive)
  double memory_mib;
  int cc_major, cc_minor, sms;
  double pcie_gbs, gemm, fp8, attention, conv, bw;
  const char* source;
};

// Achieved throughputs. H200: measured on this project's card (docs/perf/NOTES.md: autotuned GEMMs
// 724-804 TFLOP/s at the DiT's shapes, ~800 effective in the forward without attention; cuDNN
// attention ~560 inside the DiT; copy 4.26 TB/s; pinned H2D 55.4 GB/s; fp8 GEMMs with the scale
// epilogue ~1000; the CUDA VAE decode's convolutions ~600 (2011 TFLOP in 3.07 s)); every other row is an estimate from the datasheet
// peaks (dense, fp32 accumulate) times the efficiency seen on the H200 (GEMM ~0.76, attention
// ~0.57, conv ~0.3, copy ~0.9), to be replaced by measurements.
const KnownGpu kKnown[] = {
    {"H200", 143771, 9, 0, 132, 55, 780, 1000, 560, 600, 4260,
     "measured on an H200 (docs/perf/NOTES.md: fp8 GEMMs ~1000, VAE decode convs ~600 TFLOP/s)"},
    {"H100", 81559, 9, 0, 132, 50, 650, 1150, 480, 260, 3000, "table (datasheet x H200 efficiency)"},
    {"A100", 81920, 8, 0, 108, 24, 240, 0, 180, 95, 1750, "table (datasheet x H200 efficiency)"},
    {"L40S", 46068, 8, 9, 142, 24, 260, 480, 190, 100, 780, "table (datasheet x H200 efficiency)"},
    {"RTX 4090", 24564, 8, 9, 128, 24, 140, 250, 100, 50, 900, "table (datasheet x H200 efficiency)"},
    {"RTX 4080", 16376, 8, 9, 76, 24, 80, 150, 58, 30, 640, "table (datasheet x H200 efficiency)"},
    {"RTX 4060 Ti", 16380, 8, 9, 34, 12, 36, 68, 26, 13, 260, "table (datasheet x H200 efficiency)"},
    {"RTX 3090", 24576, 8, 6, 82, 24, 55, 0, 40, 20, 830, "table (datasheet x H200 efficiency)"},
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const KnownGpu* find_known(const std::string& name) {
  const std::string n = lower(name);
  for (const auto& k : kKnown)
    if (n.find(lower(k.match)) != std::string::npos) return &k;
  return nullptr;
}

// Dense bf16 tensor TFLOP/s per SM at boost clock, by architecture (fp32 accumulate).
double bf16_tflops_per_sm(int major, int minor) {
  if (major >= 9) return 7.5;                 // Hopper
  if (major == 8 && minor == 0) return 2.9;   // A100
  if (major == 8 && minor == 9) return 1.29;  // Ada (GeForce rate)
  if (major == 8) return 0.87;                // GA10x
  if (major == 7) return 1.0;                 // Volta/Turing (fp16)
  return 0.3;
}

}  // namespace

void complete_gpu(GpuSpec& g) {
  const KnownGpu* k = find_known(g.name);
  bool estimated = false;
  if (k) {
    if (g.memory_bytes == 0) g.memory_bytes = static_cast<uint64_t>(k->memory_mib * kMiB);
    if (g.cc_major == 0) g.cc_major = k->cc_major, g.cc_minor = k->cc_minor;
    if (g.sms == 0) g.sms = k->sms;
    if (g.pcie_gbs <= 0) g.pcie_gbs = k->pcie_gbs;
    if (g.gemm_tflops <= 0) g.gemm_tflops = k->gemm;
    if (g.fp8_tflops <= 0) g.fp8_tflops = k->fp8;
    if (g.attention_tflops <= 0) g.attention_tflops = k->attention;
    if (g.conv_tflops <= 0) g.conv_tflops = k->conv;
    if (g.mem_bw_gbs <= 0) g.mem_bw_gbs = k->bw;
    if (g.source.empty()) g.source = k->source;
  }
  const int sms = g.sms > 0 ? g.sms : 40;
  const double peak = bf16_tflops_per_sm(g.cc_major, g.cc_minor) * sms;
  const bool fp8_capable = g.cc_major > 8 || (g.cc_major == 8 && g.cc_minor >= 9);
  auto fill = [&](double& field, double value) {
    if (field <= 0) {
      field = value;
      estimated = true;
    }
  };
  fill(g.gemm_tflops, 0.76 * peak);
  if (fp8_capable) fill(g.fp8_tflops, 1.7 * g.gemm_tflops);
  fill(g.attention_tflops, 0.75 * g.gemm_tflops);
  fill(g.conv_tflops, 0.4 * g.gemm_tflops);
  fill(g.mem_bw_gbs, g.cc_major >= 9 ? 3000 : 600);
  fill(g.pcie_gbs, 12);
  if (g.context_bytes == 0) g.context_bytes = static_cast<uint64_t>(512 * kMiB);
  if (g.source.empty()) g.source = "estimated from compute capability " + g.cc() + " and " + std::to_string(sms) + " SMs";
  else if (estimated && !k) g.source += "; missing numbers estimated";
}

void complete_cpu(CpuSpec& c) {
  if (c.cores < 1) c.cores = 1;
  bool est = false;
  if (c.gemm_gflops <= 0) c.gemm_gflops = 25.0 * c.cores, est = true;
  if (c.attention_gflops <= 0) c.attention_gflops = 0.5 * c.gemm_gflops, est = true;
  if (c.mem_bw_gbs <= 0) c.mem_bw_gbs = std::min(8.0 * c.cores, 150.0), est = true;
  if (c.source.empty()) c.source = est ? "estimated (25 GFLOP/s per logical core)" : "given";
}

Hardware hardware_from_sysinfo(const perf::SystemInfo& info) {
  Hardware hw;
  hw.name = "this machine";
  hw.source = "this machine (wan22 sysinfo)";
  hw.cpu.model = info.cpu.model.value.value_or("unknown CPU");
  hw.cpu.cores = static_cast<int>(info.cpu.logical_cores.value.value_or(1));
  complete_cpu(hw.cpu);
  hw.ram_bytes = info.memory.total_bytes.value.value_or(0);
  for (const auto& g : info.gpus) {
    GpuSpec s;
    if (g.has_cuda) {
      s.name = g.cuda.name;
      s.memory_bytes = g.cuda.total_memory;
      s.cc_major = g.cuda.cc_major;
      s.cc_minor = g.cuda.cc_minor;
      s.sms = g.cuda.multiprocessors;
    }
    if (g.has_nvml) {
      if (s.name.empty() && g.nvml.name.known()) s.name = *g.nvml.name.value;
      if (s.memory_bytes == 0 && g.nvml.memory_total_bytes.known()) s.memory_bytes = *g.nvml.memory_total_bytes.value;
      if (s.cc_major == 0 && g.nvml.compute_capability.known()) {
        const std::string cc = *g.nvml.compute_capability.value;
        size_t dot = cc.find('.');
        if (dot != std::string::npos) {
          s.cc_major = std::atoi(cc.substr(0, dot).c_str());
          s.cc_minor = std::atoi(cc.substr(dot + 1).c_str());
        }
      }
      // The link may idle at a lower generation; only trust gen >= 3.
      if (g.nvml.pcie_gen.known() && g.nvml.pcie_width.known() && *g.nvml.pcie_gen.value >= 3 && !find_known(s.name)) {
        const double lane = *g.nvml.pcie_gen.value >= 5 ? 3.938 : *g.nvml.pcie_gen.value == 4 ? 1.969 : 0.985;
        s.pcie_gbs = 0.85 * lane * *g.nvml.pcie_width.value;
      }
    }
    if (s.memory_bytes == 0) continue;
    complete_gpu(s);
    hw.gpu = s;
    break;  // plans use one GPU (the first)
  }
  if (!hw.gpu) hw.gpu_status = info.gpu_status.empty() ? "no GPU found" : info.gpu_status;
  return hw;
}

namespace {

[[noreturn]] void bad(const std::string& origin, const std::string& field, const std::string& what) {
  throw Error(ErrorCode::kInvalidArgument, origin + ": hardware field '" + field + "' " + what);
}

double num(const nlohmann::json& o, const char* key, const std::string& origin, const std::string& prefix,
           double def = 0) {
  if (!o.contains(key) || o[key].is_null()) return def;
  if (!o[key].is_number()) bad(origin, prefix + key, "must be a number, got " + o[key].dump());
  double v = o[key].get<double>();
  if (!(v >= 0) || !std::isfinite(v)) bad(origin, prefix + key, "must be >= 0, got " + o[key].dump());
  return v;
}

std::string str(const nlohmann::json& o, const char* key, const std::string& origin, const std::string& prefix,
                const std::string& def = "") {
  if (!o.contains(key) || o[key].is_null()) return def;
  if (!o[key].is_string()) bad(origin, prefix + key, "must be a string, got " + o[key].dump());
  return o[key].get<std::string>();
}

void parse_cc(const std::string& cc, GpuSpec& g, const std::string& origin, const std::string& field) {
  size_t dot = cc.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= cc.size())
    bad(origin, field, "must look like \"8.9\", got \"" + cc + "\"");
  g.cc_major = std::atoi(cc.substr(0, dot).c_str());
  g.cc_minor = std::atoi(cc.substr(dot + 1).c_str());
}

// A `wan22 sysinfo --json` document: cpu.logical_cores, memory.total_bytes, gpus[0].
Hardware from_sysinfo_json(const nlohmann::json& j, const std::string& origin) {
  Hardware hw;
  hw.name = origin;
  hw.source = origin + " (sysinfo JSON)";
  const auto& cpu = j["cpu"];
  if (cpu.is_object()) {
    hw.cpu.model = str(cpu, "model", origin, "cpu.", "unknown CPU");
    hw.cpu.cores = static_cast<int>(num(cpu, "logical_cores", origin, "cpu.", 1));
  }
  complete_cpu(hw.cpu);
  if (j.contains("memory") && j["memory"].is_object()) hw.ram_bytes = static_cast<uint64_t>(num(j["memory"], "total_bytes", origin, "memory."));
  if (j.contains("gpus") && j["gpus"].is_array() && !j["gpus"].empty()) {
    const auto& g0 = j["gpus"][0];
    GpuSpec g;
    g.name = str(g0, "name", origin, "gpus[0].");
    g.memory_bytes = static_cast<uint64_t>(num(g0, "memory_total_bytes", origin, "gpus[0]."));
    std::string cc = str(g0, "compute_capability", origin, "gpus[0].");
    if (!cc.empty()) parse_cc(cc, g, origin, "gpus[0].compute_capability");
    if (g0.contains("cuda") && g0["cuda"].is_object())
      g.sms = static_cast<int>(num(g0["cuda"], "multiprocessors", origin, "gpus[0].cuda."));
    const double gen = num(g0, "pcie_link_gen", origin, "gpus[0]."), width = num(g0, "pcie_link_width", origin, "gpus[0].");
    if (gen >= 3 && width > 0 && !find_known(g.name))
      g.pcie_gbs = 0.85 * (gen >= 5 ? 3.938 : gen == 4 ? 1.969 : 0.985) * width;
    if (g.memory_bytes == 0) bad(origin, "gpus[0].memory_total_bytes", "is missing");
    complete_gpu(g);
    hw.gpu = g;
  } else {
    hw.gpu_status = j.contains("gpu_status") && j["gpu_status"].is_string() ? j["gpu_status"].get<std::string>()
                                                                           : "no GPU in the description";
  }
  return hw;
}

}  // namespace

Hardware hardware_from_json(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) throw Error(ErrorCode::kInvalidArgument, origin + ": a hardware description must be a JSON object");
  if (j.contains("gpus") || (j.contains("cpu") && j["cpu"].is_object())) return from_sysinfo_json(j, origin);
  Hardware hw;
  hw.name = str(j, "name", origin, "", origin);
  hw.source = origin;
  hw.ram_bytes = static_cast<uint64_t>(num(j, "ram_gib", origin, "") * kGiB);
  hw.cpu.model = str(j, "cpu_model", origin, "", "unknown CPU");
  hw.cpu.cores = static_cast<int>(num(j, "cpu_cores", origin, "", 1));
  hw.cpu.gemm_gflops = num(j, "cpu_gflops", origin, "");
  hw.cpu.attention_gflops = num(j, "cpu_attention_gflops", origin, "");
  hw.cpu.mem_bw_gbs = num(j, "cpu_mem_bw_gbs", origin, "");
  complete_cpu(hw.cpu);
  for (const auto& [key, v] : j.items()) {
    static const char* known[] = {"name", "ram_gib", "cpu_model", "cpu_cores", "cpu_gflops", "cpu_attention_gflops",
                                  "cpu_mem_bw_gbs", "gpu", "gpu_status", "source"};
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known))
      bad(origin, key, "is not a known field (name, ram_gib, cpu_model, cpu_cores, cpu_gflops, gpu, ...)");
  }
  if (j.contains("gpu") && !j["gpu"].is_null()) {
    const auto& o = j["gpu"];
    if (!o.is_object()) bad(origin, "gpu", "must be an object or null");
    GpuSpec g;
    g.name = str(o, "name", origin, "gpu.", "unknown GPU");
    g.memory_bytes = static_cast<uint64_t>(num(o, "memory_gib", origin, "gpu.") * kGiB);
    const std::string cc = str(o, "compute_capability", origin, "gpu.");
    if (!cc.empty()) parse_cc(cc, g, origin, "gpu.compute_capability");
    g.sms = static_cast<int>(num(o, "sms", origin, "gpu."));
    g.pcie_gbs = num(o, "pcie_gbs", origin, "gpu.");
    g.gemm_tflops = num(o, "gemm_tflops", origin, "gpu.");
    g.fp8_tflops = num(o, "fp8_tflops", origin, "gpu.");
    g.attention_tflops = num(o, "attention_tflops", origin, "gpu.");
    g.conv_tflops = num(o, "conv_tflops", origin, "gpu.");
    g.mem_bw_gbs = num(o, "mem_bw_gbs", origin, "gpu.");
    g.context_bytes = static_cast<uint64_t>(num(o, "context_gib", origin, "gpu.") * kGiB);
    g.source = str(o, "source", origin, "gpu.");
    if (g.memory_bytes == 0 && !find_known(g.name)) bad(origin, "gpu.memory_gib", "is missing (and the GPU name is not a known one)");
    complete_gpu(g);
    hw.gpu = g;
  } else {
    hw.gpu_status = str(j, "gpu_status", origin, "", "no GPU in the description");
  }
  return hw;
}

std::vector<std::string> hardware_presets() {
  return {"h200", "h100", "a100-80gb", "l40s", "rtx4090", "rtx4080", "rtx4060ti-16gb", "rtx3090", "cpu"};
}

namespace {
Hardware preset(const std::string& key, const std::string& gpu_name, double ram_gib, int cores, const std::string& cpu) {
  Hardware hw;
  hw.name = key;
  hw.source = "preset " + key;
  hw.ram_bytes = static_cast<uint64_t>(ram_gib * kGiB);
  hw.cpu.model = cpu;
  hw.cpu.cores = cores;
  complete_cpu(hw.cpu);
  if (!gpu_name.empty()) {
    GpuSpec g;
    g.name = gpu_name;
    complete_gpu(g);
    hw.gpu = g;
  } else {
    hw.gpu_status = "preset without a GPU";
  }
  return hw;
}
}  // namespace

Hardware load_hardware(const std::string& p) {
  if (p == "h200") return preset(p, "NVIDIA H200", 128, 16, "16 cores of the device machine");
  if (p == "h100") return preset(p, "NVIDIA H100 80GB HBM3", 256, 32, "server CPU");
  if (p == "a100-80gb") return preset(p, "NVIDIA A100-SXM4-80GB", 256, 32, "server CPU");
  if (p == "l40s") return preset(p, "NVIDIA L40S", 128, 32, "server CPU");
  if (p == "rtx4090") return preset(p, "NVIDIA GeForce RTX 4090", 64, 16, "desktop CPU");
  if (p == "rtx4080") return preset(p, "NVIDIA GeForce RTX 4080", 128, 128, "Threadripper PRO 5995WX (the guide's machine)");
  if (p == "rtx4060ti-16gb") return preset(p, "NVIDIA GeForce RTX 4060 Ti 16GB", 32, 12, "desktop CPU");
  if (p == "rtx3090") return preset(p, "NVIDIA GeForce RTX 3090", 64, 16, "desktop CPU");
  if (p == "cpu") return preset(p, "", 64, 16, "16-core CPU");
  std::ifstream in(p);
  if (!in) {
    std::string names;
    for (const auto& n : hardware_presets()) names += (names.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::kNotFound, "--hardware " + p + ": neither a preset (" + names + ") nor a readable JSON file");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in, nullptr, true, /*ignore_comments=*/true);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, p + ": not valid JSON (" + e.what() + ")");
  }
  Hardware hw = hardware_from_json(j, p);
  hw.source = "file:" + p;
  return hw;
}

nlohmann::json to_json(const Hardware& hw) {
  nlohmann::json j;
  j["name"] = hw.name;
  j["source"] = hw.source;
  j["ram_gib"] = static_cast<double>(hw.ram_bytes) / kGiB;
  j["cpu_model"] = hw.cpu.model;
  j["cpu_cores"] = hw.cpu.cores;
  j["cpu_gflops"] = hw.cpu.gemm_gflops;
  j["cpu_attention_gflops"] = hw.cpu.attention_gflops;
  j["cpu_mem_bw_gbs"] = hw.cpu.mem_bw_gbs;
  if (hw.gpu) {
    const GpuSpec& g = *hw.gpu;
    j["gpu"] = {{"name", g.name},
                {"memory_gib", static_cast<double>(g.memory_bytes) / kGiB},
                {"compute_capability", g.cc()},
                {"sms", g.sms},
                {"pcie_gbs", g.pcie_gbs},
                {"gemm_tflops", g.gemm_tflops},
                {"fp8_tflops", g.fp8_tflops},
                {"attention_tflops", g.attention_tflops},
                {"conv_tflops", g.conv_tflops},
                {"mem_bw_gbs", g.mem_bw_gbs},
                {"context_gib", static_cast<double>(g.context_bytes) / kGiB},
                {"source", g.source}};
  } else {
    j["gpu"] = nullptr;
    j["gpu_status"] = hw.gpu_status;
  }
  return j;
}

}  // namespace wan22::plan
