#include "core/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace r1 {

namespace {

constexpr int64_t kSuper = 256;  // weights per Q4_K / Q6_K super-block

float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// The value of largest magnitude, with its sign (0 for an all-zero block).
float signed_absmax(const float* x, int64_t n) {
  float amax = 0, max = 0;
  for (int64_t j = 0; j < n; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

int nearest(float v) {
  return static_cast<int>(std::lrintf(v));
}

// Q4_K's packed 6-bit scale and minimum of sub-block j (0..7) from its 12 bytes.
void q4k_scale_min(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Weighted least squares fit of x ~ a * q + b (b <= 0) with q in [0, nmax], over a grid of
// candidate scales; returns a, writes -b (the minimum, >= 0) and the chosen q.
float fit_scale_min(const float* x, const float* w, int n, int nmax, float* min_out, uint8_t* q) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo = std::min(lo, 0.0f);
  if (hi <= lo) {
    std::fill(q, q + n, 0);
    *min_out = -lo;
    return 0;
  }
  float best_a = (hi - lo) / nmax, best_b = lo, best_err = INFINITY;
  uint8_t cand[32];
  for (int step = -1; step <= 20; ++step) {
    // step -1: the plain min/max grid; the others nudge the scale by 0.1-steps of a level.
    const float iscale = step < 0 ? nmax / (hi - lo) : (nmax - 1.0f + 0.1f * step) / (hi - lo);
    double sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * (x[i] - lo)), 0, nmax);
      cand[i] = static_cast<uint8_t>(l);
      sw += w[i];
      sq += w[i] * l;
      sqq += w[i] * l * l;
      sx += w[i] * x[i];
      sqx += w[i] * l * x[i];
    }
    const double det = sw * sqq - sq * sq;
    if (det <= 0) continue;
    double a = (sw * sqx - sq * sx) / det, b = (sqq * sx - sq * sqx) / det;
    if (b > 0) {  // the minimum stays <= 0, as the format stores it subtracted
      b = 0;
      a = sqq > 0 ? sqx / sqq : 0;
    }
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const double e = a * cand[i] + b - x[i];
      err += w[i] * e * e;
    }
    if (err < best_err) {
      best_err = static_cast<float>(err);
      best_a = static_cast<float>(a);
      best_b = static_cast<float>(b);
      std::copy(cand, cand + n, q);
    }
  }
  *min_out = -best_b;
  return best_a;
}

// Weighted least squares fit of x ~ a * q with q in [-nmax, nmax - 1] over a grid of candidate
// scales around the one that maps the largest-magnitude value to -nmax; returns a.
float fit_scale_signed(const float* x, int n, int nmax) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < 1e-30f) return 0;
  float best_a = 0, best_err = INFINITY;
  for (int step = -9; step <= 9; ++step) {
    const float iscale = -(nmax + 0.1f * step) / max;
    double sqq = 0, sqx = 0;
    int l[32];
    for (int i = 0; i < n; ++i) {
      l[i] = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
      sqq += static_cast<double>(x[i]) * x[i] * l[i] * l[i];
      sqx += static_cast<double>(x[i]) * x[i] * l[i] * x[i];
    }
    if (sqq <= 0) continue;
    const double a = sqx / sqq;
    double err = 0;
    for (int i = 0; i < n; ++i) {
      const double e = a * l[i] - x[i];
      err += static_cast<double>(x[i]) * x[i] * e * e;
    }
    if (err < best_err) {
      best_err = static_cast<float>(err);
      best_a = static_cast<float>(a);
    }
  }
  return best_a;
}

void quantize_q4_0(const float* x, uint8_t* out) {
  const float d = signed_absmax(x, 32) / -8.0f, id = d != 0 ? 1.0f / d : 0.0f;
  PlainBlock pb;
  pb.d = f32_to_f16(d);
  for (int j = 0; j < 32; ++j)
    pb.q[j] =
        static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f))));
  write_block(DType::Q4_0, pb, out);
}

void quantize_q5_0(const float* x, uint8_t* out) {
  const float d = signed_absmax(x, 32) / -16.0f, id = d != 0 ? 1.0f / d : 0.0f;
  PlainBlock pb;
  pb.d = f32_to_f16(d);
  for (int j = 0; j < 32; ++j)
    pb.q[j] = static_cast<uint8_t>(
        std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f))));
  write_block(DType::Q5_0, pb, out);
}

void quantize_q4_k(const float* x, uint8_t* out) {
  double ss = 0;
  for (int i = 0; i < kSuper; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float rms = static_cast<float>(std::sqrt(ss / kSuper));
  float scale[8], min[8], w[32];
  uint8_t q[kSuper];
  float max_scale = 0, max_min = 0;
  for (int s = 0; s < 8; ++s) {
    for (int i = 0; i < 32; ++i) w[i] = rms + std::fabs(x[32 * s + i]);
    scale[s] = fit_scale_min(x + 32 * s, w, 32, 15, &min[s], q + 32 * s);
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, min[s]);
  }
  const float is = max_scale > 0 ? 63.0f / max_scale : 0, im = max_min > 0 ? 63.0f / max_min : 0;
  PlainBlock pb;
  for (int j = 0; j < 8; ++j) {
    pb.sc[j] = static_cast<uint8_t>(std::min(63, nearest(is * scale[j])));
    pb.mn[j] = static_cast<uint8_t>(std::min(63, nearest(im * min[j])));
  }
  pb.d = f32_to_f16(max_scale / 63.0f);
  pb.dmin = f32_to_f16(max_min / 63.0f);
  // q again against the scales as stored.
  const float d = f16_to_f32(pb.d), dmin = f16_to_f32(pb.dmin);
  for (int j = 0; j < 8; ++j) {
    const float dl = d * pb.sc[j], dm = dmin * pb.mn[j];
    for (int i = 0; i < 32; ++i)
      pb.q[32 * j + i] =
          dl != 0 ? static_cast<uint8_t>(std::clamp(nearest((x[32 * j + i] + dm) / dl), 0, 15)) : 0;
  }
  write_block(DType::Q4_K, pb, out);
}

void quantize_q6_k(const float* x, uint8_t* out) {
  float scale[16];
  float max_scale = 0, amax = 0;
  for (int s = 0; s < 16; ++s) {
    scale[s] = fit_scale_signed(x + 16 * s, 16, 32);
    if (std::fabs(scale[s]) > amax) {
      amax = std::fabs(scale[s]);
      max_scale = scale[s];
    }
  }
  PlainBlock pb;  // all zero: d = 0, every q = 0 (an all-zero block's bytes)
  if (amax == 0) return write_block(DType::Q6_K, pb, out);
  const float iscale = -128.0f / max_scale;
  for (int s = 0; s < 16; ++s)
    pb.sc[s] = static_cast<uint8_t>(static_cast<int8_t>(std::min(127, nearest(iscale * scale[s]))));
  pb.d = f32_to_f16(1.0f / iscale);
  const float d = f16_to_f32(pb.d);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * static_cast<int8_t>(pb.sc[s]);
    for (int i = 0; i < 16; ++i)
      pb.q[16 * s + i] =
          dl != 0 ? static_cast<uint8_t>(std::clamp(nearest(x[16 * s + i] / dl), -32, 31) + 32)
                  : 32;
  }
  write_block(DType::Q6_K, pb, out);
}

}  // namespace

void decode_chunk(DType t, const void* row, int64_t c, QuantChunk* out) {
  const uint8_t* r = static_cast<const uint8_t*>(row);
  out->mn = 0;
  switch (t) {
    case DType::Q8_0: {
      const uint8_t* b = r + c * kQ8BlockBytes;
      out->f[0] = out->f[1] = load_f16(b);
      std::memcpy(out->q, b + 2, 32);
      return;
    }
    case DType::Q4_0: {
      const uint8_t* b = r + c * dtype_block_bytes(DType::Q4_0);
      out->f[0] = out->f[1] = load_f16(b);
      for (int j = 0; j < 16; ++j) {
        out->q[j] = static_cast<int8_t>((b[2 + j] & 15) - 8);
        out->q[j + 16] = static_cast<int8_t>((b[2 + j] >> 4) - 8);
      }
      return;
    }
    case DType::Q5_0: {
      const uint8_t* b = r + c * dtype_block_bytes(DType::Q5_0);
      out->f[0] = out->f[1] = load_f16(b);
      uint32_t qh;
      std::memcpy(&qh, b + 2, 4);
      for (int j = 0; j < 16; ++j) {
        out->q[j] = static_cast<int8_t>(((b[6 + j] & 15) | (((qh >> j) & 1) << 4)) - 16);
        out->q[j + 16] =
            static_cast<int8_t>(((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
      }
      return;
    }
    case DType::Q4_K: {
      const uint8_t* b = r + (c / 8) * dtype_block_bytes(DType::Q4_K);
      const int j = static_cast<int>(c % 8);
      int sc, m;
      q4k_scale_min(b + 4, j, &sc, &m);
      out->f[0] = out->f[1] = load_f16(b) * sc;
      out->mn = load_f16(b + 2) * m;
      const uint8_t* qs = b + 16 + 32 * (j / 2);
      for (int l = 0; l < 32; ++l) out->q[l] = static_cast<int8_t>((qs[l] >> (4 * (j % 2))) & 15);
      return;
    }
    case DType::Q6_K: {
      const uint8_t* b = r + (c / 8) * dtype_block_bytes(DType::Q6_K);
      const int h = static_cast<int>(c % 8) / 4, k = static_cast<int>(c % 4);
      const uint8_t* ql = b + 64 * h + 32 * (k & 1);
      const uint8_t* qh = b + 128 + 32 * h;
      const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + 8 * h + 2 * k;
      const float d = load_f16(b + 208);
      out->f[0] = d * sc[0];
      out->f[1] = d * sc[1];
      for (int l = 0; l < 32; ++l)
        out->q[l] = static_cast<int8_t>(
            (((ql[l] >> (4 * (k >> 1))) & 15) | (((qh[l] >> (2 * k)) & 3) << 4)) - 32);
      return;
    }
    default:
      fail_internal("decode_chunk: ", dtype_name(t), " is not a block type");
  }
}

void quantize_row(DType t, const float* x, void* dst, int64_t n) {
  const int64_t b = dtype_block(t);
  if (b <= 1 || n % b != 0) fail_internal("quantize_row: ", n, " values as ", dtype_name(t));
  if (t == DType::Q8_0) return quantize_q8_0(x, dst, n);
  uint8_t* out = static_cast<uint8_t*>(dst);
  const size_t bytes = dtype_bytes(t, b);
  for (int64_t i = 0; i < n / b; ++i, x += b, out += bytes) {
    switch (t) {
      case DType::Q4_0:
        quantize_q4_0(x, out);
        break;
      case DType::Q5_0:
        quantize_q5_0(x, out);
        break;
      case DType::Q4_K:
        quantize_q4_k(x, out);
        break;
      default:
        quantize_q6_k(x, out);
        break;
    }
  }
}

void read_block(DType t, const void* block, PlainBlock* out) {
  const uint8_t* b = static_cast<const uint8_t*>(block);
  *out = PlainBlock();
  switch (t) {
    case DType::Q4_0:
    case DType::Q5_0: {
      std::memcpy(&out->d, b, 2);
      uint32_t qh = 0;
      if (t == DType::Q5_0) std::memcpy(&qh, b + 2, 4);
      const uint8_t* qs = b + (t == DType::Q5_0 ? 6 : 2);
      for (int j = 0; j < 16; ++j) {
        out->q[j] = static_cast<uint8_t>((qs[j] & 15) | (((qh >> j) & 1) << 4));
        out->q[j + 16] = static_cast<uint8_t>((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
      }
      return;
    }
    case DType::Q4_K:
      std::memcpy(&out->d, b, 2);
      std::memcpy(&out->dmin, b + 2, 2);
      for (int j = 0; j < 8; ++j) {
        int sc, m;
        q4k_scale_min(b + 4, j, &sc, &m);
        out->sc[j] = static_cast<uint8_t>(sc);
        out->mn[j] = static_cast<uint8_t>(m);
      }
      // 64-weight group g in bytes 16 + 32g.., its first 32 weights in the low nibbles.
      for (int c = 0; c < 8; ++c)
        for (int l = 0; l < 32; ++l)
          out->q[32 * c + l] = (b[16 + 32 * (c / 2) + l] >> (4 * (c % 2))) & 15;
      return;
    case DType::Q6_K:
      // Chunk c = 4h + k: low 4 bits in ql[64h + 32(k & 1) + l] (nibble k >> 1), top 2 bits in
      // qh[32h + l] (bits 2k); 16 int8 scales at 192, f16 d at 208.
      std::memcpy(&out->d, b + 208, 2);
      std::memcpy(out->sc, b + 192, 16);
      for (int c = 0; c < 8; ++c) {
        const int h = c / 4, k = c % 4;
        for (int l = 0; l < 32; ++l)
          out->q[32 * c + l] =
              static_cast<uint8_t>(((b[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15) |
                                   (((b[128 + 32 * h + l] >> (2 * k)) & 3) << 4));
      }
      return;
    default:
      fail_internal("read_block: ", dtype_name(t));
  }
}

void write_block(DType t, const PlainBlock& in, void* block) {
  uint8_t* b = static_cast<uint8_t*>(block);
  switch (t) {
    case DType::Q4_0:
    case DType::Q5_0: {
      std::memcpy(b, &in.d, 2);
      uint32_t qh = 0;
      uint8_t* qs = b + (t == DType::Q5_0 ? 6 : 2);
      for (int j = 0; j < 16; ++j) {
        qs[j] = static_cast<uint8_t>((in.q[j] & 15) | ((in.q[j + 16] & 15) << 4));
        qh |= static_cast<uint32_t>(in.q[j] >> 4) << j | static_cast<uint32_t>(in.q[j + 16] >> 4)
                                                             << (j + 16);
      }
      if (t == DType::Q5_0) std::memcpy(b + 2, &qh, 4);
      return;
    }
    case DType::Q4_K: {
      std::memcpy(b, &in.d, 2);
      std::memcpy(b + 2, &in.dmin, 2);
      // Sub-blocks 0-3: the low 6 bits of bytes 0-3 (scales) and 4-7 (minimums); 4-7: the
      // nibbles of bytes 8-11, their top 2 bits in the top bits of bytes 0-3 / 4-7.
      uint8_t* s = b + 4;
      for (int j = 0; j < 4; ++j) {
        s[j] = static_cast<uint8_t>((in.sc[j] & 63) | ((in.sc[j + 4] >> 4) << 6));
        s[j + 4] = static_cast<uint8_t>((in.mn[j] & 63) | ((in.mn[j + 4] >> 4) << 6));
        s[j + 8] = static_cast<uint8_t>((in.sc[j + 4] & 15) | ((in.mn[j + 4] & 15) << 4));
      }
      for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l)
          b[16 + 32 * g + l] =
              static_cast<uint8_t>((in.q[64 * g + l] & 15) | ((in.q[64 * g + 32 + l] & 15) << 4));
      return;
    }
    case DType::Q6_K:
      for (int h = 0; h < 2; ++h) {
        const uint8_t* q = in.q + 128 * h;
        for (int l = 0; l < 32; ++l) {
          b[64 * h + l] = static_cast<uint8_t>((q[l] & 15) | ((q[l + 64] & 15) << 4));
          b[64 * h + l + 32] = static_cast<uint8_t>((q[l + 32] & 15) | ((q[l + 96] & 15) << 4));
          b[128 + 32 * h + l] =
              static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                   ((q[l + 96] >> 4) << 6));
        }
      }
      std::memcpy(b + 192, in.sc, 16);
      std::memcpy(b + 208, &in.d, 2);
      return;
    default:
      fail_internal("write_block: ", dtype_name(t));
  }
}

void dequantize_row(DType t, const void* src, float* y, int64_t n) {
  if (!is_block_type(t) || n % dtype_block(t) != 0)
    fail_internal("dequantize_row: ", n, " values of ", dtype_name(t));
  if (t == DType::Q8_0) return dequantize_q8_0(src, y, n);
  QuantChunk ch;
  for (int64_t c = 0; c < n / 32; ++c, y += 32) {
    decode_chunk(t, src, c, &ch);
    for (int j = 0; j < 32; ++j) y[j] = ch.f[j / 16] * ch.q[j] - ch.mn;
  }
}

}  // namespace r1
