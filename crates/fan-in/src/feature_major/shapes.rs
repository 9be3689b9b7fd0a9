//! The shapes each feature-major backend op takes, checked by every backend: the trait is
//! public, and a caller that skips the functions of [`feature_major`](super) would otherwise
//! have blocks cut short or read past their end.

use burn::tensor::Shape;

use super::LANES;

/// `[blocks, features]` of `what`, a feature-major tensor.
///
/// # Panics
/// Unless `shape` is `[blocks, features, LANES]`, naming `op` and `what`.
pub(crate) fn blocks(op: &str, what: &str, shape: &Shape) -> [usize; 2] {
    assert!(
        shape.num_dims() == 3 && shape[2] == LANES,
        "{op}: {what} of shape {:?}; feature-major tensors are [blocks, features, {LANES}]",
        shape.as_slice()
    );
    [shape[0], shape[1]]
}

/// `[out, k]` of the edges.
///
/// # Panics
/// Unless `weight` (where given) and `indices` are both `[out, k]`.
pub(crate) fn edges(op: &str, weight: Option<&Shape>, indices: &Shape) -> [usize; 2] {
    assert!(
        indices.num_dims() == 2 && weight.is_none_or(|weight| weight == indices),
        "{op}: weight of shape {:?} and indices of shape {:?}; both [d_output, k]",
        weight.map(Shape::as_slice),
        indices.as_slice()
    );
    [indices[0], indices[1]]
}

/// [`blocks`] of the activations `[blocks, features, LANES]` that `batch` samples fill.
///
/// # Panics
/// If `shape` is not `[⌈batch / LANES⌉, features, LANES]`.
pub(crate) fn of_batch(op: &str, shape: &Shape, batch: usize) -> [usize; 2] {
    let [blocks, features] = blocks(op, "input", shape);
    assert_eq!(
        blocks,
        batch.div_ceil(LANES),
        "{op}: {blocks} blocks of {LANES} samples for a batch of {batch}"
    );
    [blocks, features]
}

/// `[blocks, in_features, out, k]` of the weight gradient's operands.
///
/// # Panics
/// Unless `input` and `grad_output` have as many blocks and `grad_output` one feature per row
/// of `indices`.
pub(crate) fn weight_grad(input: &Shape, grad_output: &Shape, indices: &Shape) -> [usize; 4] {
    let op = "fan_in_feature_major (weight gradient)";
    let [blocks, in_features] = self::blocks(op, "input", input);
    let [dy_blocks, dy_features] = self::blocks(op, "grad_output", grad_output);
    let [out, k] = edges(op, None, indices);
    assert!(
        dy_blocks == blocks && dy_features == out,
        "{op}: grad_output of shape {:?} for input {:?} and indices {:?}: [{blocks}, {out}, \
         {LANES}] expected",
        grad_output.as_slice(),
        input.as_slice(),
        indices.as_slice()
    );
    [blocks, in_features, out, k]
}

/// `[blocks, out, k]` of the input gradient's operands.
///
/// # Panics
/// Unless `grad_output` has one feature per row of the edges.
pub(crate) fn input_grad(grad_output: &Shape, weight: &Shape, indices: &Shape) -> [usize; 3] {
    let op = "fan_in_feature_major (input gradient)";
    let [blocks, features] = blocks(op, "grad_output", grad_output);
    let [out, k] = edges(op, Some(weight), indices);
    assert_eq!(
        features,
        out,
        "{op}: grad_output of shape {:?} for {out} outputs",
        grad_output.as_slice()
    );
    [blocks, out, k]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panics(check: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let panic = std::panic::catch_unwind(check).unwrap_err();
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn good_shapes_pass() {
        assert_eq!(blocks("op", "x", &Shape::new([2, 5, LANES])), [2, 5]);
        assert_eq!(of_batch("op", &Shape::new([2, 5, LANES]), 65), [2, 5]);
        assert_eq!(of_batch("op", &Shape::new([0, 5, LANES]), 0), [0, 5]);
        let dims = weight_grad(
            &Shape::new([2, 5, LANES]),
            &Shape::new([2, 3, LANES]),
            &Shape::new([3, 4]),
        );
        assert_eq!(dims, [2, 5, 3, 4]);
        let shape = Shape::new([3, 4]);
        assert_eq!(
            input_grad(&Shape::new([2, 3, LANES]), &shape, &shape),
            [2, 3, 4]
        );
    }

    #[test]
    fn bad_shapes_are_named() {
        let message = panics(|| {
            blocks("op", "input", &Shape::new([2, 5, 32]));
        });
        assert!(message.contains("input of shape [2, 5, 32]"), "{message}");
        let message = panics(|| {
            of_batch("from_feature_major", &Shape::new([1, 5, LANES]), 100);
        });
        assert!(
            message.contains("1 blocks of 64 samples for a batch of 100"),
            "{message}"
        );
        let message = panics(|| {
            weight_grad(
                &Shape::new([2, 5, LANES]),
                &Shape::new([1, 3, LANES]),
                &Shape::new([3, 4]),
            );
        });
        assert!(message.contains("[2, 3, 64] expected"), "{message}");
        let message = panics(|| {
            input_grad(
                &Shape::new([2, 3, LANES]),
                &Shape::new([3, 5]),
                &Shape::new([3, 4]),
            );
        });
        assert!(message.contains("both [d_output, k]"), "{message}");
    }
}
