// LinProgram and the CPU StepExecutor: each instruction rounds like separate float32 operations,
// argument checks, and the CFG combine equals the op-layer expression bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ops/ops.h"
#include "sched/lin_program.h"
#include "sched/scheduler.h"
#include "sched/step_executor.h"
#include "test_util.h"

#include "sched/no_fp_contract.h"

using namespace wan22;
using sched::LinProgram;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

template <class F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(SchedLinProgram, EachInstructionRoundsLikeSeparateOps) {
  // 70001 elements: several threads and a partial last chunk.
  const Shape shape{70001};
  const Tensor x = test::random_tensor(shape, 1, -3.0f, 3.0f);
  const Tensor y = test::random_tensor(shape, 2, -3.0f, 3.0f);
  const float a = 0.3719f, b = -1.2345f, d = 0.777f, s = 2.5f;
  LinProgram p;
  const auto rx = p.add_input(), ry = p.add_input();
  const auto t = p.lin(a, rx, b, ry);       // a*x + b*y
  const auto q = p.lin(1.0f, t, -1.0f, ry, d);  // (t - y) / d
  const auto u = p.scale(s, q);            // s*q
  p.output(u);
  p.output(t);
  p.output(rx);  // a copy of an input
  const std::vector<Tensor> out = sched::cpu_executor().run(p, {x, y});
  ASSERT_EQ(out.size(), 3u);
  const float* px = x.data<float>();
  const float* py = y.data<float>();
  Tensor ref_u = Tensor::empty(shape), ref_t = Tensor::empty(shape);
  for (int64_t k = 0; k < x.numel(); ++k) {
    const float ax = a * px[k];
    const float by = b * py[k];
    const float tk = ax + by;
    const float diff = tk - py[k];
    const float qk = diff / d;
    ref_t.data<float>()[k] = tk;
    ref_u.data<float>()[k] = s * qk;
  }
  EXPECT_TRUE(same_bits(out[0], ref_u));
  EXPECT_TRUE(same_bits(out[1], ref_t));
  EXPECT_TRUE(same_bits(out[2], x));
  EXPECT_NE(out[2].raw_data(), x.raw_data()) << "outputs are new tensors";
}

TEST(SchedLinProgram, CfgCombineMatchesTheOpExpression) {
  // The pipeline's CFG program against u + g * (c - u) through the op layer, bit for bit.
  const Shape shape{4, 3, 5, 7};
  const Tensor c = test::random_tensor(shape, 3), u = test::random_tensor(shape, 4);
  const float g = 5.0f;
  LinProgram p;
  const auto rc = p.add_input(), ru = p.add_input();
  p.output(p.lin(1.0f, ru, 1.0f, p.scale(g, p.sub(rc, ru))));
  const Tensor got = sched::cpu_executor().run(p, {c, u})[0];
  const Tensor ref = ops::add(u, ops::mul_scalar(ops::sub(c, u), g));
  EXPECT_TRUE(same_bits(got, ref));
}

TEST(SchedLinProgram, ChecksItsArguments) {
  LinProgram p;
  const auto a = p.add_input();
  const auto b = p.add_input();
  p.output(p.sub(a, b));
  auto& ex = sched::cpu_executor();
  const Tensor x = test::random_tensor({2, 3}, 5);
  expect_invalid([&] { ex.run(p, {x}); }, "takes 2 inputs");
  expect_invalid([&] { ex.run(p, {x, test::random_tensor({3, 2}, 6)}); }, "differs in shape");
  expect_invalid([&] { ex.run(p, {x, x.to(DType::kBF16)}); }, "not float32");
  expect_invalid([&] { ex.run(p, {x, test::random_tensor({3, 2}, 6).transpose(0, 1)}); }, "not contiguous");
  expect_invalid([&] { p.add_input(); }, "before the first instruction");
  expect_invalid([&] { p.lin(1.0f, a, 1.0f, 99); }, "register 99");
  LinProgram big;
  auto r = big.add_input();
  expect_invalid(
      [&] {
        for (int i = 0; i < 100; ++i) r = big.scale(1.0f, r);
      },
      "more than");
  LinProgram none;
  none.add_input();
  expect_invalid([&] { ex.run(none, {x}); }, "no outputs");
}

TEST(SchedLinProgram, SetExecutorRestartsTheSolver) {
  auto s = sched::make_scheduler("unipc");
  s->set_timesteps(4, 5.0);
  const Tensor a = test::random_tensor({2, 3}, 7);
  const Tensor first = s->step(a, 0, a);
  s->step(a, 1, a);
  s->set_executor(sched::cpu_executor());
  EXPECT_EQ(&s->executor(), &sched::cpu_executor());
  // state reset: the first step may run again and gives the same result
  EXPECT_TRUE(same_bits(s->step(a, 0, a), first));
}
