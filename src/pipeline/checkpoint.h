// Finds the parts of a Wan2.2 checkpoint as they are published: the official directory, the
// Diffusers directory, or single files (ComfyUI) given one by one.
#pragma once
#include <string>
#include <vector>

namespace wan22::pipeline {

struct CheckpointPaths {
  std::string root;
  std::string layout;      // "official", "diffusers", "files"
  std::string dit;         // a directory (shards / *.safetensors) or one file
  std::string dit_config;  // config.json of the DiT ("" for single files: derived from weights)
  std::string vae;         // file or directory
  std::string vae_config;  // optional JSON (Diffusers vae/config.json or our vae_config.json)
  std::string t5;          // file or directory
  std::string t5_config;   // optional JSON
  std::string tokenizer;   // spiece.model
  bool demo = false;       // the built-in demo model
};

struct CheckpointOverrides {  // single files given on the command line
  std::string vae, text_encoder, tokenizer;
};

// Throws Error(kNotFound) listing every missing part and where it was looked for.
CheckpointPaths locate_checkpoint(const std::string& model, const CheckpointOverrides& ov = {});

}  // namespace wan22::pipeline
