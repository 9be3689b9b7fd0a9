//! Known-answer values: fixed outputs of the generators, samplers and counts, so that a
//! change to any stream (a constant, the derivation, the order of schemes) fails here
//! rather than silently changing every seeded result downstream.
//!
//! How the values were produced: each was computed twice, once by this crate's code
//! and once by `tools/known_answers.py`, an independent Python implementation of the
//! formulas in the module docs (mix32, SplitMix64, the two-round hash, `derive`, the LFSR
//! step with its toggle mask built from the polynomial `x^32 + x^22 + x^2 + x + 1`, the
//! hash-based Owen scramble, the scheme streams and samples, and the counts by exact
//! rational arithmetic on the CDF). The two agreed; the values are copied from the
//! script's output (`python3 tools/known_answers.py`, from `crates/sequences`).

use mcnn_sequences::counter_hash::{CounterHash, hash, mix32, splitmix64};
use mcnn_sequences::counts::{Scheme, row_counts, sample_counts};
use mcnn_sequences::lfsr::Lfsr32;
use mcnn_sequences::sobol::owen_scramble;

#[test]
fn mix32_values() {
    let input = [0, 1, 2, 0xdead_beef, 0xffff_ffff];
    let output = [0, 0x6889_90c0, 0xd113_2181, 0xe628_c683, 0x6768_824a];
    for (x, y) in input.into_iter().zip(output) {
        assert_eq!(mix32(x), y, "mix32({x:#x})");
    }
}

#[test]
fn splitmix64_values() {
    let input = [0, 1, 42, u64::MAX];
    let output = [
        0xe220_a839_7b1d_cdaf,
        0x910a_2dec_8902_5cc1,
        0xbdd7_3226_2feb_6e95,
        0xe4d9_7177_1b65_2c20,
    ];
    for (x, y) in input.into_iter().zip(output) {
        assert_eq!(splitmix64(x), y, "splitmix64({x:#x})");
    }
}

#[test]
fn hash_values() {
    let key = [0x0123_4567, 0x89ab_cdef];
    let counters = [0, 1, 2, 1000, u32::MAX];
    let output = [
        0x5cbd_2392,
        0x71fd_d102,
        0x8841_f78b,
        0x8080_b83b,
        0xeeab_0bd8,
    ];
    for (i, y) in counters.into_iter().zip(output) {
        assert_eq!(hash(key, i), y, "hash(key, {i})");
        assert_eq!(CounterHash { key }.u32_at(i), y);
    }
}

#[test]
fn from_seed_and_derive_values() {
    let h = CounterHash::from_seed(42);
    assert_eq!(h.key, [0x2feb_6e95, 0xbdd7_3226]);
    let streams = [0, 1, 7, u32::MAX];
    let keys = [
        [0x9217_de0f, 0xdb41_0ffc],
        [0x2706_3474, 0x1c15_96ca],
        [0x9938_9158, 0x56e0_36e6],
        [0xb286_b9d0, 0x0811_7918],
    ];
    for (s, k) in streams.into_iter().zip(keys) {
        assert_eq!(h.derive(s).key, k, "derive({s})");
    }
}

#[test]
fn lfsr_values() {
    assert_eq!(Lfsr32::TAPS, 0x8020_0003);
    let mut g = Lfsr32::new(1).unwrap();
    let steps = [
        0x8020_0003,
        0xc030_0002,
        0x6018_0001,
        0xb02c_0003,
        0xd836_0002,
    ];
    for s in steps {
        assert_eq!(g.step(), s);
    }
    let mut g = Lfsr32::new(0xdead_beef).unwrap();
    for s in [0x96dc_5a83, 0x39e7_d287, 0x45f0_53ca, 0x0210_9929] {
        assert_eq!(g.next_u32(), s);
    }
}

#[test]
fn owen_scramble_values() {
    // The keys of `Randomization::Owen { seed: 5 }`, dimension 0.
    let d0 = CounterHash::from_seed(5).derive(0);
    let keys = std::array::from_fn(|level| d0.derive(level as u32));
    let input = [0, 0x8000_0000, 0x1234_5678, u32::MAX];
    let output = [0x36c7_d430, 0xef3f_445b, 0x2cd8_90db, 0xbc5e_bd6e];
    for (x, y) in input.into_iter().zip(output) {
        assert_eq!(owen_scramble(x, &keys), y, "owen({x:#x})");
    }
}

#[test]
fn scheme_stream_ids_and_samples() {
    let ids: Vec<u32> = Scheme::ALL.iter().map(|s| s.stream_id()).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    let expected: [(Scheme, [f64; 8]); 4] = [
        (
            Scheme::Iid,
            [
                0.05365681531839073,
                0.06540086981840432,
                0.3086409952957183,
                0.390130449552089,
                0.475082537624985,
                0.5944532945286483,
                0.7210936672054231,
                0.8769512963481247,
            ],
        ),
        (
            Scheme::Jittered,
            [
                0.07267764338757843,
                0.19867504105786793,
                0.2551679008465726,
                0.4617179778579157,
                0.5795205426111352,
                0.6911710974527523,
                0.8486607128870673,
                0.99174155187211,
            ],
        ),
        (
            Scheme::Systematic,
            [
                0.1017691332672257,
                0.2267691332672257,
                0.3517691332672257,
                0.4767691332672257,
                0.6017691332672257,
                0.7267691332672257,
                0.8517691332672257,
                0.9767691332672257,
            ],
        ),
        (
            Scheme::LowDiscrepancy,
            [
                0.06497451360337436,
                0.18997451360337436,
                0.31497451360337436,
                0.43997451360337436,
                0.5649745136033744,
                0.6899745136033744,
                0.8149745136033744,
                0.9399745136033744,
            ],
        ),
    ];
    for (scheme, x) in expected {
        assert_eq!(scheme.samples(8, 2024).unwrap(), x, "{scheme:?}");
    }
}

const WEIGHTS: [f32; 12] = [
    0.5, -0.3, 0.0, 1e-3, 2.0, -0.75, 0.125, 0.0, -1.5, 0.01, 0.2, -0.0,
];

#[test]
fn count_values() {
    let expected = [
        (Scheme::Iid, [3, -2, 0, 0, 13, -7, 1, 0, -11, 0, 0, 0]),
        (Scheme::Jittered, [3, -2, 0, 0, 14, -5, 2, 0, -9, 0, 2, 0]),
        (
            Scheme::Systematic,
            [3, -2, 0, 0, 14, -5, 1, 0, -10, 0, 2, 0],
        ),
        (
            Scheme::LowDiscrepancy,
            [3, -2, 0, 0, 15, -5, 0, 0, -11, 0, 1, 0],
        ),
    ];
    for (scheme, q) in expected {
        assert_eq!(
            sample_counts(&WEIGHTS, 37, scheme, 2024).unwrap().q,
            q,
            "{scheme:?}"
        );
    }
}

#[test]
fn row_count_values() {
    let expected = [
        (Scheme::Jittered, [1, -2, 0, 0, 6, -2, 0, 0, -10, 0, 1, 0]),
        (Scheme::Systematic, [1, -1, 0, 0, 6, -3, 0, 0, -9, 0, 2, 0]),
    ];
    for (scheme, q) in expected {
        assert_eq!(
            row_counts(&WEIGHTS, 2, 6, 11, scheme, 9).unwrap().q,
            q,
            "{scheme:?}"
        );
    }
}
