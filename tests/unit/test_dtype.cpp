#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/dtype.h"

using namespace wan22;

TEST(DType, Bf16RoundToNearestEven) {
  // 1 + 2^-8 is exactly half way between bf16 1.0 and 1.0078125: ties go to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // Slightly above half way rounds up.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
  // 1.0078125 + half ulp ties to even (1.015625 = 0x3f82).
  EXPECT_EQ(f32_to_bf16(1.0078125f + std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
}

TEST(DType, F16ExhaustiveRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << "code " << h;
  }
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half of smallest subnormal ties to 0
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
}

TEST(DType, Fp8E4M3) {
  for (uint32_t c = 0; c < 256; ++c) {
    float f = f8e4m3_to_f32(static_cast<uint8_t>(c));
    if (std::isnan(f)) {
      EXPECT_EQ(c & 0x7f, 0x7fu);
      continue;
    }
    if (f == 0.0f) continue;  // +-0
    ASSERT_EQ(f32_to_f8e4m3(f), c) << c;
  }
  EXPECT_EQ(f8e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(f32_to_f8e4m3(1e6f), 0x7e);   // saturates
  EXPECT_EQ(f32_to_f8e4m3(-1e6f), 0xfe);
  EXPECT_EQ(f32_to_f8e4m3(std::numeric_limits<float>::infinity()), 0x7e);
  EXPECT_EQ(f8e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(f32_to_f8e4m3(std::ldexp(1.0f, -10)), 0x00);  // tie to even (0)
  EXPECT_EQ(f32_to_f8e4m3(std::ldexp(3.0f, -10)), 0x02);  // 1.5 units ties to 2
  EXPECT_EQ(f32_to_f8e4m3(1.0625f), 0x38);  // 1 + half ulp (0.125/2) ties to even 1.0
}

TEST(DType, Fp8E5M2) {
  for (uint32_t c = 0; c < 256; ++c) {
    float f = f8e5m2_to_f32(static_cast<uint8_t>(c));
    if (std::isnan(f) || std::isinf(f) || f == 0.0f) continue;
    ASSERT_EQ(f32_to_f8e5m2(f), c) << c;
  }
  EXPECT_EQ(f8e5m2_to_f32(0x7b), 57344.0f);
  EXPECT_EQ(f32_to_f8e5m2(1e9f), 0x7b);
  EXPECT_TRUE(std::isinf(f8e5m2_to_f32(f32_to_f8e5m2(std::numeric_limits<float>::infinity()))));
}

TEST(DType, IntegerConversionsSaturate) {
  float src[] = {-300.0f, -1.5f, 0.4f, 2.5f, 300.0f};
  int8_t i8[5];
  convert_from_f32(src, i8, DType::kI8, 5);
  EXPECT_EQ(i8[0], -128);
  EXPECT_EQ(i8[1], -2);  // round half to even
  EXPECT_EQ(i8[2], 0);
  EXPECT_EQ(i8[3], 2);
  EXPECT_EQ(i8[4], 127);
  int64_t i64[5];
  convert_from_f32(src, i64, DType::kI64, 5);
  EXPECT_EQ(i64[4], 300);
  float back[5];
  convert_to_f32(i64, DType::kI64, back, 5);
  EXPECT_EQ(back[0], -300.0f);
}

TEST(DType, Names) {
  DType t;
  ASSERT_TRUE(dtype_from_name("BF16", &t));
  EXPECT_EQ(t, DType::kBF16);
  ASSERT_TRUE(dtype_from_name("f8_e4m3", &t));
  EXPECT_EQ(t, DType::kF8E4M3);
  EXPECT_FALSE(dtype_from_name("F4", &t));
  EXPECT_EQ(dtype_size(DType::kI64), 8u);
}
