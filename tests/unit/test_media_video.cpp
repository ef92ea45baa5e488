// Video writing (MP4/H.264, WebM/VP9, PNG frames) decoded back through libavformat.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/status.h"
#include "media/image.h"
#include "media/video.h"
#include "test_util.h"

using namespace wan22;
using namespace wan22::media;
namespace fs = std::filesystem;

namespace {

// Smooth moving gradients: compress well, so a lossy round trip stays close.
std::vector<Image> make_frames(int n, int w, int h) {
  std::vector<Image> frames;
  for (int f = 0; f < n; ++f) {
    Image img = Image::create(w, h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t* p = img.pixel(x, y);
        p[0] = static_cast<uint8_t>(40 + (x * 150) / w + f * 3);
        p[1] = static_cast<uint8_t>(30 + (y * 180) / h);
        p[2] = static_cast<uint8_t>(200 - f * 5);
      }
    frames.push_back(std::move(img));
  }
  return frames;
}

double mean_abs_diff(const Image& a, const Image& b) {
  double s = 0;
  for (size_t i = 0; i < a.data.size(); ++i) s += std::abs(int(a.data[i]) - int(b.data[i]));
  return s / a.data.size();
}

// Files in `dir` other than the expected ones (a failed write must leave nothing behind).
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST(MediaVideo, Mp4H264RoundTrip) {
  const auto frames = make_frames(13, 96, 64);
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/out.mp4";
  VideoWriteOptions opt;
  opt.fps_num = 12;
  opt.title = "a red fox in snow";
  opt.comment = "seed=42 steps=3 guidance=5.0";
  opt.metadata = {{"wan22_seed", "42"}};
  VideoWriteResult r = write_video(path, frames, opt);
  std::cout << "H.264 encoder: " << r.codec << "\n";
  EXPECT_EQ(r.frames, 13);
  EXPECT_FALSE(r.padded);

  DecodedVideo v = read_video(path);
  EXPECT_EQ(v.info.codec, "h264");
  EXPECT_NE(v.info.container.find("mp4"), std::string::npos) << v.info.container;
  EXPECT_EQ(v.info.frame_count, 13);
  EXPECT_EQ(v.frames.size(), 13u);
  EXPECT_EQ(v.info.width, 96);
  EXPECT_EQ(v.info.height, 64);
  EXPECT_EQ(v.info.fps_num, 12);
  EXPECT_EQ(v.info.fps_den, 1);
  EXPECT_EQ(v.info.pix_fmt, "yuv420p");
  EXPECT_EQ(v.info.metadata["title"], opt.title);
  EXPECT_EQ(v.info.metadata["comment"], opt.comment);
  EXPECT_EQ(v.info.metadata["wan22_seed"], "42");
  double worst = 0;
  for (size_t i = 0; i < frames.size(); ++i) worst = std::max(worst, mean_abs_diff(frames[i], v.frames[i]));
  std::cout << "MP4 worst per-frame mean abs diff: " << worst << "\n";
  EXPECT_LT(worst, 3.0);
  EXPECT_EQ(list_dir(dir), std::vector<std::string>{"out.mp4"});  // no temporary left
}

TEST(MediaVideo, WebmRoundTrip) {
  const auto frames = make_frames(13, 96, 64);
  const std::string path = test::temp_dir() + "/out.webm";
  VideoWriteOptions opt;
  opt.fps_num = 12;
  opt.preset = "ultrafast";
  opt.title = "webm title";
  opt.comment = "webm comment";
  VideoWriteResult r = write_video(path, frames, opt);
  std::cout << "WebM encoder: " << r.codec << "\n";
  DecodedVideo v = read_video(path);
  EXPECT_TRUE(v.info.codec == "vp9" || v.info.codec == "vp8") << v.info.codec;
  EXPECT_NE(v.info.container.find("webm"), std::string::npos) << v.info.container;
  EXPECT_EQ(v.info.frame_count, 13);
  EXPECT_EQ(v.info.width, 96);
  EXPECT_EQ(v.info.height, 64);
  EXPECT_EQ(v.info.fps_num, 12);
  EXPECT_EQ(v.info.fps_den, 1);
  EXPECT_EQ(v.info.metadata["title"], opt.title);
  EXPECT_EQ(v.info.metadata["COMMENT"].empty() ? v.info.metadata["comment"] : v.info.metadata["COMMENT"],
            opt.comment);
  double worst = 0;
  for (size_t i = 0; i < frames.size(); ++i) worst = std::max(worst, mean_abs_diff(frames[i], v.frames[i]));
  std::cout << "WebM worst per-frame mean abs diff: " << worst << "\n";
  EXPECT_LT(worst, 4.0);
}

TEST(MediaVideo, Vp8Fallback) {
  const auto frames = make_frames(4, 32, 32);
  VideoWriteOptions opt;
  opt.codec = "libvpx";
  opt.fps_num = 8;
  const std::string path = test::temp_dir() + "/vp8.webm";
  VideoWriteResult r = write_video(path, frames, opt);
  EXPECT_EQ(r.codec, "libvpx");
  DecodedVideo v = read_video(path, /*keep_frames=*/false);
  EXPECT_EQ(v.info.codec, "vp8");
  EXPECT_EQ(v.info.frame_count, 4);
  EXPECT_TRUE(v.frames.empty());
}

TEST(MediaVideo, PngFramesDirectory) {
  const auto frames = make_frames(5, 20, 14);
  const std::string dir = test::temp_dir() + "/frames";
  VideoWriteOptions opt;
  opt.title = "t";
  VideoWriteResult r = write_video(dir, frames, opt);
  EXPECT_EQ(r.format, VideoFormat::kPngFrames);
  EXPECT_EQ(r.codec, "png");
  auto names = list_dir(dir);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"frame_00000.png", "frame_00001.png", "frame_00002.png",
                                             "frame_00003.png", "frame_00004.png"}));
  DecodedVideo v = read_video(dir);
  EXPECT_EQ(v.info.frame_count, 5);
  ASSERT_EQ(v.frames.size(), 5u);
  for (size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(v.frames[i].data, frames[i].data);  // lossless
  // Overwriting an old frames directory with fewer frames leaves only the new ones.
  write_video(dir, make_frames(2, 20, 14), opt);
  EXPECT_EQ(list_dir(dir).size(), 2u);
  // A directory with other files is never replaced.
  std::ofstream(dir + "/notes.txt") << "mine";
  EXPECT_THROW(write_video(dir, frames, opt), Error);
  EXPECT_TRUE(fs::exists(dir + "/notes.txt"));
}

TEST(MediaVideo, OddSizesPadOrError) {
  const auto frames = make_frames(3, 33, 21);
  const std::string path = test::temp_dir() + "/odd.mp4";
  VideoWriteOptions opt;
  opt.preset = "ultrafast";
  VideoWriteResult r = write_video(path, frames, opt);
  EXPECT_TRUE(r.padded);
  EXPECT_EQ(r.width, 34);
  EXPECT_EQ(r.height, 22);
  DecodedVideo v = read_video(path);
  EXPECT_EQ(v.info.width, 34);
  EXPECT_EQ(v.info.height, 22);
  EXPECT_EQ(v.info.frame_count, 3);
  opt.odd_size = OddSizePolicy::kError;
  try {
    write_video(test::temp_dir() + "/odd2.mp4", frames, opt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("33x21"), std::string::npos) << e.what();
  }
}

TEST(MediaVideo, FractionalFrameRate) {
  VideoWriteOptions opt;
  opt.fps_num = 30000;
  opt.fps_den = 1001;
  opt.preset = "ultrafast";
  opt.title = "standard tags only";  // no extra metadata: plain MP4 title atom
  const std::string path = test::temp_dir() + "/ntsc.mp4";
  write_video(path, make_frames(5, 32, 32), opt);
  DecodedVideo v = read_video(path, false);
  EXPECT_EQ(v.info.metadata["title"], opt.title);
  EXPECT_EQ(v.info.fps_num, 30000);
  EXPECT_EQ(v.info.fps_den, 1001);
  EXPECT_EQ(v.info.frame_count, 5);
}

TEST(MediaVideo, BadRequestsGiveClearErrors) {
  const auto frames = make_frames(2, 16, 16);
  auto code_of = [&](const std::string& path, const std::vector<Image>& f, const VideoWriteOptions& o,
                     std::string* msg = nullptr) {
    try {
      write_video(path, f, o);
    } catch (const Error& e) {
      if (msg) *msg = e.what();
      return e.code();
    }
    return ErrorCode::kOk;
  };
  std::string msg;
  EXPECT_EQ(code_of("/nonexistent_dir_wan22/x.mp4", frames, {}, &msg), ErrorCode::kNotFound);
  EXPECT_NE(msg.find("/nonexistent_dir_wan22"), std::string::npos) << msg;
  // The "directory" is a regular file: cannot be written.
  const std::string dir = test::temp_dir();
  std::ofstream(dir + "/file") << "x";
  EXPECT_EQ(code_of(dir + "/file/x.mp4", frames, {}, &msg), ErrorCode::kIoError);
  EXPECT_NE(msg.find("not a directory"), std::string::npos) << msg;
  EXPECT_EQ(code_of(dir + "/none.mp4", {}, {}), ErrorCode::kInvalidArgument);
  std::vector<Image> mixed = frames;
  mixed.push_back(Image::create(8, 8));
  EXPECT_EQ(code_of(dir + "/mixed.mp4", mixed, {}, &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("frame 2"), std::string::npos) << msg;
  VideoWriteOptions bad_fps;
  bad_fps.fps_num = 0;
  EXPECT_EQ(code_of(dir + "/fps.mp4", frames, bad_fps), ErrorCode::kInvalidArgument);
  VideoWriteOptions bad_codec;
  bad_codec.codec = "no_such_encoder";
  EXPECT_EQ(code_of(dir + "/codec.mp4", frames, bad_codec, &msg), ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("no_such_encoder"), std::string::npos) << msg;
  VideoWriteOptions no_overwrite;
  no_overwrite.overwrite = false;
  std::ofstream(dir + "/exists.mp4") << "old";
  EXPECT_EQ(code_of(dir + "/exists.mp4", frames, no_overwrite), ErrorCode::kInvalidArgument);
  // Nothing half-written: only the files this test created itself remain.
  auto names = list_dir(dir);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"exists.mp4", "file"}));
}

// A write that fails part-way (here: RLIMIT_FSIZE makes write() fail with EFBIG, as a full disk
// fails with ENOSPC) must give kIoError and leave no file. Runs in a re-executed child process.
int write_with_file_size_limit(const std::string& path, size_t limit) {
  signal(SIGXFSZ, SIG_IGN);
  rlimit rl{limit, limit};
  setrlimit(RLIMIT_FSIZE, &rl);
  VideoWriteOptions opt;
  opt.preset = "ultrafast";
  opt.crf = 0;  // lossless: a large file
  try {
    write_video(path, make_frames(13, 96, 64), opt);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    if (e.code() != ErrorCode::kIoError) return 2;
    return fs::exists(path) ? 3 : 42;
  }
  return 1;
}

TEST(MediaVideo, WriteFailureIsIoErrorAndLeavesNothing) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string dir = test::temp_dir();
  EXPECT_EXIT(std::exit(write_with_file_size_limit(dir + "/big.mp4", 4000)),
              testing::ExitedWithCode(42), "error .* video '.*big.mp4'");
  EXPECT_EXIT(std::exit(write_with_file_size_limit(dir + "/frames", 100)),
              testing::ExitedWithCode(42), "cannot write '.*frames/frame_0000");
  EXPECT_TRUE(list_dir(dir).empty());
}

TEST(MediaVideo, ReadingBadFiles) {
  const std::string dir = test::temp_dir();
  EXPECT_THROW(read_video(dir + "/missing.mp4"), Error);
  std::ofstream(dir + "/junk.mp4") << "this is not a video at all";
  try {
    read_video(dir + "/junk.mp4");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptData);
    EXPECT_NE(std::string(e.what()).find("junk.mp4"), std::string::npos);
  }
  // A truncated MP4 (header cut) is corrupt, not a crash.
  const std::string good = dir + "/good.mp4";
  VideoWriteOptions opt;
  opt.preset = "ultrafast";
  write_video(good, make_frames(6, 32, 32), opt);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/cut.mp4", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  EXPECT_THROW(read_video(dir + "/cut.mp4"), Error);
}

TEST(MediaVideo, EncodersAreListed) {
  auto h264 = available_h264_encoders();
  auto webm = available_webm_encoders();
  std::cout << "H.264 encoders:";
  for (auto& n : h264) std::cout << " " << n;
  std::cout << "\nWebM encoders:";
  for (auto& n : webm) std::cout << " " << n;
  std::cout << "\n";
  EXPECT_FALSE(h264.empty());
  EXPECT_FALSE(webm.empty());
  EXPECT_EQ(video_format_from_path("a/b.MP4"), VideoFormat::kMp4);
  EXPECT_EQ(video_format_from_path("x.webm"), VideoFormat::kWebm);
  EXPECT_EQ(video_format_from_path("frames_dir"), VideoFormat::kPngFrames);
  EXPECT_EQ(video_format_from_path("x.mov"), VideoFormat::kAuto);
  try {
    write_video(test::temp_dir() + "/x.mov", std::vector<Image>(1, Image::create(4, 4)));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(".mov"), std::string::npos) << e.what();
  }
}
