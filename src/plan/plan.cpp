#include "plan/plan.h"

#include <sstream>

namespace wan22::plan {

const char* placement_name(Placement p) {
  switch (p) {
    case Placement::kResident: return "resident";
    case Placement::kOffloaded: return "offloaded";
    case Placement::kStreamed: return "streamed";
    case Placement::kCpu: return "cpu";
  }
  return "?";
}

const char* format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32: return "f32";
    case WeightFormat::kBF16: return "bf16";
    case WeightFormat::kFP16: return "fp16";
    case WeightFormat::kFP8: return "fp8";
    case WeightFormat::kInt8: return "int8";
  }
  return "?";
}

double format_bytes(WeightFormat f) {
  switch (f) {
    case WeightFormat::kF32: return 4;
    case WeightFormat::kBF16:
    case WeightFormat::kFP16: return 2;
    case WeightFormat::kFP8:
    case WeightFormat::kInt8: return 1;
  }
  return 2;
}

const char* stage_name(Stage s) {
  switch (s) {
    case Stage::kTextEncode: return "text_encode";
    case Stage::kImageEncode: return "image_encode";
    case Stage::kDenoise: return "denoise";
    case Stage::kVaeDecode: return "vae_decode";
  }
  return "?";
}

std::string Workload::str() const {
  std::ostringstream s;
  s << model << " " << width << "x" << height << "x" << frames << ", " << steps << " steps, guidance " << guidance
    << (image_to_video ? ", image-to-video" : "");
  return s.str();
}

bool Plan::operator==(const Plan& o) const {
  return on_gpu == o.on_gpu && dit == o.dit && dit_resident_blocks == o.dit_resident_blocks &&
         dit_format == o.dit_format && cfg_batch == o.cfg_batch && checkpoint_segments == o.checkpoint_segments &&
         attention_slice == o.attention_slice && text == o.text && text_format == o.text_format && vae == o.vae &&
         vae_format == o.vae_format && vae_tile == o.vae_tile && vae_overlap == o.vae_overlap &&
         vae_chunk == o.vae_chunk && vae_reuse_buffers == o.vae_reuse_buffers &&
         vae_tiles_to_host == o.vae_tiles_to_host;
}

std::string Plan::str() const {
  std::ostringstream s;
  if (!on_gpu) {
    s << "cpu: segments " << checkpoint_segments << ", vae tile " << vae_tile;
    return s.str();
  }
  s << "dit " << placement_name(dit);
  if (dit == Placement::kStreamed) s << " (" << dit_resident_blocks << " resident blocks)";
  s << " " << format_name(dit_format) << ", cfg " << (cfg_batch ? "batch 2" : "sequential") << ", segments "
    << checkpoint_segments << ", text " << placement_name(text) << " " << format_name(text_format) << ", vae "
    << placement_name(vae) << " tile " << (vae_tile ? std::to_string(vae_tile) + "/" + std::to_string(vae_overlap) : "off")
    << (vae_reuse_buffers ? "" : ", vae buffer reuse off");
  return s.str();
}

}  // namespace wan22::plan
