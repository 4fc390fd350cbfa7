// GRPO and its variants against PyTorch (tools/reference/grpo_reference.py goldens in
// tests/fixtures/grpo/): the loss and the gradient of every weight for fixed prompts,
// completions, rewards and old/reference log-probabilities; and the properties the objective must
// have whatever the model: equal rewards teach nothing, the clip removes the gradient outside the
// trust region on the side the advantage pushes towards, k3 KL vanishes when policy = reference.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "ops/tape.h"
#include "train/policy_loss.h"
#include "train/trainer.h"

namespace r1::train {
namespace {

using nlohmann::json;

const std::string kDir = std::string(R1_SOURCE_DIR) + "/tests/fixtures/grpo/";

struct Fixture {
  json spec;
  std::unique_ptr<models::Model> model;
  std::vector<PolicyExample> ex;
  std::vector<std::vector<const PolicyExample*>> micro;
};

// The fixture's completions with the advantages and aggregation weights of a variant, computed
// by r1 (group_advantages, aggregation_weights) and checked against the reference's advantages.
Fixture load(const std::string& variant) {
  Fixture f;
  f.spec = json::parse(read_file(kDir + "spec.json"));
  models::LoadOptions opt;
  opt.trainable = true;
  f.model = models::load_model(
      std::string(R1_SOURCE_DIR) + "/" + f.spec["model"].get<std::string>(), opt);
  const json& v = f.spec["variants"][variant];
  const auto rewards = f.spec["rewards"].get<std::vector<double>>();
  const auto adv = group_advantages(rewards, f.spec["group"], parse_advantage(v["advantage"]));
  const auto want_adv = v["advantages"].get<std::vector<double>>();
  for (size_t i = 0; i < adv.size(); ++i) EXPECT_NEAR(adv[i], want_adv[i], 1e-9) << i;
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < f.spec["sequences"].size(); ++i) {
    PolicyExample e;
    e.ids = f.spec["sequences"][i].get<std::vector<int32_t>>();
    e.prompt_len = f.spec["prompt_lens"][i];
    e.advantage = adv[i];
    if (!v["on_policy"].get<bool>()) e.old = f.spec["old_logprobs"][i].get<std::vector<float>>();
    if (v["beta"].get<double>() > 0) e.ref = f.spec["ref_logprobs"][i].get<std::vector<float>>();
    lengths.push_back(e.completion_len());
    f.ex.push_back(e);
  }
  const auto w =
      aggregation_weights(lengths, parse_aggregation(v["aggregation"]), f.spec["max_len"]);
  for (size_t i = 0; i < f.ex.size(); ++i) f.ex[i].weight = w[i];
  for (const auto& mb : f.spec["micro_batches"]) {
    f.micro.emplace_back();
    for (int i : mb) f.micro.back().push_back(&f.ex[i]);
  }
  return f;
}

PolicyLossConfig config_of(const json& v) {
  PolicyLossConfig c;
  c.eps_low = v["eps_low"];
  c.eps_high = v["eps_high"];
  c.beta = v["beta"];
  c.sequence_ratio = v["sequence_ratio"];
  return c;
}

class GrpoParity : public ::testing::TestWithParam<std::string> {};

TEST_P(GrpoParity, LossAndEveryGradient) {
  Fixture f = load(GetParam());
  const json& v = f.spec["variants"][GetParam()];
  Trainer tr(*f.model, TrainerConfig{});
  const PolicyStepStats st =
      tr.policy_forward_backward(f.micro, config_of(v), f.spec["temperature"].get<float>());
  const double want = v["loss"];
  EXPECT_NEAR(st.loss.loss, want, 1e-6 + 1e-4 * std::fabs(want));
  // The forward's log-probabilities, against the reference's.
  std::vector<const PolicyExample*> all;
  for (const auto& e : f.ex) all.push_back(&e);
  const auto lp = tr.completion_logprobs(all, f.spec["temperature"].get<float>(), 1 << 20);
  for (size_t i = 0; i < lp.size(); ++i)
    for (size_t t = 0; t < lp[i].size(); ++t)
      EXPECT_NEAR(lp[i][t], f.spec["logprobs"][i][t].get<double>(), 2e-5) << i << " " << t;
  io::WeightStore golden =
      io::WeightStore::open_file(kDir + "grads-" + GetParam() + ".safetensors");
  double worst = 0;
  std::string at;
  for (size_t k = 0; k < tr.params().size(); ++k) {
    const std::string& name = tr.params()[k].first;
    ASSERT_TRUE(golden.has(name)) << name;
    Tensor g = golden.get(name);
    const Tensor& mine = tr.grads()[k];
    ASSERT_EQ(g.numel(), mine.numel()) << name;
    double d = 0, m = 1e-3;
    for (int64_t i = 0; i < g.numel(); ++i) {
      d = std::max(d, static_cast<double>(std::fabs(mine.ptr<float>()[i] - g.ptr<float>()[i])));
      m = std::max(m, static_cast<double>(std::fabs(g.ptr<float>()[i])));
    }
    if (d / m > worst) worst = d / m, at = name;
  }
  std::printf(
      "%s: loss %.8f (torch %.8f), worst gradient difference %.2e of the tensor's max (%s)\n",
      GetParam().c_str(), st.loss.loss, want, worst, at.c_str());
  EXPECT_LE(worst, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Variants, GrpoParity,
                         ::testing::Values("grpo", "onpolicy", "dapo", "drgrpo", "rloo", "gspo"));

// dL/dlp of policy_loss on a hand-made tensor, through the tape.
std::vector<float> loss_gradient(const std::vector<float>& lp_values,
                                 const std::vector<PolicySequence>& seqs,
                                 const PolicyLossConfig& cfg, double* loss = nullptr) {
  Tensor lp = Tensor::zeros(DType::F32, {static_cast<int64_t>(lp_values.size())});
  std::copy(lp_values.begin(), lp_values.end(), lp.ptr<float>());
  ops::Tape tape;
  Tensor grad = Tensor::zeros(DType::F32, lp.shape);
  tape.watch(lp, grad);
  ops::TapeScope scope(tape);
  Tensor l = policy_loss(lp, seqs, cfg);
  if (loss) *loss = l.ptr<float>()[0];
  tape.backward(l);
  return std::vector<float>(grad.ptr<float>(), grad.ptr<float>() + grad.numel());
}

TEST(PolicyLoss, EqualRewardsGiveNoGradient) {
  for (Advantage a : {Advantage::Grpo, Advantage::DrGrpo, Advantage::Rloo}) {
    const auto adv = group_advantages({0.7, 0.7, 0.7, 0.7, 0, 0, 0, 0}, 4, a);
    for (double x : adv) EXPECT_EQ(x, 0.0);
  }
  // Whatever the ratio, a zero advantage and no KL give a zero gradient.
  std::vector<PolicySequence> seqs = {{0, 3, 0.0, 0.5, {-1.0f, -2.5f, -0.1f}, {}}};
  for (float g : loss_gradient({-1.3f, -2.0f, -0.4f}, seqs, {})) EXPECT_EQ(g, 0.0f);
}

TEST(PolicyLoss, ClipRemovesTheGradientOutsideTheTrustRegion) {
  PolicyLossConfig cfg;  // eps 0.2 both sides
  // old = 0: ratio e^lp. Token 0 at ratio 1.5 (above 1.2), token 1 at 0.5 (below 0.8), token 2
  // at 1.0 (inside).
  const std::vector<float> lp = {std::log(1.5f), std::log(0.5f), 0.0f};
  // A > 0: past 1 + eps the objective is flat (no push further up); below 1 - eps it is not.
  auto g = loss_gradient(lp, {{0, 3, 1.0, 1.0, {0, 0, 0}, {}}}, cfg);
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_FLOAT_EQ(g[1], -0.5f);  // d(-rho A)/dlp = -A rho
  EXPECT_FLOAT_EQ(g[2], -1.0f);
  // A < 0: flat below 1 - eps; above 1 + eps the gradient remains.
  g = loss_gradient(lp, {{0, 3, -1.0, 1.0, {0, 0, 0}, {}}}, cfg);
  EXPECT_FLOAT_EQ(g[0], 1.5f);
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_FLOAT_EQ(g[2], 1.0f);
  // Clip-higher (DAPO): ratio 1.25 is inside [0.8, 1.28].
  cfg.eps_high = 0.28;
  g = loss_gradient({std::log(1.25f)}, {{0, 1, 1.0, 1.0, {0}, {}}}, cfg);
  EXPECT_FLOAT_EQ(g[0], -1.25f);
}

TEST(PolicyLoss, KlVanishesWhenPolicyIsTheReference) {
  PolicyLossConfig cfg;
  cfg.beta = 0.5;
  const std::vector<float> lp = {-0.3f, -2.0f, -5.0f};
  double loss = 0;
  PolicyLossStats st;
  auto g = loss_gradient(lp, {{0, 3, 0.0, 1.0, {}, lp}}, cfg, &loss);
  EXPECT_EQ(loss, 0.0);
  for (float x : g) EXPECT_EQ(x, 0.0f);
  // Away from the reference it is positive (k3 >= 0) and pulls back towards it.
  g = loss_gradient(lp, {{0, 3, 0.0, 1.0, {}, {-0.5f, -2.0f, -4.0f}}}, cfg, &loss);
  EXPECT_GT(loss, 0.0);
  EXPECT_GT(g[0], 0.0f);  // lp above ref: the gradient lowers it
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_LT(g[2], 0.0f);
}

TEST(PolicyLoss, AggregationWeights) {
  const std::vector<int64_t> len = {2, 4};
  EXPECT_EQ(aggregation_weights(len, Aggregation::SequenceMean, 8),
            (std::vector<double>{0.25, 0.125}));
  EXPECT_EQ(aggregation_weights(len, Aggregation::TokenMean, 8),
            (std::vector<double>{1.0 / 6, 1.0 / 6}));
  EXPECT_EQ(aggregation_weights(len, Aggregation::Constant, 8),
            (std::vector<double>{1.0 / 16, 1.0 / 16}));
  // RLOO: the leave-one-out baseline.
  const auto a = group_advantages({1, 0, 0}, 3, Advantage::Rloo);
  EXPECT_DOUBLE_EQ(a[0], 1.0);
  EXPECT_DOUBLE_EQ(a[1], -0.5);
}

}  // namespace
}  // namespace r1::train
