//! The sparse path of `SampledConv2d` (the direct sparse convolution, `Kernel::Sparse`) against
//! Burn's dense `Conv2d` of the same shape, on the same backend in the same run.
//!
//! `cargo bench -p sampled-conv --features flex,ndarray --bench sampled_conv` (add
//! `-- sampled_conv_flex` to run one backend). Two layers: LeNet-5's second convolution
//! (6 → 16, 5×5, 14×14 input, batch 64) and an AlexNet-style one (128 → 192, 3×3 "same",
//! 8×8 input, batch 32), sampled per filter with K = 0.1, 0.25, 0.5 and 1 (weights from seed 1,
//! sampling seed 2). Forward only: a sampled layer is for inference. Every iteration ends with
//! a device sync. After Criterion's report the bench prints the non-zero fraction, the taps
//! per filter `k` and the time ratio (sampled / dense, Criterion's means).

use std::hint::black_box;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;
use mcnn_backends::bench::criterion_mean_seconds;
use mcnn_backends::{BackendKind, materialize};
use sampled_conv::{Kernel, SampledConv2d};
use sampled_linear::{Budget, SamplingConfig};

const AMOUNTS: [f64; 4] = [0.1, 0.25, 0.5, 1.0];

struct Case {
    name: &'static str,
    conv: Conv2dConfig,
    input: [usize; 4],
}

fn cases() -> [Case; 2] {
    [
        Case {
            name: "lenet_conv2",
            conv: Conv2dConfig::new([6, 16], [5, 5]),
            input: [64, 6, 14, 14],
        },
        Case {
            name: "alexnet_conv",
            conv: Conv2dConfig::new([128, 192], [3, 3]).with_padding(PaddingConfig2d::Same),
            input: [32, 128, 8, 8],
        },
    ]
}

fn sync<T>(value: T, device: &Device) {
    black_box(value);
    device.sync().expect("device sync");
}

fn main() {
    let mut criterion = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args();
    let mut rows = Vec::new();
    for kind in BackendKind::compiled() {
        let device = kind.device();
        let group_name = format!("sampled_conv_{kind}");
        let mut group = criterion.benchmark_group(&group_name);
        for case in cases() {
            device.seed(1);
            let dense: Conv2d = materialize(case.conv.init(&device));
            let x = Tensor::<4>::random(case.input, Distribution::Default, &device);
            group.bench_function(format!("{}_dense", case.name), |b| {
                b.iter(|| sync(dense.forward(x.clone()), &device))
            });
            for k in AMOUNTS {
                let config = SamplingConfig::new(Budget::Amount(k)).with_seed(2);
                let (sampled, report) = SampledConv2d::from_conv2d(&dense, &config, case.name)
                    .expect("a trained-looking layer samples");
                let sampled = sampled.with_kernel(Kernel::Sparse);
                let id = format!("{}_K{k}", case.name);
                group.bench_function(&id, |b| {
                    b.iter(|| sync(sampled.forward(x.clone()), &device))
                });
                rows.push((
                    kind,
                    group_name.clone(),
                    case.name,
                    id,
                    report.nonzero_fraction(),
                    sampled.fan_in(),
                ));
            }
        }
        group.finish();
    }
    criterion.final_summary();
    println!(
        "\n| backend | layer | K | non-zero | taps per filter k | sampled ms | dense ms | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (kind, group, layer, id, nonzero, k) in rows {
        let (Some(time), Some(dense)) = (
            criterion_mean_seconds(&group, &id),
            criterion_mean_seconds(&group, &format!("{layer}_dense")),
        ) else {
            continue;
        };
        println!(
            "| {kind} | {layer} | {} | {:.3} | {k} | {:.3} | {:.3} | {:.2} |",
            id.rsplit('K').next().unwrap_or("?"),
            nonzero,
            time * 1e3,
            dense * 1e3,
            time / dense
        );
    }
}
