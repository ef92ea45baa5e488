// wan22 demo-model [DIR]: writes the built-in demo checkpoint (tiny TI2V architecture, random weights).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/command.h"
#include "pipeline/demo_model.h"

namespace wan22::cli {
namespace {

int run_demo_model(int argc, char** argv) {
  std::string dir;
  uint64_t seed = 2025;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: wan22 demo-model [DIR] [--seed N]\n\n"
          "Writes the built-in demo model: the TI2V-5B architecture at a tiny size (DiT dim 64, 2\n"
          "layers; Wan2.2 VAE widths 8, z 16; UMT5 dim 32) with deterministic random weights and a\n"
          "small sentencepiece tokenizer trained on a built-in corpus, in the official directory\n"
          "layout. `wan22 generate` without --model creates it on first use in DIR's default:\n"
          "  %s\n"
          "It demonstrates the pipeline; its videos are noise-like.\n",
          pipeline::default_demo_model_dir().c_str());
      return 0;
    }
    if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (!a.empty() && a[0] == '-') {
      return fail("demo-model: unknown option '" + a + "'");
    } else {
      dir = a;
    }
  }
  if (dir.empty()) dir = pipeline::default_demo_model_dir();
  pipeline::ensure_demo_model(dir, seed);
  std::printf("demo model ready in %s\n", dir.c_str());
  return 0;
}

const CommandRegistrar kReg({"demo-model", "write the built-in demo model (tiny, random weights)", run_demo_model});

}  // namespace
}  // namespace wan22::cli
