// Reverse-mode automatic differentiation for the ops in ops.h (docs/DESIGN.md principle 1). While a
// Tape is active (TapeScope), every op whose input is tracked records a backward closure beside
// its forward; Tape::backward runs them in reverse order. Tensors are identified by their data
// pointer: the tape keeps every tensor a closure uses alive, so a pointer cannot be reused while
// the tape lives. Tracked tensors are contiguous f32. Ops write fresh outputs; the few in-place
// ops either record a backward that is correct in place (rope: a linear map of its own output)
// or refuse tracked inputs.
#pragma once

#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/tensor.h"

namespace r1::ops {

class Tape {
 public:
  using Backward = std::function<void(Tape&)>;

  // Marks a leaf (a parameter) as needing its gradient. If `grad` is given (f32, same number of
  // elements), gradients accumulate into it across backward passes; otherwise the tape owns a
  // zero buffer created on first use.
  void watch(const Tensor& t, Tensor grad = {});
  bool tracked(const Tensor& t) const { return tracked_.count(t.data) != 0; }
  // The gradient buffer of a tracked tensor, created zero-filled on first use.
  Tensor& grad(const Tensor& t);
  // As grad, but a buffer created here is left unwritten (*fresh = true): for a caller that
  // writes all of it (and accumulates into an existing one, *fresh = false).
  Tensor& grad_to_write(const Tensor& t, bool* fresh);
  // The gradient if any backward step has produced one, else nullptr.
  const Tensor* find_grad(const Tensor& t) const;

  // Records `fn` to run during backward, makes `out` tracked, and keeps `keep` alive.
  void record(const Tensor& out, std::vector<Tensor> keep, Backward fn);
  // Seeds d(loss)/d(loss) = seed (loss has one element) and runs every record in reverse. The
  // records are consumed; watched leaves keep their gradients.
  void backward(const Tensor& loss, float seed = 1.0f);
  // Drops records and non-leaf gradients (leaves stay watched with their buffers).
  void clear();
  size_t size() const { return records_.size(); }

 private:
  struct Record {
    std::vector<Tensor> keep;
    Backward fn;
  };
  std::vector<Record> records_;
  std::unordered_set<const void*> tracked_;
  std::unordered_set<const void*> leaves_;
  std::unordered_map<const void*, Tensor> grads_;
};

// The tape ops record on, or nullptr when gradients are off (inference).
Tape* active_tape();
// Makes `tape` active for the lifetime of the scope (scopes nest).
class TapeScope {
 public:
  explicit TapeScope(Tape& tape);
  ~TapeScope();
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;

 private:
  Tape* prev_;
};

// Turns recording off for its lifetime (work inside an op's forward or backward).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  Tape* prev_;
};

// The active tape if any of `inputs` is tracked on it, else nullptr: ops call this to decide
// whether to record.
Tape* recording(std::initializer_list<const Tensor*> inputs);

}  // namespace r1::ops
