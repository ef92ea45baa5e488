#include "plan/vae_cuda_memory.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "models/vae/vae_weight_spec.h"

namespace wan22::plan {

namespace {

double pad8(double c) { return std::ceil(c / 8) * 8; }

// The BufferPool of vae_cuda_runtime.h over the caching allocator, counting what the allocator
// sees as allocated: live buffers, pooled (freed, kept) buffers and the cache slots.
class PoolSim {
 public:
  PoolSim(bool reuse, double act) : reuse_(reuse), act_(act) {}

  int get(double bytes) {
    const double need = std::max(4096.0, std::ceil(bytes / 4096) * 4096);
    double size = need;
    int64_t gen = gen_;
    if (reuse_) {
      auto it = free_.lower_bound(need);
      if (it != free_.end() && it->first <= need + std::floor(need / 4)) {
        size = it->first;
        free_.erase(it);
        pooled_ -= size;
      } else {
        held_ += size;
      }
    } else {
      held_ += size;
    }
    const int id = next_id_++;
    live_[id] = {size, gen};
    note();
    return id;
  }
  int act(double t, double h, double w, double c) { return get(t * h * w * c * act_); }
  void put(int id) {
    if (id < 0) return;
    auto it = live_.find(id);
    if (it == live_.end()) return;
    const double size = it->second.size;
    const int64_t gen = it->second.gen;
    live_.erase(it);
    if (reuse_) {
      free_.emplace(size, gen);  // the block keeps the generation of its last request
      pooled_ += size;
    } else {
      held_ -= size;
    }
  }
  // A cache slot: allocated on first use, alive for the whole region.
  void slot(size_t index, double elements) {
    if (index >= slots_.size()) slots_.resize(index + 1, false);
    if (slots_[index]) return;
    slots_[index] = true;
    const double bytes = elements * act_;
    get(bytes);
    slot_bytes_ += std::max(4096.0, std::ceil(bytes / 4096) * 4096);
  }
  void next_chunk() {
    for (auto it = free_.begin(); it != free_.end();) {
      if (it->second + 2 < gen_) {
        held_ -= it->first;
        pooled_ -= it->first;
        it = free_.erase(it);
      } else {
        ++it;
      }
    }
    ++gen_;
  }
  void where(const std::string& w) { where_ = w; }
  const VaeCudaDecodePeak& peak() const { return peak_; }

 private:
  struct Live {
    double size;
    int64_t gen;
  };
  void note() {
    if (held_ > peak_.peak_bytes) {
      peak_.peak_bytes = held_;
      peak_.slot_bytes = slot_bytes_;
      peak_.pooled_bytes = pooled_;
      peak_.where = where_;
    }
  }
  bool reuse_;
  double act_;
  double held_ = 0, pooled_ = 0, slot_bytes_ = 0;
  int64_t gen_ = 0;
  int next_id_ = 0;
  std::map<int, Live> live_;
  std::multimap<double, int64_t> free_;  // size -> generation
  std::vector<bool> slots_;
  std::string where_;
  VaeCudaDecodePeak peak_;
};

// An activation [T, H, W, C] held in the pool.
struct Act {
  int id = -1;
  double T = 0, H = 0, W = 0, C = 0;
};

class DecoderSim {
 public:
  DecoderSim(const models::vae::VaeConfig& v, double act, bool reuse) : v_(v), pool_(reuse, act) {}

  VaeCudaDecodePeak run(int64_t frames, int64_t lat_h, int64_t lat_w, int chunk) {
    int64_t f = 0;
    bool first = true;
    while (f < frames) {
      pool_.next_chunk();
      const int64_t nf = first ? 1 : std::min<int64_t>(std::max(1, chunk), frames - f);
      decode_chunk(static_cast<double>(nf), static_cast<double>(lat_h), static_cast<double>(lat_w), first);
      f += nf;
      first = false;
    }
    return pool_.peak();
  }

 private:
  Act alloc(double T, double H, double W, double C) { return {pool_.act(T, H, W, C), T, H, W, C}; }
  void drop(Act& a) {
    pool_.put(a.id);
    a.id = -1;
  }
  // [2 cached frames | T new frames] of cin_p channels, then the conv output; the stage goes back
  // when the conv returns (its writers, the norm or a copy, write into it directly).
  Act causal_conv(double cin, double cout, double T, double H, double W) {
    const double cp = pad8(cin);
    pool_.slot(slot_++, 2 * H * W * cp);
    const int stage = pool_.act(T + 2, H, W, cp);
    Act y = alloc(T, H, W, pad8(cout));
    pool_.put(stage);
    return y;
  }
  Act res(const Act& x, double cin, double cout, const std::string& name) {
    pool_.where(name + ".conv1");
    Act y1 = causal_conv(cin, cout, x.T, x.H, x.W);
    pool_.where(name + ".conv2");
    Act y2 = causal_conv(cout, cout, x.T, x.H, x.W);
    drop(y1);
    if (cin != cout) {
      pool_.where(name + ".shortcut");
      Act h = alloc(x.T, x.H, x.W, pad8(cout));
      drop(h);
    }
    return y2;
  }

  Act attn(const Act& x, double C) {
    pool_.where("decoder.middle.1");
    const double P = x.T * x.H * x.W, HW = x.H * x.W;
    Act xn = alloc(x.T, x.H, x.W, C);
    const int qkv = pool_.act(P, 1, 1, 3 * C);
    drop(xn);
    const int s = pool_.get(HW * HW * 4);
    const int prob = pool_.act(HW, HW, 1, 1);
    Act o = alloc(x.T, x.H, x.W, C);
    Act y = alloc(x.T, x.H, x.W, C);
    drop(o);
    pool_.put(prob);
    pool_.put(s);
    pool_.put(qkv);
    return y;
  }

  // Resample up: [time conv (C -> 2C) + interleave to 2T frames] then the sub-pixel 2x2 conv
  // (4*out channels at H+1 x W+1) and the shuffle into [T, 2H, 2W, out].
  Act up(const Act& x, double dim, double out, bool temporal, bool first, const std::string& name) {
    Act cur = x;
    bool own = false;
    if (temporal) {
      if (first) {
        ++slot_;  // the first chunk only marks the slot (no temporal upsampling)
      } else {
        pool_.where(name + ".time_conv");
        Act y = causal_conv(dim, 2 * dim, x.T, x.H, x.W);
        cur = alloc(2 * x.T, x.H, x.W, dim);
        own = true;
        drop(y);
      }
    }
    pool_.where(name + ".resample");
    Act y = alloc(cur.T, cur.H + 1, cur.W + 1, 4 * out);
    Act o = alloc(cur.T, 2 * cur.H, 2 * cur.W, out);
    drop(y);
    if (own) drop(cur);
    return o;
  }

  void decode_chunk(double nf, double h, double w, bool first) {
    slot_ = 0;
    const bool v22 = v_.version == models::vae::VaeVersion::kWan22;
    const double z = v_.z_dim;
    const int levels = static_cast<int>(v_.dim_mult.size());
    std::vector<double> dims = {static_cast<double>(v_.dec_dim) * v_.dim_mult.back()};
    for (int i = levels - 1; i >= 0; --i) dims.push_back(static_cast<double>(v_.dec_dim) * v_.dim_mult[i]);
    const std::vector<bool> t_up(v_.temperal_downsample.rbegin(), v_.temperal_downsample.rend());

    pool_.where("decoder.conv1");
    Act a = alloc(nf, h, w, pad8(z));
    Act x = causal_conv(z, dims[0], nf, h, w);
    drop(a);
    auto step = [&](Act next) {
      drop(x);
      x = next;
    };
    step(res(x, dims[0], dims[0], "decoder.middle.0"));
    step(attn(x, dims[0]));
    step(res(x, dims[0], dims[0], "decoder.middle.2"));
    for (int i = 0; i < levels; ++i) {
      double in = dims[i];
      const double out = dims[i + 1];
      if (!v22 && i >= 1 && i <= 3) in /= 2;
      const bool t = i < static_cast<int>(t_up.size()) && t_up[i];
      const bool upl = i != levels - 1;
      const std::string name = "decoder.upsamples." + std::to_string(i);
      // Wan2.2: the level input stays referenced through the level (the DupUp3D shortcut reads
      // it in the shuffle); Wan2.1: each layer replaces it.
      Act main = x;
      bool main_owned = false;
      auto replace = [&](Act next) {
        if (main_owned || !v22) drop(main);
        main = next;
        main_owned = true;
      };
      for (int j = 0; j < v_.num_res_blocks + 1; ++j)
        replace(res(main, j == 0 ? in : out, out, name + ".res" + std::to_string(j)));
      if (upl) replace(up(main, out, v22 ? out : out / 2, t, first, name));
      if (v22) drop(x);
      x = main;
    }
    pool_.where("decoder.head");
    const double out_ch = static_cast<double>(v_.in_channels) * v_.patch() * v_.patch();
    Act y = causal_conv(x.C, out_ch, x.T, x.H, x.W);
    drop(x);
    drop(y);
  }

  const models::vae::VaeConfig& v_;
  PoolSim pool_;
  size_t slot_ = 0;
};

std::string key_of(const models::vae::VaeConfig& v, int64_t frames, int64_t h, int64_t w, int chunk, double act,
                   bool reuse) {
  std::ostringstream k;
  k << static_cast<int>(v.version) << '/' << v.dec_dim << '/' << v.z_dim << '/' << v.num_res_blocks << '/' << v.patch()
    << '/' << v.in_channels << '/';
  for (int m : v.dim_mult) k << m << ',';
  for (bool t : v.temperal_downsample) k << (t ? '1' : '0');
  k << '/' << frames << '/' << h << '/' << w << '/' << chunk << '/' << act << (reuse ? "/r" : "/n");
  return k.str();
}

}  // namespace

VaeCudaDecodePeak vae_cuda_decode_peak(const models::vae::VaeConfig& v, int64_t frames, int64_t lat_h,
                                       int64_t lat_w, int chunk, double act, bool reuse_buffers) {
  thread_local std::unordered_map<std::string, VaeCudaDecodePeak> cache;
  const std::string key = key_of(v, frames, lat_h, lat_w, chunk, act, reuse_buffers);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  DecoderSim sim(v, act, reuse_buffers);
  const VaeCudaDecodePeak r = sim.run(std::max<int64_t>(1, frames), lat_h, lat_w, chunk);
  cache.emplace(key, r);
  return r;
}

double vae_cuda_decoder_weight_bytes(const models::vae::VaeConfig& v, double kernel_bytes) {
  double total = 0;
  for (const auto& spec : models::vae::vae_weight_specs(v)) {
    const bool dec = spec.key.rfind("decoder.", 0) == 0 || spec.key.rfind("conv2.", 0) == 0;
    if (!dec) continue;
    double n = 1;
    for (int64_t d : spec.shape) n *= static_cast<double>(d);
    const bool kernel = spec.key.size() > 7 && spec.key.compare(spec.key.size() - 7, 7, ".weight") == 0 &&
                        spec.shape.size() >= 2;
    // "resample.1.weight" [cout, cin, 3, 3] of a 2x upsampling runs as a 2x2 conv with 4*cout
    // outputs: 16 taps per (cout, cin) pair instead of 9.
    const bool subpixel = kernel && spec.shape.size() == 4 && spec.key.find("resample.1.weight") != std::string::npos;
    if (subpixel) n = n / 9 * 16;
    total += std::ceil(n * (kernel ? kernel_bytes : 4) / 512) * 512;
  }
  return total;
}

}  // namespace wan22::plan
