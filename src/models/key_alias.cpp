#include "models/key_alias.h"

#include <memory>
#include <regex>

#include "core/status.h"

namespace wan22::models {

namespace {
const char* kPrefixes[] = {"model.diffusion_model.", "diffusion_model.", "model.", "first_stage_model.",
                           "vae.", "text_encoder.", "transformer."};

struct CompiledRule {
  std::regex re;
  std::string stored;
};

// canonical -> stored under a table: the first rule whose regex matches rewrites the key.
std::string apply_rules(const std::vector<CompiledRule>& rules, const std::string& k) {
  for (const auto& r : rules) {
    if (std::regex_search(k, r.re)) {
      return std::regex_replace(k, r.re, r.stored, std::regex_constants::format_first_only);
    }
  }
  return k;
}
}  // namespace

std::string install_key_map(io::WeightStore& ws, const std::string& probe_key,
                            const std::vector<AliasTable>& tables) {
  ws.set_key_map(nullptr);
  if (ws.contains(probe_key)) return "official";
  for (const char* p : kPrefixes) {
    std::string prefix = p;
    if (ws.contains(prefix + probe_key)) {
      ws.set_key_map([prefix](const std::string& k) { return prefix + k; });
      return "official+prefix:" + prefix;
    }
  }
  for (const auto& table : tables) {
    auto rules = std::make_shared<std::vector<CompiledRule>>();
    for (const auto& r : table.rules) rules->push_back({std::regex(r.canonical), r.stored});
    if (ws.contains(apply_rules(*rules, probe_key))) {
      ws.set_key_map([rules](const std::string& k) { return apply_rules(*rules, k); });
      return table.layout;
    }
  }
  std::string where = ws.sources().empty() ? std::string("(no files)") : ws.sources().front()->path();
  throw Error(ErrorCode::kNotFound, "cannot recognise the checkpoint layout of " + where + ": key '" +
                                        probe_key + "' is missing under every known naming");
}

}  // namespace wan22::models
