// The engine's noise generator. Standard normal samples from a counter-based generator:
// element i of a tensor drawn with seed s is a pure function of (s, stream, i) (SplitMix64 hashing
// of the counter, then Box-Muller on two 53-bit uniforms), so the same seed gives the same noise on
// any thread count and any backend that draws it on the host. It is not PyTorch's generator: the
// same seed gives a different (equally valid) video from the official code.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace wan22::pipeline {

// f32 tensor of `shape` filled with N(0, 1) samples; `stream` separates independent draws made
// with one seed (0: the initial latent noise).
Tensor gaussian_noise(const Shape& shape, uint64_t seed, uint64_t stream = 0);

// A seed for "--seed -1": from the OS entropy source.
uint64_t random_seed();

}  // namespace wan22::pipeline
