//! The fan-in layer against `burn::nn::Linear` of the same shape, on the same backend, in the
//! same run: forward, and forward + backward (weight *and* input gradient), plus the peak heap
//! memory of one forward + backward on the CPU backends.
//!
//! Run (from the workspace root; `--features wgpu` adds the GPU backend, and a trailing
//! `-- fan_in_wgpu` measures only its group while the table still reads the others' last
//! estimates):
//!
//! ```text
//! cargo bench -p mcnn-fan-in --features flex,ndarray --bench fan_in
//! ```
//!
//! Size: `in = out = 1024`, batch 128, `k ∈ {4, 16, 64, 256}` (density 1/256 … 1/4), or
//! `MCNN_BENCH_SHAPE=BATCHxWIDTH` (its groups are named `fan_in_<backend>_BATCHxWIDTH`); weights,
//! indices and inputs from fixed seeds. Every iteration ends with a device sync, so GPU work is
//! counted. After criterion's report the bench prints the table of ratios (fan-in time / dense
//! time, from criterion's mean estimates) that `docs/RESULTS.md` quotes, and the forward's
//! effective bandwidth: the `batch · out · k` gathered f32 inputs (4 bytes each) per forward
//! time, to set beside a device's memory bandwidth (issue 21 asks for ≥ 50% of it on a GPU).

use std::hint::black_box;

use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;
use mcnn_backends::BackendKind;
use mcnn_backends::bench::criterion_mean_seconds;
use mcnn_backends::memory::{CountingAllocator, peak_extra_bytes, retained_bytes};
use mcnn_fan_in::{FanInLinear, FanInLinearConfig};

/// (batch, width): 128 × 1024 unless `MCNN_BENCH_SHAPE=BATCHxWIDTH` says otherwise.
fn shape() -> (usize, usize) {
    let Ok(text) = std::env::var("MCNN_BENCH_SHAPE") else {
        return (128, 1024);
    };
    let parsed = text
        .split_once('x')
        .and_then(|(b, w)| Some((b.parse().ok()?, w.parse().ok()?)));
    match parsed {
        Some((batch, width)) if batch > 0 && width >= 256 => (batch, width),
        _ => panic!("MCNN_BENCH_SHAPE must be BATCHxWIDTH with width ≥ 256, got {text:?}"),
    }
}

/// Criterion group of a backend; the default shape keeps the plain name.
fn group_name(kind: BackendKind) -> String {
    match std::env::var("MCNN_BENCH_SHAPE") {
        Ok(text) => format!("fan_in_{kind}_{text}"),
        Err(_) => format!("fan_in_{kind}"),
    }
}
const FAN_INS: [usize; 4] = [4, 16, 64, 256];

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// One of the layers under test.
enum Layer {
    Dense(Linear),
    FanIn(FanInLinear),
}

impl Layer {
    fn name(&self) -> String {
        match self {
            Layer::Dense(_) => "dense".into(),
            Layer::FanIn(layer) => format!("k={}", layer.fan_in()),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Layer::Dense(layer) => layer.forward(x),
            Layer::FanIn(layer) => layer.forward(x),
        }
    }
}

fn layers(width: usize, device: &Device) -> Vec<Layer> {
    device.seed(1);
    let mut layers = vec![Layer::Dense(LinearConfig::new(width, width).init(device))];
    for k in FAN_INS {
        let config = FanInLinearConfig::new(width, width, k).with_seed(k as u64);
        layers.push(Layer::FanIn(config.init(device)));
    }
    layers
}

// Results stay alive until the device has synced: a lazy backend (fusion) may skip work
// whose result was dropped.

fn forward(layer: &Layer, x: &Tensor<2>, device: &Device) {
    let y = black_box(layer.forward(x.clone()));
    device.sync().expect("device sync");
    drop(y);
}

fn forward_backward(layer: &Layer, x: &Tensor<2>, device: &Device) {
    let x = x.clone().require_grad();
    let grads = layer.forward(x.clone()).sum().backward();
    let dx = black_box(x.grad(&grads));
    device.sync().expect("device sync");
    drop(dx);
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args();
    let (batch, width) = shape();
    let mut memory = Vec::new();
    for kind in BackendKind::compiled() {
        let device = kind.device().autodiff();
        device.seed(2);
        let x =
            Tensor::<2>::random([batch, width], Distribution::Normal(0.0, 1.0), &device).autodiff();
        let layers: Vec<Layer> = layers(width, &device)
            .into_iter()
            .map(|l| match l {
                Layer::Dense(d) => Layer::Dense(mcnn_backends::materialize(d)),
                Layer::FanIn(f) => Layer::FanIn(mcnn_backends::materialize(f)),
            })
            .collect();
        let mut group = criterion.benchmark_group(group_name(kind));
        for layer in &layers {
            group.bench_function(format!("{}_fwd", layer.name()), |b| {
                b.iter(|| forward(layer, &x, &device))
            });
            group.bench_function(format!("{}_fwd_bwd", layer.name()), |b| {
                b.iter(|| forward_backward(layer, &x, &device))
            });
            if kind != BackendKind::Wgpu {
                forward_backward(layer, &x, &device); // allocations of a first call aside
                let held = retained_bytes(|| layer.forward(x.clone().require_grad()));
                let ((), peak) = peak_extra_bytes(|| forward_backward(layer, &x, &device));
                memory.push((kind, layer.name(), held, peak));
            }
        }
        group.finish();
    }
    criterion.final_summary();
    print_ratios(batch, width, &memory);
}

fn print_ratios(batch: usize, width: usize, memory: &[(BackendKind, String, usize, usize)]) {
    println!(
        "\n| backend | layer | density | fwd ms | fwd ratio | fwd gathered GB/s | fwd+bwd ms \
         | fwd+bwd ratio | held after fwd MiB | peak in fwd+bwd MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for kind in BackendKind::compiled() {
        let group = group_name(kind);
        let dense_fwd = criterion_mean_seconds(&group, "dense_fwd");
        let dense_both = criterion_mean_seconds(&group, "dense_fwd_bwd");
        for (name, density) in std::iter::once(("dense".to_string(), 1.0)).chain(
            FAN_INS
                .iter()
                .map(|&k| (format!("k={k}"), k as f64 / width as f64)),
        ) {
            let (Some(fwd), Some(both), Some(dense_fwd), Some(dense_both)) = (
                criterion_mean_seconds(&group, &format!("{name}_fwd")),
                criterion_mean_seconds(&group, &format!("{name}_fwd_bwd")),
                dense_fwd,
                dense_both,
            ) else {
                continue;
            };
            let mib = |bytes: usize| format!("{:.2}", bytes as f64 / (1 << 20) as f64);
            let mib = memory
                .iter()
                .find(|(k, n, _, _)| *k == kind && *n == name)
                .map_or("– | –".to_string(), |&(_, _, held, peak)| {
                    format!("{} | {}", mib(held), mib(peak))
                });
            // Every edge of every sample gathers one f32 input (dense: every weight).
            let gathered = (batch * width) as f64 * density * width as f64 * 4.0;
            println!(
                "| {kind} | {name} | {density:.4} | {:.3} | {:.4} | {:.1} | {:.3} | {:.4} | {mib} |",
                fwd * 1e3,
                fwd / dense_fwd,
                gathered / fwd / 1e9,
                both * 1e3,
                both / dense_both
            );
        }
    }
}
