//! The column sampler on every backend against `mcnn_sequences::counts::column_counts` on
//! the host: the same counts and scales to the bit, the same errors, and proof that the
//! backend's own path ran.

use burn::tensor::{Device, Tensor, TensorData};
use mcnn_backends::{BackendKind, for_each_backend};
use mcnn_fan_in::probe::{self, Path};
use mcnn_fan_in::{runs_column_kernel, sample_columns, try_sample_columns};
use mcnn_sequences::SamplingError;
use mcnn_sequences::counter_hash::CounterHash;
use mcnn_sequences::counts::{Scheme, column_counts};

/// Weights `[rows, cols]` whose columns differ in magnitude (2^-60 … 2^60), tails and
/// sparsity; column 1 is all zero, column 2 has one non-zero weight (the last), column 3
/// holds subnormal weights beside tiny normal ones, column 4 one non-zero weight (the first).
fn weights(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let h = CounterHash::from_seed(seed);
    let mut w = vec![0.0f32; rows * cols];
    for c in 0..cols {
        let magnitude = 2f32.powi((c as i32 * 37) % 121 - 60);
        for j in 0..rows {
            let u = h.f32_at((j * cols + c) as u32);
            let v = h.f32_at((j * cols + c) as u32 ^ 0x8000_0000);
            // Heavy-tailed, signed, a quarter of them zero.
            let x = if v < 0.25 { 0.0 } else { (u - 0.5) / (v * v) };
            w[j * cols + c] = match c {
                1 => 0.0,
                2 if j + 1 == rows => 3.5,
                2 => 0.0,
                4 if j == 0 => -1.25,
                4 => 0.0,
                3 if j % 2 == 0 && rows > 1 => x.signum() * f32::from_bits(1 + (j as u32 % 5)),
                3 => x * 2f32.powi(-90),
                _ => x * magnitude,
            };
        }
    }
    w
}

fn ints(tensor: Tensor<2, burn::tensor::Int>) -> Vec<i32> {
    tensor
        .into_data()
        .convert::<i32>()
        .try_to_vec::<i32>()
        .unwrap()
}

fn floats(tensor: Tensor<1>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

/// Samples `w` on `device` and compares with the host's `column_counts`.
fn assert_same_as_host(
    w: &[f32],
    (rows, cols): (usize, usize),
    n: usize,
    scheme: Scheme,
    seed: u64,
    device: &Device,
) {
    let expected = column_counts(w, rows, cols, n, scheme, seed).unwrap();
    let weight = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [rows, cols]), device);
    let sample = sample_columns(weight, n, scheme, seed);
    sample.check().unwrap();
    let what = format!("{rows} x {cols}, N = {n}, {scheme:?}, seed {seed}");
    let scales: Vec<f32> = expected.summaries.iter().map(|s| s.scale).collect();
    let got_scales = floats(sample.scales);
    for (c, (got, want)) in got_scales.iter().zip(&scales).enumerate() {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "scale of column {c}: {got} vs {want} ({what})"
        );
    }
    let got = ints(sample.counts);
    for (i, (g, e)) in got.iter().zip(&expected.q).enumerate() {
        assert_eq!(
            g,
            e,
            "count at row {}, column {} ({what})",
            i / cols,
            i % cols
        );
    }
}

#[test]
fn every_backend_samples_as_column_counts() {
    for_each_backend(|kind, device| {
        let path = if kind.is_cpu() {
            Path::CpuColumnSampler
        } else {
            Path::CubeColumnSampler
        };
        let before = probe::count(path);
        for (rows, cols) in [(1, 5), (13, 37), (300, 9), (784, 67), (4103, 4)] {
            let w = weights(rows, cols, rows as u64);
            for scheme in [Scheme::Jittered, Scheme::Systematic] {
                for n in [1, 7, rows.div_ceil(4), 1000, 1 << 30] {
                    assert_same_as_host(&w, (rows, cols), n, scheme, 11 + n as u64, &device);
                }
            }
        }
        assert!(
            probe::count(path) > before,
            "{kind}: the {path:?} path did not run"
        );
    });
}

/// Scales over the whole range of magnitudes and sample counts: the device rounds `S / N`
/// in integers, the host divides in `f64`.
#[test]
fn scales_round_as_the_host_divides() {
    for_each_backend(|_, device| {
        let (rows, cols) = (3, 4096);
        let h = CounterHash::from_seed(5);
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let c = i % cols;
                let exponent = (h.u32_at(c as u32) % 190) as i32 - 90;
                (1.0 + h.f32_at(i as u32 + 7919)) * 2f32.powi(exponent)
            })
            .collect();
        for n in [1, 3, 10, 255, 12_345, 99_999_989, i32::MAX as usize] {
            assert_same_as_host(&w, (rows, cols), n, Scheme::Systematic, 3, &device);
        }
    });
}

/// Scales at the ends of the normal `f32` range, where the rounding decides between a scale
/// and an error: `S / N` exactly halfway between `f32::MAX` and `2^128` (ties to even: an
/// overflow) or just below it (`f32::MAX`), and just below `2^-126`, where the host's subnormal
/// rounding goes up to `f32::MIN_POSITIVE` from `2^-126 − 2^-150` on. Each column alone, with
/// its only other weight in row 0 (the last non-zero) where it has one.
#[test]
fn scales_at_the_f32_limits_round_as_the_host() {
    let max = f32::MAX;
    let tiny = f32::MIN_POSITIVE;
    let largest_subnormal = f32::from_bits(0x007f_ffff);
    let cases: [([f32; 2], usize); 4] = [
        ([2f32.powi(103), max], 1),     // S = MAX + half an ulp: overflow
        ([2f32.powi(102), max], 1),     // rounds down to MAX
        ([tiny, largest_subnormal], 2), // S/N = 2^-126 − 2^-150: MIN_POSITIVE
        ([tiny, f32::from_bits(0x007f_fffe)], 2), // S/N = 2^-126 − 2^-149: underflow
    ];
    for_each_backend(|kind, device| {
        for (column, n) in cases {
            // Three rows: the two weights, then a zero.
            let w = vec![column[1], column[0], 0.0];
            let weight = Tensor::<2>::from_data(TensorData::new(w.clone(), [3, 1]), &device);
            let got = sample_columns(weight, n, Scheme::Systematic, 5);
            match column_counts(&w, 3, 1, n, Scheme::Systematic, 5) {
                Ok(expected) => {
                    got.check().unwrap();
                    let scale = floats(got.scales)[0];
                    let want = expected.summaries[0].scale;
                    assert_eq!(
                        scale.to_bits(),
                        want.to_bits(),
                        "{kind}: {column:?}, N = {n}"
                    );
                    assert_eq!(ints(got.counts), expected.q, "{kind}: {column:?}, N = {n}");
                }
                Err(expected) => assert_eq!(got.check().unwrap_err(), expected, "{kind}"),
            }
        }
    });
}

#[test]
fn refused_columns_report_the_host_error() {
    for_each_backend(|kind, device| {
        let (rows, cols) = (5, 4);
        let cases: [(usize, f32, usize, usize); 3] = [
            // (column, value, from row, samples)
            (2, f32::NAN, 2, 3),
            (1, f32::MAX, 0, 1),
            (3, 1e-45, 0, 1 << 20),
        ];
        for (column, value, from, n) in cases {
            let mut w = vec![0.5f32; rows * cols];
            for j in from..rows {
                w[j * cols + column] = value;
            }
            let expected = column_counts(&w, rows, cols, n, Scheme::Jittered, 1).unwrap_err();
            let weight = Tensor::<2>::from_data(TensorData::new(w, [rows, cols]), &device);
            let got = sample_columns(weight, n, Scheme::Jittered, 1)
                .check()
                .unwrap_err();
            match (&got, &expected) {
                (
                    SamplingError::NonFiniteWeight { index: a, .. },
                    SamplingError::NonFiniteWeight { index: b, .. },
                ) => assert_eq!(a, b, "{kind}"),
                _ => assert_eq!(got, expected, "{kind}"),
            }
        }
    });
}

#[test]
fn autodiff_devices_sample_the_values() {
    for_each_backend(|_, device| {
        let (rows, cols) = (40, 6);
        let w = weights(rows, cols, 2);
        assert_same_as_host(
            &w,
            (rows, cols),
            17,
            Scheme::Jittered,
            4,
            &device.autodiff(),
        );
    });
}

#[test]
fn bad_parameters_are_named() {
    let device = BackendKind::default_cpu().unwrap().device();
    let w = || Tensor::<2>::ones([3, 2], &device);
    let err = try_sample_columns(w(), 0, Scheme::Jittered, 0).unwrap_err();
    assert!(err.to_string().contains("samples"), "{err}");
    let err = try_sample_columns(w(), 4, Scheme::Iid, 0).unwrap_err();
    assert!(
        err.to_string().contains("scheme") && err.to_string().contains("Iid"),
        "{err}"
    );
    let empty = Tensor::<2>::zeros([0, 2], &device);
    let err = try_sample_columns(empty, 4, Scheme::Jittered, 0).unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
}

/// The kernel runs on the GPU (lavapipe has 64-bit integers and floats), never on the CPU
/// backends, which sample their host memory.
#[test]
fn the_kernel_runs_where_the_device_can() {
    for_each_backend(|kind, device| {
        assert_eq!(runs_column_kernel(&device), !kind.is_cpu(), "{kind}");
        assert_eq!(
            runs_column_kernel(&device.autodiff()),
            !kind.is_cpu(),
            "{kind}"
        );
    });
}
