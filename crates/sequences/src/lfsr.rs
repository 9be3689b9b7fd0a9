//! The 32-bit maximal-length linear feedback shift register of the slides.
//!
//! A Galois LFSR shifting right with toggle mask [`Lfsr32::TAPS`] `= 0x8020_0003`, i.e.
//! the feedback polynomial `x^32 + x^22 + x^2 + x + 1`, which is primitive over GF(2):
//! every non-zero state lies on one cycle of length `2^32 − 1`, and 0 is a fixed point
//! (so it is refused as a state). One step is a shift, a test of the bit shifted out and
//! a conditional xor — the hardware-friendly generator the slides name for dropout.
//!
//! Maximality is proved by a unit test that computes, in the ring of 32×32 matrices over
//! GF(2), that the step map `A` satisfies `A^(2^32−1) = I` and `A^((2^32−1)/p) ≠ I` for
//! each prime `p` of `2^32 − 1 = 3 · 5 · 17 · 257 · 65537`; the full walk around the
//! cycle (4.3·10^9 steps, seconds in release) is an ignored test:
//! `cargo test --release -p mcnn-sequences -- --ignored`.
//!
//! Consecutive single-step states share 31 bits; [`Lfsr32::next_u32`] advances 32
//! steps so successive outputs do not overlap.
//!
//! ```
//! use mcnn_sequences::lfsr::Lfsr32;
//!
//! let mut g = Lfsr32::new(1).unwrap();
//! assert_eq!(g.step(), 0x8020_0003); // the bit shifted out was 1: toggle
//! assert_eq!(g.step(), 0xc030_0002); // (0x8020_0003 >> 1) ^ TAPS
//! let xi = g.next_f32(); // a uniform-ish number in [0, 1) for a dropout threshold
//! assert!((0.0..1.0).contains(&xi));
//! ```

use crate::counter_hash::splitmix64;
use crate::error::SamplingError;
use crate::unit;

/// A 32-bit Galois LFSR of period `2^32 − 1`; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lfsr32 {
    state: u32,
}

/// One step of the LFSR as a free function, for porting into kernels.
#[inline]
pub const fn step(state: u32) -> u32 {
    // `0u32.wrapping_sub(lsb)` is all ones when the bit shifted out is 1: branch-free.
    (state >> 1) ^ (0u32.wrapping_sub(state & 1) & Lfsr32::TAPS)
}

impl Lfsr32 {
    /// Toggle mask of the Galois form of `x^32 + x^22 + x^2 + x + 1`.
    pub const TAPS: u32 = 0x8020_0003;

    /// Length of the one cycle of non-zero states, `2^32 − 1`.
    pub const PERIOD: u64 = u32::MAX as u64;

    /// An LFSR in `state`.
    ///
    /// # Errors
    /// [`SamplingError::ZeroLfsrState`] for `state == 0`, which never changes.
    pub fn new(state: u32) -> Result<Self, SamplingError> {
        if state == 0 {
            Err(SamplingError::ZeroLfsrState)
        } else {
            Ok(Self { state })
        }
    }

    /// An LFSR whose state is a hash of `seed` (the low word of `splitmix64(seed)`, or
    /// its high word in the rare case the low word is 0; never 0).
    pub fn from_seed(seed: u64) -> Self {
        let z = splitmix64(seed);
        let state = match z as u32 {
            0 => ((z >> 32) as u32).max(1),
            low => low,
        };
        Self { state }
    }

    /// The current state (never 0).
    pub fn state(&self) -> u32 {
        self.state
    }

    /// Advance one step and return the new state.
    #[inline]
    pub fn step(&mut self) -> u32 {
        self.state = step(self.state);
        self.state
    }

    /// Advance 32 steps and return the new state: 32 fresh bits.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let mut s = self.state;
        for _ in 0..32 {
            s = step(s);
        }
        self.state = s;
        s
    }

    /// [`Self::next_u32`] as an `f32` in `[0, 1)`. Never exactly 0 before conversion, so
    /// values below `2^-24` (probability `2^-24`) round to 0.
    #[inline]
    pub fn next_f32(&mut self) -> f32 {
        unit::to_f32(self.next_u32())
    }

    /// Advance `steps` steps at once in `O(log steps)` (32×32 matrix powers over GF(2)),
    /// e.g. to give each of many threads its own segment of the cycle.
    pub fn jump(&mut self, steps: u64) {
        self.state = apply(&power(&step_matrix(), steps), self.state);
    }
}

/// A 32×32 matrix over GF(2), stored as columns: column `i` is the image of bit `i`.
type Matrix = [u32; 32];

fn step_matrix() -> Matrix {
    std::array::from_fn(|i| step(1 << i))
}

fn apply(m: &Matrix, v: u32) -> u32 {
    (0..32)
        .filter(|i| (v >> i) & 1 == 1)
        .fold(0, |acc, i| acc ^ m[i])
}

/// `a ∘ b`: first `b`, then `a`.
fn compose(a: &Matrix, b: &Matrix) -> Matrix {
    std::array::from_fn(|i| apply(a, b[i]))
}

fn power(m: &Matrix, mut e: u64) -> Matrix {
    let mut result: Matrix = std::array::from_fn(|i| 1 << i);
    let mut base = *m;
    while e > 0 {
        if e & 1 == 1 {
            result = compose(&base, &result);
        }
        base = compose(&base, &base);
        e >>= 1;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: Matrix = {
        let mut m = [0u32; 32];
        let mut i = 0;
        while i < 32 {
            m[i] = 1 << i;
            i += 1;
        }
        m
    };

    #[test]
    fn period_is_exactly_two_to_the_32_minus_one() {
        // 2^32 − 1 = 3 · 5 · 17 · 257 · 65537 (Fermat primes F0..F4 multiplied).
        let primes = [3u64, 5, 17, 257, 65537];
        assert_eq!(primes.iter().product::<u64>(), Lfsr32::PERIOD);
        let a = step_matrix();
        assert_eq!(power(&a, Lfsr32::PERIOD), IDENTITY);
        for p in primes {
            assert_ne!(
                power(&a, Lfsr32::PERIOD / p),
                IDENTITY,
                "order divides (2^32-1)/{p}"
            );
        }
        // Order 2^32 − 1 of a 32×32 matrix means its minimal polynomial is primitive of
        // degree 32, so every non-zero state has that period, not only some.
    }

    #[test]
    fn step_matrix_has_the_documented_polynomial() {
        // The Galois right-shift step is the companion matrix of x^32 + x^22 + x^2 + x + 1
        // read from the mask: bit k of TAPS is the coefficient of x^(k+1).
        assert_eq!(Lfsr32::TAPS, (1 << 31) | (1 << 21) | (1 << 1) | 1);
        let a = step_matrix();
        for (i, column) in a.iter().enumerate().skip(1) {
            assert_eq!(*column, 1 << (i - 1), "shift");
        }
        assert_eq!(a[0], Lfsr32::TAPS);
    }

    #[test]
    fn jump_equals_repeated_steps() {
        let mut stepped = Lfsr32::new(0xdead_beef).unwrap();
        for n in [0u64, 1, 2, 31, 32, 33, 1000] {
            let mut jumped = Lfsr32::new(0xdead_beef).unwrap();
            let mut s = Lfsr32::new(0xdead_beef).unwrap();
            for _ in 0..n {
                s.step();
            }
            jumped.jump(n);
            assert_eq!(jumped, s, "n = {n}");
        }
        let before = stepped;
        stepped.jump(Lfsr32::PERIOD);
        assert_eq!(stepped, before);
        stepped.jump(Lfsr32::PERIOD - 1);
        let mut one = before;
        one.jump(Lfsr32::PERIOD - 1);
        assert_eq!(stepped, one);
        assert_ne!(one, before);
    }

    #[test]
    fn next_u32_is_32_steps() {
        let mut a = Lfsr32::new(12345).unwrap();
        let mut b = a;
        b.jump(32);
        assert_eq!(a.next_u32(), b.state());
    }

    #[test]
    fn zero_state_is_refused_and_seeds_never_give_it() {
        assert_eq!(Lfsr32::new(0), Err(SamplingError::ZeroLfsrState));
        for seed in 0..10_000 {
            assert_ne!(Lfsr32::from_seed(seed).state(), 0);
        }
    }

    #[test]
    fn outputs_are_roughly_uniform() {
        let mut g = Lfsr32::from_seed(7);
        let n = 100_000;
        let mean = (0..n).map(|_| f64::from(g.next_f32())).sum::<f64>() / f64::from(n);
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    }
}
