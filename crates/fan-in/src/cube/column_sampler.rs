//! The per-column sampler as one CubeCL kernel: one unit per column, the units of a cube
//! neighbouring columns, so every read of the weights and write of the counts is coalesced.
//!
//! Each unit runs the passes of `mcnn_sequences::counts::column_counts` on its column, with
//! the same integers (64-bit integer and `f64` arithmetic, which wgpu offers where the adapter
//! has `SHADER_INT64` and `SHADER_F64`):
//! 1. the `f64` estimate of `S` in the row sampler's order (eight accumulators, the last
//!    partial group of eight into the first), which picks the fixed-point scale `2^E`;
//! 2. the exact fixed-point total `Z` (running sums `h`, `l` as `prefix_step` keeps them) and
//!    the last non-zero weight;
//! 3. `S` as the CPU rounds it, the scale `S/N` rounded as `f64` then `f32` (in integer
//!    arithmetic: GPUs need not round an `f64` division correctly), and the map `Y_j ↦ T_j`
//!    (`⌊N 2^96 / Y⌋` by long division);
//! 4. the closed form of the stratified schemes, row by row, as `Lanes::row` does it.
//!
//! A column holding a NaN or infinity, or whose scale leaves the normal `f32` range, gets
//! status 1 (and zero counts and scale); the host names the error (`ColumnSample::check`).

use burn::backend::TensorMetadata;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;
use burn_cubecl::kernel::cast;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::zeros;

use super::{addressable, empty_like, grid};
use crate::column_sampler::{ColumnSamplerBackend, assert_samples, stream_key};
use crate::probe::{self, Path};

/// Bits of the `f64` `2^52`: adding it to `0 ≤ x < 2^52` leaves `round(x)` in the mantissa.
const TWO_52_BITS: u64 = 0x4330_0000_0000_0000;
/// Bits of `1.5 · 2^52`: the same for a signed `|y| < 2^51`.
const ONE_AND_HALF_52_BITS: u64 = 0x4338_0000_0000_0000;
/// Bits of the `f64` `2^40` (units of `lo`) and `2^-40`.
const TWO_40_BITS: u64 = 0x4270_0000_0000_0000;
const TWO_MINUS_40_BITS: u64 = 0x3d70_0000_0000_0000;
/// `l` is kept in `[0, 2^40)`.
const LO_MASK: u64 = (1 << 40) - 1;

/// Wellons' `lowbias32`, as `mcnn_sequences::counter_hash::mix32`.
#[cube]
fn mix32(x: u32) -> u32 {
    let mut x = x;
    x ^= x >> 16u32;
    x *= 0x7feb_352du32;
    x ^= x >> 15u32;
    x *= 0x846c_a68bu32;
    x ^= x >> 16u32;
    x
}

/// `mcnn_sequences::counter_hash::hash`: value `counter` of the stream with key `(k0, k1)`.
#[cube]
fn hash(k0: u32, k1: u32, counter: u32) -> u32 {
    mix32(mix32(counter ^ k0) ^ k1)
}

/// `|w|` as an `f64`, built from the bits of `w` (a subnormal `w` too, which a device that
/// flushes `f32` subnormals would read as 0): its integer significand times a power of two,
/// both exact in `f64`; infinite for an infinite or NaN `w`. (No loop normalises a subnormal:
/// lavapipe corrupted a whole launch when thousands of weights in a column each ran one.)
#[cube]
fn abs_f64(w: f32) -> f64 {
    let bits = u32::reinterpret(w) & 0x7fff_ffffu32;
    let exponent = bits >> 23u32;
    let mut significand = bits & 0x7f_ffffu32;
    let mut scale_exponent = 1u32;
    if exponent != 0 {
        significand |= 0x80_0000u32;
        scale_exponent = exponent;
    }
    // |w| = significand · 2^(scale_exponent − 150); the power's f64 biased exponent is
    // scale_exponent − 150 + 1023.
    let power = f64::reinterpret(u64::cast_from(scale_exponent + 873u32) << 52u64);
    let mut value = f64::cast_from(significand) * power;
    if exponent == 255 {
        value = f64::reinterpret(0x7ffu64 << 52u64);
    }
    value
}

/// Whether `w` is not ±0, from its bits (not flushed like a subnormal compared as a float).
#[cube]
fn is_nonzero(w: f32) -> bool {
    (u32::reinterpret(w) & 0x7fff_ffffu32) != 0
}

/// `|w| · 2^E` (`a = |w|`, `pow = 2^E`) as its nearest integer `hi`: `mcnn_sequences`'
/// `encode`.
#[cube]
fn encode_hi(a: f64, pow: f64) -> u64 {
    let x = a * pow;
    u64::reinterpret(x + f64::reinterpret(TWO_52_BITS)) - TWO_52_BITS
}

/// The rest of [`encode_hi`] in units of `2^-40`, rounded, as a wrapped `i64`.
#[cube]
fn encode_lo(a: f64, pow: f64) -> u64 {
    let two_52 = f64::reinterpret(TWO_52_BITS);
    let x = a * pow;
    let shifted = x + two_52;
    let rest = (x - (shifted - two_52)) * f64::reinterpret(TWO_40_BITS);
    u64::reinterpret(rest + f64::reinterpret(ONE_AND_HALF_52_BITS)) - ONE_AND_HALF_52_BITS
}

/// The high 64 bits of `v · r` from four 32 × 32 → 64 products (`high_product`).
#[cube]
fn high_product(v: u64, r: u64) -> u64 {
    let low = 0xffff_ffffu64;
    let (vl, vh, rl, rh) = (v & low, v >> 32u64, r & low, r >> 32u64);
    let (ll, lh, hl, hh) = (vl * rl, vl * rh, vh * rl, vh * rh);
    let mid = (ll >> 32u64) + (lh & low) + (hl & low);
    hh + (mid >> 32u64) + (lh >> 32u64) + (hl >> 32u64)
}

/// `⌊N 2^96 / total⌋` (`total ∈ [2^60, 2^63)`, `N < 2^31`) shifted right by `excess`, its
/// bits above 64 ([`pre_shift`]), as `ToSamples::new` reduces it to a 64-bit multiplier.
#[cube]
fn multiplier(samples: u32, total: u64, excess: u64) -> u64 {
    let a = u64::cast_from(samples) << 32u64;
    let high = a / total;
    let mut rest = a % total;
    let mut low = 0u64;
    // Long division for the next 64 bits: `rest < total < 2^63`, so `2 · rest` fits.
    for _ in 0..64u32 {
        rest <<= 1u64;
        low <<= 1u64;
        if rest >= total {
            rest -= total;
            low |= 1u64;
        }
    }
    let mut result = low;
    if excess > 0 {
        result = (high << (64u64 - excess)) | (low >> excess);
    }
    result
}

/// The bits of the quotient above 64 (`high < 8`): the pre-shift of `ToSamples`.
#[cube]
fn pre_shift(high: u64) -> u64 {
    let mut bits = 0u64;
    if high >= 4 {
        bits = 3u64;
    } else if high >= 2 {
        bits = 2u64;
    } else if high >= 1 {
        bits = 1u64;
    }
    bits
}

/// The bits of `f32(S / N)` with `S` the normal `f64` `sum_abs`, rounded as the CPU does (the
/// `f64` quotient correctly rounded, then rounded to `f32`), in integer arithmetic; 0 when
/// the scale is not a normal `f32` (the column is then refused).
// CubeCL expands operators, not `is_multiple_of` or `contains`.
#[allow(clippy::manual_is_multiple_of, clippy::manual_range_contains)]
#[cube]
fn scale_bits(sum_abs: f64, samples: u32) -> u32 {
    let bits = u64::reinterpret(sum_abs);
    // S = m · 2^(e − 1075), m ∈ [2^52, 2^53).
    let e = i32::cast_from((bits >> 52u64) & 0x7ffu64);
    let m = (bits & ((1u64 << 52u64) - 1)) | (1u64 << 52u64);
    let n = u64::cast_from(samples);
    let mut width = 0u64;
    while (n >> width) != 0 {
        width += 1;
    }
    // Q = ⌊m 2^t / N⌋ ∈ [2^54, 2^56) with t = width + 2, in two steps (m 2^t overflows).
    let t = width + 2;
    let rest = (m % n) << t;
    let q = ((m / n) << t) + rest / n;
    let sticky = rest % n != 0;
    // Round Q (and the sticky remainder) to 53 bits, to nearest, ties to even.
    let mut drop = 2u64;
    if q >= (1u64 << 55u64) {
        drop = 3u64;
    }
    let mut m53 = q >> drop;
    let dropped = q & ((1u64 << drop) - 1);
    let half = 1u64 << (drop - 1);
    if dropped > half || (dropped == half && (sticky || (m53 & 1) == 1)) {
        m53 += 1;
    }
    // value = m53 · 2^exp2
    let mut exp2 = e - 1075 - i32::cast_from(t) + i32::cast_from(drop);
    if m53 == (1u64 << 53u64) {
        m53 = 1u64 << 52u64;
        exp2 += 1;
    }
    // Then to 24 bits.
    let mut m24 = m53 >> 29u64;
    let dropped = m53 & ((1u64 << 29u64) - 1);
    let rounded_up = dropped > (1u64 << 28u64) || (dropped == (1u64 << 28u64) && (m24 & 1) == 1);
    if rounded_up {
        m24 += 1;
    }
    let mut exp3 = exp2 + 29;
    if m24 == (1u64 << 24u64) {
        m24 = 1u64 << 23u64;
        exp3 += 1;
    }
    // value = m24 · 2^exp3, m24 ∈ [2^23, 2^24): the f32 exponent is exp3 + 23.
    let exponent = exp3 + 23;
    let mut result = 0u32;
    if exponent >= -126 && exponent <= 127 {
        result = (u32::cast_from(exponent + 127) << 23u32) | u32::cast_from(m24 - (1u64 << 23u64));
    } else if exponent == -127 && m24 == (1u64 << 24u64) - 1 && !rounded_up {
        // Just below 2^-126: the CPU rounds the f64 to a subnormal f32, which goes up to
        // 2^-126 from (2^24 − 1) 2^-150 on (ties to even).
        result = 1u32 << 23u32;
    }
    result
}

/// The counts of column `ABSOLUTE_POS` of `weight` (`[rows, cols]`), its scale and status.
#[cube(launch)]
fn column_counts_kernel(
    weight: &Tensor<f32>,
    counts: &mut Tensor<i32>,
    scales: &mut Tensor<f32>,
    status: &mut Tensor<i32>,
    samples: u32,
    key0: u32,
    key1: u32,
    #[comptime] jittered: bool,
) {
    let c = ABSOLUTE_POS;
    let cols = weight.shape(1);
    if c >= cols {
        terminate!();
    }
    let rows = weight.shape(0);

    // Pass 1: the estimate of S, in the row sampler's order.
    let mut a0 = 0.0f64;
    let mut a1 = 0.0f64;
    let mut a2 = 0.0f64;
    let mut a3 = 0.0f64;
    let mut a4 = 0.0f64;
    let mut a5 = 0.0f64;
    let mut a6 = 0.0f64;
    let mut a7 = 0.0f64;
    let whole = rows - rows % 8;
    let mut j = 0usize;
    while j < whole {
        let at = j * cols + c;
        a0 += abs_f64(weight[at]);
        a1 += abs_f64(weight[at + cols]);
        a2 += abs_f64(weight[at + 2 * cols]);
        a3 += abs_f64(weight[at + 3 * cols]);
        a4 += abs_f64(weight[at + 4 * cols]);
        a5 += abs_f64(weight[at + 5 * cols]);
        a6 += abs_f64(weight[at + 6 * cols]);
        a7 += abs_f64(weight[at + 7 * cols]);
        j += 8;
    }
    for j in whole..rows {
        a0 += abs_f64(weight[j * cols + c]);
    }
    let estimate = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    let e_bits = (u64::reinterpret(estimate) >> 52u64) & 0x7ffu64;

    let mut bad = e_bits == 0x7ffu64;
    let mut scale = 0u32;
    let mut has_counts = false;
    let mut mult = 0u64;
    let mut shift = 0u64;
    let mut last = 0usize;
    // 2^E with E = 49 − exponent(estimate).
    let pow = f64::reinterpret((2095u64 - e_bits) << 52u64);
    if !bad && estimate != 0.0 {
        // Pass 2: the exact total and the last non-zero weight.
        let mut h = 0u64;
        let mut l = 0u64;
        for j in 0..rows {
            let w = weight[j * cols + c];
            let a = abs_f64(w);
            h += encode_hi(a, pow);
            l += encode_lo(a, pow);
            // Keep l in [0, 2^40) (|lo| ≤ 2^39): add 2^40 and move whole units to h.
            let biased = l + (1u64 << 40u64);
            h = h + (biased >> 40u64) - 1;
            l = biased & LO_MASK;
            if is_nonzero(w) {
                last = j;
            }
        }
        let total = (h << 12u64) + (l >> 28u64);
        // S = Z / 2^40 / 2^E, Z = h 2^40 + l rounded once (h < 2^53 and l < 2^40 are exact).
        let z = f64::cast_from(h) * f64::reinterpret(TWO_40_BITS) + f64::cast_from(l);
        let sum_abs =
            z * f64::reinterpret(TWO_MINUS_40_BITS) * f64::reinterpret((e_bits - 49) << 52u64);
        scale = scale_bits(sum_abs, samples);
        bad = scale == 0;
        has_counts = !bad;
        // ToSamples' pre-shift: the quotient's bits above 64.
        shift = pre_shift((u64::cast_from(samples) << 32u64) / total);
        mult = multiplier(samples, total, shift);
    }
    let mut flag = 0i32;
    if bad {
        flag = 1;
        scale = 0u32;
    }
    status[c] = flag;
    scales[c] = f32::reinterpret(scale);

    // Pass 3: the closed form, F(T) = ⌊T⌋ + [u_⌊T⌋ < T − ⌊T⌋], F = N from the last non-zero
    // weight on.
    let stream = u32::cast_from(c);
    let k0 = mix32(key0 ^ mix32(stream + 0x9e37_79b9u32));
    let k1 = mix32(key1 ^ mix32(k0 ^ stream));
    let u0 = hash(k0, k1, 0u32);
    let n = i32::cast_from(samples);
    let mut h = 0u64;
    let mut l = 0u64;
    let mut below = 0i32;
    for j in 0..rows {
        let at = j * cols + c;
        let w = weight[at];
        let mut q = 0i32;
        if has_counts {
            let a = abs_f64(w);
            let hs = h + encode_hi(a, pow);
            let ls = l + encode_lo(a, pow);
            let biased = ls + (1u64 << 40u64);
            let y = (hs << 12u64) + (biased >> 28u64) - (1u64 << 12u64);
            h = hs + (biased >> 40u64) - 1;
            l = ls & LO_MASK;
            let t = high_product(y << shift, mult);
            let k = u32::cast_from(t >> 32u64);
            let frac = u32::cast_from(t & 0xffff_ffffu64);
            let mut u = u0;
            if jittered {
                u = hash(k0, k1, k);
            }
            let mut f = n;
            if j < last {
                f = i32::cast_from(k);
                if u < frac {
                    f += 1;
                }
            }
            q = f - below;
            below = f;
            if (u32::reinterpret(w) >> 31u32) == 1 {
                q = -q;
            }
        }
        counts[at] = q;
    }
}

impl ColumnSamplerBackend for CubeBackend {
    fn sample_columns(
        weight: FloatTensor<Self>,
        samples: u32,
        systematic: bool,
        seed: u64,
    ) -> (IntTensor<Self>, FloatTensor<Self>, IntTensor<Self>) {
        probe::hit(Path::CubeColumnSampler);
        addressable("sample_columns", [&weight]);
        assert_samples(samples);
        let weight = into_contiguous(if weight.dtype == DType::F32 {
            weight
        } else {
            cast(weight, DType::F32)
        });
        let shape = weight.shape();
        let cols = shape[1];
        if shape.num_elements() == 0 {
            let device = weight.device.clone();
            return (
                zeros(device.clone(), shape, DType::I32),
                zeros(device.clone(), Shape::new([cols]), DType::F32),
                zeros(device, Shape::new([cols]), DType::I32),
            );
        }
        let counts = empty_like(&weight, shape.clone(), DType::I32);
        let scales = empty_like(&weight, Shape::new([cols]), DType::F32);
        let status = empty_like(&weight, Shape::new([cols]), DType::I32);
        let [key0, key1] = stream_key(systematic, seed);
        let (count, dim) = grid(&weight, cols);
        column_counts_kernel::launch(
            &weight.client,
            count,
            dim,
            weight.clone().into_tensor_arg(),
            counts.clone().into_tensor_arg(),
            scales.clone().into_tensor_arg(),
            status.clone().into_tensor_arg(),
            samples,
            key0,
            key1,
            !systematic,
        );
        (counts, scales, status)
    }
}
