// Finite-difference gradient checks for ops with a backward (tape.h). The loss is
// L = sum(out * R) for a fixed random R; the analytic gradient of every input comes from the
// tape, the numeric one from central differences on sampled elements.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ops/tape.h"

namespace r1::testing {

inline Tensor random_tensor(std::vector<int64_t> shape, uint32_t seed, float scale = 1.0f) {
  Tensor t = Tensor::zeros(DType::F32, std::move(shape));
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = nd(rng);
  return t;
}

struct GradCheckOptions {
  float eps = 1e-2f;
  float atol = 2e-3f, rtol = 1e-2f;
  int samples = 40;  // elements checked per input (all when fewer)
};

// forward() computes the op's output from `inputs` (their current values).
inline void grad_check(const std::string& what, std::vector<Tensor> inputs,
                       const std::function<Tensor()>& forward, GradCheckOptions o = {}) {
  Tensor out0 = forward();
  Tensor R = random_tensor(out0.shape, 1234);
  auto loss_of = [&](const Tensor& out) {
    double s = 0;
    for (int64_t i = 0; i < out.numel(); ++i)
      s += static_cast<double>(out.ptr<float>()[i]) * R.ptr<float>()[i];
    return s;
  };
  ops::Tape tape;
  for (const Tensor& in : inputs) tape.watch(in);
  {
    ops::TapeScope scope(tape);
    Tensor out = forward();
    Tensor loss = Tensor::zeros(DType::F32, {1});
    loss.ptr<float>()[0] = static_cast<float>(loss_of(out));
    tape.record(loss, {out, R}, [out, R, loss](ops::Tape& t) {
      const float g = t.find_grad(loss)->ptr<float>()[0];
      Tensor& d = t.grad(out);
      for (int64_t i = 0; i < d.numel(); ++i) d.ptr<float>()[i] += g * R.ptr<float>()[i];
    });
    tape.backward(loss);
  }
  std::mt19937 rng(99);
  for (size_t n = 0; n < inputs.size(); ++n) {
    Tensor& x = inputs[n];
    const Tensor* g = tape.find_grad(x);
    ASSERT_NE(g, nullptr) << what << ": no gradient for input " << n;
    std::vector<int64_t> idx;
    if (x.numel() <= o.samples) {
      for (int64_t i = 0; i < x.numel(); ++i) idx.push_back(i);
    } else {
      for (int s = 0; s < o.samples; ++s) idx.push_back(rng() % x.numel());
    }
    for (int64_t i : idx) {
      float* p = x.ptr<float>() + i;
      const float keep = *p;
      *p = keep + o.eps;
      const double up = loss_of(forward());
      *p = keep - o.eps;
      const double down = loss_of(forward());
      *p = keep;
      const double num = (up - down) / (2 * o.eps);
      const double ana = g->ptr<float>()[i];
      EXPECT_NEAR(ana, num, o.atol + o.rtol * std::fabs(num))
          << what << ": input " << n << " element " << i;
    }
  }
}

}  // namespace r1::testing
