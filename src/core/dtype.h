// Element types and exact scalar conversions (round-to-nearest-even; fp8 saturating).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace wan22 {

enum class DType : uint8_t {
  kF32,
  kF64,
  kF16,
  kBF16,
  kF8E4M3,  // float8_e4m3fn: no infinities, max 448, NaN 0x7f/0xff
  kF8E5M2,  // float8_e5m2: IEEE-like, max 57344
  kI8,
  kU8,
  kI16,
  kI32,
  kI64,
  kBool,
};

size_t dtype_size(DType t);
const char* dtype_name(DType t);            // "f32", "bf16", "f8_e4m3", ...
bool dtype_from_name(const std::string& s, DType* out);  // accepts our names and safetensors' ("F32", "BF16", "F8_E4M3", ...)
bool dtype_is_float(DType t);

// ---- scalar conversions ----
inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);            // IEEE binary16, RNE, overflow -> inf
float f8e4m3_to_f32(uint8_t v);
uint8_t f32_to_f8e4m3(float f);          // RNE, saturates to +-448, NaN -> 0x7f
float f8e5m2_to_f32(uint8_t v);
uint8_t f32_to_f8e5m2(float f);          // RNE, finite values saturate to +-57344, inf stays inf

// Converts n elements of src (type st) into float.
void convert_to_f32(const void* src, DType st, float* dst, size_t n);
// Converts n floats into dst of type dt (integers: round to nearest, saturating; bool: != 0).
void convert_from_f32(const float* src, void* dst, DType dt, size_t n);

}  // namespace wan22
