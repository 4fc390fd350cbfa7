#include "core/quant_pack.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quant.h"

namespace r1 {

namespace {

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

// Block b of a row, as row r of its packed group (u: the unit the block falls in; for Q4_0 /
// Q5_0, h = b % 2 is the block within the unit), and back. Offsets: core/quant_pack.h.
void pack_block(DType t, const PlainBlock& s, int h, int r, uint8_t* u) {
  switch (t) {
    case DType::Q4_0:
    case DType::Q5_0:
      std::memcpy(u + 16 * h + 2 * r, &s.d, 2);
      put_chunk(s.q, r, u + 32 + 128 * h);
      if (t == DType::Q5_0)
        for (int i = 0; i < 4; ++i) {
          uint8_t v = 0;
          for (int k = 0; k < 4; ++k)
            v |= static_cast<uint8_t>((s.q[4 * k + i] >> 4) << k | (s.q[16 + 4 * k + i] >> 4)
                                                                       << (4 + k));
          u[288 + 32 * h + 4 * r + i] = v;
        }
      return;
    case DType::Q4_K:
      std::memcpy(u + 2 * r, &s.d, 2);
      std::memcpy(u + 16 + 2 * r, &s.dmin, 2);
      for (int c = 0; c < 8; ++c) {
        u[32 + 8 * c + r] = static_cast<uint8_t>((s.sc[c] & 15) | (s.mn[c] & 15) << 4);
        put_chunk(s.q + 32 * c, r, u + 128 + 128 * c);
      }
      for (int c = 0; c < 4; ++c)
        u[96 + 8 * c + r] = static_cast<uint8_t>(s.sc[c] >> 4 | (s.mn[c] >> 4) << 2 |
                                                 (s.sc[c + 4] >> 4) << 4 | (s.mn[c + 4] >> 4) << 6);
      return;
    default:  // Q6_K
      std::memcpy(u + 2 * r, &s.d, 2);
      std::memset(u + 144, 0, 16);
      for (int j = 0; j < 16; ++j) u[16 + 8 * j + r] = s.sc[j];
      for (int c = 0; c < 8; ++c) {
        uint8_t* chunk = u + 160 + 192 * c;
        put_chunk(s.q + 32 * c, r, chunk);
        for (int j = 0; j < 2; ++j)
          for (int i = 0; i < 4; ++i) {
            uint8_t v = 0;
            for (int s4 = 0; s4 < 4; ++s4)
              v |= static_cast<uint8_t>((s.q[32 * c + 16 * j + 4 * s4 + i] >> 4) << (2 * s4));
            chunk[128 + 32 * j + 4 * r + i] = v;
          }
      }
      return;
  }
}

void unpack_block(DType t, const uint8_t* u, int h, int r, PlainBlock* s) {
  *s = PlainBlock();
  switch (t) {
    case DType::Q4_0:
    case DType::Q5_0:
      std::memcpy(&s->d, u + 16 * h + 2 * r, 2);
      get_chunk(u + 32 + 128 * h, r, s->q);
      if (t == DType::Q5_0)
        for (int i = 0; i < 4; ++i) {
          const uint8_t v = u[288 + 32 * h + 4 * r + i];
          for (int k = 0; k < 4; ++k) {
            s->q[4 * k + i] |= static_cast<uint8_t>(((v >> k) & 1) << 4);
            s->q[16 + 4 * k + i] |= static_cast<uint8_t>(((v >> (4 + k)) & 1) << 4);
          }
        }
      return;
    case DType::Q4_K:
      std::memcpy(&s->d, u + 2 * r, 2);
      std::memcpy(&s->dmin, u + 16 + 2 * r, 2);
      for (int c = 0; c < 8; ++c) {
        const uint8_t low = u[32 + 8 * c + r], top = u[96 + 8 * (c % 4) + r] >> (4 * (c / 4));
        s->sc[c] = static_cast<uint8_t>((low & 15) | (top & 3) << 4);
        s->mn[c] = static_cast<uint8_t>(low >> 4 | ((top >> 2) & 3) << 4);
        get_chunk(u + 128 + 128 * c, r, s->q + 32 * c);
      }
      return;
    default:  // Q6_K
      std::memcpy(&s->d, u + 2 * r, 2);
      for (int j = 0; j < 16; ++j) s->sc[j] = u[16 + 8 * j + r];
      for (int c = 0; c < 8; ++c) {
        const uint8_t* chunk = u + 160 + 192 * c;
        get_chunk(chunk, r, s->q + 32 * c);
        for (int j = 0; j < 2; ++j)
          for (int i = 0; i < 4; ++i) {
            const uint8_t v = chunk[128 + 32 * j + 4 * r + i];
            for (int s4 = 0; s4 < 4; ++s4)
              s->q[32 * c + 16 * j + 4 * s4 + i] |=
                  static_cast<uint8_t>(((v >> (2 * s4)) & 3) << 4);
          }
      }
      return;
  }
}

// The packed unit block b of a row falls in, and its place in that unit.
struct Place {
  int64_t unit;
  int h;
};
Place place_of(DType t, int64_t b) {
  const int64_t per_unit = packed_unit(t) / dtype_block(t);  // blocks per unit: 2 or 1
  return {b / per_unit, static_cast<int>(b % per_unit)};
}

// Q8_0 (bytes moved as they are, no PlainBlock): where block b of row r goes in its group, piece
// by piece: piece 0 its scale (2 bytes at blk), piece 1 + k its weights 4k..4k+3 (at blk + 2 + 4k).
int64_t q8_place(int64_t b, int r, int piece) {
  const int64_t u = (b / 2) * packed_unit_bytes(DType::Q8_0_R8), h = b % 2;
  return piece == 0 ? u + 16 * h + 2 * r : u + 32 + 256 * h + 32 * (piece - 1) + 4 * r;
}
void pack_q8_block(const uint8_t* blk, int64_t b, int r, uint8_t* group) {
  std::memcpy(group + q8_place(b, r, 0), blk, 2);
  for (int k = 0; k < 8; ++k) std::memcpy(group + q8_place(b, r, 1 + k), blk + 2 + 4 * k, 4);
}
void unpack_q8_block(const uint8_t* group, int64_t b, int r, uint8_t* blk) {
  std::memcpy(blk, group + q8_place(b, r, 0), 2);
  for (int k = 0; k < 8; ++k) std::memcpy(blk + 2 + 4 * k, group + q8_place(b, r, 1 + k), 4);
}

void check_base(DType t, int64_t n, const char* what) {
  if (packed_type(t) == t || n % packed_unit(t) != 0)
    fail_internal(what, ": ", n, " weights of ", dtype_name(t));
}

}  // namespace

bool can_pack(DType t, int64_t rows, int64_t cols) {
  return packed_type(t) != t && rows > 0 && rows % kPackRows == 0 && cols > 0 &&
         cols % packed_unit(t) == 0;
}

void pack_rows8(DType t, const void* src, void* dst, int64_t n) {
  check_base(t, n, "pack_rows8");
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const size_t row_bytes = dtype_bytes(t, n), block = dtype_block_bytes(t);
  const int64_t unit_bytes = packed_unit_bytes(packed_type(t));
  if (t == DType::Q8_0) {
    for (int r = 0; r < kPackRows; ++r)
      for (int64_t b = 0; b < n / dtype_block(t); ++b)
        pack_q8_block(in + r * row_bytes + b * block, b, r, out);
    return;
  }
  PlainBlock s;
  for (int64_t b = 0; b < n / dtype_block(t); ++b)
    for (int r = 0; r < kPackRows; ++r) {
      read_block(t, in + r * row_bytes + b * block, &s);
      const Place at = place_of(t, b);
      pack_block(t, s, at.h, r, out + at.unit * unit_bytes);
    }
}

void unpack_row(DType packed, const void* src, int r, void* dst, int64_t n) {
  const DType t = unpacked_type(packed);
  if (!is_packed_type(packed)) fail_internal("unpack_row: ", dtype_name(packed));
  check_base(t, n, "unpack_row");
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const int64_t unit_bytes = packed_unit_bytes(packed);
  if (t == DType::Q8_0) {
    for (int64_t b = 0; b < n / dtype_block(t); ++b)
      unpack_q8_block(in, b, r, out + b * dtype_block_bytes(t));
    return;
  }
  PlainBlock s;
  for (int64_t b = 0; b < n / dtype_block(t); ++b) {
    const Place at = place_of(t, b);
    unpack_block(t, in + at.unit * unit_bytes, at.h, r, &s);
    write_block(t, s, out + b * dtype_block_bytes(t));
  }
}

void unpack_rows8(DType packed, const void* src, void* dst, int64_t n) {
  const size_t row_bytes = dtype_bytes(unpacked_type(packed), n);
  for (int r = 0; r < kPackRows; ++r)
    unpack_row(packed, src, r, static_cast<uint8_t*>(dst) + r * row_bytes, n);
}

void dequantize_packed_row(DType packed, const void* data, int64_t row, float* y, int64_t n) {
  const DType t = unpacked_type(packed);
  std::vector<uint8_t> plain(dtype_bytes(t, n));
  const uint8_t* group =
      static_cast<const uint8_t*>(data) + (row / kPackRows) * kPackRows * dtype_bytes(packed, n);
  unpack_row(packed, group, static_cast<int>(row % kPackRows), plain.data(), n);
  dequantize_row(t, plain.data(), y, n);
}

}  // namespace r1
