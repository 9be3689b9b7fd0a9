//! Net properties of the Sobol' points: each one-dimensional projection is a
//! (0,1)-sequence in base 2 and dimensions 0 and 1 form a (0,2)-sequence — also after
//! a digital shift or Owen scrambling, which preserve them.

use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::direction_numbers::MAX_DIMENSIONS;
use mcnn_sequences::sobol::{Randomization, Sequence, owen_scramble};
use proptest::prelude::*;

/// Every aligned block of `2^m` points puts one point in each `[k/2^m, (k+1)/2^m)`.
fn is_01_block(sobol: &Sequence, dim: usize, m: u32, block: u32) -> bool {
    let size = 1u32 << m;
    let mut hit = vec![false; size as usize];
    for i in block * size..(block + 1) * size {
        let cell = if m == 0 {
            0
        } else {
            (sobol.coordinate_u32(i, dim) >> (32 - m)) as usize
        };
        if std::mem::replace(&mut hit[cell], true) {
            return false;
        }
    }
    true
}

/// Every aligned block of `2^m` points of dimensions (0, 1) puts one point in each
/// elementary interval `2^-a × 2^-(m-a)`, for every `a`.
fn is_02_block(sobol: &Sequence, m: u32, block: u32) -> bool {
    let size = 1u32 << m;
    for a in 0..=m {
        let b = m - a;
        let mut hit = vec![false; size as usize];
        for i in block * size..(block + 1) * size {
            let x = u64::from(sobol.coordinate_u32(i, 0)) >> (32 - a);
            let y = u64::from(sobol.coordinate_u32(i, 1)) >> (32 - b);
            let cell = ((x << b) | y) as usize;
            if std::mem::replace(&mut hit[cell], true) {
                return false;
            }
        }
    }
    true
}

fn randomizations(seed: u64) -> [Randomization; 3] {
    [
        Randomization::None,
        Randomization::DigitalShift { seed },
        Randomization::Owen { seed },
    ]
}

#[test]
fn every_dimension_is_a_01_sequence_on_the_first_blocks() {
    let sobol = Sequence::new(MAX_DIMENSIONS).unwrap();
    for dim in 0..MAX_DIMENSIONS {
        for m in 0..=8 {
            for block in [0, 1, 5] {
                assert!(
                    is_01_block(&sobol, dim, m, block),
                    "dim {dim} m {m} block {block}"
                );
            }
        }
    }
}

#[test]
fn first_two_dimensions_are_a_02_sequence() {
    for r in randomizations(17) {
        let sobol = Sequence::new(2).unwrap().with_randomization(r);
        for m in 0..=10 {
            for block in [0, 1, 2, 3, 100] {
                assert!(is_02_block(&sobol, m, block), "{r:?} m {m} block {block}");
            }
        }
    }
}

#[test]
fn cranley_patterson_is_a_rotation_mod_one() {
    let plain = Sequence::new(5).unwrap();
    let shifted = Sequence::new(5)
        .unwrap()
        .with_randomization(Randomization::CranleyPatterson { seed: 3 });
    for d in 0..5 {
        let u = shifted.coordinate_u32(0, d); // point 0 is the origin, so this is the shift
        for i in [1u32, 2, 99, 123_456] {
            assert_eq!(
                shifted.coordinate_u32(i, d),
                plain.coordinate_u32(i, d).wrapping_add(u)
            );
        }
    }
}

#[test]
fn owen_scrambled_points_are_uniform_on_average() {
    // Each scrambled point is uniform on [0,1)^d; the mean of point 5 over seeds → 1/2.
    let seeds = 2000;
    let mut sum = [0.0f64; 3];
    for seed in 0..seeds {
        let s = Sequence::new(3)
            .unwrap()
            .with_randomization(Randomization::Owen { seed });
        for (d, acc) in sum.iter_mut().enumerate() {
            *acc += s.coordinate(5, d);
        }
    }
    for m in sum {
        let mean = m / seeds as f64;
        assert!((mean - 0.5).abs() < 0.03, "mean {mean}"); // sd ≈ 0.0065
    }
}

/// What tells Owen scrambling from a digital shift: the flip of bit `31 − ℓ`, bit
/// `31 − ℓ` of `owen(x) ^ x`, is a function of the top `ℓ` bits of `x` (same prefix,
/// same flip: nested), and a non-constant one (over many prefixes both flips occur).
/// A digital shift flips the same bits whatever `x`.
#[test]
fn owen_flips_depend_on_the_prefix_and_only_on_it() {
    let rng = CounterHash::from_seed(99);
    for seed in [1u64, 2, 3] {
        let d = CounterHash::from_seed(seed).derive(0);
        let keys = std::array::from_fn(|level| d.derive(level as u32));
        let flip = |x: u32, level: u32| ((owen_scramble(x, &keys) ^ x) >> (31 - level)) & 1;
        let mut draws = 0u32;
        let mut draw = || {
            draws += 1;
            rng.derive(seed as u32).u32_at(draws)
        };
        for level in 0..32u32 {
            // Only the top `level` bits are kept: below them, x is free.
            let prefix_mask = if level == 0 {
                0
            } else {
                u32::MAX << (32 - level)
            };
            let mut seen = [false; 2];
            for _ in 0..64 {
                let prefix = draw() & prefix_mask;
                let f = flip(prefix, level);
                seen[f as usize] = true;
                for _ in 0..8 {
                    let x = prefix | (draw() & !prefix_mask);
                    assert_eq!(flip(x, level), f, "seed {seed} level {level} x {x:#x}");
                }
            }
            // With 64 random prefixes, a constant flip would be a 2^-63 chance (or the
            // digital shift); below level 6 there are too few prefixes to ask.
            if level >= 6 {
                assert!(
                    seen[0] && seen[1],
                    "seed {seed} level {level}: flip constant"
                );
            }
        }
    }
    // The contrast: a digital shift's flips are the same for every point.
    let plain = Sequence::new(1).unwrap();
    let shifted = Sequence::new(1)
        .unwrap()
        .with_randomization(Randomization::DigitalShift { seed: 1 });
    let flips: Vec<u32> = (0..256)
        .map(|i| shifted.coordinate_u32(i, 0) ^ plain.coordinate_u32(i, 0))
        .collect();
    assert!(flips.iter().all(|&f| f == flips[0]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_dimension_any_block_is_01(
        dim in 0..MAX_DIMENSIONS,
        m in 0u32..=12,
        block in 0u32..1 << 19,
        seed in any::<u64>(),
        which in 0usize..3,
    ) {
        let sobol = Sequence::new(dim + 1).unwrap().with_randomization(randomizations(seed)[which]);
        prop_assert!(is_01_block(&sobol, dim, m, block));
    }

    #[test]
    fn any_block_of_the_first_two_dimensions_is_02(
        m in 0u32..=10,
        block in 0u32..1 << 21,
        seed in any::<u64>(),
        which in 0usize..3,
    ) {
        let sobol = Sequence::new(2).unwrap().with_randomization(randomizations(seed)[which]);
        prop_assert!(is_02_block(&sobol, m, block));
    }

    #[test]
    fn gray_code_iteration_equals_direct_access(start in any::<u32>(), dims in 1usize..40) {
        let sobol = Sequence::new(dims).unwrap();
        let mut it = sobol.points_from(start);
        let mut direct = vec![0u32; dims];
        for i in start..start.saturating_add(64) {
            sobol.point_u32(i, &mut direct);
            prop_assert_eq!(it.next_u32().unwrap(), &direct[..]);
        }
    }
}
