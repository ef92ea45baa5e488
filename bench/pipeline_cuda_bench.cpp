// The GPU workloads of `wan22 bench` (cuda::run_bench) without the CLI: prints every metric and
// writes {"machine", "revision", "date", "metrics": {name: value}, "details": [...]} as JSON.
//   wan22_pipeline_cuda_bench [--json FILE] [--revision REV] [--workloads 720p_121f,...]
//                             [--parts dit,vae,text,generate] [--generate-workloads 720p_121f,...]
//                             [--reps N] [--warmup N] [--steps N]
//                             [--model DIR] [--vram-budget GIB] [--dit-fp8] [--budget-only]
//                             [--vae-budget GIB]
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "backends/cuda/bench_cuda.h"
#include "core/status.h"

using namespace wan22;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  cuda::BenchOptions o;
  std::string json_path, revision = "unknown";
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto val = [&]() -> std::string {
        if (i + 1 >= argc) throw Error(ErrorCode::kInvalidArgument, a + " needs a value");
        return argv[++i];
      };
      if (a == "--json") json_path = val();
      else if (a == "--revision") revision = val();
      else if (a == "--workloads") o.workloads = split(val());
      else if (a == "--parts") o.parts = split(val());
      else if (a == "--generate-workloads") o.generate_workloads = split(val());
      else if (a == "--reps") o.repeats = std::stoi(val());
      else if (a == "--warmup") o.warmup = std::stoi(val());
      else if (a == "--steps") o.generate_steps = std::stoi(val());
      else if (a == "--vram-budget") o.vram_budget_gib = std::stod(val());
      else if (a == "--dit-fp8") o.dit_fp8 = true;
      else if (a == "--budget-only") o.budget_only = true;
      else if (a == "--vae-budget") o.vae_budget_gib = std::stod(val());
      else if (a == "--model") {
        o.model_dir = val();
        o.random_weights = false;
      } else {
        throw Error(ErrorCode::kInvalidArgument, "unknown option '" + a + "'");
      }
    }
    o.on_progress = [](const std::string& line) { std::cout << "  " << line << std::endl; };
    const cuda::MachineInfo m = cuda::machine_info();
    std::cout << "GPU " << m.gpu << ", driver " << m.driver << ", CUDA " << m.cuda << std::endl;
    const std::vector<bench::Metric> metrics = cuda::run_bench(o);
    nlohmann::json j;
    j["machine"] = {{"gpu", m.gpu}, {"driver", m.driver}, {"cuda", m.cuda}};
    j["revision"] = revision;
    j["date"] = now_iso();
    j["metrics"] = nlohmann::json::object();
    j["details"] = nlohmann::json::array();
    for (const auto& x : metrics) {
      j["metrics"][x.name] = x.value;
      j["details"].push_back({{"name", x.name},
                              {"value", x.value},
                              {"unit", x.unit},
                              {"better", x.better == bench::Better::kLower ? "lower" : "higher"},
                              {"samples", x.samples},
                              {"note", x.note}});
      std::printf("%-44s %12.4f %s\n", x.name.c_str(), x.value, x.unit.c_str());
    }
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << j.dump(2) << "\n";
      if (!out) throw Error(ErrorCode::kIoError, "cannot write " + json_path);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wan22_pipeline_cuda_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
