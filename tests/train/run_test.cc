// r1 train: init for every architecture, SFT data masking, the batcher, and exact resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../common/temp_path.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/threads.h"
#include "io/safetensors.h"
#include "models/model.h"
#include "ops/ops.h"
#include "train/checkpoint.h"
#include "train/data.h"
#include "train/init.h"
#include "train/run.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;

const std::string kTokDir = std::string(R1_SOURCE_DIR) + "/models/r1-tiny-random";

// A new folder for one test, removed when the test program exits.
std::string temp_dir(const std::string& name) {
  return r1::testing::fresh_temp_dir("r1_train_test_" + name + "_");
}

train::InitOptions tiny(const std::string& arch) {
  train::InitOptions o;
  o.arch = arch;
  o.tokenizer_dir = kTokDir;
  o.hidden = 32;
  o.layers = 2;
  o.heads = 4;
  o.kv_heads = 2;
  o.intermediate = 48;
  o.kv_lora_rank = 16;
  o.qk_nope_head_dim = 8;
  o.qk_rope_head_dim = 4;
  o.v_head_dim = 8;
  o.n_routed_experts = 4;
  o.moe_intermediate = 16;
  o.seed = 3;
  return o;
}

// An SFT file of simple sums in R1's output shape.
std::string write_sft(const std::string& dir, int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    const int a = (i * 7) % 10, b = (i * 3) % 10;
    nlohmann::json row = {
        {"messages",
         {{{"role", "user"},
           {"content", "What is " + std::to_string(a) + " + " + std::to_string(b) + "?"}},
          {{"role", "assistant"},
           {"content", "<think>\n" + std::to_string(a) + " + " + std::to_string(b) + " = " +
                           std::to_string(a + b) + "\n</think>\n\n\\boxed{" +
                           std::to_string(a + b) + "}"}}}}};
    text += row.dump() + "\n";
  }
  const std::string path = path_join(dir, "sft.jsonl");
  write_file_atomic(path, text);
  return path;
}

// SFT on `rows` sums from dir/init into dir/out: the settings the loop tests share.
train::RunOptions sft_run(const std::string& dir, int rows, int64_t steps) {
  train::RunOptions o;
  o.model_dir = dir + "/init";
  o.data = write_sft(dir, rows);
  o.out_dir = dir + "/out";
  o.seq_len = 128;
  o.batch_tokens = 400;
  o.steps = steps;
  o.log_every = 0;
  return o;
}

// The loss of the first step in a run's train_log.jsonl.
double first_logged_loss(const std::string& out_dir) {
  std::ifstream log(out_dir + "/train_log.jsonl");
  std::string first;
  std::getline(log, first);
  return nlohmann::json::parse(first)["loss"].get<double>();
}

TEST(TrainInit, EveryArchitectureLoadsAndIsDeterministic) {
  for (const std::string arch : {"qwen2", "llama", "deepseek_v3"}) {
    const std::string dir = temp_dir("init_" + arch), a = dir + "/a", b = dir + "/b";
    const int64_t n = train::init_model(tiny(arch), a);
    train::init_model(tiny(arch), b);
    EXPECT_EQ(read_file(a + "/model.safetensors"), read_file(b + "/model.safetensors")) << arch;
    auto m = models::load_model(a, {.load = LoadMode::Map, .max_context = 0, .trainable = true});
    int64_t counted = 0;
    for (const auto& [name, t] : m->parameters(true)) counted += t.numel();
    EXPECT_EQ(counted, n) << arch;  // every written tensor is one the model uses
    EXPECT_EQ(io::WeightStore::open_dir(a).names().size(), m->parameters(true).size()) << arch;
    models::KvCache cache = m->new_cache();
    const int seq = cache.add_sequence();
    models::Batch batch;
    for (int t = 0; t < 5; ++t) batch.add(10 + t, t, seq, t == 4);
    Tensor logits = m->forward(batch, cache);
    EXPECT_EQ(logits.dim(1), 768) << arch;  // 732 tokenizer ids rounded up to 64
    EXPECT_TRUE(file_exists(a + "/tokenizer.json") && file_exists(a + "/generation_config.json"));
  }
}

TEST(TrainInit, BadSizesAreUsageErrors) {
  train::InitOptions o = tiny("qwen2");
  o.kv_heads = 3;
  EXPECT_THROW(train::init_model(o, temp_dir("bad") + "/m"), Error);
  o = tiny("mamba");
  EXPECT_THROW(train::init_model(o, temp_dir("bad2") + "/m"), Error);
}

TEST(TrainData, SftLossOnlyOnTheReply) {
  const std::string dir = temp_dir("sft_mask");
  const std::string path = write_sft(dir, 3);
  tok::Tokenizer tk = tok::Tokenizer::load(kTokDir);
  train::DataStats st;
  auto ex = train::load_sft(path, tk, tmpl::ChatTemplate::load(kTokDir), 512, &st);
  ASSERT_EQ(ex.size(), 3u);
  const train::Example& e = ex[0];
  ASSERT_EQ(e.mask.size() + 1, e.ids.size());
  // The targets are exactly the reply after the template's "<think>\n", then EOS.
  std::vector<int32_t> targets;
  for (size_t i = 0; i < e.mask.size(); ++i)
    if (e.mask[i]) targets.push_back(e.ids[i + 1]);
  EXPECT_EQ(targets.back(), tk.eos_id());
  targets.pop_back();
  EXPECT_EQ(tk.decode(targets), "0 + 0 = 0\n</think>\n\n\\boxed{0}");
  // Masked positions form one prefix: the prompt, which ends with the generation prompt.
  size_t first = 0;
  while (!e.mask[first]) ++first;
  for (size_t i = first; i < e.mask.size(); ++i) EXPECT_EQ(e.mask[i], 1);
  std::vector<int32_t> prompt(e.ids.begin(), e.ids.begin() + static_cast<int64_t>(first) + 1);
  EXPECT_TRUE(tk.decode(prompt).ends_with("<｜Assistant｜><think>\n"));
  // Too-long rows are counted and left out (here all: an error); bad rows name the line.
  try {
    train::load_sft(path, tk, tmpl::ChatTemplate::load(kTokDir), 20, &st);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("3 replies longer than the sequence limit"),
              std::string::npos)
        << err.what();
  }
  // A two-turn conversation gives two examples; the second sees the first reply without its
  // reasoning (the R1 template drops it), exactly as generation would.
  write_file_atomic(
      dir + "/two.jsonl",
      R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "<think>\nx\n</think>\n\nA"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "<think>\ny\n</think>\n\nB"}]})"
      "\n");
  auto two = train::load_sft(dir + "/two.jsonl", tk, tmpl::ChatTemplate::load(kTokDir), 512, &st);
  ASSERT_EQ(two.size(), 2u);
  const std::string second = tk.decode(two[1].ids);
  EXPECT_NE(second.find("A<｜end▁of▁sentence｜><｜User｜>b<｜Assistant｜><think>\ny"),
            std::string::npos)
      << second;
  EXPECT_EQ(second.find("x\n</think>"), std::string::npos) << second;
  write_file_atomic(dir + "/bad.jsonl", "{\"messages\": []}\n");
  try {
    train::load_sft(dir + "/bad.jsonl", tk, tmpl::ChatTemplate::load(kTokDir), 512, &st);
    FAIL();
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("bad.jsonl:1"), std::string::npos) << err.what();
  }
}

TEST(TrainData, PretrainWindowsOverlapByOneToken) {
  const std::string dir = temp_dir("pretrain");
  write_file_atomic(dir + "/t.txt", "one two three four five six seven\neight nine ten\n");
  tok::Tokenizer tk = tok::Tokenizer::load(kTokDir);
  train::DataStats st;
  auto ex = train::load_pretrain(dir + "/t.txt", tk, 4, &st);
  std::vector<int32_t> stream = tk.encode("one two three four five six seven", false);
  stream.push_back(tk.eos_id());
  for (int32_t id : tk.encode("eight nine ten", false)) stream.push_back(id);
  stream.push_back(tk.eos_id());
  std::vector<int32_t> joined;
  for (const auto& e : ex) {
    EXPECT_LE(e.ids.size(), 5u);
    EXPECT_EQ(e.targets(), static_cast<int64_t>(e.ids.size()) - 1);
    joined.insert(joined.end(), e.ids.begin(), e.ids.end() - 1);
  }
  joined.push_back(ex.back().ids.back());
  EXPECT_EQ(joined, stream);
}

TEST(TrainData, BatcherVisitsEveryExampleOncePerEpochAndSeeks) {
  std::vector<train::Example> ex(10);
  for (int i = 0; i < 10; ++i) ex[i].ids.assign(3 + i % 4, i);
  train::Batcher b(ex, 12, 7);
  std::vector<int> seen(10, 0);
  std::vector<std::vector<const train::Example*>> first;
  while (b.epoch() == 0) {
    auto mb = b.next();
    if (b.epoch() != 0) break;
    int64_t tokens = 0;
    for (auto* e : mb) {
      ++seen[e->ids[0]];
      tokens += static_cast<int64_t>(e->ids.size());
    }
    EXPECT_TRUE(mb.size() == 1 || tokens <= 12);
    first.push_back(mb);
    if (b.cursor() == 10) break;
  }
  for (int s : seen) EXPECT_EQ(s, 1);
  // Seeking to a saved position continues with the same batches.
  train::Batcher c(ex, 12, 7);
  c.seek(0, static_cast<int64_t>(first[0].size()));
  EXPECT_EQ(c.next(), first[1]);
}

std::vector<uint8_t> bytes_of(const std::string& path) {
  std::string s = read_file(path);
  return {s.begin(), s.end()};
}

TEST(TrainRun, ResumeIsExactAndCheckedAgainstSettings) {
  const std::string dir = temp_dir("resume");
  train::init_model(tiny("qwen2"), dir + "/init");
  train::RunOptions o = sft_run(dir, 24, 6);
  o.batch_tokens = 120;
  o.accum = 2;
  o.warmup = 2;
  o.lr = 5e-3;
  o.save_every = 2;
  o.eval_frac = 0.2;
  o.eval_every = 3;
  o.out_dir = dir + "/straight";
  const double loss_straight = train::run_training(o);

  o.out_dir = dir + "/interrupted";
  o.stop_after = 3;  // stops mid-way, with a checkpoint at step 3
  train::run_training(o);
  EXPECT_FALSE(file_exists(o.out_dir + "/model.safetensors"));
  ASSERT_TRUE(train::latest_checkpoint(o.out_dir).has_value());
  EXPECT_TRUE(train::latest_checkpoint(o.out_dir)->ends_with("step-0000003"));
  // A half-written checkpoint (as a crash mid-save leaves it) is ignored.
  fs::create_directories(o.out_dir + "/checkpoints/step-0000005.tmp");
  EXPECT_THROW(train::run_training(o), Error);  // refuses to start over existing checkpoints
  train::RunOptions changed = o;
  changed.resume = true;
  changed.lr = 1e-3;
  EXPECT_THROW(train::run_training(changed), Error);  // settings differ from the checkpoint's
  changed.lr = o.lr;
  ops::set_bf16_matmul(true);  // bf16 products are a setting too
  EXPECT_THROW(train::run_training(changed), Error);
  ops::set_bf16_matmul(false);
  o.resume = true;
  o.stop_after = 0;
  const double loss_resumed = train::run_training(o);
  EXPECT_EQ(loss_resumed, loss_straight);
  EXPECT_EQ(bytes_of(dir + "/straight/model.safetensors"),
            bytes_of(dir + "/interrupted/model.safetensors"));
  EXPECT_FALSE(fs::exists(o.out_dir + "/checkpoints/step-0000005.tmp"));
  // The result is a model folder other commands load.
  auto m = models::load_model(o.out_dir);
  EXPECT_EQ(m->config().hidden, 32);
}

TEST(TrainRun, SftLearnsTheData) {
  const std::string dir = temp_dir("learns");
  train::InitOptions io = tiny("llama");
  io.hidden = 64;
  train::init_model(io, dir + "/init");
  train::RunOptions o = sft_run(dir, 40, 60);
  o.warmup = 5;
  o.lr = 1e-2;
  const double final_loss = train::run_training(o);
  const double first_loss = first_logged_loss(o.out_dir);
  EXPECT_GT(first_loss, 5.0);  // ~ln(768) at random init
  EXPECT_LT(final_loss, 0.6);
}

TEST(TrainRun, EveryArchitectureTrainsThroughTheLoop) {
  for (const std::string arch : {"qwen2", "llama", "deepseek_v3"}) {
    const std::string dir = temp_dir("arch_" + arch);
    train::init_model(tiny(arch), dir + "/init");
    train::RunOptions o = sft_run(dir, 16, 40);
    o.warmup = 2;
    o.lr = 1e-2;
    const double last = train::run_training(o);
    EXPECT_LT(last, 0.5 * first_logged_loss(o.out_dir)) << arch;
    // The trained folder loads for inference, frozen DeepSeek router biases included.
    EXPECT_EQ(models::load_model(o.out_dir)->config().n_layers, 2) << arch;
  }
}

TEST(TrainRun, ResultDoesNotDependOnTheThreadCount) {
  // Every output element is summed in one fixed order whatever the split across threads, so a
  // run is reproducible on a machine with another number of cores.
  const std::string dir = temp_dir("threads");
  train::init_model(tiny("qwen2"), dir + "/init");
  train::RunOptions o = sft_run(dir, 16, 4);
  for (int t : {1, 2}) {
    set_num_threads(t);
    o.out_dir = dir + "/t" + std::to_string(t);
    train::run_training(o);
  }
  set_num_threads(0);
  EXPECT_EQ(bytes_of(dir + "/t1/model.safetensors"), bytes_of(dir + "/t2/model.safetensors"));
}

}  // namespace
}  // namespace r1
