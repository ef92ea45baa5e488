// CUDA runtime tests: skip with a message where no GPU is present.
#include <gtest/gtest.h>

#include "backends/cuda/device.h"
#include "core/tensor.h"
#include "test_util.h"

using namespace wan22;

namespace {
bool have_gpu() {
  if (cuda::device_count() > 0) {
    cuda::init();
    return true;
  }
  return false;
}
}  // namespace

#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no GPU: " << cuda::unavailable_reason()

TEST(CudaRuntime, DeviceProperties) {
  REQUIRE_GPU();
  auto devs = cuda::devices();
  ASSERT_FALSE(devs.empty());
  EXPECT_GE(devs[0].cc_major, 8) << devs[0].name;
  EXPECT_GT(devs[0].total_memory, 1ull << 30);
  std::cout << "GPU 0: " << devs[0].name << " sm_" << devs[0].cc_major << devs[0].cc_minor << ", "
            << (devs[0].total_memory >> 20) << " MiB\n";
}

TEST(CudaRuntime, HostDeviceRoundTripAndAllocatorStats) {
  REQUIRE_GPU();
  Tensor h = test::random_tensor({37, 129}, 11);
  auto* alloc = cuda::allocator();
  ASSERT_NE(alloc, nullptr);
  uint64_t before = alloc->caching_stats().current_bytes;
  {
    Tensor d = h.to(Device::cuda(0));
    EXPECT_TRUE(d.device().is_cuda());
    EXPECT_GE(alloc->caching_stats().current_bytes, before + h.nbytes());
    Tensor back = d.to(Device::cpu());
    EXPECT_EQ(test::max_abs_diff(back, h), 0.0);
    // bf16 conversion happens on the host side of the copy
    Tensor db = Tensor::empty(h.shape(), DType::kBF16, Device::cuda(0));
    db.copy_from(h);
    EXPECT_LT(test::rel_err(db.to(Device::cpu()), h), 4e-3);
  }
  EXPECT_EQ(alloc->caching_stats().current_bytes, before);
}
