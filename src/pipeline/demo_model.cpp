#include "pipeline/demo_model.h"

#include <fcntl.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <cstdio>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/log.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/weight_shapes.h"

namespace fs = std::filesystem;

namespace wan22::pipeline {

namespace {
constexpr int kDemoVersion = 1;

// Demo sizes: the TI2V architecture (patch 1x2x2, VAE 4x16x16, z 16), tiny widths.
models::DitShape demo_dit() {
  models::DitShape d;
  d.model_type = "ti2v";
  d.in_dim = d.out_dim = 16;
  d.dim = 64;
  d.ffn_dim = 128;
  d.freq_dim = 32;
  d.text_dim = 32;
  d.num_heads = 2;
  d.num_layers = 2;
  return d;
}
models::Vae22Shape demo_vae() {
  models::Vae22Shape v;
  v.dim = 8;
  v.dec_dim = 8;
  v.z_dim = 16;
  return v;
}

void write_json(const fs::path& p, const nlohmann::json& j) {
  std::ofstream out(p);
  out << j.dump(1) << "\n";
  if (!out) throw Error(ErrorCode::kIoError, p.string() + ": write failed");
}

// PyTorch-like initialisation: matrices and kernels uniform(+-1/sqrt(fan_in)); norm scales 1;
// biases small; modulation tables small; embeddings N(0,1).
Tensor init_tensor(const std::string& name, const Shape& shape, std::mt19937_64& rng) {
  Tensor t = Tensor::empty(shape, DType::kF32);
  float* p = t.data<float>();
  const int64_t n = t.numel();
  auto ends_with = [&](const char* s) {
    std::string suf = s;
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  if (ends_with(".gamma") || ((ends_with("norm.weight") || name.find("norm") != std::string::npos) &&
                              shape.size() == 1 && ends_with(".weight"))) {
    for (int64_t i = 0; i < n; ++i) p[i] = 1.0f;
    return t;
  }
  if (name.find("token_embedding") != std::string::npos) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (int64_t i = 0; i < n; ++i) p[i] = d(rng);
    return t;
  }
  if (ends_with("modulation")) {
    std::normal_distribution<float> d(0.0f, 0.02f);
    for (int64_t i = 0; i < n; ++i) p[i] = d(rng);
    return t;
  }
  int64_t fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  float bound = shape.size() >= 2 ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.02f;
  std::uniform_real_distribution<float> d(-bound, bound);
  for (int64_t i = 0; i < n; ++i) p[i] = d(rng);
  return t;
}

void write_random(const fs::path& path, const models::WeightShapes& shapes, std::mt19937_64& rng) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, shape] : shapes) tensors.push_back({name, init_tensor(name, shape, rng)});
  io::write_safetensors(path.string(), tensors, {{"wan22", "demo model: random weights"}});
}

// A small corpus for the demo tokenizer: English scene words and the characters of the default
// Chinese negative prompt, so every prompt tokenises into real pieces.
std::string demo_corpus() {
  const char* words[] = {
      "a", "the", "red", "blue", "green", "golden", "cat", "dog", "bird", "city", "neon", "night",
      "rain", "beach", "sunset", "mountain", "snow", "river", "forest", "camera", "slowly", "quickly",
      "walks", "flies", "jumps", "dances", "over", "in", "on", "at", "of", "and", "with", "wide",
      "shot", "close", "cinematic", "light", "soft", "warm", "aerial", "view", "clouds", "sky",
      "reflection", "ocean", "waves", "street", "car", "people", "running", "flowers", "garden",
      "sun", "moon", "stars", "fire", "water", "glass", "robot", "astronaut", "space", "planet"};
  const char* zh =
      "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
      "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
      "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走";
  std::mt19937 rng(7);
  std::ostringstream os;
  const size_t nw = sizeof(words) / sizeof(words[0]);
  for (int line = 0; line < 400; ++line) {
    int len = 5 + static_cast<int>(rng() % 10);
    for (int i = 0; i < len; ++i) os << (i ? " " : "") << words[rng() % nw];
    os << ".\n";
    if (line % 20 == 0) os << zh << "\n";
  }
  os << "0 1 2 3 4 5 6 7 8 9 , . ! ? ' \" - : ; ( ) & % $ # @ * + = / < >\n";
  return os.str();
}

int train_tokenizer(const fs::path& dir) {
  fs::create_directories(dir);
  fs::path corpus = dir / "demo_corpus.txt";
  {
    std::ofstream out(corpus);
    out << demo_corpus();
  }
  std::string prefix = (dir / "spiece").string();
  std::string args = "--input=" + corpus.string() + " --model_prefix=" + prefix +
                     " --vocab_size=400 --model_type=unigram --character_coverage=1.0"
                     " --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1 --hard_vocab_limit=false"
                     " --num_threads=1 --minloglevel=2 --seed_sentencepiece_size=100000";
  // The trainer prints its command line to stderr whatever its log level: keep it quiet.
  std::fflush(stderr);
  int saved = dup(2);
  int devnull = open("/dev/null", O_WRONLY);
  if (saved >= 0 && devnull >= 0) dup2(devnull, 2);
  auto st = sentencepiece::SentencePieceTrainer::Train(args);
  if (saved >= 0 && devnull >= 0) {
    std::fflush(stderr);
    dup2(saved, 2);
  }
  if (devnull >= 0) close(devnull);
  if (saved >= 0) close(saved);
  fs::remove(corpus);
  fs::remove(prefix + ".vocab");
  if (!st.ok()) throw Error(ErrorCode::kInternal, "demo tokenizer training failed: " + st.ToString());
  return 400;
}
}  // namespace

std::string default_demo_model_dir() {
  if (const char* e = std::getenv("WAN22_DEMO_MODEL"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/wan22/demo-model";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/wan22/demo-model";
  return "/tmp/wan22-demo-model";
}

bool is_demo_model(const std::string& dir) {
  std::ifstream in(fs::path(dir) / kDemoMarker);
  if (!in) return false;
  try {
    auto j = nlohmann::json::parse(in);
    return j.value("version", 0) == kDemoVersion;
  } catch (const std::exception&) {
    return false;
  }
}

std::string ensure_demo_model(const std::string& dir_str, uint64_t seed) {
  if (is_demo_model(dir_str)) return dir_str;
  fs::path dir(dir_str);
  LOG_INFO << "creating the built-in demo model (tiny, random weights) in " << dir_str;
  fs::path tmp = dir_str + ".partial";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  std::mt19937_64 rng(seed);

  const models::DitShape dit = demo_dit();
  train_tokenizer(tmp / "google" / "umt5-xxl");
  models::T5Shape t5;
  t5.vocab = 512;  // >= the tokenizer's piece count (<= 400)
  t5.dim = dit.text_dim;
  t5.dim_attn = dit.text_dim;
  t5.dim_ffn = 64;
  t5.num_heads = 4;
  t5.num_layers = 2;
  t5.num_buckets = 32;

  write_json(tmp / "config.json",
             {{"_class_name", "WanModel"}, {"model_type", dit.model_type}, {"patch_size", dit.patch},
              {"text_len", 512}, {"in_dim", dit.in_dim}, {"dim", dit.dim}, {"ffn_dim", dit.ffn_dim},
              {"freq_dim", dit.freq_dim}, {"text_dim", dit.text_dim}, {"out_dim", dit.out_dim},
              {"num_heads", dit.num_heads}, {"num_layers", dit.num_layers}, {"window_size", {-1, -1}},
              {"qk_norm", true}, {"cross_attn_norm", true}, {"eps", 1e-6}});
  write_random(tmp / "diffusion_pytorch_model.safetensors", models::dit_weight_shapes(dit), rng);

  const models::Vae22Shape vae = demo_vae();
  std::vector<float> mean(vae.z_dim), stdv(vae.z_dim);
  for (int64_t i = 0; i < vae.z_dim; ++i) {
    mean[i] = 0.05f * static_cast<float>((i % 5) - 2);
    stdv[i] = 0.8f + 0.05f * static_cast<float>(i % 7);
  }
  write_json(tmp / "vae_config.json",
             {{"dim", vae.dim}, {"dec_dim", vae.dec_dim}, {"z_dim", vae.z_dim}, {"dim_mult", vae.dim_mult},
              {"num_res_blocks", vae.num_res_blocks}, {"attn_scales", nlohmann::json::array()},
              {"temperal_downsample", vae.temperal_downsample}, {"latents_mean", mean},
              {"latents_std", stdv}});
  write_random(tmp / "Wan2.2_VAE.safetensors", models::vae22_weight_shapes(vae), rng);

  write_json(tmp / "t5_config.json",
             {{"vocab", t5.vocab}, {"dim", t5.dim}, {"dim_attn", t5.dim_attn}, {"dim_ffn", t5.dim_ffn},
              {"num_heads", t5.num_heads}, {"num_layers", t5.num_layers}, {"num_buckets", t5.num_buckets},
              {"shared_pos", false}});
  write_random(tmp / "models_t5_umt5-xxl-enc-bf16.safetensors", models::t5_weight_shapes(t5), rng);

  write_json(tmp / kDemoMarker, {{"version", kDemoVersion}, {"seed", seed},
                                 {"note", "wan22 built-in demo model: tiny TI2V architecture with random "
                                          "weights; output is not a real video model's"}});
  fs::remove_all(dir);
  if (dir.has_parent_path()) fs::create_directories(dir.parent_path());
  fs::rename(tmp, dir);
  return dir_str;
}

}  // namespace wan22::pipeline
