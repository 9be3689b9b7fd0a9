//! Conversion throughput and inference time of Monte Carlo quantization.
//!
//! ```text
//! cargo bench -p sampled-linear --features flex,ndarray --bench sampled_linear
//! ```
//!
//! - `convert`: sampling a 4096 × 4096 layer (16.8 M weights), jittered per neuron at K = 0.5
//!   (`SampledWeights::sample` on host rows), and the whole `SampledLinear::from_linear` with
//!   the reads and layout changes; throughput in weights per second.
//! - `infer_<backend>`: the MLP's first layer, 784 → 300, batch 256, dense against sampled at
//!   K = 0.5 per neuron (about 42% non-zero weights, where E2's MLP keeps ≥ 97% of its
//!   accuracy), forward only; weights from fixed seeds (normal, like a trained layer).

use std::hint::black_box;

use burn::module::Module;
use burn::nn::LinearConfig;
use burn::tensor::{Distribution, Tensor};
use criterion::{Criterion, Throughput};
use mcnn_backends::{BackendKind, host_device, materialize};
use sampled_linear::{Budget, SampledLinear, SampledWeights, SamplingConfig, output_major};

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

    for kind in BackendKind::compiled() {
        let device = kind.device();
        host.seed(2);
        let dense = materialize(LinearConfig::new(784, 300).init(&host));
        let (sampled, report) = SampledLinear::from_linear(&dense, &config, "fc1").unwrap();
        let dense = dense.fork(&device);
        let sampled = sampled.fork(&device);
        let x = Tensor::<2>::random([256, 784], Distribution::Normal(0.0, 1.0), &device);
        let mut group = criterion.benchmark_group(format!("infer_{kind}"));
        group.bench_function("dense", |b| {
            b.iter(|| {
                let y = dense.forward(x.clone());
                device.sync().expect("sync");
                y
            })
        });
        let name = format!("sampled_{:.0}pct", 100.0 * report.nonzero_fraction());
        group.bench_function(name, |b| {
            b.iter(|| {
                let y = sampled.forward(x.clone());
                device.sync().expect("sync");
                y
            })
        });
        group.finish();
    }
    criterion.final_summary();
}
