#include "core/memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace r1 {

namespace {

// "123", "64M", "2G" -> bytes; 0 when unreadable.
uint64_t parse_size(const std::string& s) {
  uint64_t v = 0;
  return parse_bytes(s, &v) ? v : 0;
}

uint64_t cgroup_limit() {
  std::ifstream in("/sys/fs/cgroup/memory.max");  // cgroup v2; "max" when unlimited
  std::string s;
  if (in >> s && s != "max") return parse_size(s);
  return 0;
}

}  // namespace

bool parse_bytes(const std::string& s, uint64_t* out) {
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  const std::string unit = end ? end : "";
  double mult = 0;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "k" || unit == "KiB")
    mult = 1024.0;
  else if (unit == "M" || unit == "m" || unit == "MiB")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "g" || unit == "GiB")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "t" || unit == "TiB")
    mult = 1024.0 * 1024 * 1024 * 1024;
  const bool ok = !s.empty() && end != s.c_str() &&
                  !std::isspace(static_cast<unsigned char>(s[0])) && mult > 0 && std::isfinite(x) &&
                  x > 0 && x * mult < 9.2e18;
  if (ok) *out = static_cast<uint64_t>(x * mult);
  return ok;
}

uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t add_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

uint64_t memory_limit_bytes() {
  // What the system allows is looked up once per process (a file and two system calls: every
  // tensor allocation asks, hundreds of times per decoded token); R1_MEMORY_LIMIT on each call.
  static const uint64_t system_limit = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t limit = pages > 0 && page > 0 ? mul_sat(uint64_t(pages), uint64_t(page)) : UINT64_MAX;
    const uint64_t cgroup = cgroup_limit();
    if (cgroup > 0) limit = std::min(limit, cgroup);
    rlimit rl{};
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 0)
      limit = std::min<uint64_t>(limit, rl.rlim_cur);
    return limit;
  }();
  uint64_t limit = system_limit;
  if (const char* env = std::getenv("R1_MEMORY_LIMIT")) {
    const uint64_t x = parse_size(env);
    if (x > 0) limit = std::min(limit, x);
  }
  return limit;
}

uint64_t memory_available_bytes() {
  uint64_t avail = memory_limit_bytes();
  if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kb = 0;
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        avail = std::min<uint64_t>(avail, mul_sat(kb, 1024));
        break;
      }
    std::fclose(f);
  }
  return avail;
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
    fail_input(what, " would take ", format_bytes(bytes), ", more than the ", format_bytes(limit),
               " of memory on this machine");
}

}  // namespace r1
