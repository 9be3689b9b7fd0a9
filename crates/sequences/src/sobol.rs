//! Sobol' points in base 2 with the Joe–Kuo direction numbers.
//!
//! Point `i` in dimension `d` is the xor of the direction numbers `v_{d,k}` for the bits
//! `k` set in the Gray code `g(i) = i ^ (i >> 1)`: the order of Joe and Kuo's own
//! `sobol.cc`, of SciPy's `qmc.Sobol` and of PyTorch's `SobolEngine`, point 0 being the
//! origin. Coordinates are 32-bit fractions (`u32 · 2^-32`), so the sequence has
//! `2^32` points and they equal the published construction bit for bit; the tests
//! compare them with SciPy's (`tests/data/`, made by `tools/gen_test_vectors.py`).
//!
//! Properties that path networks rely on (and the tests check): each one-dimensional
//! projection is a (0,1)-sequence — every aligned block of `2^m` consecutive points
//! puts exactly one point in every interval `[k/2^m, (k+1)/2^m)` — and dimensions 0
//! and 1 together form a (0,2)-sequence. Gray-code order permutes points only within
//! such aligned blocks, so it keeps both.
//!
//! Randomisations ([`Randomization`]), each seeded:
//! - Cranley–Patterson rotation `x + u mod 1` (with `u` a 32-bit fraction): unbiased,
//!   but it moves the block boundaries, so exact stratification becomes "one or two";
//! - digital shift `x ⊕ u`: keeps every net and sequence property;
//! - Owen (nested uniform) scrambling: keeps them too and randomises within each
//!   elementary interval; bit `31 − ℓ` of a coordinate is flipped by a hash of the
//!   `ℓ` bits above it, so the scramble needs no tables and ports to kernels.
//!
//! ```
//! use mcnn_sequences::sobol::{Randomization, Sequence};
//!
//! let sobol = Sequence::new(3).unwrap();
//! let mut x = [0u32; 3];
//! sobol.point_u32(2, &mut x);
//! assert_eq!(x, [0xc000_0000, 0x4000_0000, 0x4000_0000]); // 0.75, 0.25, 0.25
//!
//! // Consecutive points by Gray code, one xor per coordinate:
//! let mut points = sobol.points();
//! assert_eq!(points.next_u32().unwrap(), &[0, 0, 0]);
//! assert_eq!(points.next_u32().unwrap(), &[0x8000_0000; 3]);
//!
//! // Scrambled, reproducibly from a seed:
//! let owen = Sequence::new(3).unwrap().with_randomization(Randomization::Owen { seed: 1 });
//! assert_eq!(owen.coordinate(5, 2), owen.coordinate(5, 2));
//! ```

use crate::counter_hash::CounterHash;
pub use crate::direction_numbers::MAX_DIMENSIONS;
use crate::direction_numbers::{JOE_KUO, Primitive};
use crate::error::SamplingError;
use crate::unit;

/// Bits per coordinate, and `log2` of the number of points.
pub const BITS: usize = 32;

/// How the points are randomised; every variant but `None` is a pure function of its
/// seed (and of the dimension), so the same seed gives the same points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Randomization {
    /// The plain Joe–Kuo points (point 0 is the origin).
    #[default]
    None,
    /// Cranley–Patterson rotation: `x + u_d mod 1` per dimension `d`.
    CranleyPatterson {
        /// Seed of the shifts `u_d`.
        seed: u64,
    },
    /// Digital shift: `x ⊕ u_d` per dimension `d`.
    DigitalShift {
        /// Seed of the shifts `u_d`.
        seed: u64,
    },
    /// Owen's nested uniform scrambling, hash-based.
    Owen {
        /// Seed of the scramble.
        seed: u64,
    },
}

/// The per-dimension state of a randomisation, derived once from its seed.
#[derive(Clone, Debug)]
enum Scramble {
    None,
    Add(Vec<u32>),
    Xor(Vec<u32>),
    /// One key per dimension and bit level.
    Owen(Vec<[CounterHash; BITS]>),
}

/// A Sobol' sequence of a fixed number of dimensions; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Sequence {
    directions: Vec<[u32; BITS]>,
    randomization: Randomization,
    scramble: Scramble,
}

/// Expands one row of the Joe–Kuo table into its 32 direction numbers `v_1 … v_32`,
/// scaled by `2^32` (the Bratley–Fox recurrence, as in Joe and Kuo's `sobol.cc`).
pub fn direction_numbers(primitive: &Primitive) -> [u32; BITS] {
    let s = primitive.degree as usize;
    let mut v = [0u32; BITS];
    if s == 0 {
        // Dimension 0: van der Corput, m_k = 1 for every k.
        for (k, vk) in v.iter_mut().enumerate() {
            *vk = 1 << (31 - k);
        }
        return v;
    }
    for (k, (vk, &m)) in v.iter_mut().zip(primitive.initial).enumerate() {
        *vk = m << (31 - k);
    }
    for k in s..BITS {
        let mut x = v[k - s] ^ (v[k - s] >> s);
        for i in 1..s {
            if (primitive.coefficients >> (s - 1 - i)) & 1 == 1 {
                x ^= v[k - i];
            }
        }
        v[k] = x;
    }
    v
}

/// Owen-scrambles the 32-bit coordinate `x` with one key per bit level: bit `31 − ℓ` is
/// flipped when the top bit of `keys[ℓ]` hashed with the `ℓ` bits above it is set.
///
/// Two coordinates that agree in their top `ℓ` bits get the same flips on those bits,
/// which is what makes the scramble nested (it maps elementary intervals onto
/// elementary intervals, so nets stay nets).
#[inline]
pub fn owen_scramble(x: u32, keys: &[CounterHash; BITS]) -> u32 {
    let mut out = x;
    for (level, key) in keys.iter().enumerate() {
        let prefix = if level == 0 { 0 } else { x >> (32 - level) };
        out ^= (key.u32_at(prefix) >> 31) << (31 - level);
    }
    out
}

impl Sequence {
    /// The unrandomised sequence in `dimensions` dimensions.
    ///
    /// # Errors
    /// [`SamplingError::DimensionOutOfRange`] unless `1 ≤ dimensions ≤ MAX_DIMENSIONS`.
    pub fn new(dimensions: usize) -> Result<Self, SamplingError> {
        if dimensions == 0 || dimensions > MAX_DIMENSIONS {
            return Err(SamplingError::DimensionOutOfRange {
                requested: dimensions,
                max: MAX_DIMENSIONS,
            });
        }
        Ok(Self {
            directions: JOE_KUO[..dimensions]
                .iter()
                .map(direction_numbers)
                .collect(),
            randomization: Randomization::None,
            scramble: Scramble::None,
        })
    }

    /// The same sequence with `randomization` applied to every point.
    pub fn with_randomization(mut self, randomization: Randomization) -> Self {
        let dims = self.dimensions() as u32;
        self.scramble = match randomization {
            Randomization::None => Scramble::None,
            Randomization::CranleyPatterson { seed } => {
                let h = CounterHash::from_seed(seed);
                Scramble::Add((0..dims).map(|d| h.u32_at(d)).collect())
            }
            Randomization::DigitalShift { seed } => {
                let h = CounterHash::from_seed(seed);
                Scramble::Xor((0..dims).map(|d| h.u32_at(d)).collect())
            }
            Randomization::Owen { seed } => {
                let h = CounterHash::from_seed(seed);
                Scramble::Owen(
                    (0..dims)
                        .map(|d| {
                            let hd = h.derive(d);
                            std::array::from_fn(|level| hd.derive(level as u32))
                        })
                        .collect(),
                )
            }
        };
        self.randomization = randomization;
        self
    }

    /// Number of dimensions.
    pub fn dimensions(&self) -> usize {
        self.directions.len()
    }

    /// The randomisation applied.
    pub fn randomization(&self) -> Randomization {
        self.randomization
    }

    /// The direction numbers `v_1 … v_32` of `dimension` (scaled by `2^32`), e.g. to
    /// upload to a kernel.
    ///
    /// # Panics
    /// If `dimension >= self.dimensions()`.
    pub fn directions(&self, dimension: usize) -> &[u32; BITS] {
        &self.directions[dimension]
    }

    #[inline]
    fn randomize(&self, dimension: usize, x: u32) -> u32 {
        match &self.scramble {
            Scramble::None => x,
            Scramble::Add(u) => x.wrapping_add(u[dimension]),
            Scramble::Xor(u) => x ^ u[dimension],
            Scramble::Owen(keys) => owen_scramble(x, &keys[dimension]),
        }
    }

    #[inline]
    fn unrandomized(&self, index: u32, dimension: usize) -> u32 {
        let v = &self.directions[dimension];
        let mut gray = index ^ (index >> 1);
        let mut x = 0;
        while gray != 0 {
            x ^= v[gray.trailing_zeros() as usize];
            gray &= gray - 1;
        }
        x
    }

    /// Coordinate `dimension` of point `index`, as a 32-bit fraction.
    ///
    /// # Panics
    /// If `dimension >= self.dimensions()`.
    #[inline]
    pub fn coordinate_u32(&self, index: u32, dimension: usize) -> u32 {
        self.randomize(dimension, self.unrandomized(index, dimension))
    }

    /// Coordinate `dimension` of point `index`, in `[0, 1)` (exact).
    ///
    /// # Panics
    /// If `dimension >= self.dimensions()`.
    #[inline]
    pub fn coordinate(&self, index: u32, dimension: usize) -> f64 {
        unit::to_f64(self.coordinate_u32(index, dimension))
    }

    /// Point `index` as 32-bit fractions, written to `out`.
    ///
    /// # Panics
    /// If `out.len() != self.dimensions()`.
    pub fn point_u32(&self, index: u32, out: &mut [u32]) {
        self.check_len(out.len());
        for (d, x) in out.iter_mut().enumerate() {
            *x = self.coordinate_u32(index, d);
        }
    }

    /// Point `index` in `[0, 1)^dimensions`, written to `out`.
    ///
    /// # Panics
    /// If `out.len() != self.dimensions()`.
    pub fn point(&self, index: u32, out: &mut [f64]) {
        self.check_len(out.len());
        for (d, x) in out.iter_mut().enumerate() {
            *x = self.coordinate(index, d);
        }
    }

    fn check_len(&self, len: usize) {
        assert_eq!(
            len,
            self.dimensions(),
            "output has length {len}; it must equal the number of dimensions {}",
            self.dimensions()
        );
    }

    /// All points in order, from point 0, by Gray code.
    pub fn points(&self) -> Points<'_> {
        self.points_from(0)
    }

    /// Points `start, start + 1, …` up to point `2^32 − 1`, by Gray code: one xor per
    /// coordinate per point after the first.
    pub fn points_from(&self, start: u32) -> Points<'_> {
        let dims = self.dimensions();
        Points {
            sequence: self,
            next: u64::from(start),
            state: (0..dims).map(|d| self.unrandomized(start, d)).collect(),
            out: vec![0; dims],
        }
    }
}

/// Consecutive points of a [`Sequence`] by Gray code; made by [`Sequence::points`].
///
/// [`Points::next_u32`] lends each point without allocating; the [`Iterator`]
/// implementation yields owned `Vec<f64>` points.
#[derive(Clone, Debug)]
pub struct Points<'a> {
    sequence: &'a Sequence,
    /// Index of the point `state` holds (unrandomised), the next one returned.
    next: u64,
    state: Vec<u32>,
    out: Vec<u32>,
}

impl Points<'_> {
    /// Index of the point the next call returns (`2^32` once exhausted).
    pub fn index(&self) -> u64 {
        self.next
    }

    /// The next point as 32-bit fractions, or `None` after point `2^32 − 1`.
    pub fn next_u32(&mut self) -> Option<&[u32]> {
        if self.next > u64::from(u32::MAX) {
            return None;
        }
        for (d, (o, &x)) in self.out.iter_mut().zip(&self.state).enumerate() {
            *o = self.sequence.randomize(d, x);
        }
        self.next += 1;
        if self.next <= u64::from(u32::MAX) {
            // g(i + 1) = g(i) ^ (1 << tz(i + 1)): one direction number per coordinate.
            let bit = (self.next as u32).trailing_zeros() as usize;
            for (x, v) in self.state.iter_mut().zip(&self.sequence.directions) {
                *x ^= v[bit];
            }
        }
        Some(&self.out)
    }
}

impl Iterator for Points<'_> {
    type Item = Vec<f64>;

    fn next(&mut self) -> Option<Vec<f64>> {
        self.next_u32()
            .map(|p| p.iter().map(|&x| unit::to_f64(x)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_one_is_x_plus_one_with_the_documented_m() {
        // m_k = 1, 3, 5, 15, 17, 51 (docs/algorithms.md, section 6), v_k = m_k · 2^(32−k).
        let v = direction_numbers(&JOE_KUO[1]);
        let m: Vec<u32> = (0..6).map(|k| v[k] >> (31 - k)).collect();
        assert_eq!(m, [1, 3, 5, 15, 17, 51]);
    }

    #[test]
    fn first_points_in_two_dimensions() {
        let s = Sequence::new(2).unwrap();
        let expected = [
            [0.0, 0.0],
            [0.5, 0.5],
            [0.75, 0.25],
            [0.25, 0.75],
            [0.375, 0.375],
            [0.875, 0.875],
            [0.625, 0.125],
            [0.125, 0.625],
        ];
        let mut x = [0.0; 2];
        for (i, e) in expected.iter().enumerate() {
            s.point(i as u32, &mut x);
            assert_eq!(&x, e, "point {i}");
        }
    }

    #[test]
    fn gray_code_iterator_matches_direct_access() {
        for r in [
            Randomization::None,
            Randomization::CranleyPatterson { seed: 3 },
            Randomization::DigitalShift { seed: 3 },
            Randomization::Owen { seed: 3 },
        ] {
            let s = Sequence::new(7).unwrap().with_randomization(r);
            let mut direct = [0u32; 7];
            for start in [0u32, 1, 1000, u32::MAX - 3] {
                let mut it = s.points_from(start);
                for i in start..start.saturating_add(300) {
                    s.point_u32(i, &mut direct);
                    assert_eq!(it.next_u32().unwrap(), &direct, "{r:?} point {i}");
                }
            }
        }
    }

    #[test]
    fn iterator_ends_after_the_last_point() {
        let s = Sequence::new(1).unwrap();
        let mut it = s.points_from(u32::MAX - 1);
        assert!(it.next_u32().is_some());
        assert!(it.next_u32().is_some());
        assert!(it.next_u32().is_none());
        assert_eq!(it.index(), 1 << 32);
        assert_eq!(s.points_from(u32::MAX).count(), 1);
    }

    #[test]
    fn dimension_zero_is_van_der_corput() {
        let s = Sequence::new(1).unwrap();
        for i in [0u32, 1, 2, 3, 77, 1 << 20, u32::MAX] {
            let gray = i ^ (i >> 1);
            assert_eq!(s.coordinate_u32(i, 0), gray.reverse_bits());
        }
    }

    #[test]
    fn dimensions_out_of_range_are_refused() {
        let max = MAX_DIMENSIONS;
        for bad in [0, max + 1] {
            assert_eq!(
                Sequence::new(bad).unwrap_err(),
                SamplingError::DimensionOutOfRange {
                    requested: bad,
                    max
                }
            );
        }
        assert!(Sequence::new(max).is_ok());
    }

    #[test]
    fn randomizations_are_deterministic_and_differ_by_seed() {
        for make in [
            (|seed| Randomization::CranleyPatterson { seed }) as fn(u64) -> Randomization,
            |seed| Randomization::DigitalShift { seed },
            |seed| Randomization::Owen { seed },
        ] {
            let a = Sequence::new(4).unwrap().with_randomization(make(1));
            let b = Sequence::new(4).unwrap().with_randomization(make(1));
            let c = Sequence::new(4).unwrap().with_randomization(make(2));
            let (mut pa, mut pb, mut pc) = ([0u32; 4], [0u32; 4], [0u32; 4]);
            a.point_u32(9, &mut pa);
            b.point_u32(9, &mut pb);
            c.point_u32(9, &mut pc);
            assert_eq!(pa, pb);
            assert_ne!(pa, pc);
            assert_eq!(a.randomization(), make(1));
        }
    }

    #[test]
    #[should_panic(expected = "must equal the number of dimensions")]
    fn wrong_output_length_panics() {
        Sequence::new(3).unwrap().point(0, &mut [0.0; 2]);
    }
}
