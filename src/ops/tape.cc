#include "ops/tape.h"

#include <cstring>

#include "core/error.h"

namespace r1::ops {

namespace {
Tape* g_tape = nullptr;
}

void Tape::watch(const Tensor& t, Tensor grad) {
  if (t.dtype != DType::F32 || !t.is_contiguous())
    fail_internal("tape: only contiguous f32 tensors can be trained, got ", dtype_name(t.dtype),
                  t.shape_str());
  if (grad.defined()) {
    if (grad.dtype != DType::F32 || grad.numel() != t.numel())
      fail_internal("tape: gradient buffer ", grad.shape_str(), " for ", t.shape_str());
    grads_[t.data] = grad;
  }
  tracked_.insert(t.data);
  leaves_.insert(t.data);
}

Tensor& Tape::grad(const Tensor& t) {
  bool fresh = false;
  Tensor& g = grad_to_write(t, &fresh);
  if (fresh) std::memset(g.data, 0, g.nbytes());
  return g;
}

Tensor& Tape::grad_to_write(const Tensor& t, bool* fresh) {
  auto it = grads_.find(t.data);
  *fresh = it == grads_.end();
  if (!*fresh) return it->second;
  return grads_[t.data] = Tensor::empty(DType::F32, t.shape);
}

const Tensor* Tape::find_grad(const Tensor& t) const {
  auto it = grads_.find(t.data);
  return it == grads_.end() ? nullptr : &it->second;
}

void Tape::record(const Tensor& out, std::vector<Tensor> keep, Backward fn) {
  keep.push_back(out);
  tracked_.insert(out.data);
  records_.push_back({std::move(keep), std::move(fn)});
}

void Tape::backward(const Tensor& loss, float seed) {
  if (loss.numel() != 1) fail_internal("tape: backward from a tensor of ", loss.numel(), " values");
  if (!tracked(loss)) fail_internal("tape: the loss does not depend on any watched tensor");
  grad(loss).ptr<float>()[0] += seed;
  NoGrad off;  // backward closures compute with ops but record nothing
  for (size_t i = records_.size(); i-- > 0;) {
    records_[i].fn(*this);
    records_[i] = Record{};  // frees saved activations as soon as they are used
  }
  clear();
}

void Tape::clear() {
  records_.clear();
  for (auto it = grads_.begin(); it != grads_.end();)
    it = leaves_.count(it->first) ? std::next(it) : grads_.erase(it);
  tracked_ = leaves_;
}

Tape* active_tape() {
  return g_tape;
}

TapeScope::TapeScope(Tape& tape) : prev_(g_tape) {
  g_tape = &tape;
}
TapeScope::~TapeScope() {
  g_tape = prev_;
}

NoGrad::NoGrad() : prev_(g_tape) {
  g_tape = nullptr;
}
NoGrad::~NoGrad() {
  g_tape = prev_;
}

Tape* recording(std::initializer_list<const Tensor*> inputs) {
  if (!g_tape) return nullptr;
  for (const Tensor* t : inputs)
    if (t && t->defined() && g_tape->tracked(*t)) return g_tape;
  return nullptr;
}

}  // namespace r1::ops
