// The official TI2V image-to-video pre-processing (wan/textimage2video.py, i2v path) and the
// inverse: a decoded video tensor to RGB8 frames (wan/utils/utils.py save_video).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "media/image.h"

namespace wan22::media {

struct OutputSize {
  int width = 0;
  int height = 0;
};

// wan.utils.utils.best_output_size, bit-exact (Python float semantics, including // on floats):
// the size (multiple of dw x dh, area <= expected_area) whose aspect ratio is closest to w/h,
// trying "width first" and "height first". Throws kInvalidArgument when no such size exists
// (where the Python code divides by zero or fails its asserts).
OutputSize best_output_size(int64_t w, int64_t h, int64_t dw, int64_t dh, int64_t expected_area);

// Python's round() on a double (round half to even), as used for the resize target size.
int64_t python_round(double x);

// PIL Image.crop((x, y, x + w, y + h)): pixels outside the source are black (0).
Image crop_image(const Image& in, int x, int y, int w, int h);

// Official steps: scale = max(ow/iw, oh/ih); Lanczos-resize to (round(iw*scale), round(ih*scale));
// centre-crop at ((W - ow) // 2, (H - oh) // 2).
Image resize_and_center_crop(const Image& in, int out_width, int out_height);

// TF.to_tensor(img).sub_(0.5).div_(0.5).unsqueeze(1): f32 [3, 1, H, W] in [-1, 1], computed in
// float32 exactly as torch does ((v / 255 - 0.5) / 0.5).
Tensor image_to_tensor(const Image& img);

struct I2VImage {
  Tensor tensor;  // f32 [3, 1, oh, ow] in [-1, 1]
  OutputSize size;  // (ow, oh) from best_output_size
};
// The whole official pre-processing: dw = patch_size[2] * vae_stride[2] (32 for TI2V-5B),
// dh likewise, max_area e.g. 704 * 1280.
I2VImage preprocess_i2v_image(const Image& img, int dw, int dh, int64_t max_area);

// How a [-1, 1] value becomes 0..255 after v' = (clamp(v, -1, 1) + 1) / 2 * 255.
//   kTruncate: (uint8) cast toward zero, what the official save_video does (the default).
//   kNearest: round to nearest (ties away from zero).
enum class PixelRounding { kTruncate, kNearest };

// A video tensor [3, F, H, W] (or [1, 3, F, H, W]) of any float dtype -> F RGB8 frames.
// NaN becomes 0. Multi-threaded over frames and rows.
std::vector<Image> video_tensor_to_frames(const Tensor& video,
                                          PixelRounding rounding = PixelRounding::kTruncate);

// Inverse helper for tests and tools: frames -> f32 [3, F, H, W] in [-1, 1] (v / 255 * 2 - 1).
Tensor frames_to_video_tensor(const std::vector<Image>& frames);

}  // namespace wan22::media
