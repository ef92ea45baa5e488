// Helpers of the monitor and thermal tests: fake /proc + /sys trees written into a temp directory,
// a fake GPU provider, a fake GPU reading.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "perf/monitor.h"

namespace wan22::perf::testing {

// A directory that mimics / for the readers (root parameter); removed at the end.
class FakeTree {
 public:
  FakeTree() {
    static int n = 0;
    root_ = (std::filesystem::temp_directory_path() /
             ("wan22_fake_tree_" + std::to_string(::getpid()) + "_" + std::to_string(n++)))
                .string();
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::string& root() const { return root_; }
  void write(const std::string& abs_path, const std::string& text) const {
    const std::filesystem::path p = root_ + abs_path;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  void mkdir(const std::string& abs_path) const {
    std::filesystem::create_directories(root_ + abs_path);
  }

 private:
  std::string root_;
};

class FakeGpus : public GpuProvider {
 public:
  std::vector<NvmlGpu> gpus;
  std::string status_text = "ok: fake GPUs";
  int calls = 0;
  std::string status() const override { return status_text; }
  std::vector<NvmlGpu> sample() override {
    ++calls;
    return gpus;
  }
};

// A GPU with every monitored field known.
inline NvmlGpu fake_gpu(unsigned index, double temp_c, uint64_t throttle = 0,
                        uint64_t used = 40ull << 30, uint64_t total = 140ull << 30) {
  NvmlGpu g;
  g.index = index;
  g.name = Known<std::string>::of("Fake H200");
  g.utilization_gpu_pct = Known<unsigned>::of(97);
  g.utilization_memory_pct = Known<unsigned>::of(41);
  g.memory_used_bytes = Known<uint64_t>::of(used);
  g.memory_total_bytes = Known<uint64_t>::of(total);
  g.memory_free_bytes = Known<uint64_t>::of(total - used);
  g.temperature_c = Known<double>::of(temp_c);
  g.temperature_slowdown_c = Known<double>::of(90);
  g.power_usage_watts = Known<double>::of(612.0);
  g.power_limit_watts = Known<double>::of(700);
  g.clock_sm_mhz = Known<unsigned>::of(1980);
  g.clock_memory_mhz = Known<unsigned>::of(3201);
  g.clock_graphics_mhz = Known<unsigned>::of(1980);
  g.throttle_reasons = Known<uint64_t>::of(throttle);
  return g;
}

}  // namespace wan22::perf::testing
