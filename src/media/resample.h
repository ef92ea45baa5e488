// Image resampling with Pillow's semantics (Image.resize on an 8-bit RGB image, box = whole image,
// no reducing_gap): separable, horizontal pass then vertical pass with an 8-bit intermediate,
// filter support scaled by the downscale factor, pixel centres at +0.5, coefficients normalised
// to sum 1 then quantised to 22-bit fixed point, results rounded and clamped to 0..255.
#pragma once
#include "media/image.h"

namespace wan22::media {

enum class ResampleFilter {
  kBilinear,  // PIL Image.BILINEAR (triangle, support 1)
  kBicubic,   // PIL Image.BICUBIC (a = -0.5, support 2)
  kLanczos,   // PIL Image.LANCZOS (a = 3, support 3)
};

// Resizes to out_width x out_height (both >= 1). Multi-threaded over rows (wan22::parallel_for).
Image resize_image(const Image& in, int out_width, int out_height,
                   ResampleFilter filter = ResampleFilter::kLanczos);

}  // namespace wan22::media
