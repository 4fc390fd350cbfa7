// How much memory r1 may use, and the check made before any allocation whose size comes from
// input (a flag, a config.json, a request): a size the machine cannot hold is an Input error that
// says how much was asked for and how much there is, instead of the kernel killing the process
// or a bare "out of memory" halfway through.
#pragma once

#include <cstdint>
#include <string>

namespace r1 {

// Physical memory, lowered by the cgroup limit (memory.max) and RLIMIT_AS when they are set (these
// three are read once, on the first call: changes made later in the process are not seen).
// R1_MEMORY_LIMIT (bytes, optionally with a K/M/G suffix) lowers it further, for tests and for
// sharing a machine.
uint64_t memory_limit_bytes();

// Memory the machine can give now: /proc/meminfo's MemAvailable (what can be had without
// swapping, page cache included), at most memory_limit_bytes().
uint64_t memory_available_bytes();

// An Input error "WHAT would take N GiB, more than the M GiB of memory on this machine" when bytes
// exceeds memory_limit_bytes(). UINT64_MAX stands for a size that overflowed.
void check_memory(uint64_t bytes, const std::string& what);

// A positive size: "4096", "512M", "1.5G" (K, M, G, T, lower case too, or KiB, MiB, GiB, TiB:
// powers of 1024). False when it is not one.
bool parse_bytes(const std::string& s, uint64_t* out);

// a * b, or UINT64_MAX when the product overflows (then check_memory fails).
uint64_t mul_sat(uint64_t a, uint64_t b);
uint64_t add_sat(uint64_t a, uint64_t b);

// "1.5 GiB", "300 MiB": for messages.
std::string format_bytes(uint64_t bytes);

}  // namespace r1
