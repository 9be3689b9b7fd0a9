//! `PartitionDropout` where Burn's `Dropout` stood: one layer used at several places of a
//! model in the Burn book's style, records, empty inputs, and the rate mapping.

use burn::module::{Module, ModuleDisplay};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use mcnn_backends::{for_each_backend, host_device};
use partition_dropout::{Mode, PartitionDropout, PartitionDropoutConfig};

/// The shape of the Burn book's guide model: two convolutions and two linear layers, one
/// dropout applied after the second convolution, after each of the two and after the first
/// linear layer. `D` is the dropout (Burn's or ours).
#[derive(Module, Debug)]
struct BookModel<D: Module> {
    conv1: Conv2d,
    conv2: Conv2d,
    linear1: Linear,
    linear2: Linear,
    dropout: D,
    activation: Relu,
}

trait Drop: Module + ModuleDisplay {
    fn apply<const N: usize>(&self, x: Tensor<N>) -> Tensor<N>;
}

impl Drop for PartitionDropout {
    fn apply<const N: usize>(&self, x: Tensor<N>) -> Tensor<N> {
        self.forward(x)
    }
}

impl Drop for Dropout {
    fn apply<const N: usize>(&self, x: Tensor<N>) -> Tensor<N> {
        self.forward(x)
    }
}

impl<D: Drop> BookModel<D> {
    fn new(dropout: D, device: &Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([1, 4], [3, 3]).init(device),
            conv2: Conv2dConfig::new([4, 8], [3, 3]).init(device),
            linear1: LinearConfig::new(8 * 4 * 4, 16).init(device),
            linear2: LinearConfig::new(16, 10).init(device),
            dropout,
            activation: Relu::new(),
        }
    }

    /// `[batch, 1, 8, 8]` → `[batch, 10]`, dropout at three places of three shapes.
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.dropout.apply(self.conv1.forward(images)); // [b, 4, 6, 6]
        let x = self.dropout.apply(self.conv2.forward(x)); // [b, 8, 4, 4]
        let x = self.activation.forward(x).flatten::<2>(1, 3);
        let x = self.dropout.apply(self.linear1.forward(x)); // [b, 16]
        self.linear2.forward(self.activation.forward(x))
    }
}

/// One training step of the book model on random images: loss, backward, Adam.
fn train_step<D: Drop>(model: BookModel<D>, device: &Device) -> BookModel<D> {
    let mut optimizer = AdamConfig::new().init();
    let images = Tensor::<4>::random([3, 1, 8, 8], Distribution::Normal(0.0, 1.0), device);
    let loss = model.forward(images).powi_scalar(2).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optimizer.step(1e-3, model, grads)
}

fn values<const N: usize>(x: Tensor<N>) -> Vec<f32> {
    x.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn one_layer_at_three_places_counts_training_steps_not_calls() {
    let host = host_device();
    let ad = host.autodiff();
    let mut model = BookModel::new(PartitionDropoutConfig::new(4).with_seed(1).init(), &ad);
    for step in 1..=5 {
        model = train_step(model, &ad);
        assert_eq!(
            model.dropout.step.get(),
            step,
            "after {step} training steps"
        );
    }
    assert_eq!(
        model.dropout.call_sites(),
        vec![vec![4, 6, 6], vec![8, 4, 4], vec![16]]
    );
}

/// At each of the three places, over two cycles of `P` training steps, every element is
/// dropped exactly once per cycle (ones through the dropout in the model's order of calls, so
/// the masks are visible). Before call sites, the three places advanced one shared step
/// three times per training step and dropped elements 0, 1 or 2 times per cycle.
#[test]
fn every_place_drops_every_element_exactly_once_per_cycle() {
    for_each_backend(|kind, device| {
        let p = 4;
        let dropout = PartitionDropoutConfig::new(p).with_seed(3).init();
        let ad = device.autodiff();
        let shapes: [&[usize]; 3] = [&[2, 4, 6, 6], &[2, 8, 4, 4], &[2, 16]];
        let mut outputs: Vec<Vec<Vec<f32>>> = vec![Vec::new(); 3];
        for _ in 0..2 * p {
            for (place, shape) in shapes.iter().enumerate() {
                let y = match shape.len() {
                    4 => values(dropout.forward(Tensor::<4>::ones(
                        [shape[0], shape[1], shape[2], shape[3]],
                        &ad,
                    ))),
                    _ => values(dropout.forward(Tensor::<2>::ones([shape[0], shape[1]], &ad))),
                };
                outputs[place].push(y);
            }
        }
        for (place, ys) in outputs.iter().enumerate() {
            for (c, cycle) in ys.chunks(p).enumerate() {
                for e in 0..cycle[0].len() {
                    let zeros = cycle.iter().filter(|y| y[e] == 0.0).count();
                    assert_eq!(zeros, 1, "{kind}: place {place}, cycle {c}, element {e}");
                }
            }
        }
        assert_eq!(dropout.step.get(), 2 * p as u64, "{kind}");
    });
}

#[test]
fn a_saved_step_continues_at_every_place() {
    let host = host_device();
    let ad = host.autodiff();
    let dropout = PartitionDropoutConfig::new(3).with_seed(2).init();
    let run = |dropout: &PartitionDropout, steps: usize| -> Vec<Vec<f32>> {
        (0..steps)
            .flat_map(|_| {
                [
                    values(dropout.forward(Tensor::<2>::ones([2, 5], &ad))),
                    values(dropout.forward(Tensor::<2>::ones([2, 7], &ad))),
                ]
            })
            .collect()
    };
    run(&dropout, 4);
    let record = dropout.clone().into_record();
    let loaded = PartitionDropoutConfig::new(3)
        .with_seed(2)
        .init()
        .load_record(record);
    assert_eq!(loaded.step.get(), 4);
    assert_eq!(run(&loaded, 3), run(&dropout, 3));
}

#[test]
fn a_record_of_another_number_of_partitions_is_refused_at_load_time() {
    let record = PartitionDropoutConfig::new(4).init().into_record();
    let error = PartitionDropoutConfig::new(2)
        .init()
        .try_load_record(record)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("partitions: shape mismatch") && error.contains("[0, 4]"),
        "{error}"
    );
}

#[test]
fn a_checkpoint_with_burns_dropout_loads_with_allow_partial() {
    let host = host_device();
    let burn_model = BookModel::new(DropoutConfig::new(0.25).init(), &host);
    let expected = values(burn_model.linear2.weight.val());
    let record = burn_model.into_record();
    let ours = BookModel::new(PartitionDropoutConfig::new(4).init(), &host);
    // Without allow_partial Burn reports the dropout's own entries as missing.
    let error = ours
        .clone()
        .try_load_record(record.clone())
        .unwrap_err()
        .to_string();
    assert!(error.contains("dropout.step"), "{error}");
    let loaded = ours.load_record(record.allow_partial(true));
    assert_eq!(values(loaded.linear2.weight.val()), expected);
    assert_eq!(loaded.dropout.step.get(), 0);
}

#[test]
fn empty_inputs_come_back_empty_on_every_backend() {
    for_each_backend(|kind, device| {
        let ad = device.autodiff();
        let dropout = PartitionDropoutConfig::new(3).init();
        assert_eq!(
            dropout.forward(Tensor::<2>::ones([4, 0], &ad)).dims(),
            [4, 0],
            "{kind}"
        );
        assert_eq!(
            dropout.forward(Tensor::<4>::ones([4, 3, 0, 5], &ad)).dims(),
            [4, 3, 0, 5],
            "{kind}"
        );
        assert_eq!(
            dropout.forward(Tensor::<2>::ones([0, 6], &ad)).dims(),
            [0, 6],
            "{kind}"
        );
        assert_eq!(dropout.step.get(), 0, "{kind}: nothing was trained");
    });
}

#[test]
fn drop_rates_map_to_the_nearest_number_of_partitions() {
    let cases = [
        (0.5, 2, Mode::DropOne, 0.5),
        (0.25, 4, Mode::DropOne, 0.25),
        (0.3, 3, Mode::DropOne, 1.0 / 3.0),
        // 1/0.41 = 2.44 rounds to 2 (rate 0.5), but 1/3 is the nearer rate.
        (0.41, 3, Mode::DropOne, 1.0 / 3.0),
        (0.1, 10, Mode::DropOne, 0.1),
        (0.75, 4, Mode::KeepOne, 0.75),
        (0.9, 10, Mode::KeepOne, 0.9),
    ];
    for (prob, partitions, mode, rate) in cases {
        let (config, got) = PartitionDropoutConfig::from_drop_rate(prob).unwrap();
        assert_eq!(
            (config.partitions, config.mode),
            (partitions, mode),
            "{prob}"
        );
        assert!((got - rate).abs() < 1e-12, "{prob}: {got}");
    }
    for prob in [0.0, 1.0, -0.1, 1.5, f64::NAN, 1e-12] {
        let error = PartitionDropoutConfig::from_drop_rate(prob).unwrap_err();
        assert_eq!(error.parameter, "prob", "{prob}: {error}");
        assert!(error.allowed.contains("drop rate"), "{prob}: {error}");
    }
}
