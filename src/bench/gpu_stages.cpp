#include "bench/gpu_stages.h"

#include <regex>

namespace wan22::bench {

StageSet gpu_generation_stages(const std::vector<Metric>& metrics) {
  static const std::regex gen(R"(generate_(.+)_(\d+)steps_s)");
  const Metric* best = nullptr;
  std::smatch best_match;
  for (const auto& m : metrics) {
    std::smatch mm;
    if (std::regex_match(m.name, mm, gen) && (!best || m.value > best->value)) {
      best = &m;
      best_match = mm;
    }
  }
  StageSet out;
  if (!best) return out;
  const std::string tag = best->name.substr(0, best->name.size() - 2);  // without "_s"
  const std::pair<const char*, const char*> parts[] = {
      {"text_encode", "_text_s"}, {"denoise", "_denoise_s"}, {"vae_decode", "_decode_s"}};
  for (const auto& [stage, suffix] : parts) {
    if (const Metric* m = find_metric(metrics, tag + suffix)) out.stages.push_back({stage, m->value});
  }
  if (out.stages.empty()) return out;
  out.of = "the whole " + best_match[1].str() + " generation (" + best_match[2].str() + " steps)";
  return out;
}

}  // namespace wan22::bench
