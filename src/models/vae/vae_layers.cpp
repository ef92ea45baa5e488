#include "models/vae/vae_layers.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"
#include "ops/ops.h"

namespace wan22::models::vae {

namespace {

// The last `n` frames (dim 2) of x as a fresh contiguous tensor (never a view that would keep the
// whole chunk alive in the cache).
Tensor last_frames(const Tensor& x, int64_t n) {
  const int64_t t = x.dim(2);
  return x.slice(2, std::max<int64_t>(0, t - n), t).clone();
}

// [N, 2C, T, H, W] (two frames per input frame, stacked on channels) -> [N, C, 2T, H, W].
Tensor interleave_time(const Tensor& y) {
  const int64_t n = y.dim(0), c = y.dim(1) / 2, t = y.dim(2), h = y.dim(3), w = y.dim(4);
  return y.contiguous().view({n, 2, c, t, h, w}).permute({0, 2, 3, 1, 4, 5}).contiguous().view({n, c, 2 * t, h, w});
}

}  // namespace

// ---------------- CausalConv3d ----------------

CausalConv3d CausalConv3d::load(const io::WeightStore& ws, const std::string& prefix, int64_t in, int64_t out,
                                std::array<int, 3> kernel, std::array<int, 3> padding, std::array<int, 3> stride) {
  CausalConv3d c;
  c.weight = ws.get_f32(prefix + "weight", {out, in, kernel[0], kernel[1], kernel[2]});
  c.bias = ws.get_f32(prefix + "bias", {out});
  c.padding = padding;
  c.stride = stride;
  return c;
}

Tensor CausalConv3d::forward(const Tensor& x, const Tensor* cache_frames) const {
  int t_front = 2 * padding[0];
  Tensor in = x;
  if (cache_frames != nullptr && cache_frames->defined() && t_front > 0) {
    in = ops::concat({*cache_frames, x}, 2);
    t_front -= static_cast<int>(cache_frames->dim(2));
  }
  WAN22_CHECK(t_front >= 0, "CausalConv3d: more cached frames than time padding");
  return ops::conv3d(in, weight, &bias, stride, {t_front, 0, padding[1], padding[1], padding[2], padding[2]});
}

Tensor cached_causal_conv(const CausalConv3d& conv, const Tensor& x, FeatCache* cache) {
  if (cache == nullptr) return conv.forward(x);
  CacheSlot& slot = cache->next();
  const bool have = slot.state == CacheSlot::State::kFrames;
  Tensor keep = last_frames(x, kCacheT);
  if (keep.dim(2) < kCacheT && have) {
    // cache the last frame of the last two chunks
    keep = ops::concat({last_frames(slot.frames, 1), keep}, 2);
  }
  Tensor y = conv.forward(x, have ? &slot.frames : nullptr);
  slot.frames = std::move(keep);
  slot.state = CacheSlot::State::kFrames;
  return y;
}

// ---------------- RMS_norm ----------------

RmsNorm RmsNorm::load(const io::WeightStore& ws, const std::string& key, int64_t dim, bool images) {
  RmsNorm n;
  Tensor g = images ? ws.get_f32(key, {dim, 1, 1}) : ws.get_f32(key, {dim, 1, 1, 1});
  n.gamma = g.contiguous().view({dim, 1, 1, 1});
  return n;
}

Tensor RmsNorm::forward(const Tensor& x) const { return ops::rms_norm_dim(x, 1, &gamma, nullptr, 1e-12f); }

// ---------------- ResidualBlock ----------------

ResidualBlock ResidualBlock::load(const io::WeightStore& ws, const std::string& prefix, int64_t in, int64_t out) {
  ResidualBlock b;
  b.norm1 = RmsNorm::load(ws, prefix + "residual.0.gamma", in, false);
  b.conv1 = CausalConv3d::load(ws, prefix + "residual.2.", in, out, {3, 3, 3}, {1, 1, 1});
  b.norm2 = RmsNorm::load(ws, prefix + "residual.3.gamma", out, false);
  b.conv2 = CausalConv3d::load(ws, prefix + "residual.6.", out, out, {3, 3, 3}, {1, 1, 1});
  if (in != out) b.shortcut = CausalConv3d::load(ws, prefix + "shortcut.", in, out, {1, 1, 1}, {0, 0, 0});
  return b;
}

Tensor ResidualBlock::forward(const Tensor& x, FeatCache* cache) const {
  Tensor h = shortcut ? shortcut->forward(x) : x;
  Tensor y = ops::silu(norm1.forward(x));
  y = cached_causal_conv(conv1, y, cache);
  y = ops::silu(norm2.forward(y));
  // (dropout: identity at inference)
  y = cached_causal_conv(conv2, y, cache);
  ops::add_(y, h);
  return y;
}

// ---------------- AttentionBlock ----------------

AttentionBlock AttentionBlock::load(const io::WeightStore& ws, const std::string& prefix, int64_t dim) {
  AttentionBlock a;
  a.norm = RmsNorm::load(ws, prefix + "norm.gamma", dim, true);
  a.qkv_w = ws.get_f32(prefix + "to_qkv.weight", {3 * dim, dim, 1, 1}).contiguous().view({3 * dim, dim});
  a.qkv_b = ws.get_f32(prefix + "to_qkv.bias", {3 * dim});
  a.proj_w = ws.get_f32(prefix + "proj.weight", {dim, dim, 1, 1}).contiguous().view({dim, dim});
  a.proj_b = ws.get_f32(prefix + "proj.bias", {dim});
  return a;
}

Tensor AttentionBlock::forward(const Tensor& x) const {
  WAN22_CHECK(x.ndim() == 5, "AttentionBlock: expected [N, C, T, H, W], got " + x.str());
  const int64_t n = x.dim(0), c = x.dim(1), t = x.dim(2), h = x.dim(3), w = x.dim(4);
  const int64_t frames = n * t, hw = h * w;
  Tensor normed = norm.forward(x);
  // "(b t) c h w" with the channels last: one token per pixel, one batch item per frame
  Tensor tokens = normed.permute({0, 2, 3, 4, 1}).contiguous().view({frames, hw, c});
  Tensor qkv = ops::linear(tokens, qkv_w, &qkv_b);  // [frames, hw, 3c]
  Tensor q = qkv.slice(2, 0, c).contiguous().view({frames, hw, 1, c});
  Tensor k = qkv.slice(2, c, 2 * c).contiguous().view({frames, hw, 1, c});
  Tensor v = qkv.slice(2, 2 * c, 3 * c).contiguous().view({frames, hw, 1, c});
  Tensor attn = ops::attention(q, k, v).view({frames, hw, c});
  Tensor proj = ops::linear(attn, proj_w, &proj_b);  // [frames, hw, c]
  Tensor out = proj.view({n, t, h, w, c}).permute({0, 4, 1, 2, 3}).contiguous();
  ops::add_(out, x);
  return out;
}

// ---------------- Resample ----------------

Resample Resample::load(const io::WeightStore& ws, const std::string& prefix, int64_t dim, ResampleMode mode,
                        int64_t up_out) {
  Resample r;
  r.mode = mode;
  r.dim = dim;
  const bool up = mode == ResampleMode::kUpsample2d || mode == ResampleMode::kUpsample3d;
  const int64_t out = up ? up_out : dim;
  r.spatial.weight = ws.get_f32(prefix + "resample.1.weight", {out, dim, 3, 3}).contiguous().view({out, dim, 1, 3, 3});
  r.spatial.bias = ws.get_f32(prefix + "resample.1.bias", {out});
  r.spatial.padding = up ? std::array<int, 3>{0, 1, 1} : std::array<int, 3>{0, 0, 0};
  r.spatial.stride = up ? std::array<int, 3>{1, 1, 1} : std::array<int, 3>{1, 2, 2};
  if (mode == ResampleMode::kUpsample3d) {
    r.time_conv = CausalConv3d::load(ws, prefix + "time_conv.", dim, dim * 2, {3, 1, 1}, {1, 0, 0});
  } else if (mode == ResampleMode::kDownsample3d) {
    r.time_conv = CausalConv3d::load(ws, prefix + "time_conv.", dim, dim, {3, 1, 1}, {0, 0, 0}, {2, 1, 1});
  }
  return r;
}

Tensor Resample::forward(const Tensor& x, FeatCache* cache) const {
  Tensor cur = x;
  if (mode == ResampleMode::kUpsample3d && cache != nullptr) {
    CacheSlot& slot = cache->next();
    if (slot.state == CacheSlot::State::kEmpty) {
      slot.state = CacheSlot::State::kRep;  // first chunk: no temporal upsampling
    } else {
      Tensor keep = last_frames(x, kCacheT);
      if (keep.dim(2) < kCacheT && slot.state == CacheSlot::State::kFrames) {
        keep = ops::concat({last_frames(slot.frames, 1), keep}, 2);
      }
      if (keep.dim(2) < kCacheT && slot.state == CacheSlot::State::kRep) {
        keep = ops::concat({Tensor::zeros(keep.shape()), keep}, 2);
      }
      Tensor doubled = slot.state == CacheSlot::State::kRep ? time_conv->forward(x)
                                                            : time_conv->forward(x, &slot.frames);
      slot.frames = std::move(keep);
      slot.state = CacheSlot::State::kFrames;
      cur = interleave_time(doubled);
    }
  }

  if (mode == ResampleMode::kUpsample2d || mode == ResampleMode::kUpsample3d) {
    // nn.Upsample(scale 2, "nearest-exact") equals plain nearest for an integer factor of 2
    cur = ops::upsample_nearest2d(cur, 2, 2);
    cur = spatial.forward(cur);
  } else {
    // ZeroPad2d((0, 1, 0, 1)) then a 3x3 stride-2 conv
    cur = ops::conv3d(cur, spatial.weight, &spatial.bias, {1, 2, 2}, {0, 0, 0, 1, 0, 1});
  }

  if (mode == ResampleMode::kDownsample3d && cache != nullptr) {
    CacheSlot& slot = cache->next();
    if (slot.state == CacheSlot::State::kEmpty) {
      // first chunk: keep (the last frame of) the input, no temporal downsampling
      slot.frames = last_frames(cur, 1);
      slot.state = CacheSlot::State::kFrames;
    } else {
      Tensor keep = last_frames(cur, 1);
      WAN22_CHECK(cur.dim(2) + 1 >= 3, "Resample(downsample3d): a chunk of " + std::to_string(cur.dim(2)) +
                                           " frame(s) is too short for the stride-2 temporal conv (video frame "
                                           "counts must be 1 + 4k)");
      cur = time_conv->forward(ops::concat({last_frames(slot.frames, 1), cur}, 2));
      slot.frames = std::move(keep);
    }
  }
  return cur;
}

}  // namespace wan22::models::vae
