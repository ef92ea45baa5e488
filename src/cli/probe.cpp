// wan22 probe FILE: codec, size, frame rate, frame count and metadata of a video (or PNG frames).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "media/video.h"

namespace wan22::cli {
namespace {

int run_probe(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf(
        "usage: wan22 probe FILE\n\n"
        "Decodes every frame of a video (.mp4, .webm) or a PNG-frames directory and prints JSON:\n"
        "container, codec, pixel format, width, height, fps, frame count and metadata.\n");
    return argc == 2 ? 0 : 2;
  }
  auto v = media::read_video(argv[1], /*keep_frames=*/false);
  nlohmann::json j;
  j["path"] = argv[1];
  j["container"] = v.info.container;
  j["codec"] = v.info.codec;
  j["pix_fmt"] = v.info.pix_fmt;
  j["width"] = v.info.width;
  j["height"] = v.info.height;
  j["fps"] = v.info.fps();
  j["fps_fraction"] = std::to_string(v.info.fps_num) + "/" + std::to_string(v.info.fps_den);
  j["frames"] = v.info.frame_count;
  j["metadata"] = v.info.metadata;
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}

const CommandRegistrar kReg({"probe", "print codec, size, fps and frame count of a video file", run_probe});

}  // namespace
}  // namespace wan22::cli
