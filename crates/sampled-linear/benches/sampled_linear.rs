//! Conversion throughput and inference time of Monte Carlo quantization.
//!
//! ```text
//! cargo bench -p sampled-linear --features flex,ndarray --bench sampled_linear
//! ```
//!
//! - `convert`: sampling a 4096 × 4096 layer (16.8 M weights), jittered per neuron at K = 0.5
//!   (`SampledWeights::sample` on host rows), and the whole `SampledLinear::from_linear` with
//!   the reads, the layout change and the packing; throughput in weights per second.
//! - `infer_<backend>`: the MLP's first layer, 784 → 300, batch 256, forward only: the dense
//!   `Linear` against the sampled layer at several amounts K (the non-zero fraction is in the
//!   name), with the sparse kernel (the fan-in op) and the dense one (a matrix product with
//!   the materialised counts). Where the two kernels cross is `Kernel::DENSE_FROM`. Weights
//!   from fixed seeds (normal, like a trained layer).
//!
//! - `train_<backend>`: one training step of the same layer at batch 64 (forward, backward to
//!   the weights): the dense `Linear` against `ResampledLinear` at K = 0.25 and 1 with each
//!   kernel, the host sampling alone (`SampledWeights::draw`), which every re-sampled step
//!   pays, and the read back of the weights, as stored and through `host_values`.
//!
//! After the runs it prints each sampled forward's (or step's) time as a ratio to the dense
//! layer's, on the same backend in the same run.

use std::hint::black_box;

use burn::module::Module;
use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, Throughput};
use mcnn_backends::bench::criterion_mean_seconds;
use mcnn_backends::{BackendKind, host_device, materialize};
use sampled_linear::{
    Budget, Kernel, ResampledLinear, SampledLinear, SampledWeights, SamplingConfig, output_major,
};

const AMOUNTS: [f64; 6] = [0.05, 0.12, 0.25, 0.5, 1.0, 2.0];

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args();
    let config = SamplingConfig::new(Budget::Amount(0.5)).with_seed(1);

    let host = host_device();
    host.seed(1);
    let big = materialize(LinearConfig::new(4096, 4096).init(&host));
    let (rows, d_output, d_input) = output_major(&big.weight.val());
    let mut group = criterion.benchmark_group("convert");
    group.throughput(Throughput::Elements((d_output * d_input) as u64));
    group.bench_function("sample_16M", |b| {
        b.iter(|| {
            SampledWeights::sample(black_box(&rows), d_output, d_input, &config, "big").unwrap()
        })
    });
    group.bench_function("from_linear_16M", |b| {
        b.iter(|| SampledLinear::from_linear(black_box(&big), &config, "big").unwrap())
    });
    group.finish();

    let mut ratios = Vec::new();
    for kind in BackendKind::compiled() {
        let device = kind.device();
        host.seed(2);
        let dense = materialize(LinearConfig::new(784, 300).init(&host));
        let x = Tensor::<2>::random([256, 784], Distribution::Normal(0.0, 1.0), &device);
        let group_name = format!("infer_{kind}");
        let mut group = criterion.benchmark_group(&group_name);
        let on_device = dense.clone().fork(&device);
        group.bench_function("dense", |b| {
            b.iter(|| {
                let y = on_device.forward(x.clone());
                device.sync().expect("sync");
                y
            })
        });
        let mut names = Vec::new();
        for k in AMOUNTS {
            let config = SamplingConfig::new(Budget::Amount(k)).with_seed(3);
            let (sampled, report) = SampledLinear::from_linear(&dense, &config, "fc1").unwrap();
            for kernel in [Kernel::Sparse, Kernel::Dense] {
                let layer = sampled.clone().with_kernel(kernel).fork(&device);
                let _ = layer.forward(x.clone()); // the tensors of the kernel, made once
                let name = format!(
                    "{kernel:?}_K{k}_{:.1}pct",
                    100.0 * report.nonzero_fraction()
                )
                .to_lowercase();
                group.bench_function(&name, |b| {
                    b.iter(|| {
                        let y = layer.forward(x.clone());
                        device.sync().expect("sync");
                        y
                    })
                });
                names.push(name);
            }
        }
        group.finish();
        ratios.push((group_name, names));
    }
    for kind in BackendKind::compiled().into_iter().filter(|k| k.is_cpu()) {
        ratios.push(train_steps(&mut criterion, kind));
    }
    criterion.final_summary();

    println!(
        "\nTime as a ratio to the dense Linear (784 → 300; infer: forward at batch 256, train: \
         forward and backward at batch 64), this run:\n"
    );
    println!("| backend | sampled layer | ratio |\n|---|---|---|");
    for (group, names) in ratios {
        let Some(dense) = criterion_mean_seconds(&group, "dense") else {
            continue;
        };
        for name in names {
            if let Some(t) = criterion_mean_seconds(&group, &name) {
                println!("| {group} | {name} | {:.3} |", t / dense);
            }
        }
    }
}

/// `train_<kind>`: a training step (forward, backward to the weights) of the dense layer and of
/// `ResampledLinear`, and the sampling alone; returns the group and the non-dense names.
fn train_steps(criterion: &mut Criterion, kind: BackendKind) -> (String, Vec<String>) {
    let device = kind.device().autodiff();
    let host = host_device();
    host.seed(4);
    let dense = materialize(LinearConfig::new(784, 300).init(&host));
    let x = Tensor::<2>::random([64, 784], Distribution::Normal(0.0, 1.0), &device);
    // A fixed upstream gradient, as a loss would send.
    let r = Tensor::<2>::random([64, 300], Distribution::Normal(0.0, 1.0), &device);
    let trainable = Linear {
        weight: Param::from_tensor(dense.weight.val().to_device(&device).autodiff()),
        bias: dense
            .bias
            .as_ref()
            .map(|b| Param::from_tensor(b.val().to_device(&device).autodiff())),
    };
    let group_name = format!("train_{kind}");
    let mut group = criterion.benchmark_group(&group_name);
    group.bench_function("dense", |b| {
        b.iter(|| {
            // The CPU backends run eagerly: the gradient exists when `backward` returns.
            let grads = (trainable.forward(x.clone()) * r.clone()).sum().backward();
            trainable.weight.grad(&grads).expect("a gradient")
        })
    });
    let mut names = Vec::new();
    // Reading the weights back: the parameter itself (shared storage), and through
    // `host_values` (a fresh copy), which every sampling path uses.
    let weight = trainable.weight.val();
    group.bench_function("read_shared", |b| {
        b.iter(|| weight.clone().into_data().try_to_vec::<f32>().expect("f32"))
    });
    group.bench_function("read_host_values", |b| {
        b.iter(|| mcnn_backends::host_values(weight.clone()))
    });
    names.extend(["read_shared".to_string(), "read_host_values".to_string()]);
    let (rows, d_output, d_input) = output_major(&dense.weight.val());
    for k in [0.25, 1.0] {
        let config = SamplingConfig::new(Budget::Amount(k)).with_seed(5);
        let name = format!("draw_K{k}");
        group.bench_function(&name, |b| {
            b.iter(|| SampledWeights::draw(black_box(&rows), d_output, d_input, &config, "fc1"))
        });
        names.push(name);
        for kernel in [Kernel::Auto, Kernel::Sparse, Kernel::Dense] {
            let layer =
                ResampledLinear::from_linear(trainable.clone(), config.clone()).with_kernel(kernel);
            let name = format!("resampled_K{k}_{kernel:?}").to_lowercase();
            group.bench_function(&name, |b| {
                b.iter(|| {
                    let grads = (layer.forward(x.clone()) * r.clone()).sum().backward();
                    layer.linear.weight.grad(&grads).expect("a gradient")
                })
            });
            names.push(name);
        }
    }
    group.finish();
    (group_name, names)
}
