#include "core/dtype.h"

#include <cmath>
#include <limits>

#include "core/status.h"

namespace wan22 {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kF8E4M3: return 1;
    case DType::kF8E5M2: return 1;
    case DType::kI8: return 1;
    case DType::kU8: return 1;
    case DType::kI16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kBool: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF64: return "f64";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kF8E4M3: return "f8_e4m3";
    case DType::kF8E5M2: return "f8_e5m2";
    case DType::kI8: return "i8";
    case DType::kU8: return "u8";
    case DType::kI16: return "i16";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kBool: return "bool";
  }
  return "?";
}

bool dtype_from_name(const std::string& s, DType* out) {
  static const struct {
    const char* a;
    const char* b;
    DType t;
  } kTable[] = {
      {"f32", "F32", DType::kF32},         {"f64", "F64", DType::kF64},
      {"f16", "F16", DType::kF16},         {"bf16", "BF16", DType::kBF16},
      {"f8_e4m3", "F8_E4M3", DType::kF8E4M3}, {"f8_e5m2", "F8_E5M2", DType::kF8E5M2},
      {"i8", "I8", DType::kI8},            {"u8", "U8", DType::kU8},
      {"i16", "I16", DType::kI16},         {"i32", "I32", DType::kI32},
      {"i64", "I64", DType::kI64},         {"bool", "BOOL", DType::kBool},
  };
  for (const auto& e : kTable) {
    if (s == e.a || s == e.b) {
      *out = e.t;
      return true;
    }
  }
  return false;
}

bool dtype_is_float(DType t) {
  switch (t) {
    case DType::kF32: case DType::kF64: case DType::kF16: case DType::kBF16:
    case DType::kF8E4M3: case DType::kF8E5M2:
      return true;
    default:
      return false;
  }
}

namespace {

// A small binary float format: E exponent bits, M mantissa bits, exponent bias.
struct MiniFloat {
  int ebits, mbits, bias;
  bool has_inf;        // all-ones exponent encodes inf/NaN (IEEE style)
  bool saturate;       // finite overflow -> max finite instead of inf
  uint32_t max_code;   // magnitude code of the largest finite value
  uint32_t nan_code;
};

constexpr MiniFloat kF16{5, 10, 15, true, false, 0x7bff, 0x7e00};
constexpr MiniFloat kE4M3{4, 3, 7, false, true, 0x7e, 0x7f};
constexpr MiniFloat kE5M2{5, 2, 15, true, true, 0x7b, 0x7f};

uint32_t encode(float x, const MiniFloat& f) {
  const uint32_t nbits = 1 + f.ebits + f.mbits;
  const uint32_t sign = (f32_bits(x) >> 31) << (nbits - 1);
  if (std::isnan(x)) return sign | f.nan_code;
  const uint32_t inf_code = ((1u << f.ebits) - 1) << f.mbits;
  float a = std::fabs(x);
  if (std::isinf(a)) return sign | (f.has_inf ? inf_code : f.max_code);
  int e2;
  std::frexp(a, &e2);  // a = m * 2^e2, m in [0.5,1)
  int exp = e2 - 1;    // a in [2^exp, 2^(exp+1))
  const int min_normal_exp = 1 - f.bias;
  uint32_t code;
  if (a == 0.0f) {
    code = 0;
  } else if (exp < min_normal_exp) {
    // subnormal in the target: units of 2^(min_normal_exp - M); q == 2^M lands on the smallest normal.
    float q = std::nearbyint(std::ldexp(a, f.mbits - min_normal_exp));
    code = static_cast<uint32_t>(q);
  } else {
    float q = std::nearbyint(std::ldexp(a, f.mbits - exp));  // in [2^M, 2^(M+1)]
    uint32_t qi = static_cast<uint32_t>(q);
    if (qi == (1u << (f.mbits + 1))) {
      ++exp;
      qi = 1u << f.mbits;
    }
    int64_t biased = exp + f.bias;
    if (biased >= (1 << f.ebits)) {
      code = 0xffffffffu;  // overflow marker
    } else {
      code = (static_cast<uint32_t>(biased) << f.mbits) | (qi - (1u << f.mbits));
    }
  }
  if (code > f.max_code) code = f.saturate ? f.max_code : inf_code;
  return sign | code;
}

float decode(uint32_t v, const MiniFloat& f) {
  const uint32_t nbits = 1 + f.ebits + f.mbits;
  const bool neg = (v >> (nbits - 1)) & 1u;
  const uint32_t mag = v & ((1u << (nbits - 1)) - 1);
  const uint32_t e = mag >> f.mbits;
  const uint32_t m = mag & ((1u << f.mbits) - 1);
  float r;
  if (f.has_inf && e == (1u << f.ebits) - 1) {
    r = m == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else if (!f.has_inf && mag == f.nan_code) {
    r = std::numeric_limits<float>::quiet_NaN();
  } else if (e == 0) {
    r = std::ldexp(static_cast<float>(m), 1 - f.bias - f.mbits);
  } else {
    r = std::ldexp(static_cast<float>(m + (1u << f.mbits)), static_cast<int>(e) - f.bias - f.mbits);
  }
  return neg ? -r : r;
}

struct Tables {
  float f16[65536];
  float e4m3[256];
  float e5m2[256];
  Tables() {
    for (uint32_t i = 0; i < 65536; ++i) f16[i] = decode(i, kF16);
    for (uint32_t i = 0; i < 256; ++i) {
      e4m3[i] = decode(i, kE4M3);
      e5m2[i] = decode(i, kE5M2);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}

template <class I>
I saturate_int(float v) {
  if (std::isnan(v)) return 0;
  double r = std::nearbyint(static_cast<double>(v));
  if (r <= static_cast<double>(std::numeric_limits<I>::min())) return std::numeric_limits<I>::min();
  if (r >= static_cast<double>(std::numeric_limits<I>::max())) return std::numeric_limits<I>::max();
  return static_cast<I>(r);
}

}  // namespace

float f16_to_f32(uint16_t h) { return tables().f16[h]; }
uint16_t f32_to_f16(float f) { return static_cast<uint16_t>(encode(f, kF16)); }
float f8e4m3_to_f32(uint8_t v) { return tables().e4m3[v]; }
uint8_t f32_to_f8e4m3(float f) { return static_cast<uint8_t>(encode(f, kE4M3)); }
float f8e5m2_to_f32(uint8_t v) { return tables().e5m2[v]; }
uint8_t f32_to_f8e5m2(float f) { return static_cast<uint8_t>(encode(f, kE5M2)); }

void convert_to_f32(const void* src, DType st, float* dst, size_t n) {
  switch (st) {
    case DType::kF32: std::memcpy(dst, src, n * 4); return;
    case DType::kF64: { auto* s = static_cast<const double*>(src); for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]); return; }
    case DType::kF16: { auto* s = static_cast<const uint16_t*>(src); const float* t = tables().f16; for (size_t i = 0; i < n; ++i) dst[i] = t[s[i]]; return; }
    case DType::kBF16: { auto* s = static_cast<const uint16_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]); return; }
    case DType::kF8E4M3: { auto* s = static_cast<const uint8_t*>(src); const float* t = tables().e4m3; for (size_t i = 0; i < n; ++i) dst[i] = t[s[i]]; return; }
    case DType::kF8E5M2: { auto* s = static_cast<const uint8_t*>(src); const float* t = tables().e5m2; for (size_t i = 0; i < n; ++i) dst[i] = t[s[i]]; return; }
    case DType::kI8: { auto* s = static_cast<const int8_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = s[i]; return; }
    case DType::kU8: case DType::kBool: { auto* s = static_cast<const uint8_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = s[i]; return; }
    case DType::kI16: { auto* s = static_cast<const int16_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = s[i]; return; }
    case DType::kI32: { auto* s = static_cast<const int32_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]); return; }
    case DType::kI64: { auto* s = static_cast<const int64_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(s[i]); return; }
  }
  throw_error(ErrorCode::kUnsupported, "convert_to_f32: unknown dtype");
}

void convert_from_f32(const float* src, void* dst, DType dt, size_t n) {
  switch (dt) {
    case DType::kF32: std::memcpy(dst, src, n * 4); return;
    case DType::kF64: { auto* d = static_cast<double*>(dst); for (size_t i = 0; i < n; ++i) d[i] = src[i]; return; }
    case DType::kF16: { auto* d = static_cast<uint16_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]); return; }
    case DType::kBF16: { auto* d = static_cast<uint16_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]); return; }
    case DType::kF8E4M3: { auto* d = static_cast<uint8_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = f32_to_f8e4m3(src[i]); return; }
    case DType::kF8E5M2: { auto* d = static_cast<uint8_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = f32_to_f8e5m2(src[i]); return; }
    case DType::kI8: { auto* d = static_cast<int8_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = saturate_int<int8_t>(src[i]); return; }
    case DType::kU8: { auto* d = static_cast<uint8_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = saturate_int<uint8_t>(src[i]); return; }
    case DType::kBool: { auto* d = static_cast<uint8_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = src[i] != 0.0f; return; }
    case DType::kI16: { auto* d = static_cast<int16_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = saturate_int<int16_t>(src[i]); return; }
    case DType::kI32: { auto* d = static_cast<int32_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = saturate_int<int32_t>(src[i]); return; }
    case DType::kI64: { auto* d = static_cast<int64_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = saturate_int<int64_t>(src[i]); return; }
  }
  throw_error(ErrorCode::kUnsupported, "convert_from_f32: unknown dtype");
}

}  // namespace wan22
