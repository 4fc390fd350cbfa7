#include "core/memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace r1 {

namespace {

// "123", "64M", "2G" -> bytes; 0 when unreadable.
uint64_t parse_size(const std::string& s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str()) return 0;
  switch (*end) {
    case 'K':
    case 'k':
      return mul_sat(v, uint64_t{1} << 10);
    case 'M':
    case 'm':
      return mul_sat(v, uint64_t{1} << 20);
    case 'G':
    case 'g':
      return mul_sat(v, uint64_t{1} << 30);
    default:
      return v;
  }
}

uint64_t cgroup_limit() {
  std::ifstream in("/sys/fs/cgroup/memory.max");  // cgroup v2; "max" when unlimited
  std::string s;
  if (in >> s && s != "max") return parse_size(s);
  return 0;
}

}  // namespace

uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t add_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t memory_limit_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  uint64_t limit = pages > 0 && page > 0 ? mul_sat(uint64_t(pages), uint64_t(page)) : UINT64_MAX;
  auto lower = [&](uint64_t x) {
    if (x > 0 && x < limit) limit = x;
  };
  lower(cgroup_limit());
  rlimit rl{};
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) lower(rl.rlim_cur);
  if (const char* env = std::getenv("R1_MEMORY_LIMIT")) lower(parse_size(env));
  return limit;
}

std::string format_bytes(uint64_t bytes) {
  if (bytes == UINT64_MAX) return "more than 16 EiB";
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (b >= double(1ull << 40))
    std::snprintf(buf, sizeof(buf), "%.1f TiB", b / double(1ull << 40));
  else if (b >= double(1ull << 30))
    std::snprintf(buf, sizeof(buf), "%.1f GiB", b / double(1ull << 30));
  else if (b >= double(1ull << 20))
    std::snprintf(buf, sizeof(buf), "%.1f MiB", b / double(1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof(buf), "%.1f KiB", b / 1024);
  else
    std::snprintf(buf, sizeof(buf), "%.0f bytes", b);
  return buf;
}

void check_memory(uint64_t bytes, const std::string& what) {
  const uint64_t limit = memory_limit_bytes();
  if (bytes > limit)
    fail_input(what, " would take ", format_bytes(bytes), ", more than the ",
               format_bytes(limit), " of memory on this machine");
}

}  // namespace r1
