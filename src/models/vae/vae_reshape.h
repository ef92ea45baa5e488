// Pure data-movement pieces of the Wan2.2 VAE: the 2x2 patchify / unpatchify of the video and the
// AvgDown3D / DupUp3D shortcuts of the residual down/up blocks. [N, C, T, H, W] float32.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace wan22::models::vae {

// "b c f (h q) (w r) -> b (c r q) f h w" (p = 1 returns x).
Tensor patchify(const Tensor& x, int p);
// "b (c r q) f h w -> b c f (h q) (w r)".
Tensor unpatchify(const Tensor& x, int p);

// AvgDown3D(in_channels=C, out_channels, factor_t, factor_s): front-pads time with zeros to a
// multiple of factor_t, folds the (ft, fs, fs) blocks into channels and averages channel groups.
Tensor avg_down_3d(const Tensor& x, int64_t out_channels, int factor_t, int factor_s);
// DupUp3D(in_channels=C, out_channels, factor_t, factor_s): repeats channels, unfolds them into
// (ft, fs, fs) blocks; on the first chunk drops the first factor_t - 1 frames.
Tensor dup_up_3d(const Tensor& x, int64_t out_channels, int factor_t, int factor_s, bool first_chunk);

}  // namespace wan22::models::vae
