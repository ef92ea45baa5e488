// The stages of a whole generation on the GPU, from the CUDA workloads' metrics
// (generate_<W>_<N>steps_{text,denoise,decode}_s next to generate_<W>_<N>steps_s), so GPU runs get
// the same stage chart and stage recommendations as the CPU suites.
#pragma once
#include <string>
#include <vector>

#include "bench/run_record.h"

namespace wan22::bench {

struct StageSet {
  std::vector<Stage> stages;  // text_encode, denoise, vae_decode
  std::string of;             // "the whole 720p_121f generation (50 steps)"
};

// The stages of the longest whole generation among `metrics`; empty when there is none.
StageSet gpu_generation_stages(const std::vector<Metric>& metrics);

}  // namespace wan22::bench
