// The CUDA StepExecutor against the CPU one: every solver's whole trajectory and the CFG combine
// bit for bit (both round each operation separately), the frame-0 hold copy, argument checks.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "backends/cuda/sched_cuda.h"
#include "cuda_test_util.h"
#include "sched/scheduler.h"

using namespace wan22;

namespace {

struct StreamGuard {
  cudaStream_t s = nullptr;
  StreamGuard() { cudaStreamCreate(&s); }
  ~StreamGuard() { cudaStreamDestroy(s); }
};

// Number of elements whose bits differ (NaN never passes: compares bits).
int64_t bit_mismatches(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  if (x.size() != y.size()) return -1;
  int64_t n = 0;
  for (size_t i = 0; i < x.size(); ++i) n += std::memcmp(&x[i], &y[i], sizeof(float)) != 0;
  return n;
}

class CudaSched : public testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(CudaSched, TrajectoryBitIdenticalToCpu) {
  REQUIRE_GPU();
  StreamGuard st;
  cuda::CudaStepExecutor gpu(st.s);
  const Shape shape{5, 3, 11, 13};  // odd sizes: the grid-stride tail
  const int steps = 12;
  auto cpu_s = sched::make_scheduler(GetParam());
  auto gpu_s = sched::make_scheduler(GetParam());
  gpu_s->set_executor(gpu);
  cpu_s->set_timesteps(steps, 5.0);
  gpu_s->set_timesteps(steps, 5.0);
  Tensor x_cpu = test::random_tensor(shape, 1);
  Tensor x_gpu = gpu.upload(x_cpu);
  int64_t worst = 0;
  for (int i = 0; i < steps; ++i) {
    const Tensor v = test::random_tensor(shape, 100 + i, -2.0f, 2.0f);
    x_cpu = cpu_s->step(v, i, x_cpu);
    x_gpu = gpu_s->step(gpu.upload(v), i, x_gpu);
    ASSERT_TRUE(x_gpu.device().is_cuda());
    const int64_t bad = bit_mismatches(gpu.download(x_gpu), x_cpu);
    worst = std::max(worst, bad);
    EXPECT_EQ(bad, 0) << GetParam() << " step " << i;
  }
  std::cout << "  [" << GetParam() << "] " << steps << " steps, worst bit mismatches per step " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Solvers, CudaSched, testing::Values("unipc", "dpm++", "euler"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == "dpm++" ? std::string("dpmpp") : info.param;
                         });

TEST(CudaSchedExecutor, CfgCombineAndFrameHold) {
  REQUIRE_GPU();
  StreamGuard st;
  cuda::CudaStepExecutor gpu(st.s);
  auto& cpu = sched::cpu_executor();
  const Shape shape{6, 4, 5, 7};
  const Tensor c = test::random_tensor(shape, 7), u = test::random_tensor(shape, 8);
  sched::LinProgram p;
  const auto rc = p.add_input(), ru = p.add_input();
  p.output(p.lin(1.0f, ru, 1.0f, p.scale(5.0f, p.sub(rc, ru))));
  p.output(rc);  // a plain copy
  const auto on_cpu = cpu.run(p, {c, u});
  const auto on_gpu = gpu.run(p, {gpu.upload(c), gpu.upload(u)});
  ASSERT_EQ(on_gpu.size(), 2u);
  EXPECT_EQ(bit_mismatches(gpu.download(on_gpu[0]), on_cpu[0]), 0);
  EXPECT_EQ(bit_mismatches(gpu.download(on_gpu[1]), c), 0);

  // frame 0 of a [C, F, H, W] latent from a [C, 1, H, W] image latent, as the I2V loop holds it
  Tensor lat_cpu = test::random_tensor(shape, 9);
  const Tensor img = test::random_tensor({6, 1, 5, 7}, 10);
  Tensor lat_gpu = gpu.upload(lat_cpu);
  const Tensor img_gpu = gpu.upload(img);
  Tensor dst = lat_gpu.select(1, 0);
  gpu.copy(img_gpu.select(1, 0), dst);
  Tensor f0 = lat_cpu.select(1, 0);
  cpu.copy(img.select(1, 0), f0);
  EXPECT_EQ(bit_mismatches(gpu.download(lat_gpu), lat_cpu), 0);
  // a strided view into a contiguous tensor and back
  Tensor plain = Tensor::empty({6, 5, 7}, DType::kF32, Device::cuda(0));
  gpu.copy(lat_gpu.select(1, 2), plain);
  EXPECT_EQ(bit_mismatches(gpu.download(plain), lat_cpu.select(1, 2).contiguous()), 0);
}

TEST(CudaSchedExecutor, RejectsHostTensorsAndMismatches) {
  REQUIRE_GPU();
  StreamGuard st;
  cuda::CudaStepExecutor gpu(st.s);
  sched::LinProgram p;
  const auto a = p.add_input(), b = p.add_input();
  p.output(p.sub(a, b));
  const Tensor h = test::random_tensor({3, 4}, 11);
  const Tensor d = gpu.upload(h);
  auto expect_err = [](auto&& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_err([&] { gpu.run(p, {d, h}); }, "is not on cuda");
  expect_err([&] { gpu.run(p, {d, gpu.upload(test::random_tensor({4, 3}, 12))}); }, "differs in shape");
  auto s = sched::make_scheduler("euler");
  s->set_executor(gpu);
  s->set_timesteps(2, 5.0);
  expect_err([&] { s->step(h, 0, h); }, "must be a tensor on cuda");
}
