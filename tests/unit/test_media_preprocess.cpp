// The official TI2V image pre-processing (best_output_size, resize + centre crop, to tensor) and
// the video tensor -> RGB8 frames conversion.
#include <gtest/gtest.h>

#include <cmath>

#include "core/status.h"
#include "media/image.h"
#include "media/preprocess.h"
#include "media/resample.h"

using namespace wan22;
using namespace wan22::media;

TEST(MediaPreprocess, BestOutputSizeKnownValues) {
  // 1280x720, 32x32 grid, area 704*1280 = 901120 (worked by hand from the Python formula):
  //   ratio = 1.7778, ow = sqrt(901120 * ratio) = 1265.7, oh = 901120 / ow = 711.96
  //   width first:  ow1 = 1265.7 // 32 * 32 = 1248, oh1 = 901120 / 1248 = 722.05 // 32 * 32 = 704
  //   height first: oh2 = 711.96 // 32 * 32 = 704, ow2 = 901120 / 704 = 1280 -> 1280
  //   ratio1 = 1.7727 (off by 1.0029), ratio2 = 1.8182 (off by 1.0227) -> (1248, 704)
  auto s = best_output_size(1280, 720, 32, 32, 704 * 1280);
  EXPECT_EQ(s.width, 1248);
  EXPECT_EQ(s.height, 704);
  s = best_output_size(720, 1280, 32, 32, 704 * 1280);
  EXPECT_EQ(s.width, 704);
  EXPECT_EQ(s.height, 1248);
  // Square: both candidates are off by exactly 960/928 -> the tie goes to "height first".
  s = best_output_size(1024, 1024, 32, 32, 704 * 1280);
  EXPECT_EQ(s.width, 960);
  EXPECT_EQ(s.height, 928);
  s = best_output_size(640, 480, 32, 32, 704 * 1280);
  EXPECT_EQ(s.width, 1088);
  EXPECT_EQ(s.height, 800);
  s = best_output_size(96, 64, 32, 32, 96 * 64);
  EXPECT_EQ(s.width, 96);
  EXPECT_EQ(s.height, 64);
  s = best_output_size(333, 777, 16, 16, 480 * 832);
  EXPECT_EQ(s.width, 416);
  EXPECT_EQ(s.height, 960);
  s = best_output_size(1920, 1080, 32, 32, 480 * 832);
  EXPECT_EQ(s.width, 832);
  EXPECT_EQ(s.height, 480);
  s = best_output_size(100, 3000, 32, 32, 704 * 1280);
  EXPECT_EQ(s.width, 160);
  EXPECT_EQ(s.height, 5184);
}

TEST(MediaPreprocess, BestOutputSizeRejectsImpossible) {
  EXPECT_THROW(best_output_size(100, 100, 32, 32, 500), Error);  // area below one cell
  EXPECT_THROW(best_output_size(0, 100, 32, 32, 704 * 1280), Error);
  EXPECT_THROW(best_output_size(1, 5000, 32, 32, 64 * 64), Error);  // width rounds to 0
}

TEST(MediaPreprocess, PythonRoundIsHalfToEven) {
  EXPECT_EQ(python_round(0.5), 0);
  EXPECT_EQ(python_round(1.5), 2);
  EXPECT_EQ(python_round(2.5), 2);
  EXPECT_EQ(python_round(2.5000001), 3);
  EXPECT_EQ(python_round(-1.5), -2);
  EXPECT_EQ(python_round(1037.4999), 1037);
}

TEST(MediaPreprocess, CropOutsideIsBlack) {
  Image img = Image::create(4, 3);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<uint8_t>(i + 1);
  Image c = crop_image(img, 1, 1, 2, 2);
  EXPECT_EQ(c.data, (std::vector<uint8_t>{16, 17, 18, 19, 20, 21, 28, 29, 30, 31, 32, 33}));
  Image d = crop_image(img, -1, 2, 3, 2);  // left column and bottom row are outside
  EXPECT_EQ(d.data, (std::vector<uint8_t>{0, 0, 0, 25, 26, 27, 28, 29, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(MediaPreprocess, ResizeAndCenterCropGeometry) {
  // 300x100 -> 96x64: scale = max(96/300, 64/100) = 0.64 -> resize to 192x64, crop x1 = 48.
  Image img = Image::create(300, 100);
  for (int y = 0; y < 100; ++y)
    for (int x = 0; x < 300; ++x)
      for (int c = 0; c < 3; ++c) img.pixel(x, y)[c] = static_cast<uint8_t>(x < 150 ? 20 : 230);
  Image out = resize_and_center_crop(img, 96, 64);
  ASSERT_EQ(out.width, 96);
  ASSERT_EQ(out.height, 64);
  Image resized = resize_image(img, 192, 64);
  EXPECT_EQ(out.data, crop_image(resized, 48, 0, 96, 64).data);
  EXPECT_EQ(out.pixel(0, 10)[0], 20);
  EXPECT_EQ(out.pixel(95, 10)[0], 230);
}

TEST(MediaPreprocess, ImageToTensorLayoutAndValues) {
  Image img = Image::create(3, 2);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<uint8_t>(i * 15);
  Tensor t = image_to_tensor(img);
  ASSERT_EQ(t.shape(), (Shape{3, 1, 2, 3}));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) {
        const float v = static_cast<float>(img.pixel(x, y)[c]) / 255.0f;
        EXPECT_EQ(t.item_f32(c * 6 + y * 3 + x), (v - 0.5f) / 0.5f);
      }
  EXPECT_EQ(t.item_f32(0), -1.0f);
}

TEST(MediaPreprocess, PreprocessI2VShapes) {
  Image img = Image::create(200, 120);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = static_cast<uint8_t>((i * 7) & 255);
  I2VImage r = preprocess_i2v_image(img, 32, 32, 160 * 96);
  EXPECT_EQ(r.size.width, 160);
  EXPECT_EQ(r.size.height, 96);
  EXPECT_EQ(r.tensor.shape(), (Shape{3, 1, 96, 160}));
  for (float v : r.tensor.to_vector()) {
    ASSERT_GE(v, -1.0f);
    ASSERT_LE(v, 1.0f);
  }
}

TEST(MediaPreprocess, VideoTensorToFramesTruncatesLikeOfficial) {
  // [3, F=2, H=1, W=4]; values chosen around rounding boundaries.
  const std::vector<float> vals = {-1.5f, -1.0f, 0.0f, 0.999f,  // c0 f0
                                   1.0f,  2.0f,  -0.5f, NAN,    // c0 f1
                                   0.5f,  0.5f,  0.5f, 0.5f,    // c1
                                   0.5f,  0.5f,  0.5f, 0.5f,
                                   -0.9961f, 0.1f, 0.3f, 0.7f,  // c2
                                   -0.9961f, 0.1f, 0.3f, 0.7f};
  Tensor t = Tensor::from_vector(vals, {3, 2, 1, 4});
  auto frames = video_tensor_to_frames(t);
  ASSERT_EQ(frames.size(), 2u);
  auto official = [](float x) {  // (x.clamp(-1,1) + 1) / 2 * 255, then .type(torch.uint8)
    x = std::min(std::max(x, -1.0f), 1.0f);
    return static_cast<int>(static_cast<uint8_t>((x + 1.0f) / 2.0f * 255.0f));
  };
  EXPECT_EQ(frames[0].pixel(0, 0)[0], 0);
  EXPECT_EQ(frames[0].pixel(2, 0)[0], 127);  // 127.5 truncates
  EXPECT_EQ(frames[0].pixel(3, 0)[0], official(0.999f));
  EXPECT_EQ(frames[1].pixel(0, 0)[0], 255);
  EXPECT_EQ(frames[1].pixel(1, 0)[0], 255);
  EXPECT_EQ(frames[1].pixel(3, 0)[0], 0);  // NaN
  EXPECT_EQ(frames[0].pixel(0, 0)[1], official(0.5f));
  EXPECT_EQ(frames[0].pixel(1, 0)[2], official(0.1f));
  auto nearest = video_tensor_to_frames(t, PixelRounding::kNearest);
  EXPECT_EQ(nearest[0].pixel(2, 0)[0], 128);  // 127.5 rounds up
  // A batch dimension of 1 is accepted; wrong ranks are not.
  EXPECT_EQ(video_tensor_to_frames(t.unsqueeze(0)).size(), 2u);
  EXPECT_THROW(video_tensor_to_frames(Tensor::zeros({2, 2, 1, 4})), Error);
}

TEST(MediaPreprocess, FramesTensorRoundTrip) {
  std::vector<Image> frames(3, Image::create(5, 4));
  for (size_t f = 0; f < frames.size(); ++f)
    for (size_t i = 0; i < frames[f].data.size(); ++i) frames[f].data[i] = static_cast<uint8_t>((i * 13 + f * 50) & 255);
  Tensor t = frames_to_video_tensor(frames);
  EXPECT_EQ(t.shape(), (Shape{3, 3, 4, 5}));
  auto back = video_tensor_to_frames(t, PixelRounding::kNearest);
  for (size_t f = 0; f < frames.size(); ++f) EXPECT_EQ(back[f].data, frames[f].data);
}
