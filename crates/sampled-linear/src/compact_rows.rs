//! `CompactRows`: the sampled rows of a layer as its record holds them (one packed stream, see
//! [`packed`](crate::packed)), and the tensors its forward computes with, made from the stream
//! once per device.

use std::sync::{Arc, Mutex};

use burn::module::{Module, Param, ParamId};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use mcnn_backends::RecordedSize;

use crate::packed::{PackedLayout, SparseRows, pack, unpack};

/// The non-zero signed counts of a layer's rows (output neurons or filters) and their columns,
/// recorded as one packed stream of bits ([`PackedLayout`]): a sign bit and `|q| − 1` per count,
/// the columns as a bitmap, fixed-width indices or Rice-coded gaps, whichever is smallest.
///
/// `d_input` and the number of non-zeros are recorded too ([`RecordedSize`]), so a record of
/// another layer is refused at load time. The stream itself is checked field by field when it
/// is first read ([`check`](Self::check) after a load; otherwise the first forward panics
/// naming what is wrong): never an index out of range in a kernel.
///
/// The forward reads tensors made from the stream: the padded `[rows, k]` indices and counts
/// of the fan-in op, or the dense counts. They are made on first use per device and kept
/// (shared by clones) until a load replaces the stream.
#[derive(Module, Debug)]
pub struct CompactRows {
    /// The packed stream: its 32-bit words, stored as `i32`.
    pub packed: Param<Tensor<1, Int>>,
    /// Columns per row (recorded, checked at load time).
    pub d_input: RecordedSize,
    /// Non-zeros in all rows (recorded, checked at load time).
    pub nonzeros: RecordedSize,
    /// The layout of the stream: configuration, like Burn's layer constants.
    #[module(skip)]
    pub layout: PackedLayout,
    #[module(skip)]
    cache: Arc<Mutex<Cache>>,
}

/// What the stream was read into, for the stream of id `id`.
#[derive(Debug, Default)]
struct Cache {
    id: Option<ParamId>,
    /// Set by `empty`: the stream of this id is a placeholder awaiting a record.
    placeholder: Option<ParamId>,
    rows: Option<Arc<SparseRows>>,
    tensors: Vec<(Key, Forms)>,
}

#[derive(Debug, Clone, PartialEq)]
struct Key {
    device: Device,
    autodiff: bool,
    form: Form,
}

/// The tensors a forward computes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `[rows, k]` indices and counts for the fan-in op, padded with count 0 at the row's
    /// first column (its `offset`).
    Padded,
    /// The dense counts, `[rows, d_input]` (row-major, output-major).
    Dense,
    /// The dense counts transposed, `[d_input, rows]` (Burn's `Linear` layout).
    DenseTransposed,
}

/// The tensors of one form: the padded indices (none for the dense forms) and the counts.
type Forms = (Option<Tensor<2, Int>>, Tensor<2>);

impl CompactRows {
    /// Packs `rows` (of `d_input` columns each) on `device`.
    pub fn new(rows: SparseRows, d_input: usize, device: &Device) -> Self {
        let (layout, words) = pack(&rows, d_input);
        let packed = Param::initialized(ParamId::new(), words_tensor(&words, device));
        let cache = Cache {
            id: Some(packed.id),
            rows: Some(Arc::new(rows)),
            ..Cache::default()
        };
        Self {
            packed,
            d_input: RecordedSize::new(d_input),
            nonzeros: RecordedSize::new(layout.nonzeros),
            layout,
            cache: Arc::new(Mutex::new(cache)),
        }
    }

    /// An empty stream of `layout`'s shape on `device`, awaiting a record (every read before
    /// a load panics, saying so).
    ///
    /// # Panics
    /// If the layout is out of range ([`PackedLayout::check`]), naming the field.
    pub fn empty(layout: PackedLayout, device: &Device) -> Self {
        if let Err(error) = layout.check() {
            panic!("a sampled layer's packed layout is out of range: {error}");
        }
        let words = vec![0u32; layout.words()];
        let packed = Param::initialized(ParamId::new(), words_tensor(&words, device));
        let cache = Cache {
            placeholder: Some(packed.id),
            ..Cache::default()
        };
        Self {
            packed,
            d_input: RecordedSize::new(layout.d_input),
            nonzeros: RecordedSize::new(layout.nonzeros),
            layout,
            cache: Arc::new(Mutex::new(cache)),
        }
    }

    /// The rows, read from the stream on first use (and after a load).
    ///
    /// # Panics
    /// If the layer awaits a record, or the record does not read back as its layout says
    /// (naming what is wrong).
    pub fn rows(&self) -> Arc<SparseRows> {
        let mut cache = self.lock();
        self.refresh(&mut cache);
        cache.rows.clone().expect("refreshed")
    }

    /// Reads the stream now (if a load replaced it) and checks it against the layout: what
    /// the first forward would otherwise do, as an error.
    ///
    /// # Errors
    /// The layer awaits its record, or the record does not read back as its layout says.
    pub fn check(&self) -> Result<(), String> {
        self.try_refresh(&mut self.lock())
    }

    /// The longest row's number of non-zeros: the `k` of the padded form (at least 1).
    pub fn widest(&self) -> usize {
        self.rows().widest().max(1)
    }

    /// The tensors of `form` on `device`, made once per device (see [`Form`]). `offset(o)` is
    /// added to the columns of row `o` in the padded form (a grouped convolution's filters
    /// read their group's features); it must not change between calls.
    ///
    /// # Panics
    /// As [`rows`](Self::rows).
    pub fn tensors(
        &self,
        form: Form,
        device: &Device,
        offset: impl Fn(usize) -> usize,
    ) -> (Option<Tensor<2, Int>>, Tensor<2>) {
        let mut cache = self.lock();
        self.refresh(&mut cache);
        let key = Key {
            device: device.clone(),
            autodiff: device.is_autodiff(),
            form,
        };
        match cache.tensors.iter().find(|(k, _)| *k == key) {
            Some((_, forms)) => forms.clone(),
            None => {
                let rows = cache.rows.clone().expect("refreshed");
                let forms = self.make(&rows, form, device, offset);
                cache.tensors.push((key, forms.clone()));
                forms
            }
        }
    }

    /// The cache; a panic while it was held (a record that does not read back) left it as it
    /// was, so a poisoned lock is taken as is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the stream again if a load replaced it since it was last read.
    ///
    /// # Panics
    /// As [`try_refresh`](Self::try_refresh) errs: on the forward path a bad record is a bug
    /// of the caller, as in Burn's layers.
    fn refresh(&self, cache: &mut Cache) {
        if let Err(message) = self.try_refresh(cache) {
            panic!("{message}");
        }
    }

    /// [`refresh`](Self::refresh), with the layer awaiting its record or a record that does
    /// not read back as an error.
    fn try_refresh(&self, cache: &mut Cache) -> Result<(), String> {
        if cache.id == Some(self.packed.id) && cache.rows.is_some() {
            return Ok(());
        }
        if cache.placeholder == Some(self.packed.id) {
            return Err(format!(
                "a compact sampled layer built from its configuration ({} rows of {} inputs, \
                 {} non-zeros) holds no weights yet: load its record first",
                self.layout.d_output, self.layout.d_input, self.layout.nonzeros
            ));
        }
        let words: Vec<u32> = mcnn_backends::host_ints(self.packed.val())
            .into_iter()
            .map(|w| w as u32)
            .collect();
        let rows = unpack(&self.layout, &words).map_err(|error| {
            format!(
                "a compact sampled layer's record does not match its configuration ({} rows of \
                 {} inputs, {} non-zeros, {} bits): {error}; load the record saved with this \
                 configuration",
                self.layout.d_output, self.layout.d_input, self.layout.nonzeros, self.layout.bits
            )
        })?;
        *cache = Cache {
            id: Some(self.packed.id),
            placeholder: cache.placeholder,
            rows: Some(Arc::new(rows)),
            tensors: Vec::new(),
        };
        Ok(())
    }

    fn make(
        &self,
        rows: &SparseRows,
        form: Form,
        device: &Device,
        offset: impl Fn(usize) -> usize,
    ) -> Forms {
        let (d_output, d_input) = (rows.rows(), self.layout.d_input);
        match form {
            Form::Padded => {
                let k = rows.widest().max(1);
                let mut indices = vec![0i64; d_output * k];
                let mut counts = vec![0f32; d_output * k];
                for o in 0..d_output {
                    let shift = offset(o) as i64;
                    // Padding slots (count 0) read the row's own first column: a row's
                    // output never reads features outside its range (another group's).
                    indices[o * k..(o + 1) * k].fill(shift);
                    for (slot, at) in (rows.starts[o]..rows.starts[o + 1]).enumerate() {
                        indices[o * k + slot] = rows.columns[at] as i64 + shift;
                        counts[o * k + slot] = rows.q[at] as f32;
                    }
                }
                (
                    Some(Tensor::from_data(
                        TensorData::new(indices, [d_output, k]),
                        device,
                    )),
                    Tensor::from_data(TensorData::new(counts, [d_output, k]), device),
                )
            }
            Form::Dense | Form::DenseTransposed => {
                let transposed = form == Form::DenseTransposed;
                let mut dense = vec![0f32; d_output * d_input];
                for o in 0..d_output {
                    for at in rows.starts[o]..rows.starts[o + 1] {
                        let j = rows.columns[at] as usize;
                        let position = match transposed {
                            true => j * d_output + o,
                            false => o * d_input + j,
                        };
                        dense[position] = rows.q[at] as f32;
                    }
                }
                let shape = match transposed {
                    true => [d_input, d_output],
                    false => [d_output, d_input],
                };
                (
                    None,
                    Tensor::from_data(TensorData::new(dense, shape), device),
                )
            }
        }
    }

    /// Bytes of the packed stream (what the record adds to the scales and the bias).
    pub fn stored_bytes(&self) -> usize {
        self.layout.words() * 4
    }
}

/// The stream's words as an `i32` tensor (the dtype every backend stores).
fn words_tensor(words: &[u32], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i32> = words.iter().map(|&w| w as i32).collect();
    Tensor::from_data(TensorData::new(values, [words.len()]), (device, DType::I32))
}

#[cfg(all(test, any(feature = "flex", feature = "ndarray")))]
mod tests {
    use super::*;
    use mcnn_backends::host_device;

    fn rows() -> (SparseRows, usize) {
        // [[0, 2, 0, -1], [0, 0, 0, 0], [1, 0, 0, 0]]
        let q = [0, 2, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0];
        (SparseRows::from_dense(&q, 3, 4), 4)
    }

    #[test]
    fn forms_by_hand() {
        let device = host_device();
        let (sparse, d_input) = rows();
        let compact = CompactRows::new(sparse, d_input, &device);
        let (indices, counts) = compact.tensors(Form::Padded, &device, |o| o * 10);
        let ints = indices
            .unwrap()
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap();
        // Padding slots (count 0) read the row's first column, shifted as the row is.
        assert_eq!(ints, vec![1, 3, 10, 10, 20, 20]);
        let floats = counts.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(floats, vec![2.0, -1.0, 0.0, 0.0, 1.0, 0.0]);
        let (_, dense) = compact.tensors(Form::DenseTransposed, &device, |_| 0);
        assert_eq!(dense.dims(), [4, 3]);
        let floats = dense.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(
            floats,
            vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0]
        );
    }

    #[test]
    fn a_placeholder_says_it_awaits_its_record_and_a_loaded_one_reads_back() {
        let device = host_device();
        let (sparse, d_input) = rows();
        let compact = CompactRows::new(sparse.clone(), d_input, &device);
        let empty = CompactRows::empty(compact.layout.clone(), &device);
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| empty.rows())).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("load its record first"), "{message}");
        let loaded = empty.load_record(compact.into_record());
        assert_eq!(*loaded.rows(), sparse);
    }
}
