//! The per-neuron sampler of a `Linear` weight on its device ([`sample_columns`]) against one
//! training step of that `Linear` (forward + backward, batch 64), on each compiled backend, in
//! the same run: what re-sampling a layer at every step (`ResampledLinear`) adds to the step.
//!
//! ```text
//! cargo bench -p mcnn-fan-in --features flex,ndarray --bench column_sampler
//! ```
//!
//! Shape: MNIST's first MLP layer, 784 → 300 (Burn's weight `[784, 300]`), `N = 196` samples
//! per neuron (a quarter of the inputs) and `N = 784`, jittered, seed 3; weights and inputs
//! from fixed seeds. Every iteration ends with a device sync. After criterion's report the
//! bench prints sampling time / dense step time, from criterion's mean estimates.

use std::hint::black_box;

use burn::nn::LinearConfig;
use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;
use mcnn_backends::BackendKind;
use mcnn_backends::bench::criterion_mean_seconds;
use mcnn_fan_in::sample_columns;
use mcnn_sequences::counts::Scheme;

const D_INPUT: usize = 784;
const D_OUTPUT: usize = 300;
const BATCH: usize = 64;
const SAMPLES: [usize; 2] = [196, 784];

fn group_name(kind: BackendKind) -> String {
    format!("column_sampler_{kind}")
}

fn sample(weight: &Tensor<2>, samples: usize, device: &Device) {
    let sample = sample_columns(weight.clone(), samples, Scheme::Jittered, 3);
    let counts = black_box(sample.counts);
    device.sync().expect("device sync");
    drop(counts);
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args();
    for kind in BackendKind::compiled() {
        let device = kind.device().autodiff();
        device.seed(4);
        let linear = mcnn_backends::materialize(LinearConfig::new(D_INPUT, D_OUTPUT).init(&device));
        let x = Tensor::<2>::random([BATCH, D_INPUT], Distribution::Normal(0.0, 1.0), &device);
        let weight = linear.weight.val();
        let mut group = criterion.benchmark_group(group_name(kind));
        group.bench_function("dense_step", |b| {
            b.iter(|| {
                let grads = linear.forward(x.clone()).sum().backward();
                let dw = black_box(linear.weight.grad(&grads));
                device.sync().expect("device sync");
                drop(dw);
            })
        });
        for samples in SAMPLES {
            group.bench_function(format!("sample_N={samples}"), |b| {
                b.iter(|| sample(&weight, samples, &device))
            });
        }
        group.finish();
    }
    criterion.final_summary();
    println!("\n| backend | N | sample ms | dense step ms | sample / dense step |");
    println!("|---|---|---|---|---|");
    for kind in BackendKind::compiled() {
        let group = group_name(kind);
        let Some(step) = criterion_mean_seconds(&group, "dense_step") else {
            continue;
        };
        for samples in SAMPLES {
            if let Some(time) = criterion_mean_seconds(&group, &format!("sample_N={samples}")) {
                println!(
                    "| {kind} | {samples} | {:.3} | {:.3} | {:.3} |",
                    time * 1e3,
                    step * 1e3,
                    time / step
                );
            }
        }
    }
}
