#!/usr/bin/env python3
"""Independent known-answer values for tests/known_answers.rs.

Recomputes, from the formulas in the crate's docs only (no Rust code is run or read
by this script), the values that tests/known_answers.rs pins:

  mix32(x)      lowbias32: x ^= x>>16; x *= 0x7feb352d; x ^= x>>15; x *= 0x846ca68b; x ^= x>>16
  splitmix64(s) z = s + 0x9e3779b97f4a7c15; z = (z ^ z>>30) * 0xbf58476d1ce4e5b9;
                z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31   (all mod 2^64)
  hash(key, i)  mix32(mix32(i ^ key[0]) ^ key[1])
  from_seed(s)  key = [low word, high word] of splitmix64(s)
  derive(k, t)  a = mix32(k[0] ^ mix32(t + 0x9e3779b9)); b = mix32(k[1] ^ mix32(a ^ t))
  LFSR          Galois right shift for x^32 + x^22 + x^2 + x + 1: the toggle mask is
                built here from the exponents (bit e-1 for each term x^e, e >= 1)
  owen(x)       bit 31-l flipped by the top bit of hash(keys[l], top l bits of x),
                keys[l] = from_seed(seed).derive(d).derive(l)
  Scheme        stream = from_seed(seed).derive(id), ids Iid 0, Jittered 1,
                Systematic 2, LowDiscrepancy 3; samples as in samplers.rs docs
  counts        exact rational arithmetic (fractions.Fraction) on the CDF of
                |w| / sum|w|: systematic/jittered by the closed form
                F(T) = floor(T) + [u_floor(T) < T - floor(T)], iid and
                low-discrepancy by counting their sorted samples per CDF interval.

Usage (from crates/sequences):  python3 tools/known_answers.py
It prints the values as Rust literals, in the layout of tests/known_answers.rs.
"""
from fractions import Fraction
import struct

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def mix32(x):
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def splitmix64(s):
    z = (s + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def hash_(key, i):
    return mix32(mix32(i ^ key[0]) ^ key[1])


def from_seed(seed):
    z = splitmix64(seed)
    return (z & M32, z >> 32)


def derive(key, t):
    a = mix32(key[0] ^ mix32((t + 0x9E3779B9) & M32))
    b = mix32(key[1] ^ mix32(a ^ t))
    return (a, b)


POLY_EXPONENTS = [32, 22, 2, 1, 0]
TAPS = sum(1 << (e - 1) for e in POLY_EXPONENTS if e >= 1)


def lfsr_step(s):
    out = s & 1
    s >>= 1
    return s ^ TAPS if out else s


def lfsr_next_u32(s):
    for _ in range(32):
        s = lfsr_step(s)
    return s


def owen(x, keys):
    out = x
    for level in range(32):
        prefix = 0 if level == 0 else x >> (32 - level)
        out ^= (hash_(keys[level], prefix) >> 31) << (31 - level)
    return out


STREAM_ID = {"Iid": 0, "Jittered": 1, "Systematic": 2, "LowDiscrepancy": 3}
ONE_MINUS_EPS = 1.0 - 2.0**-53


def stream(scheme, seed):
    return derive(from_seed(seed), STREAM_ID[scheme])


def to_f64(u):
    return u * 2.0**-32  # exact


def samples_u32_sorted(scheme, n, key):
    if scheme == "Iid":
        return sorted(hash_(key, s) for s in range(n))
    shift = hash_(key, 0)
    bitrev = lambda s: int(f"{s:032b}"[::-1], 2)
    return sorted((bitrev(s) + shift) & M32 for s in range(n))


def samples(scheme, n, key):
    """The f64 samples, with the same IEEE operations as samplers.rs."""
    if scheme in ("Iid", "LowDiscrepancy"):
        return [to_f64(u) for u in samples_u32_sorted(scheme, n, key)]
    if scheme == "Jittered":
        return [min((float(s) + to_f64(hash_(key, s))) / float(n), ONE_MINUS_EPS) for s in range(n)]
    u = to_f64(hash_(key, 0))
    return [min((float(s) + u) / float(n), ONE_MINUS_EPS) for s in range(n)]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def counts(weights, n, scheme, key):
    mags = [Fraction(abs(w)) for w in weights]
    total = sum(mags)
    cdf, acc = [], Fraction(0)
    for m in mags:
        acc += m
        cdf.append(acc / total)
    sign = lambda w, c: -c if w < 0 or (w == 0 and struct.pack("<f", w)[3] & 0x80) else c
    if scheme in ("Jittered", "Systematic"):
        def u(k):
            return Fraction(hash_(key, k if scheme == "Jittered" else 0), 2**32)

        def F(t):
            k = t.numerator // t.denominator
            return k + (1 if u(k) < t - k else 0)

        below = [0] + [F(n * p) for p in cdf]
        return [sign(w, below[j + 1] - below[j]) for j, w in enumerate(weights)]
    xi = [Fraction(v, 2**32) for v in samples_u32_sorted(scheme, n, key)]
    out, lo = [], Fraction(0)
    for w, hi in zip(weights, cdf):
        out.append(sign(w, sum(1 for x in xi if lo <= x < hi)))
        lo = hi
    return out


def hexes(values, width=8):
    return ", ".join(f"0x{v:0{width}x}" for v in values)


def main():
    print("// mix32 at MIX32_IN")
    mix_in = [0, 1, 2, 0xDEADBEEF, 0xFFFFFFFF]
    print(f"MIX32_IN = [{hexes(mix_in)}]")
    print(f"MIX32_OUT = [{hexes(mix32(x) for x in mix_in)}]")
    sm_in = [0, 1, 42, 0xFFFFFFFFFFFFFFFF]
    print(f"SPLITMIX64_IN = [{hexes(sm_in, 16)}]")
    print(f"SPLITMIX64_OUT = [{hexes((splitmix64(s) for s in sm_in), 16)}]")
    key = (0x01234567, 0x89ABCDEF)
    counters = [0, 1, 2, 1000, 0xFFFFFFFF]
    print(f"HASH_KEY = [{hexes(key)}], HASH_COUNTERS = [{hexes(counters)}]")
    print(f"HASH_OUT = [{hexes(hash_(key, i) for i in counters)}]")
    k42 = from_seed(42)
    print(f"FROM_SEED_42 = [{hexes(k42)}]")
    print(f"DERIVE_42 (streams 0, 1, 7, u32::MAX) = [{', '.join('[' + hexes(derive(k42, t)) + ']' for t in [0, 1, 7, M32])}]")
    print(f"TAPS = 0x{TAPS:08x}")
    s, steps = 1, []
    for _ in range(5):
        s = lfsr_step(s)
        steps.append(s)
    print(f"LFSR_STEPS from 1 = [{hexes(steps)}]")
    s, nxt = 0xDEADBEEF, []
    for _ in range(4):
        s = lfsr_next_u32(s)
        nxt.append(s)
    print(f"LFSR_NEXT_U32 from 0xdeadbeef = [{hexes(nxt)}]")
    keys = [derive(derive(from_seed(5), 0), level) for level in range(32)]
    xs = [0, 0x80000000, 0x12345678, 0xFFFFFFFF]
    print(f"OWEN seed 5 dim 0 at [{hexes(xs)}] = [{hexes(owen(x, keys) for x in xs)}]")
    for scheme in STREAM_ID:
        print(f"SAMPLES {scheme} n=8 seed 2024 = {[repr(x) for x in samples(scheme, 8, stream(scheme, 2024))]}")
    weights = [f32(x) for x in [0.5, -0.3, 0.0, 1e-3, 2.0, -0.75, 0.125, 0.0, -1.5, 0.01, 0.2, -0.0]]
    print(f"COUNT_WEIGHTS = {weights}")
    for scheme in STREAM_ID:
        print(f"COUNTS {scheme} N=37 seed 2024 = {counts(weights, 37, scheme, stream(scheme, 2024))}")
    # Per row: row r of a matrix draws from stream(scheme, seed).derive(r).
    rows = [weights[:6], weights[6:]]
    for scheme in ("Jittered", "Systematic"):
        per_row = [counts(r, 11, scheme, derive(stream(scheme, 9), i)) for i, r in enumerate(rows)]
        print(f"ROW_COUNTS {scheme} 2x6 N=11 seed 9 = {per_row}")


if __name__ == "__main__":
    main()
