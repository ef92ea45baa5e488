// One alias mechanism for every model: layers ask for the official key names; a table of regex
// rules per model maps them onto the names another layout stores (Diffusers / transformers), and
// known single-file prefixes (ComfyUI: "model.diffusion_model.", "diffusion_model.", ...) are
// stripped automatically.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "io/weight_store.h"

namespace wan22::models {

struct AliasRule {
  std::string canonical;  // ECMAScript regex over the official key, e.g. R"(^blocks\.(\d+)\.self_attn\.q\.)"
  std::string stored;     // replacement (with $1 ...), e.g. "blocks.$1.attn1.to_q."
};

struct AliasTable {
  std::string layout;              // "diffusers", "transformers", ...
  std::vector<AliasRule> rules;    // tried in order; the first whose result is stored wins
};

// Detects the layout of `ws` and installs a key map on it: identity if the official names are
// present (possibly under a prefix), else the first table under which `probe_key` (an official
// key every checkpoint of this model has) resolves. Returns the layout name ("official",
// "official+prefix:<p>", or the table's layout). Throws Error(kNotFound) naming probe_key and
// the file when no layout fits.
std::string install_key_map(io::WeightStore& ws, const std::string& probe_key,
                            const std::vector<AliasTable>& tables);

}  // namespace wan22::models
