#include "tokenizer/bpe.h"

#include <climits>
#include <queue>

#include "tokenizer/unicode.h"

namespace r1::tok {

namespace {
// Words longer than this are not cached (long runs of spaces or CJK would fill the cache).
constexpr size_t kMaxCachedWordBytes = 256;
}  // namespace

void BpeModel::set_vocab(TokenTable vocab) {
  vocab_ = std::move(vocab);
  set_byte_level(byte_level_);
}

void BpeModel::set_byte_level(bool on) {
  byte_level_ = on;
  const ByteLevelAlphabet& alphabet = byte_level_alphabet();
  for (int b = 0; b < 256; ++b) byte_ids_[b] = find(alphabet.byte_to_utf8[b]);
}

int32_t BpeModel::find(std::string_view token) const {
  return vocab_.find(token);
}

bool BpeModel::add_merge(std::string_view left, std::string_view right, std::string& bad) {
  const int32_t a = find(left), b = find(right);
  thread_local std::string joined;
  joined.assign(left).append(right);
  const int32_t result = find(joined);
  if (a < 0 || b < 0 || result < 0) {
    bad = std::string(a < 0 ? left : b < 0 ? right : std::string_view(joined));
    return false;
  }
  // The rank is the position in the merges list; a repeated pair takes its later position, as
  // Hugging Face's HashMap collect does.
  merges_.set(a, b, {next_rank_++, result});
  return true;
}

void BpeModel::merge_symbols(std::vector<int32_t>& symbols) const {
  const size_t n = symbols.size();
  if (n < 2) return;
  if (n <= kShortWord) {
    merge_short(symbols);
    return;
  }
  // Symbols form a linked list; a merge is (rank, left position, expected result). Stale queue
  // entries are skipped when popped, exactly as Hugging Face's Word::merge_all does.
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = int32_t(i) - 1;
    next[i] = i + 1 < n ? int32_t(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank, pos, result;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int32_t left) {
    const int32_t right = next[left];
    if (right < 0) return;
    if (const auto* merge = merges_.find(symbols[left], symbols[right])) {
      queue.push({merge->rank, left, merge->result});
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) consider(int32_t(i));
  std::vector<bool> alive(n, true);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    const int32_t right = next[top.pos];
    const auto* merge = merges_.find(symbols[top.pos], symbols[right]);
    if (merge == nullptr || merge->result != top.result) continue;
    symbols[top.pos] = top.result;
    alive[right] = false;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) consider(prev[top.pos]);
    consider(top.pos);
  }
  size_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

// Same result as the queue below for short words, without allocating: rank[i] is the rank of
// the pair (symbols[i], symbols[i + 1]); each step merges the lowest rank, leftmost first (the
// queue's order), and recomputes only the two pairs that changed.
void BpeModel::merge_short(std::vector<int32_t>& symbols) const {
  constexpr int32_t kNone = INT32_MAX;
  int32_t rank[kShortWord];
  int32_t result[kShortWord];
  size_t n = symbols.size();
  auto lookup = [&](size_t i) {
    const auto* merge = merges_.find(symbols[i], symbols[i + 1]);
    rank[i] = merge != nullptr ? merge->rank : kNone;
    result[i] = merge != nullptr ? merge->result : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) lookup(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rank[i] < rank[best]) best = i;
    }
    if (rank[best] == kNone) break;
    symbols[best] = result[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      symbols[i] = symbols[i + 1];
      rank[i] = rank[i + 1];
      result[i] = result[i + 1];
    }
    --n;
    if (best > 0) lookup(best - 1);
    if (best + 1 < n) lookup(best);
  }
  symbols.resize(n);
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  bool last_was_unk = false;
  auto push_symbol = [&](int32_t id) {
    if (id >= 0) {
      symbols.push_back(id);
      last_was_unk = false;
    } else if (unk_id_ >= 0) {  // without an unk token, unknown characters are dropped
      if (!(fuse_unk_ && last_was_unk)) symbols.push_back(unk_id_);
      last_was_unk = true;
    }
  };
  if (byte_level_) {
    if (ignore_merges_) {
      std::string mapped;
      for (const char c : word) mapped += byte_level_alphabet().byte_to_utf8[uint8_t(c)];
      if (const int32_t whole = find(mapped); whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    for (const char c : word) push_symbol(byte_ids_[uint8_t(c)]);
  } else {
    if (ignore_merges_) {
      if (const int32_t whole = find(word); whole >= 0) {
        out.push_back(whole);
        return;
      }
    }
    for (size_t pos = 0; pos < word.size();) {
      const size_t start = pos;
      next_code_point(word, pos);
      push_symbol(find(word.substr(start, pos - start)));
    }
  }
  merge_symbols(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > kMaxCachedWordBytes) {
    encode_uncached(word, out);
    return;
  }
  const size_t slot_index = std::hash<std::string_view>()(word) & (kCacheSlots - 1);
  CacheSlot& slot = cache_[slot_index];
  std::mutex& lock = cache_locks_[slot_index % kCacheStripes];
  {
    std::lock_guard<std::mutex> guard(lock);
    if (slot.used && slot.word == word) {
      out.insert(out.end(), slot.ids.begin(), slot.ids.end());
      return;
    }
  }
  const size_t first = out.size();
  encode_uncached(word, out);
  std::lock_guard<std::mutex> guard(lock);
  slot.word.assign(word);
  slot.ids.assign(out.begin() + first, out.end());
  slot.used = true;
}

}  // namespace r1::tok
