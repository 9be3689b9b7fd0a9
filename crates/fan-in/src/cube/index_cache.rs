//! The transposed index of recently used indices tensors: a layer's indices are the same
//! tensor at every training step, so their transposed index is built once, not at every
//! backward pass.
//!
//! An entry is found by the device memory of its indices (cubecl's memory id, which no later
//! allocation reuses), their offsets, shape and dtype, and the input width. It holds a handle
//! of its indices, so that Burn never updates them in place (Burn writes in place only into
//! memory that nothing else holds): the memory of an entry always holds the indices it was
//! built from. Entries whose indices nothing else holds any more are dropped at the next
//! lookup; beyond that, the least recently used entry goes first.

use std::collections::VecDeque;
use std::sync::Mutex;

use burn::backend::TensorMetadata;
use burn_cubecl::tensor::CubeTensor;

use super::transposed_index;
use crate::probe::{self, Path};

/// Indices tensors remembered: a network's sparse layers, and then some.
const CAPACITY: usize = 64;

struct Entry {
    indices: CubeTensor,
    in_features: usize,
    offsets: CubeTensor,
    edges: CubeTensor,
}

static ENTRIES: Mutex<VecDeque<Entry>> = Mutex::new(VecDeque::new());

/// The transposed index of `indices` (contiguous) for `in_features` inputs: `offsets` and
/// the edge ids grouped by input, as [`transposed_index`] builds them, from the cache when
/// these indices were seen before.
pub(crate) fn cached_transposed_index(
    indices: &CubeTensor,
    in_features: usize,
) -> (CubeTensor, CubeTensor) {
    let mut entries = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    // An entry whose indices only the cache (and the memory pool) still hold can never be
    // looked up again: indices drawn anew at every step, contiguous copies. Free it now.
    entries.retain(|entry| !entry.indices.handle.can_mut());
    if let Some(at) = entries
        .iter()
        .position(|entry| entry.in_features == in_features && same_tensor(&entry.indices, indices))
    {
        let entry = entries.remove(at).expect("found");
        let index = (entry.offsets.clone(), entry.edges.clone());
        entries.push_front(entry);
        return index;
    }
    probe::hit(Path::CubeTransposedIndex);
    let (offsets, edges) = transposed_index(indices, in_features);
    entries.truncate(CAPACITY - 1);
    entries.push_front(Entry {
        indices: indices.clone(),
        in_features,
        offsets: offsets.clone(),
        edges: edges.clone(),
    });
    (offsets, edges)
}

/// Whether `a` and `b` are the same values: the same memory (by its id), the same part of it,
/// the same shape, strides and dtype.
fn same_tensor(a: &CubeTensor, b: &CubeTensor) -> bool {
    let memory_id = |t: &CubeTensor| t.handle.memory.clone().binding().id();
    a.handle.offset_start == b.handle.offset_start
        && a.handle.offset_end == b.handle.offset_end
        && a.dtype == b.dtype
        && a.shape() == b.shape()
        && a.meta.strides == b.meta.strides
        && memory_id(a) == memory_id(b)
}
