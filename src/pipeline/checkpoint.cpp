#include "pipeline/checkpoint.h"

#include <filesystem>

#include "core/status.h"
#include "pipeline/demo_model.h"

namespace fs = std::filesystem;

namespace wan22::pipeline {

namespace {
bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

// First existing candidate, or "" (and the candidates are added to `looked`).
std::string first_of(const fs::path& dir, const std::vector<std::string>& names, std::vector<std::string>& looked) {
  for (const auto& n : names) {
    if (path_exists(dir / n)) return (dir / n).string();
  }
  for (const auto& n : names) looked.push_back((dir / n).string());
  return "";
}

bool has_dit_weights(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() > 12 && n.rfind(".safetensors") == n.size() - 12) return true;
    if (n.find(".safetensors.index.json") != std::string::npos) return true;
  }
  return false;
}
}  // namespace

CheckpointPaths locate_checkpoint(const std::string& model, const CheckpointOverrides& ov) {
  CheckpointPaths c;
  c.root = model;
  std::error_code ec;
  if (!path_exists(model)) throw Error(ErrorCode::kNotFound, "model path " + model + " does not exist");
  struct Missing {
    std::string part;
    std::vector<std::string> looked;
  };
  std::vector<Missing> missing;
  fs::path root(model);

  if (fs::is_regular_file(root, ec)) {
    c.layout = "files";
    c.dit = model;
    if (ov.vae.empty()) missing.push_back({"VAE (--vae FILE)", {"command line"}});
    if (ov.text_encoder.empty()) missing.push_back({"text encoder (--text-encoder FILE)", {"command line"}});
    if (ov.tokenizer.empty()) missing.push_back({"tokenizer (--tokenizer spiece.model)", {"command line"}});
  } else if (path_exists(root / "transformer") || path_exists(root / "model_index.json")) {
    c.layout = "diffusers";
    std::vector<std::string> l;
    if (has_dit_weights(root / "transformer")) c.dit = (root / "transformer").string();
    else missing.push_back({"transformer weights", {(root / "transformer/*.safetensors").string()}});
    c.dit_config = first_of(root / "transformer", {"config.json"}, l);
    if (c.dit_config.empty()) missing.push_back({"transformer config", l});
    l.clear();
    if (has_dit_weights(root / "vae")) c.vae = (root / "vae").string();
    else missing.push_back({"VAE weights", {(root / "vae/*.safetensors").string()}});
    c.vae_config = first_of(root / "vae", {"config.json"}, l);
    l.clear();
    if (has_dit_weights(root / "text_encoder")) c.t5 = (root / "text_encoder").string();
    else missing.push_back({"text encoder weights", {(root / "text_encoder/*.safetensors").string()}});
    c.t5_config = first_of(root / "text_encoder", {"config.json"}, l);
    l.clear();
    c.tokenizer = first_of(root / "tokenizer", {"spiece.model"}, l);
    if (c.tokenizer.empty()) missing.push_back({"tokenizer", l});
  } else {
    c.layout = "official";
    c.demo = is_demo_model(model);
    std::vector<std::string> l;
    if (has_dit_weights(root)) c.dit = model;
    else missing.push_back({"DiT weights", {(root / "diffusion_pytorch_model*.safetensors").string()}});
    c.dit_config = first_of(root, {"config.json"}, l);
    if (c.dit_config.empty()) missing.push_back({"DiT config", l});
    l.clear();
    c.vae = first_of(root, {"Wan2.2_VAE.pth", "Wan2.2_VAE.safetensors", "Wan2.1_VAE.pth", "Wan2.1_VAE.safetensors"}, l);
    if (c.vae.empty()) missing.push_back({"VAE", l});
    l.clear();
    c.vae_config = first_of(root, {"vae_config.json"}, l);
    l.clear();
    c.t5 = first_of(root, {"models_t5_umt5-xxl-enc-bf16.pth", "models_t5_umt5-xxl-enc-bf16.safetensors"}, l);
    if (c.t5.empty()) missing.push_back({"text encoder", l});
    l.clear();
    c.t5_config = first_of(root, {"t5_config.json"}, l);
    l.clear();
    c.tokenizer = first_of(root, {"google/umt5-xxl/spiece.model", "tokenizer/spiece.model"}, l);
    if (c.tokenizer.empty()) missing.push_back({"tokenizer", l});
  }
  if (!ov.vae.empty()) c.vae = ov.vae;
  if (!ov.text_encoder.empty()) c.t5 = ov.text_encoder;
  if (!ov.tokenizer.empty()) c.tokenizer = ov.tokenizer;
  for (const auto* p : {&ov.vae, &ov.text_encoder, &ov.tokenizer}) {
    if (!p->empty() && !path_exists(*p)) missing.push_back({"file given on the command line", {*p}});
  }
  if (!missing.empty()) {
    std::string msg = model + " (" + c.layout + " layout) is incomplete: ";
    for (size_t i = 0; i < missing.size(); ++i) {
      msg += (i ? "; " : "") + missing[i].part + " missing (looked for ";
      for (size_t j = 0; j < missing[i].looked.size(); ++j) msg += (j ? ", " : "") + missing[i].looked[j];
      msg += ")";
    }
    throw Error(ErrorCode::kNotFound, msg);
  }
  return c;
}

}  // namespace wan22::pipeline
