#include "tokenizer/template/budget.h"

#include "core/error.h"

namespace r1::tmpl::budget {

namespace {
thread_local Scope* current = nullptr;
}  // namespace

void step() {
  if (current && ++current->steps_ > current->limits_.max_steps)
    fail_input("chat template: more than ", current->limits_.max_steps,
               " evaluation steps (a loop that does not end?)");
}

void room(uint64_t n) {
  if (!current) return;
  const uint64_t max = current->limits_.max_bytes;
  if (n > max || current->bytes_ + n > max)
    fail_input("chat template: builds more than ", max >> 20, " MiB of text and lists");
}

void bytes(uint64_t n) {
  room(n);
  if (current) current->bytes_ += n;
}

void room(uint64_t count, uint64_t unit) {
  uint64_t total = 0;
  room(__builtin_mul_overflow(count, unit, &total) ? UINT64_MAX : total);
}

Scope::Scope(const RenderLimits& limits) : limits_(limits) {
  if (current) return;
  current = this;
  owner_ = true;
}

Scope::~Scope() {
  if (owner_) current = nullptr;
}

}  // namespace r1::tmpl::budget
