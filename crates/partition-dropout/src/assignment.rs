//! Which partition each neuron belongs to during one cycle: a pure function of
//! `(seed, cycle, row)`, so the same masks can be rebuilt at any time (in a backward pass, on
//! another device) from a few integers.

use burn::config::Config;
use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::lfsr::Lfsr32;
use mcnn_sequences::radical_inverse::van_der_corput_f64;

/// The random source that assigns neurons to partitions, once per cycle.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// A 32-bit maximal-length LFSR (the slides' example): one `f32` draw per neuron per
    /// cycle, partition `⌊ξ·P⌋`.
    Lfsr,
    /// A counter-based hash of `(seed, cycle, row, neuron)`: the same distribution as
    /// [`Lfsr`](Self::Lfsr), computable for any neuron on its own.
    Hash,
    /// Exactly balanced: partition sizes `⌊n/P⌋` or `⌈n/P⌉`, a shuffled `j mod P`
    /// (Fisher–Yates, `n − 1` draws per cycle).
    Balanced,
    /// Van der Corput points with one random shift per cycle (Cranley–Patterson):
    /// `⌊frac(φ₂(j) + u)·P⌋`, one draw per cycle, partition sizes within one of each other when
    /// `n` is a power of two.
    LowDiscrepancy,
}

/// The largest number of partitions: the resolution of [`Assignment::Lfsr`]'s `f32` draws
/// (24 bits), above which some partitions could never be drawn.
pub const MAX_PARTITIONS: usize = 1 << 24;

/// The partitions of `neurons` neurons for `cycle` of `row` (a sample, or the whole batch),
/// each in `0..partitions`, and how many random numbers were drawn to make them.
///
/// The numbers depend on `(seed, cycle, row)` only: two layers of the same seed draw the same
/// partitions for the neurons they have in common.
///
/// # Panics
/// If `partitions` is 0 or above [`MAX_PARTITIONS`].
pub fn assign(
    assignment: Assignment,
    partitions: usize,
    neurons: usize,
    seed: u64,
    cycle: u64,
    row: u64,
) -> (Vec<u32>, u64) {
    assert!(
        (1..=MAX_PARTITIONS).contains(&partitions),
        "assign: partitions must be in 1..={MAX_PARTITIONS}, got {partitions}"
    );
    let p = partitions as u32;
    let stream = CounterHash::from_seed(seed)
        .derive(cycle as u32)
        .derive((cycle >> 32) as u32 ^ 0x5bd1_e995)
        .derive(row as u32);
    let scaled = |xi: f64| ((xi * partitions as f64) as u32).min(p - 1);
    match assignment {
        Assignment::Lfsr => {
            let mut lfsr =
                Lfsr32::from_seed(((stream.u32_at(0) as u64) << 32) | stream.u32_at(1) as u64);
            let parts = (0..neurons)
                .map(|_| scaled(lfsr.next_f32() as f64))
                .collect();
            (parts, neurons as u64)
        }
        Assignment::Hash => {
            let parts = (0..neurons)
                .map(|j| scaled(stream.f64_at(j as u32)))
                .collect();
            (parts, neurons as u64)
        }
        Assignment::Balanced => {
            let mut order: Vec<u32> = (0..neurons as u32).collect();
            for i in (1..neurons).rev() {
                let pick = ((stream.u32_at(i as u32) as u64 * (i as u64 + 1)) >> 32) as usize;
                order.swap(i, pick);
            }
            let mut parts = vec![0; neurons];
            for (slot, &neuron) in order.iter().enumerate() {
                parts[neuron as usize] = slot as u32 % p;
            }
            (parts, neurons.saturating_sub(1) as u64)
        }
        Assignment::LowDiscrepancy => {
            let shift = stream.f64_at(0);
            let parts = (0..neurons)
                .map(|j| scaled((van_der_corput_f64(j as u32) + shift).fract()))
                .collect();
            (parts, 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Assignment; 4] = [
        Assignment::Lfsr,
        Assignment::Hash,
        Assignment::Balanced,
        Assignment::LowDiscrepancy,
    ];

    fn sizes(parts: &[u32], p: usize) -> Vec<usize> {
        let mut sizes = vec![0; p];
        for &q in parts {
            sizes[q as usize] += 1;
        }
        sizes
    }

    #[test]
    #[should_panic(expected = "assign: partitions must be in 1..=16777216, got 0")]
    fn zero_partitions_are_refused() {
        assign(Assignment::Balanced, 0, 10, 1, 0, 0);
    }

    #[test]
    fn odd_partitions_are_drawn_at_the_most_partitions() {
        // 2^24 partitions: Lfsr's f32 draws (24 bits) reach every partition, odd ones too.
        let (parts, _) = assign(Assignment::Lfsr, MAX_PARTITIONS, 1 << 20, 3, 0, 0);
        assert!(parts.iter().any(|&q| q % 2 == 1), "odd partitions drawn");
        assert!(parts.iter().all(|&q| (q as usize) < MAX_PARTITIONS));
    }

    #[test]
    fn partitions_are_in_range_and_reproducible() {
        for assignment in ALL {
            let (a, _) = assign(assignment, 5, 300, 7, 3, 1);
            assert!(a.iter().all(|&q| q < 5), "{assignment:?}");
            assert_eq!(a, assign(assignment, 5, 300, 7, 3, 1).0, "{assignment:?}");
            assert_ne!(
                a,
                assign(assignment, 5, 300, 7, 4, 1).0,
                "{assignment:?}: next cycle"
            );
            assert_ne!(
                a,
                assign(assignment, 5, 300, 7, 3, 2).0,
                "{assignment:?}: other row"
            );
            assert_ne!(
                a,
                assign(assignment, 5, 300, 8, 3, 1).0,
                "{assignment:?}: other seed"
            );
        }
    }

    #[test]
    fn at_most_one_draw_per_neuron_per_cycle() {
        assert_eq!(assign(Assignment::Lfsr, 4, 1000, 1, 0, 0).1, 1000);
        assert_eq!(assign(Assignment::Hash, 4, 1000, 1, 0, 0).1, 1000);
        assert_eq!(assign(Assignment::Balanced, 4, 1000, 1, 0, 0).1, 999);
        assert_eq!(assign(Assignment::LowDiscrepancy, 4, 1000, 1, 0, 0).1, 1);
    }

    #[test]
    fn balanced_sizes_are_exact_and_low_discrepancy_sizes_nearly() {
        for (n, p) in [(10, 3), (1000, 7), (64, 8)] {
            let s = sizes(&assign(Assignment::Balanced, p, n, 3, 2, 0).0, p);
            assert!(s.iter().all(|&c| c == n / p || c == n.div_ceil(p)), "{s:?}");
        }
        // 1024 van der Corput points shifted: each of 8 strata holds 128 ± 1.
        let s = sizes(&assign(Assignment::LowDiscrepancy, 8, 1024, 3, 2, 0).0, 8);
        assert!(s.iter().all(|&c| c.abs_diff(128) <= 1), "{s:?}");
    }

    #[test]
    fn random_sources_spread_evenly() {
        // 90 000 neurons in 9 partitions: 10 000 each, sd ≈ 94.
        for assignment in [Assignment::Lfsr, Assignment::Hash] {
            let s = sizes(&assign(assignment, 9, 90_000, 11, 0, 0).0, 9);
            assert!(
                s.iter().all(|&c| c.abs_diff(10_000) < 500),
                "{assignment:?}: {s:?}"
            );
        }
    }
}
