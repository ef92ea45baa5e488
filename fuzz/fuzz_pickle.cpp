// libFuzzer target: see fuzz_io.h and docs/fuzzing.md.
#include "fuzz_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  wan22::fuzz::run_pickle(data, size);
  return 0;
}
