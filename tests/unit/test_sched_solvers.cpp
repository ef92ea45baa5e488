// Flow-matching solvers: exactness on a linear flow, schedules, argument checks, step order.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "sched/scheduler.h"
#include "test_util.h"

using namespace wan22;

namespace {

// x(sigma) = (1 - sigma) * x0 + sigma * noise, elementwise.
Tensor mix(const Tensor& x0, const Tensor& noise, double sigma) {
  Tensor out = Tensor::empty(x0.shape());
  const float* a = x0.data<float>();
  const float* b = noise.data<float>();
  float* y = out.data<float>();
  for (int64_t k = 0; k < out.numel(); ++k) {
    y[k] = static_cast<float>((1.0 - sigma) * a[k] + sigma * b[k]);
  }
  return out;
}

// The constant velocity noise - x0 of that straight path.
Tensor velocity(const Tensor& x0, const Tensor& noise) {
  Tensor out = Tensor::empty(x0.shape());
  const float* a = x0.data<float>();
  const float* b = noise.data<float>();
  float* y = out.data<float>();
  for (int64_t k = 0; k < out.numel(); ++k) y[k] = b[k] - a[k];
  return out;
}

template <class F>
void expect_invalid(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected an Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

class EachSolver : public testing::TestWithParam<std::string> {};

}  // namespace

TEST(SchedEuler, LinearFlowGivesExactEndpoint) {
  const Tensor x0 = test::random_tensor({3, 5, 7}, 11);
  const Tensor noise = test::random_tensor({3, 5, 7}, 12);
  const Tensor v = velocity(x0, noise);
  auto s = sched::make_scheduler("euler");
  s->set_timesteps(9, 3.0);
  ASSERT_EQ(s->sigmas().front(), 1.0);
  Tensor x = noise;
  for (int i = 0; i < s->num_steps(); ++i) {
    x = s->step(v, i, x);
    // Every intermediate sample lies on the path at the next sigma.
    EXPECT_LE(test::rel_err(x, mix(x0, noise, s->sigmas()[i + 1])), 1e-6) << "step " << i;
  }
  const double err = test::rel_err(x, x0);
  std::cout << "[sched] euler linear-flow endpoint rel err " << err << std::endl;
  EXPECT_LE(err, 1e-6);
}

TEST_P(EachSolver, LinearFlowReachesItsEndpoint) {
  // A straight path has a constant x0 prediction, which every solver here integrates exactly;
  // 70000 elements also run the loops on several threads.
  const Tensor x0 = test::random_tensor({2, 35000}, 21);
  const Tensor noise = test::random_tensor({2, 35000}, 22);
  const Tensor v = velocity(x0, noise);
  auto s = sched::make_scheduler(GetParam());
  s->set_timesteps(12, 5.0);
  Tensor x = mix(x0, noise, s->sigmas()[0]);
  for (int i = 0; i < s->num_steps(); ++i) x = s->step(v, i, x);
  const double err = test::rel_err(x, x0);
  std::cout << "[sched] " << GetParam() << " linear-flow endpoint rel err " << err << std::endl;
  EXPECT_LE(err, 1e-5);
}

TEST_P(EachSolver, ScheduleShape) {
  auto s = sched::make_scheduler(GetParam());
  EXPECT_EQ(s->name(), GetParam());
  for (int steps : {1, 2, 7, 50}) {
    s->set_timesteps(steps, 5.0);
    ASSERT_EQ(s->num_steps(), steps);
    ASSERT_EQ(s->timesteps().size(), static_cast<size_t>(steps));
    ASSERT_EQ(s->sigmas().size(), static_cast<size_t>(steps) + 1);
    EXPECT_EQ(s->sigmas().back(), 0.0);
    EXPECT_EQ(s->shift(), 5.0);
    for (int i = 0; i < steps; ++i) {
      EXPECT_GT(s->sigmas()[i], s->sigmas()[i + 1]) << "sigmas decrease, step " << i;
      EXPECT_LE(s->sigmas()[i], 1.0);
      EXPECT_EQ(s->timesteps()[i], std::trunc(s->timesteps()[i])) << "integer timesteps";
      EXPECT_NEAR(s->timesteps()[i], s->sigmas()[i] * 1000.0, 1.0);
    }
  }
}

TEST(SchedSchedule, ReferenceEndpoints) {
  // UniPC starts at the shifted float32(1 - 1/1000) (t 999); DPM++ and Euler at sigma 1 (t 1000).
  auto u = sched::make_scheduler("unipc");
  u->set_timesteps(50, 5.0);
  EXPECT_EQ(u->timesteps().front(), 999.0);
  auto d = sched::make_scheduler("dpm++");
  d->set_timesteps(50, 5.0);
  EXPECT_EQ(d->timesteps().front(), 1000.0);
  EXPECT_EQ(d->sigmas().front(), 1.0);
  // shift 1 leaves linspace(1, 0) unchanged.
  d->set_timesteps(4, 1.0);
  EXPECT_EQ(d->sigmas(), (std::vector<double>{1.0, 0.75, 0.5, 0.25, 0.0}));
  EXPECT_EQ(d->timesteps(), (std::vector<double>{1000.0, 750.0, 500.0, 250.0}));
}

TEST_P(EachSolver, SetTimestepsValidatesArguments) {
  auto s = sched::make_scheduler(GetParam());
  expect_invalid([&] { s->set_timesteps(0, 5.0); }, "num_steps");
  expect_invalid([&] { s->set_timesteps(-3, 5.0); }, "num_steps");
  expect_invalid([&] { s->set_timesteps(10, 0.0); }, "shift");
  expect_invalid([&] { s->set_timesteps(10, -1.0); }, "shift");
  expect_invalid([&] { s->set_timesteps(10, std::numeric_limits<double>::quiet_NaN()); }, "shift");
  expect_invalid([&] { s->set_timesteps(10, std::numeric_limits<double>::infinity()); }, "shift");
  EXPECT_NO_THROW(s->set_timesteps(1, 0.5));
}

TEST_P(EachSolver, StepChecksItsInputs) {
  auto s = sched::make_scheduler(GetParam());
  const Tensor a = test::random_tensor({2, 3}, 31);
  const Tensor b = test::random_tensor({2, 3}, 32);
  expect_invalid([&] { s->step(a, 0, b); }, "set_timesteps");
  s->set_timesteps(4, 5.0);
  expect_invalid([&] { s->step(a, 4, b); }, "outside");
  expect_invalid([&] { s->step(a, -1, b); }, "outside");
  expect_invalid([&] { s->step(test::random_tensor({3, 2}, 33), 0, b); }, "shape");
  s->step(a, 0, b);
  expect_invalid([&] { s->step(a, 2, b); }, "in order");
  expect_invalid([&] { s->step(a, 0, b); }, "in order");
  EXPECT_NO_THROW(s->step(a, 1, b));
  // set_timesteps restarts; the first step may begin anywhere (like begin_index).
  s->set_timesteps(4, 5.0);
  EXPECT_NO_THROW(s->step(a, 2, b));
  EXPECT_NO_THROW(s->step(a, 3, b));
}

TEST_P(EachSolver, RestartIsDeterministicAndInputsUntouched) {
  auto s = sched::make_scheduler(GetParam());
  const Shape shape{4, 6, 5};
  const int steps = 6;
  std::vector<Tensor> outs;
  std::vector<float> input_copy;
  for (int run = 0; run < 2; ++run) {
    s->set_timesteps(steps, 3.0);
    Tensor x = test::random_tensor(shape, 40);
    for (int i = 0; i < steps; ++i) {
      const Tensor v = test::random_tensor(shape, 41 + i);
      const std::vector<float> before = x.to_vector();
      Tensor next = s->step(v, i, x);
      EXPECT_EQ(x.to_vector(), before) << "step must not write its sample";
      // Overwriting the caller's tensor afterwards must not change later steps.
      x.fill(123.0f);
      x = next;
      if (run == 0) {
        outs.push_back(x.clone());
      } else {
        EXPECT_EQ(x.to_vector(), outs[static_cast<size_t>(i)].to_vector()) << "step " << i;
      }
    }
  }
}

TEST_P(EachSolver, AcceptsBf16Inputs) {
  const Shape shape{3, 8};
  const Tensor v32 = test::random_tensor(shape, 51).to(DType::kBF16).to(DType::kF32);
  const Tensor x32 = test::random_tensor(shape, 52).to(DType::kBF16).to(DType::kF32);
  auto a = sched::make_scheduler(GetParam());
  auto b = sched::make_scheduler(GetParam());
  a->set_timesteps(3, 5.0);
  b->set_timesteps(3, 5.0);
  Tensor ya = a->step(v32, 0, x32);
  Tensor yb = b->step(v32.to(DType::kBF16), 0, x32.to(DType::kBF16));
  EXPECT_EQ(yb.dtype(), DType::kF32);
  EXPECT_EQ(ya.to_vector(), yb.to_vector());
}

INSTANTIATE_TEST_SUITE_P(Sched, EachSolver, testing::Values("unipc", "dpm++", "euler"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == "dpm++" ? std::string("dpmpp") : info.param;
                         });

TEST(SchedFactory, UnknownNameIsAnError) {
  expect_invalid([] { sched::make_scheduler("ddim"); }, "unknown solver 'ddim'");
  EXPECT_EQ(std::string(sched::make_scheduler("dpmpp")->name()), "dpm++");
  for (const auto& n : sched::scheduler_names()) EXPECT_EQ(sched::make_scheduler(n)->name(), n);
}
