//! Memory held between forward and backward: `PartitionDropout` keeps no mask (its backward
//! rebuilds it from the cycle's partition table), `burn::nn::Dropout` keeps its random mask.
//! One test in this binary, so the counting allocator sees nothing else.
#![cfg(feature = "flex")]

use burn::nn::DropoutConfig;
use burn::tensor::{Device, Tensor};
use mcnn_backends::memory::{CountingAllocator, retained_bytes};
use partition_dropout::PartitionDropoutConfig;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap bytes that `forward` leaves allocated while its output (and so its autodiff graph)
/// is alive.
fn held_by(forward: impl Fn(Tensor<2>) -> Tensor<2>, x: &Tensor<2>) -> usize {
    retained_bytes(|| forward(x.clone()))
}

#[test]
fn partition_dropout_holds_less_than_burn_dropout_between_forward_and_backward() {
    let device = Device::flex().autodiff();
    let x = Tensor::<2>::ones([256, 1024], &device)
        .autodiff()
        .require_grad();
    let activation = 256 * 1024 * 4;
    let partition = PartitionDropoutConfig::new(4).init();
    // The first step of a cycle: the output and the cycle's table (one byte per element),
    // which the cycle's other steps reuse.
    let ours = held_by(|x| partition.forward(x), &x);
    let burn = DropoutConfig::new(0.25).init();
    let theirs = held_by(|x| burn.forward(x), &x);
    eprintln!("held between forward and backward: partition {ours} B, burn Dropout {theirs} B");
    assert!(
        ours < activation + activation / 2,
        "partition dropout holds {ours} B"
    );
    assert!(
        theirs >= 2 * activation - activation / 4,
        "burn Dropout holds {theirs} B"
    );
    assert!(ours < theirs);
}
