//! Throughput of discrete-density sampling against a plain copy of the same weights.
//!
//! Run (from the workspace root):
//!
//! ```text
//! cargo bench -p mcnn-sequences --bench counts -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Sizes: SMALL = 2^20 (1M) and LARGE = 2^24 (16M) weights, pseudo-normal. Sampling
//! amount 1: `N` = the number of weights per tensor, `N` = the row length (1024) per
//! row. Every case writes into a preallocated buffer, like the copy baseline
//! (`copy_from_slice` into an `f32` buffer of the same length). "1 thread" cases run
//! inside a one-thread rayon pool; "all threads" uses the global pool. `per_column`
//! samples the columns of the transpose (the same counts, in place). `counts_784x300`: a
//! layer in Burn's `[d_input, d_output]` layout, K = 0.25 per neuron, its rows (the
//! output-major transpose) against its columns as stored. Criterion reports elements
//! (weights) per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::counts::{Scheme, column_counts_into, row_counts_into, sample_counts_into};

const SMALL: usize = 1 << 20;
const LARGE: usize = 1 << 24;
const COLS: usize = 1024;

/// Roughly normal weights (Irwin–Hall of four uniforms), deterministic.
fn weights(n: usize) -> Vec<f32> {
    let h = CounterHash::from_seed(2024);
    (0..n)
        .map(|i| {
            let s: f32 = (0..4).map(|k| h.f32_at((4 * i + k) as u32)).sum();
            (s - 2.0) * 0.05
        })
        .collect()
}

fn counts(c: &mut Criterion) {
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread rayon pool");
    for (label, n) in [("1M", SMALL), ("16M", LARGE)] {
        let w = weights(n);
        let mut q = vec![0i32; n];
        let mut copy = vec![0f32; n];
        let mut group = c.benchmark_group(format!("counts_{label}"));
        group.throughput(Throughput::Elements(n as u64));
        if n == LARGE {
            group.sample_size(10);
        }
        group.bench_function("copy", |b| {
            b.iter(|| copy.copy_from_slice(black_box(&w)));
        });
        for scheme in [Scheme::Jittered, Scheme::Systematic] {
            let name = format!("{scheme:?}").to_lowercase();
            group.bench_function(format!("per_tensor_{name}_1_thread"), |b| {
                b.iter(|| {
                    one_thread
                        .install(|| sample_counts_into(black_box(&w), n, scheme, 1, &mut q))
                        .expect("valid weights")
                });
            });
            group.bench_function(format!("per_row_{name}_1_thread"), |b| {
                b.iter(|| {
                    one_thread
                        .install(|| {
                            row_counts_into(black_box(&w), n / COLS, COLS, COLS, scheme, 1, &mut q)
                        })
                        .expect("valid weights")
                });
            });
            group.bench_function(format!("per_row_{name}_all_threads"), |b| {
                b.iter(|| {
                    row_counts_into(black_box(&w), n / COLS, COLS, COLS, scheme, 1, &mut q)
                        .expect("valid weights")
                });
            });
            // The same counts down the columns of the transpose (Burn's `Linear` layout).
            group.bench_function(format!("per_column_{name}_1_thread"), |b| {
                b.iter(|| {
                    one_thread
                        .install(|| {
                            column_counts_into(
                                black_box(&w),
                                COLS,
                                n / COLS,
                                COLS,
                                scheme,
                                1,
                                &mut q,
                            )
                        })
                        .expect("valid weights")
                });
            });
            group.bench_function(format!("per_column_{name}_all_threads"), |b| {
                b.iter(|| {
                    column_counts_into(black_box(&w), COLS, n / COLS, COLS, scheme, 1, &mut q)
                        .expect("valid weights")
                });
            });
        }
        group.finish();
    }
}

/// A layer's weights in Burn's `[d_input, d_output]` layout (MNIST's 784 → 300), per
/// neuron: the rows of the output-major transpose, against the columns as stored.
fn layer(c: &mut Criterion) {
    let (d_input, d_output) = (784, 300);
    let stored = weights(d_input * d_output);
    let rows: Vec<f32> = (0..d_output)
        .flat_map(|o| {
            (0..d_input)
                .map(|j| stored[j * d_output + o])
                .collect::<Vec<_>>()
        })
        .collect();
    let mut q = vec![0i32; stored.len()];
    let mut group = c.benchmark_group("counts_784x300");
    group.throughput(Throughput::Elements(stored.len() as u64));
    for scheme in [Scheme::Jittered, Scheme::Systematic] {
        let name = format!("{scheme:?}").to_lowercase();
        group.bench_function(format!("per_row_{name}"), |b| {
            b.iter(|| {
                row_counts_into(black_box(&rows), d_output, d_input, 196, scheme, 1, &mut q)
                    .expect("valid weights")
            });
        });
        group.bench_function(format!("per_column_{name}"), |b| {
            b.iter(|| {
                column_counts_into(
                    black_box(&stored),
                    d_input,
                    d_output,
                    196,
                    scheme,
                    1,
                    &mut q,
                )
                .expect("valid weights")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, counts, layer);
criterion_main!(benches);
