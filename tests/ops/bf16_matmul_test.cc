// ops::set_bf16_matmul (training's --bf16-matmul): linear's product and both of its backward
// products are exactly those of the operands rounded to bf16 (kernels.h GemmParams::bf16_dot),
// and causal attention stays within bf16 rounding of the exact op, forward and backward.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "core/dtype.h"
#include "grad_check.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1 {
namespace {

using testing::random_tensor;

Tensor rounded(const Tensor& t) {
  Tensor r = Tensor::zeros(DType::F32, t.shape);
  for (int64_t i = 0; i < t.numel(); ++i)
    r.ptr<float>()[i] = bf16_to_f32(f32_to_bf16(t.ptr<float>()[i]));
  return r;
}

struct Bf16MatmulOn {
  Bf16MatmulOn() { ops::set_bf16_matmul(true); }
  ~Bf16MatmulOn() { ops::set_bf16_matmul(false); }
};

// The output of forward() and the gradients of `inputs` for the loss sum(out * R).
struct Result {
  Tensor out;
  std::vector<Tensor> grads;
};
Result run(const std::vector<Tensor>& inputs, const std::function<Tensor()>& forward,
           const Tensor& R) {
  ops::Tape tape;
  for (const Tensor& in : inputs) tape.watch(in);
  Result r;
  {
    ops::TapeScope scope(tape);
    r.out = forward();
    Tensor loss = Tensor::zeros(DType::F32, {1});
    Tensor out = r.out;
    tape.record(loss, {out, R}, [out, R, loss](ops::Tape& t) {
      Tensor& d = t.grad(out);
      for (int64_t i = 0; i < d.numel(); ++i) d.ptr<float>()[i] += R.ptr<float>()[i];
    });
    tape.backward(loss);
  }
  for (const Tensor& in : inputs) {
    const Tensor* g = tape.find_grad(in);
    EXPECT_NE(g, nullptr);
    r.grads.push_back(g ? *g : Tensor());
  }
  return r;
}

// |a - b| <= tol * max|b| elementwise.
void expect_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  ASSERT_EQ(a.shape, b.shape) << what;
  double scale = 0;
  for (int64_t i = 0; i < b.numel(); ++i)
    scale = std::max<double>(scale, std::fabs(b.ptr<float>()[i]));
  ASSERT_GT(scale, 0) << what;
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_LE(std::fabs(a.ptr<float>()[i] - b.ptr<float>()[i]), tol * scale)
        << what << " at " << i << ": " << a.ptr<float>()[i] << " vs " << b.ptr<float>()[i];
}

TEST(Bf16Matmul, LinearAndItsBackwardAreTheExactProductsOfRoundedOperands) {
  // Shapes past the kernels' small-M and blocking thresholds and odd in every dimension.
  Tensor x = random_tensor({70, 131}, 1), w = random_tensor({93, 131}, 2),
         R = random_tensor({70, 93}, 3);
  Result got;
  {
    Bf16MatmulOn on;
    got = run(
        {x, w}, [&] { return ops::linear(x, w); }, R);
  }
  // Exact f32 products of the rounded operands (upstream gradient included) can differ only by
  // the order of f32 sums.
  Tensor xr = rounded(x), wr = rounded(w), Rr = rounded(R);
  Result want = run(
      {xr, wr}, [&] { return ops::linear(xr, wr); }, Rr);
  expect_close(got.out, want.out, 1e-5, "y");
  expect_close(got.grads[0], want.grads[0], 1e-5, "dx");
  expect_close(got.grads[1], want.grads[1], 1e-5, "dw");
  // And the rounding is real: the exact path on the original operands differs.
  Result exact = run(
      {x, w}, [&] { return ops::linear(x, w); }, R);
  double diff = 0;
  for (int64_t i = 0; i < exact.out.numel(); ++i)
    diff = std::max<double>(diff, std::fabs(exact.out.ptr<float>()[i] - got.out.ptr<float>()[i]));
  EXPECT_GT(diff, 1e-4);
}

TEST(Bf16Matmul, LinearExactStaysExact) {
  Tensor x = random_tensor({64, 40}, 4), w = random_tensor({24, 40}, 5);
  ops::Weight weight;
  weight.w = w;
  Tensor want = ops::linear_exact(x, weight);
  Bf16MatmulOn on;
  Tensor got = ops::linear_exact(x, weight);
  for (int64_t i = 0; i < got.numel(); ++i) ASSERT_EQ(got.ptr<float>()[i], want.ptr<float>()[i]);
}

TEST(Bf16Matmul, CausalAttentionWithinBf16RoundingOfExact) {
  // Two packed sequences, 4 query heads over 2 kv heads, head size 16.
  const int64_t T = 80;
  std::vector<int32_t> pos(T);
  for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(t < 50 ? t : t - 50);
  const auto start = ops::sequence_starts(pos);
  Tensor q = random_tensor({T, 64}, 6), k = random_tensor({T, 32}, 7),
         v = random_tensor({T, 32}, 8), R = random_tensor({T, 64}, 9);
  auto forward = [&] { return ops::causal_attention(q, k, v, 4, 2, 16, 16, start, 0.25f); };
  Result exact = run({q, k, v}, forward, R);
  Result got;
  {
    Bf16MatmulOn on;
    got = run({q, k, v}, forward, R);
  }
  // bf16 keeps 8 significant bits (relative rounding 2^-9 per operand).
  expect_close(got.out, exact.out, 2e-2, "out");
  const char* names[] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i) expect_close(got.grads[i], exact.grads[i], 3e-2, names[i]);
  double diff = 0;
  for (int64_t i = 0; i < got.out.numel(); ++i)
    diff = std::max<double>(diff, std::fabs(exact.out.ptr<float>()[i] - got.out.ptr<float>()[i]));
  EXPECT_GT(diff, 1e-5);  // the switch reached the attention's products
}

}  // namespace
}  // namespace r1
