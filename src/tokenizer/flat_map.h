// Open-addressing hash tables for the BPE model's two big maps (token string -> id, and
// token pair -> merge). With 150k-280k entries, std::unordered_map's per-node allocations made
// loading a tokenizer about twice as slow: each lookup chased a bucket, a node and a string.
// Here a lookup touches one slot (hash, id, offset) and the string in one contiguous arena.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

class TokenTable {
 public:
  void reserve(size_t n) { rehash(capacity_for(n)); }
  // Sets s -> id; a repeated string takes the later id (as a JSON object read into a map does).
  void set(std::string_view s, int32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(capacity_for(size_ + 1));
    const uint32_t h = hash(s);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {h, id, uint32_t(arena_.size()), uint32_t(s.size())};
        arena_.append(s);
        ++size_;
        return;
      }
      if (slot.hash == h && view(slot) == s) {
        slot.id = id;
        return;
      }
    }
  }
  int32_t find(std::string_view s) const {
    if (slots_.empty()) return -1;
    const uint32_t h = hash(s);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.hash == h && view(slot) == s) return slot.id;
    }
  }
  size_t size() const { return size_; }
  // Calls f(token, id) for every entry, in no particular order.
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_) {
      if (slot.id >= 0) f(view(slot), slot.id);
    }
  }

 private:
  struct Slot {
    uint32_t hash;
    int32_t id;  // -1: empty
    uint32_t offset;
    uint32_t length;
  };
  static uint32_t hash(std::string_view s) { return uint32_t(std::hash<std::string_view>()(s)); }
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < n * 2) c *= 2;
    return c;
  }
  std::string_view view(const Slot& slot) const {
    return std::string_view(arena_).substr(slot.offset, slot.length);
  }
  void rehash(size_t capacity) {
    if (capacity <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{0, -1, 0, 0});
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.id < 0) continue;
      size_t i = slot.hash & mask_;
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

// (left id, right id) -> (rank, result id).
class MergeTable {
 public:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  void reserve(size_t n) { rehash(capacity_for(n)); }
  void set(int32_t left, int32_t right, Merge merge) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(capacity_for(size_ + 1));
    const uint64_t key = pack(left, right);
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.merge.result < 0 || slot.key == key) {
        if (slot.merge.result < 0) ++size_;
        slot = {key, merge};
        return;
      }
    }
  }
  // Null if the pair does not merge.
  const Merge* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.merge.result < 0) return nullptr;
      if (slot.key == key) return &slot.merge;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t key;
    Merge merge;  // result -1: empty
  };
  static uint64_t pack(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  static uint64_t mix(uint64_t x) {  // splitmix64 finalizer
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < n * 2) c *= 2;
    return c;
  }
  void rehash(size_t capacity) {
    if (capacity <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(capacity, Slot{0, {0, -1}});
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.merge.result < 0) continue;
      size_t i = mix(slot.key) & mask_;
      while (slots_[i].merge.result >= 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

}  // namespace r1::tok
