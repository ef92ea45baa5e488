#include "sched/unipc.h"

#include <algorithm>
#include <cmath>

#include "sched/sigma_schedule.h"
#include "sched/solver_math.h"

#include "sched/no_fp_contract.h"

namespace wan22::sched {

namespace {

constexpr int kSolverOrder = 2;

// Solves [[1, 1], [rk, 1]] * rho = [b1, b2] in float32 the way LAPACK sgesv does for a 2x2
// matrix: LU with partial pivoting (rows swap when |rk| > 1), L scaled by the reciprocal pivot.
void solve_rhos_c(float rk, float b1, float b2, float* rho0, float* rho1) {
  float a11 = 1.0f, a12 = 1.0f, a21 = rk, a22 = 1.0f;
  float y1 = b1, y2 = b2;
  if (std::fabs(rk) > 1.0f) {
    std::swap(a11, a21);
    std::swap(a12, a22);
    std::swap(y1, y2);
  }
  const float l21 = a21 * (1.0f / a11);
  const float u22 = a22 - l21 * a12;
  y2 = y2 - y1 * l21;
  const float x2 = y2 / u22;
  const float x1 = (y1 - x2 * a12) / a11;
  *rho0 = x1;
  *rho1 = x2;
}

// The coefficients of one UniP/UniC update from sigma_s0 to sigma_t (predict_x0, bh2).
struct BhCoeffs {
  float ratio;      // sigma_t / sigma_s0
  float alpha_t;    // 1 - sigma_t
  float h;          // lambda_t - lambda_s0
  float h_phi_1;    // expm1(-h)
  float b_h;        // B(h) = expm1(-h)
};

BhCoeffs bh_coeffs(float sigma_t, float sigma_s0) {
  BhCoeffs c{};
  c.alpha_t = 1.0f - sigma_t;
  c.h = flow_lambda(sigma_t) - flow_lambda(sigma_s0);
  const float hh = -c.h;
  c.h_phi_1 = expm1_f32(hh);
  c.b_h = expm1_f32(hh);
  c.ratio = sigma_t / sigma_s0;
  return c;
}

}  // namespace

std::vector<double> UniPCScheduler::make_sigmas(int num_steps, double shift) const {
  return unipc_sigmas(num_steps, shift, num_train_timesteps());
}

void UniPCScheduler::reset_state() {
  m_last_ = Tensor();
  m_prev_ = Tensor();
  last_sample_ = Tensor();
  lower_order_nums_ = 0;
  this_order_ = 0;
}

UniPCScheduler::Reg UniPCScheduler::correct(LinProgram& p, Reg this_x0, Reg last_sample, Reg m0, Reg m1,
                                            int step_index, int order) const {
  const float sigma_t = sigma_f32(step_index);
  const float sigma_s0 = sigma_f32(step_index - 1);
  const BhCoeffs c = bh_coeffs(sigma_t, sigma_s0);
  const float hh = -c.h;

  float rho_prev = 0.0f;  // weight of D1 (from the older output); used for order 2
  float rho_t = 0.5f;     // weight of D1_t = this_x0 - m0; order 1 uses 0.5
  float rk = 1.0f;
  if (order >= 2) {
    const float lambda_s0 = flow_lambda(sigma_s0);
    const float lambda_s1 = flow_lambda(sigma_f32(step_index - 2));
    rk = (lambda_s1 - lambda_s0) / c.h;
    // b_i = h_phi_k * i! / B(h), h_phi_k = h_phi_(k-1) / hh - 1 / (k)!
    float h_phi_k = c.h_phi_1 / hh - 1.0f;
    const float b1 = (h_phi_k * 1.0f) / c.b_h;
    h_phi_k = h_phi_k / hh - 0.5f;
    const float b2 = (h_phi_k * 2.0f) / c.b_h;
    solve_rhos_c(rk, b1, b2, &rho_prev, &rho_t);
  }

  const float x0_coef = c.alpha_t * c.h_phi_1;
  const float res_coef = c.alpha_t * c.b_h;
  // base = ratio * x - x0_coef * m0; D1_t = this_x0 - m0
  const Reg base = p.lin(c.ratio, last_sample, -x0_coef, m0);
  const Reg d1_t = p.sub(this_x0, m0);
  Reg res;
  if (order >= 2) {
    // res = rho_prev * (m1 - m0) / rk + rho_t * D1_t
    const Reg d1 = p.lin(1.0f, m1, -1.0f, m0, rk);
    res = p.lin(rho_prev, d1, rho_t, d1_t);
  } else {
    res = p.scale(rho_t, d1_t);
  }
  return p.lin(1.0f, base, -res_coef, res);  // base - res_coef * res
}

UniPCScheduler::Reg UniPCScheduler::predict(LinProgram& p, Reg sample, Reg m0, Reg m1, int step_index,
                                            int order) const {
  const float sigma_t = sigma_f32(step_index + 1);
  const float sigma_s0 = sigma_f32(step_index);
  const BhCoeffs c = bh_coeffs(sigma_t, sigma_s0);

  const float x0_coef = c.alpha_t * c.h_phi_1;
  const float res_coef = c.alpha_t * c.b_h;
  const Reg base = p.lin(c.ratio, sample, -x0_coef, m0);  // ratio * x - x0_coef * m0
  if (order < 2) return base;
  // rhos_p = [0.5] for order 2 (the reference's simplified UniP-2).
  const float rho_p = 0.5f;
  const float lambda_s0 = flow_lambda(sigma_s0);
  const float lambda_s1 = flow_lambda(sigma_f32(step_index - 1));
  const float rk = (lambda_s1 - lambda_s0) / c.h;
  const Reg d1 = p.lin(1.0f, m1, -1.0f, m0, rk);  // (m1 - m0) / rk
  const Reg pred_res = p.scale(rho_p, d1);
  return p.lin(1.0f, base, -res_coef, pred_res);  // base - res_coef * pred_res
}

Tensor UniPCScheduler::do_step(const Tensor& model_output, int step_index, const Tensor& sample) {
  const bool use_corrector = step_index > 0 && last_sample_.defined() && m_last_.defined();
  const int correct_order = this_order_;  // the UniP order of the previous step
  // lower_order_final: order 1 on the last step; warm-up: order <= steps taken + 1.
  const int remaining = num_steps() - step_index;
  const int predict_order = std::min({kSolverOrder, remaining, lower_order_nums_ + 1});

  // One program: x0 conversion, UniC of the incoming sample, UniP to the next one.
  LinProgram p;
  std::vector<Tensor> in;
  auto input = [&](const Tensor& t) {
    in.push_back(t);
    return p.add_input();
  };
  const Reg v = input(model_output), xs = input(sample);
  const Reg last = use_corrector ? input(last_sample_) : -1;
  const Reg m_last = m_last_.defined() && (use_corrector || predict_order >= 2) ? input(m_last_) : -1;
  const Reg m_prev = use_corrector && correct_order >= 2 ? input(m_prev_) : -1;

  // convert_model_output (predict_x0, flow_prediction): x0 = sample - sigma * v, from the
  // uncorrected sample.
  const float sigma = sigma_f32(step_index);
  const Reg x0 = p.lin(1.0f, xs, -sigma, v);
  const Reg current = use_corrector ? correct(p, x0, last, m_last, m_prev, step_index, correct_order) : xs;
  // model_outputs shift: the new x0 is m0 of the predictor, the previous one its m1.
  const Reg next = predict(p, current, x0, m_last, step_index, predict_order);
  p.output(next);
  p.output(x0);
  p.output(current);  // a copy of the sample when there is no corrector

  std::vector<Tensor> out = executor().run(p, in);
  m_prev_ = m_last_;
  m_last_ = out[1];
  last_sample_ = out[2];
  this_order_ = predict_order;
  if (lower_order_nums_ < kSolverOrder) ++lower_order_nums_;
  return out[0];
}

}  // namespace wan22::sched
