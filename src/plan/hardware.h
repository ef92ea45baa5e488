// The machine a plan is made for: the GPU (memory, compute capability, PCIe, and the achieved
// throughputs the time model needs), the CPU and the RAM. From `wan22 sysinfo` (this machine),
// from a JSON description (another machine: a saved `wan22 sysinfo --json`, or the simple form
// below), or from a preset name. Throughputs not given are filled from a table of known GPUs, else
// estimated from the compute capability and the SM count; `source` says which.
//
// Simple JSON form (every field optional except gpu.memory_gib when a gpu is given):
//   {"name": "my box", "ram_gib": 64, "cpu_cores": 16, "cpu_gflops": 800,
//    "gpu": {"name": "NVIDIA GeForce RTX 4080", "memory_gib": 16, "compute_capability": "8.9",
//            "sms": 76, "pcie_gbs": 25, "gemm_tflops": 44, "fp8_tflops": 85, "attention_tflops": 35,
//            "conv_tflops": 20, "mem_bw_gbs": 650, "context_gib": 0.5}}
// "gpu": null (or absent) describes a CPU-only machine.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "perf/sysinfo.h"

namespace wan22::plan {

struct GpuSpec {
  std::string name;
  uint64_t memory_bytes = 0;      // total device memory
  int cc_major = 0, cc_minor = 0; // compute capability
  int sms = 0;
  double pcie_gbs = 0;            // pinned host<->device copy, GB/s (1e9)
  double gemm_tflops = 0;         // achieved bf16 GEMM at the DiT's shapes (dense, fp32 accumulate)
  double fp8_tflops = 0;          // achieved fp8 e4m3 GEMM (0: no fp8 tensor cores)
  double attention_tflops = 0;    // achieved fused attention (bf16) inside the DiT
  double conv_tflops = 0;         // achieved bf16 3-D convolution (VAE)
  double mem_bw_gbs = 0;          // achieved device copy bandwidth (read + write), GB/s
  uint64_t context_bytes = 0;     // CUDA context + cuBLAS/cuDNN handles: not available to the allocator
  std::string source;             // "measured ...", "table ...", "estimated ..."

  bool has_fp8() const { return fp8_tflops > 0; }
  std::string cc() const { return std::to_string(cc_major) + "." + std::to_string(cc_minor); }
};

struct CpuSpec {
  std::string model;
  int cores = 1;                  // logical cores used by the thread pool
  double gemm_gflops = 0;         // achieved f32 GEMM (bf16 weights converted on the fly), all cores
  double attention_gflops = 0;    // achieved attention (flash-style, f32)
  double mem_bw_gbs = 0;          // achieved host memory bandwidth for elementwise work
  std::string source;
};

struct Hardware {
  std::string name;
  std::optional<GpuSpec> gpu;     // none: a CPU-only machine
  std::string gpu_status;         // why there is no GPU (CPU-only)
  CpuSpec cpu;
  uint64_t ram_bytes = 0;
  std::string source;             // "this machine (wan22 sysinfo)", "preset h200", "file:x.json"
};

// Fills the throughput fields left at 0 (table of known GPUs by name, else an estimate from the
// compute capability and SM count); sets source accordingly.
void complete_gpu(GpuSpec& g);
void complete_cpu(CpuSpec& c);

// This machine, from sysinfo (CUDA properties and NVML where present).
Hardware hardware_from_sysinfo(const perf::SystemInfo& info);
// A `wan22 sysinfo --json` document or the simple form above. Throws Error(kInvalidArgument)
// naming the field on bad input.
Hardware hardware_from_json(const nlohmann::json& j, const std::string& origin);
// A preset name (hardware_presets()) or a JSON file path.
Hardware load_hardware(const std::string& preset_or_path);
std::vector<std::string> hardware_presets();  // "h200", "h100", "a100-80gb", "l40s", "rtx4090", ...
nlohmann::json to_json(const Hardware& hw);  // the simple form (round-trips through hardware_from_json)

}  // namespace wan22::plan
