#include "core/quant_pack.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quant.h"

namespace r1 {

namespace {

constexpr int64_t kSuper = 256;

// One super-block of either type in plain form: f16 scale(s), per-sub-block scales (Q4_K: 8
// unsigned 6-bit scales and minimums; Q6_K: 16 int8 scales) and the 256 unsigned q (Q6_K: q + 32).
struct Super {
  uint8_t d[2], dmin[2];
  uint8_t sc[16], mn[8];
  uint8_t q[kSuper];
};

void read_q4k(const uint8_t* b, Super* o) {
  std::memcpy(o->d, b, 2);
  std::memcpy(o->dmin, b + 2, 2);
  const uint8_t* s = b + 4;
  for (int j = 0; j < 4; ++j) {
    o->sc[j] = s[j] & 63;
    o->mn[j] = s[j + 4] & 63;
    o->sc[j + 4] = static_cast<uint8_t>((s[j + 8] & 15) | ((s[j] >> 6) << 4));
    o->mn[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
  }
  for (int c = 0; c < 8; ++c)
    for (int l = 0; l < 32; ++l)
      o->q[32 * c + l] = (b[16 + 32 * (c / 2) + l] >> (4 * (c % 2))) & 15;
}

void write_q4k(const Super& o, uint8_t* b) {
  std::memcpy(b, o.d, 2);
  std::memcpy(b + 2, o.dmin, 2);
  uint8_t* s = b + 4;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(o.sc[j] | ((o.sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(o.mn[j] | ((o.mn[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((o.sc[j + 4] & 15) | ((o.mn[j + 4] & 15) << 4));
  }
  std::memset(b + 16, 0, 128);
  for (int c = 0; c < 8; ++c)
    for (int l = 0; l < 32; ++l)
      b[16 + 32 * (c / 2) + l] |= static_cast<uint8_t>(o.q[32 * c + l] << (4 * (c % 2)));
}

// Q6_K: ql[128], qh[64], 16 int8 scales, f16 d. Chunk c = 4h + k: low 4 bits in ql[64h + 32(k & 1)
// + l] (nibble k >> 1), top 2 bits in qh[32h + l] (bits 2k).
void read_q6k(const uint8_t* b, Super* o) {
  std::memcpy(o->d, b + 208, 2);
  std::memcpy(o->sc, b + 192, 16);
  for (int c = 0; c < 8; ++c) {
    const int h = c / 4, k = c % 4;
    for (int l = 0; l < 32; ++l)
      o->q[32 * c + l] =
          static_cast<uint8_t>(((b[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15) |
                               (((b[128 + 32 * h + l] >> (2 * k)) & 3) << 4));
  }
}

void write_q6k(const Super& o, uint8_t* b) {
  std::memset(b, 0, 192);
  for (int c = 0; c < 8; ++c) {
    const int h = c / 4, k = c % 4;
    for (int l = 0; l < 32; ++l) {
      const uint8_t u = o.q[32 * c + l];
      b[64 * h + 32 * (k & 1) + l] |= static_cast<uint8_t>((u & 15) << (4 * (k >> 1)));
      b[128 + 32 * h + l] |= static_cast<uint8_t>((u >> 4) << (2 * k));
    }
  }
  std::memcpy(b + 192, o.sc, 16);
  std::memcpy(b + 208, o.d, 2);
}

// The interleaved 4-bit field of one chunk (32 q at q) at p, for row r, and back.
void put_chunk(const uint8_t* q, int r, uint8_t* p) {
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i)
      p[32 * k + 4 * r + i] =
          static_cast<uint8_t>((q[4 * k + i] & 15) | ((q[16 + 4 * k + i] & 15) << 4));
}
void get_chunk(const uint8_t* p, int r, uint8_t* q) {
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 4; ++i) {
      const uint8_t v = p[32 * k + 4 * r + i];
      q[4 * k + i] = v & 15;
      q[16 + 4 * k + i] = v >> 4;
    }
}
// Those of a super-block's 8 chunks (chunk c at p + stride * c).
void put_nibbles(const uint8_t* q, int r, uint8_t* p, int stride) {
  for (int c = 0; c < 8; ++c) put_chunk(q + 32 * c, r, p + stride * c);
}
void get_nibbles(const uint8_t* p, int r, uint8_t* q, int stride) {
  for (int c = 0; c < 8; ++c) get_chunk(p + stride * c, r, q + 32 * c);
}

// A Q4_0 / Q5_0 block (f16 d; Q5_0: u32 qh; 16 bytes of nibbles, weight j < 16 low, j + 16 high)
// <-> d and its 32 unsigned q (Q5_0: with bit 4 from qh).
void read_b32(DType t, const uint8_t* b, uint8_t* d, uint8_t* q) {
  std::memcpy(d, b, 2);
  uint32_t qh = 0;
  if (t == DType::Q5_0) std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + (t == DType::Q5_0 ? 6 : 2);
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<uint8_t>((qs[j] & 15) | (((qh >> j) & 1) << 4));
    q[j + 16] = static_cast<uint8_t>((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
}
void write_b32(DType t, const uint8_t* d, const uint8_t* q, uint8_t* b) {
  std::memcpy(b, d, 2);
  uint32_t qh = 0;
  uint8_t* qs = b + (t == DType::Q5_0 ? 6 : 2);
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
    qh |= static_cast<uint32_t>(q[j] >> 4) << j | static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
  }
  if (t == DType::Q5_0) std::memcpy(b + 2, &qh, 4);
}

// Block b (0, 1) of a packed Q4_0 / Q5_0 unit u, row r <-> d and its 32 q.
void pack_b32(DType t, const uint8_t* d, const uint8_t* q, int b, int r, uint8_t* u) {
  std::memcpy(u + 16 * b + 2 * r, d, 2);
  put_chunk(q, r, u + 32 + 128 * b);
  if (t != DType::Q5_0) return;
  for (int i = 0; i < 4; ++i) {
    uint8_t v = 0;
    for (int k = 0; k < 4; ++k)
      v |= static_cast<uint8_t>((q[4 * k + i] >> 4) << k | (q[16 + 4 * k + i] >> 4) << (4 + k));
    u[288 + 32 * b + 4 * r + i] = v;
  }
}
void unpack_b32(DType t, const uint8_t* u, int b, int r, uint8_t* d, uint8_t* q) {
  std::memcpy(d, u + 16 * b + 2 * r, 2);
  get_chunk(u + 32 + 128 * b, r, q);
  if (t != DType::Q5_0) return;
  for (int i = 0; i < 4; ++i) {
    const uint8_t v = u[288 + 32 * b + 4 * r + i];
    for (int k = 0; k < 4; ++k) {
      q[4 * k + i] |= static_cast<uint8_t>(((v >> k) & 1) << 4);
      q[16 + 4 * k + i] |= static_cast<uint8_t>(((v >> (4 + k)) & 1) << 4);
    }
  }
}

constexpr bool is_b32(DType t) {
  return t == DType::Q4_0 || t == DType::Q5_0;
}
// Weights per packed unit: 2 blocks of 32, or a super-block.
constexpr int64_t unit_of(DType t) {
  return is_b32(t) ? 64 : kSuper;
}

void pack_super(DType t, const Super& s, int r, uint8_t* g) {
  if (t == DType::Q4_K) {
    std::memcpy(g + 2 * r, s.d, 2);
    std::memcpy(g + 16 + 2 * r, s.dmin, 2);
    for (int c = 0; c < 8; ++c) {
      g[32 + 8 * c + r] = s.sc[c];
      g[96 + 8 * c + r] = s.mn[c];
    }
    put_nibbles(s.q, r, g + 160, 128);
    return;
  }
  std::memcpy(g + 2 * r, s.d, 2);
  std::memset(g + 144, 0, 16);
  for (int j = 0; j < 16; ++j) g[16 + 8 * j + r] = s.sc[j];
  put_nibbles(s.q, r, g + 160, 192);
  for (int c = 0; c < 8; ++c)
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < 4; ++i) {
        uint8_t v = 0;
        for (int s4 = 0; s4 < 4; ++s4)
          v |= static_cast<uint8_t>((s.q[32 * c + 16 * j + 4 * s4 + i] >> 4) << (2 * s4));
        g[160 + 192 * c + 128 + 32 * j + 4 * r + i] = v;
      }
}

void unpack_super(DType t, const uint8_t* g, int r, Super* s) {
  if (t == DType::Q4_K) {
    std::memcpy(s->d, g + 2 * r, 2);
    std::memcpy(s->dmin, g + 16 + 2 * r, 2);
    for (int c = 0; c < 8; ++c) {
      s->sc[c] = g[32 + 8 * c + r];
      s->mn[c] = g[96 + 8 * c + r];
    }
    get_nibbles(g + 160, r, s->q, 128);
    return;
  }
  std::memcpy(s->d, g + 2 * r, 2);
  for (int j = 0; j < 16; ++j) s->sc[j] = g[16 + 8 * j + r];
  get_nibbles(g + 160, r, s->q, 192);
  for (int c = 0; c < 8; ++c)
    for (int j = 0; j < 2; ++j)
      for (int i = 0; i < 4; ++i) {
        const uint8_t v = g[160 + 192 * c + 128 + 32 * j + 4 * r + i];
        for (int s4 = 0; s4 < 4; ++s4)
          s->q[32 * c + 16 * j + 4 * s4 + i] |= static_cast<uint8_t>(((v >> (2 * s4)) & 3) << 4);
      }
}

void check_base(DType t, int64_t n, const char* what) {
  if (packed_type(t) == t || n % unit_of(t) != 0)
    fail_internal(what, ": ", n, " weights of ", dtype_name(t));
}

}  // namespace

bool can_pack(DType t, int64_t rows, int64_t cols) {
  return packed_type(t) != t && rows > 0 && rows % kPackRows == 0 && cols > 0 &&
         cols % unit_of(t) == 0;
}

void pack_rows8(DType t, const void* src, void* dst, int64_t n) {
  check_base(t, n, "pack_rows8");
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const size_t row_bytes = dtype_bytes(t, n), block = dtype_block_bytes(t);
  if (is_b32(t)) {
    uint8_t d[2], q[32];
    for (int64_t b = 0; b < n / 32; ++b)
      for (int r = 0; r < kPackRows; ++r) {
        read_b32(t, in + r * row_bytes + b * block, d, q);
        pack_b32(t, d, q, static_cast<int>(b % 2), r, out + (b / 2) * 2 * kPackRows * block);
      }
    return;
  }
  const size_t group_block = kPackRows * dtype_block_bytes(packed_type(t));
  Super s;
  for (int64_t b = 0; b < n / kSuper; ++b)
    for (int r = 0; r < kPackRows; ++r) {
      const uint8_t* blk = in + r * row_bytes + b * block;
      if (t == DType::Q4_K) {
        read_q4k(blk, &s);
      } else {
        read_q6k(blk, &s);
      }
      pack_super(t, s, r, out + b * group_block);
    }
}

void unpack_rows8(DType packed, const void* src, void* dst, int64_t n) {
  const DType t = unpacked_type(packed);
  check_base(t, n, "unpack_rows8");
  if (!is_packed_type(packed)) fail_internal("unpack_rows8: ", dtype_name(packed));
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const size_t row_bytes = dtype_bytes(t, n), block = dtype_block_bytes(t);
  if (is_b32(t)) {
    uint8_t d[2], q[32];
    for (int64_t b = 0; b < n / 32; ++b)
      for (int r = 0; r < kPackRows; ++r) {
        unpack_b32(t, in + (b / 2) * 2 * kPackRows * block, static_cast<int>(b % 2), r, d, q);
        write_b32(t, d, q, out + r * row_bytes + b * block);
      }
    return;
  }
  const size_t group_block = kPackRows * dtype_block_bytes(packed);
  for (int64_t b = 0; b < n / kSuper; ++b)
    for (int r = 0; r < kPackRows; ++r) {
      Super s{};
      unpack_super(t, in + b * group_block, r, &s);
      uint8_t* blk = out + r * row_bytes + b * block;
      if (t == DType::Q4_K) {
        write_q4k(s, blk);
      } else {
        write_q6k(s, blk);
      }
    }
}

void dequantize_packed_row(DType packed, const void* data, int64_t row, float* y, int64_t n) {
  const DType t = unpacked_type(packed);
  const size_t row_bytes = dtype_bytes(t, n);
  std::vector<uint8_t> rows(kPackRows * row_bytes);
  const uint8_t* group =
      static_cast<const uint8_t*>(data) + (row / kPackRows) * kPackRows * dtype_bytes(packed, n);
  unpack_rows8(packed, group, rows.data(), n);
  dequantize_row(t, rows.data() + (row % kPackRows) * row_bytes, y, n);
}

}  // namespace r1
