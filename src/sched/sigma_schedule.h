// The shifted flow-matching sigma schedules of the Wan2.2 solvers, computed in float64 in the same
// operation order as the reference's numpy code so the truncated integer timesteps agree exactly.
#pragma once
#include <cstdint>
#include <vector>

namespace wan22::sched {

// numpy.linspace(start, stop, num) (endpoint included): i * ((stop - start) / (num - 1)) + start.
std::vector<double> np_linspace(double start, double stop, int num);

// shift * s / (1 + (shift - 1) * s), elementwise.
std::vector<double> shift_sigmas(const std::vector<double>& sigmas, double shift);

// FlowUniPCMultistepScheduler.set_timesteps(steps, shift=shift): linspace(sigma_max, 0, steps+1)
// without its last value, shifted; sigma_max = float32(1 - 1/num_train_timesteps).
std::vector<double> unipc_sigmas(int steps, double shift, int num_train_timesteps);

// get_sampling_sigmas(steps, shift): linspace(1, 0, steps+1)[:steps], shifted.
std::vector<double> sampling_sigmas(int steps, double shift);

// sigma * num_train_timesteps truncated toward zero (the reference's cast to int64).
std::vector<double> sigmas_to_timesteps(const std::vector<double>& sigmas, int num_train_timesteps);

}  // namespace wan22::sched
