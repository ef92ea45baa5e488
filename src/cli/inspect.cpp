// wan22 inspect PATH...: every tensor of a checkpoint file or directory, then a summary line.
#include <cstdio>
#include <map>
#include <string>

#include "cli/command.h"
#include "io/weight_store.h"

namespace wan22::cli {
namespace {

int run_inspect(int argc, char** argv) {
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: wan22 inspect PATH [PATH...]\n\n"
          "Lists every tensor of a checkpoint, one per line: name, dtype, shape, bytes.\n"
          "PATH is a .safetensors or PyTorch .pth/.pt file, or a directory (sharded through\n"
          "*.safetensors.index.json, or all its .safetensors files). Ends with a summary line.\n"
          "Exits non-zero with one line naming the problem on a missing or corrupt file.\n");
      return 0;
    }
    paths.push_back(a);
  }
  if (paths.empty()) return fail("inspect: no PATH given (see wan22 inspect --help)");
  auto ws = io::WeightStore::open_many(paths);
  std::map<std::string, size_t> per_dtype;
  uint64_t total = 0;
  for (const auto& key : ws.keys()) {
    const auto& info = ws.info(key);
    std::printf("%s\t%s\t%s\t%llu\n", io::printable(key).c_str(), dtype_name(info.dtype), shape_str(info.shape).c_str(),
                static_cast<unsigned long long>(info.nbytes));
    per_dtype[dtype_name(info.dtype)]++;
    total += info.nbytes;
  }
  std::string dts;
  for (const auto& [d, n] : per_dtype) dts += (dts.empty() ? "" : ", ") + std::to_string(n) + " " + d;
  std::printf("%zu tensors, %llu bytes (%.2f MiB) in %zu file(s)%s%s\n", ws.size(),
              static_cast<unsigned long long>(total), static_cast<double>(total) / (1 << 20),
              ws.sources().size(), dts.empty() ? "" : ": ", dts.c_str());
  return 0;
}

const CommandRegistrar kReg({"inspect", "list the tensors of a checkpoint file or directory", run_inspect});

}  // namespace
}  // namespace wan22::cli
