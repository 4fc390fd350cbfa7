#include "train/data.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/random.h"

namespace r1::train {

using nlohmann::json;

namespace {

template <typename Fn>
void each_jsonl_row(const std::string& path, Fn fn) {
  std::ifstream in(path);
  if (!in) fail_input(path, ": cannot open");
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      fail_input(path, ":", n, ": not JSON (", e.what(), ")");
    }
    if (!j.is_object()) fail_input(path, ":", n, ": a row must be a JSON object");
    fn(j, n);
  }
}

std::string str_field(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) fail_input(where, ": \"", key, "\" must be a string");
  return it->get<std::string>();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<Example> load_sft(const std::string& path, const tok::Tokenizer& tk,
                              const tmpl::ChatTemplate& chat, int64_t max_len, DataStats* st) {
  const int32_t eos = tk.eos_id();
  if (eos < 0) fail_input("the tokenizer has no eos_token; SFT needs one to end replies");
  std::vector<Example> out;
  each_jsonl_row(path, [&](const json& j, int64_t line) {
    const std::string where = path + ":" + std::to_string(line);
    ++st->rows;
    json msgs;
    if (j.contains("messages")) {
      msgs = j["messages"];
      if (!msgs.is_array() || msgs.size() < 2)
        fail_input(where, ": \"messages\" must be an array of at least 2 messages");
      for (const auto& m : msgs)
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
            !m.contains("content") || !m["content"].is_string())
          fail_input(where, ": every message needs string \"role\" and \"content\"");
      if (msgs.back()["role"] != "assistant")
        fail_input(where, ": the last message must be the assistant's reply");
    } else if (j.contains("prompt")) {
      msgs = json::array({{{"role", "user"}, {"content", str_field(j, "prompt", where)}},
                          {{"role", "assistant"}, {"content", str_field(j, "response", where)}}});
    } else {
      fail_input(where, ": expected \"messages\" or \"prompt\"/\"response\"");
    }
    // One example per assistant turn, in the context the template renders before it.
    for (size_t turn = 1; turn < msgs.size(); ++turn) {
      if (msgs[turn]["role"] != "assistant") continue;
      std::string reply = msgs[turn]["content"];
      json history = json::array();
      for (size_t m = 0; m < turn; ++m) history.push_back(msgs[m]);
      const std::string prompt = chat.render(history, tmpl::ChatOptions());
      const std::string think = "<think>\n";
      if (ends_with(prompt, think) && reply.rfind(think, 0) == 0)
        reply = reply.substr(think.size());
      Example e;
      e.ids = tk.encode(prompt, false);
      const size_t n_prompt = e.ids.size();
      if (n_prompt == 0) fail_input(where, ": the chat template rendered an empty prompt");
      std::vector<int32_t> c = tk.encode(reply, false);
      e.ids.insert(e.ids.end(), c.begin(), c.end());
      e.ids.push_back(eos);
      if (static_cast<int64_t>(e.ids.size()) > max_len) {
        ++st->too_long;
        continue;
      }
      e.mask.assign(e.ids.size() - 1, 0);
      for (size_t i = n_prompt - 1; i < e.mask.size(); ++i) e.mask[i] = 1;  // predicts ids[i + 1]
      st->tokens += static_cast<int64_t>(e.ids.size());
      st->targets += e.targets();
      out.push_back(std::move(e));
    }
  });
  st->examples = static_cast<int64_t>(out.size());
  if (out.empty())
    fail_input(path, ": no usable examples (", st->rows, " rows, ", st->too_long,
               " replies longer than the sequence limit)");
  return out;
}

std::vector<Example> load_pretrain(const std::string& path, const tok::Tokenizer& tk,
                                   int64_t seq_len, DataStats* st) {
  const int32_t eos = tk.eos_id();
  std::vector<int32_t> stream;
  auto add_doc = [&](const std::string& text) {
    ++st->rows;
    std::vector<int32_t> ids = tk.encode(text, false);
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (eos >= 0) stream.push_back(eos);
  };
  if (ends_with(path, ".jsonl")) {
    each_jsonl_row(path, [&](const json& j, int64_t line) {
      add_doc(str_field(j, "text", path + ":" + std::to_string(line)));
    });
  } else {
    std::ifstream in(path);
    if (!in) fail_input(path, ": cannot open");
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) add_doc(line);
  }
  std::vector<Example> out;
  for (size_t b = 0; b + 1 < stream.size(); b += static_cast<size_t>(seq_len)) {
    const size_t e = std::min(stream.size(), b + static_cast<size_t>(seq_len) + 1);
    Example ex;
    ex.ids.assign(stream.begin() + static_cast<int64_t>(b),
                  stream.begin() + static_cast<int64_t>(e));
    ex.mask.assign(ex.ids.size() - 1, 1);
    st->tokens += static_cast<int64_t>(ex.ids.size());
    st->targets += static_cast<int64_t>(ex.mask.size());
    out.push_back(std::move(ex));
  }
  st->examples = static_cast<int64_t>(out.size());
  if (out.empty()) fail_input(path, ": no text to train on");
  return out;
}

Batcher::Batcher(const std::vector<Example>& examples, int64_t batch_tokens, uint64_t seed)
    : ex_(examples), batch_tokens_(batch_tokens), seed_(seed) {
  if (examples.empty()) fail_internal("Batcher: no examples");
  shuffle();
}

void Batcher::shuffle() {
  order_.resize(ex_.size());
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<int64_t>(i);
  uint64_t s = mix64(seed_ ^ mix64(static_cast<uint64_t>(epoch_) + kGoldenGamma));
  for (size_t i = order_.size(); i > 1; --i) {
    s = mix64(s + kGoldenGamma);
    std::swap(order_[i - 1], order_[s % i]);
  }
}

void Batcher::seek(int64_t epoch, int64_t cursor) {
  if (cursor < 0 || cursor > static_cast<int64_t>(ex_.size()) || epoch < 0)
    fail_input("data position epoch ", epoch, " example ", cursor, " is outside the data (",
               ex_.size(), " examples); was the data file changed?");
  epoch_ = epoch;
  cursor_ = cursor;
  shuffle();
}

std::vector<const Example*> Batcher::next() {
  std::vector<const Example*> mb;
  int64_t tokens = 0;
  while (true) {
    if (cursor_ == static_cast<int64_t>(ex_.size())) {
      if (!mb.empty()) break;  // a micro-batch never spans two epochs
      ++epoch_;
      cursor_ = 0;
      shuffle();
    }
    const Example& e = ex_[order_[cursor_]];
    const int64_t n = static_cast<int64_t>(e.ids.size());
    if (!mb.empty() && tokens + n > batch_tokens_) break;
    mb.push_back(&e);
    tokens += n;
    ++cursor_;
  }
  return mb;
}

int64_t Batcher::batches_per_epoch() const {
  int64_t n = 0, tokens = 0;
  bool open = false;
  for (int64_t i : order_) {
    const int64_t t = static_cast<int64_t>(ex_[i].ids.size());
    if (open && tokens + t > batch_tokens_) {
      ++n;
      tokens = 0;
    }
    tokens += t;
    open = true;
  }
  return n + (open ? 1 : 0);
}

}  // namespace r1::train
