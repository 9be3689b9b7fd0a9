//! A training step of a path network against the dense MLP of the same widths, on the same
//! backend in the same run.
//!
//! `cargo bench -p path-net --features flex,ndarray --bench path_net` (add `-- path_net_flex` to
//! run one backend). MLP 784/300/300/10 (the slides' network), batch 64: the dense layers
//! (`burn::nn::Linear`, ReLU between) against `PathNet`s of Sobol' paths, P = 2^12 … 2^16
//! (repeated edges merged, the default; "weights" counts the trained ones).
//! One step is forward, `sum().backward()` and a device sync, so both compute every weight
//! gradient and the gradient of the hidden activations. After Criterion's report the bench
//! prints the ratios (path time / dense time, Criterion's means) and the heap bytes of one
//! step (counting allocator; CPU backends only).

use std::hint::black_box;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;
use mcnn_backends::bench::criterion_mean_seconds;
use mcnn_backends::memory::{CountingAllocator, peak_extra_bytes, retained_bytes};
use mcnn_backends::{BackendKind, materialize};
use path_net::{PathNet, PathNetConfig};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const WIDTHS: [usize; 4] = [784, 300, 300, 10];
const BATCH: usize = 64;
const PATHS: [usize; 5] = [1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16];

enum Network {
    Dense(Vec<Linear>),
    /// The network and its number of paths.
    Paths(Box<PathNet>, usize),
}

impl Network {
    fn name(&self) -> String {
        match self {
            Self::Dense(_) => "dense".into(),
            Self::Paths(_, paths) => format!("P={paths}"),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Dense(layers) => {
                let last = layers.len() - 1;
                layers.iter().enumerate().fold(x, |x, (i, layer)| {
                    let y = layer.forward(x);
                    if i < last { relu(y) } else { y }
                })
            }
            Self::Paths(net, _) => net.forward(x),
        }
    }

    fn weights(&self) -> usize {
        match self {
            Self::Dense(_) => WIDTHS.windows(2).map(|w| w[0] * w[1]).sum(),
            Self::Paths(net, _) => net.edges(),
        }
    }
}

/// The dense MLP and the path networks, trainable on `autodiff` (a device of `kind`).
fn networks(kind: BackendKind, autodiff: &Device) -> Vec<Network> {
    autodiff.seed(1);
    let dense = WIDTHS
        .windows(2)
        .map(|w| materialize(LinearConfig::new(w[0], w[1]).init(autodiff)))
        .collect();
    std::iter::once(Network::Dense(dense))
        .chain(PATHS.iter().map(|&p| {
            // Built on the plain device, then made trainable: what `train` does.
            let net = PathNetConfig::new(WIDTHS.to_vec(), p).init(&kind.device());
            Network::Paths(Box::new(net.fork(autodiff).train()), p)
        }))
        .collect()
}

fn step(network: &Network, x: &Tensor<2>, device: &Device) {
    let grads = network.forward(x.clone()).sum().backward();
    black_box(grads);
    device.sync().expect("device sync");
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .configure_from_args();
    let mut rows = Vec::new();
    for kind in BackendKind::compiled() {
        let device = kind.device().autodiff();
        device.seed(2);
        let x = Tensor::<2>::random([BATCH, WIDTHS[0]], Distribution::Default, &device);
        let mut group = criterion.benchmark_group(format!("path_net_{kind}"));
        for network in networks(kind, &device) {
            group.bench_function(network.name(), |b| b.iter(|| step(&network, &x, &device)));
            // GPU buffers are not on the heap: no memory for wgpu.
            let bytes = (kind != BackendKind::Wgpu).then(|| {
                step(&network, &x, &device); // allocations of a first call aside
                let held = retained_bytes(|| network.forward(x.clone()));
                let ((), peak) = peak_extra_bytes(|| step(&network, &x, &device));
                (held, peak)
            });
            rows.push((kind, network.name(), network.weights(), bytes));
        }
        group.finish();
    }
    criterion.final_summary();
    println!(
        "\n| backend | network | weights | fraction | step ms | ratio to dense | held after fwd MiB | peak in step MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let dense_weights = WIDTHS.windows(2).map(|w| w[0] * w[1]).sum::<usize>() as f64;
    for (kind, name, weights, bytes) in &rows {
        let group = format!("path_net_{kind}");
        let (Some(time), Some(dense)) = (
            criterion_mean_seconds(&group, name),
            criterion_mean_seconds(&group, "dense"),
        ) else {
            continue;
        };
        let mib = |bytes: usize| bytes as f64 / (1 << 20) as f64;
        let bytes = bytes.map_or("– | –".into(), |(held, peak)| {
            format!("{:.2} | {:.2}", mib(held), mib(peak))
        });
        println!(
            "| {kind} | {name} | {weights} | {:.3} | {:.3} | {:.3} | {bytes} |",
            *weights as f64 / dense_weights,
            time * 1e3,
            time / dense,
        );
    }
}
