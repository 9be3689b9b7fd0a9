//! The compact storage of sampled rows: the non-zero signed counts of every row (an output
//! neuron, or a filter) and their columns, packed into one stream of bits.
//!
//! A layer after Monte Carlo quantization is sparse and its counts are small: most are ±1
//! at the usual amounts. The stream holds, in order:
//!
//! 1. the length of every row, `length_bits` each (none with the bitmap, where they follow
//!    from it);
//! 2. the columns, in the [`ColumnCoding`] that takes the fewest bits for this layer: a
//!    bitmap of `d_input` bits per row (dense rows), fixed-width indices (very sparse rows of
//!    few inputs), or the gaps between consecutive columns, Rice-coded (everything between:
//!    near the entropy of random positions);
//! 3. the counts, `value_bits` each: a sign bit and `|q| − 1` (a stored count is never 0), so
//!    ternary weights take one bit.
//!
//! [`PackedLayout`] describes a stream (and is all a layer's configuration needs to rebuild
//! an empty layer of the right record shapes); [`pack`] makes one, [`unpack`] reads one back
//! and checks every field, so a corrupted record is an error, never an index out of range.

use burn::config::Config;

/// How the columns of the non-zeros are stored.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ColumnCoding {
    /// A bitmap of `d_input` bits per row (1: non-zero): for dense rows.
    Bitmap,
    /// Every column index in `bits` bits.
    Indices {
        /// Bits per index: those of `d_input − 1`.
        bits: u32,
    },
    /// The gap before every column (`column − previous − 1`, the first from −1),
    /// Rice-coded: `gap >> r` in unary (ones ended by a zero), then the `r` low bits.
    Rice {
        /// The Rice parameter `r`.
        r: u32,
    },
}

/// The shape of a packed stream: what a layer's record holds, and what reading it needs.
#[derive(Config, Debug, PartialEq, Eq)]
pub struct PackedLayout {
    /// Columns of a row (inputs of a neuron, taps of a filter).
    pub d_input: usize,
    /// Rows (output neurons, filters).
    pub d_output: usize,
    /// Non-zero counts in all rows.
    pub nonzeros: usize,
    /// Bits per count: a sign bit and `|q| − 1` (0 when there are no non-zeros).
    pub value_bits: u32,
    /// Bits per row length (0 with [`ColumnCoding::Bitmap`]).
    pub length_bits: u32,
    /// How the columns are stored.
    pub columns: ColumnCoding,
    /// Bits of the whole stream.
    pub bits: u64,
}

impl PackedLayout {
    /// 32-bit words of the stream: the length of the record's packed tensor.
    pub fn words(&self) -> usize {
        self.bits.div_ceil(32) as usize
    }

    /// Bits per non-zero weight, columns and lengths included (0 without non-zeros).
    pub fn bits_per_nonzero(&self) -> f64 {
        match self.nonzeros {
            0 => 0.0,
            n => self.bits as f64 / n as f64,
        }
    }

    /// Checks the layout on its own, before any stream is read or allocated: at least one row
    /// and one column, at most `d_input · d_output` non-zeros, value bits for them (at most
    /// 32), the coding's parameter as [`layout`] chooses it (index bits of `d_input − 1`, a
    /// Rice parameter below 32, row lengths in at most the bits of `d_input`), and `bits`
    /// what these imply (exactly for the bitmap and the indices; for Rice codes, within the
    /// shortest and longest codes the reader accepts).
    ///
    /// # Errors
    /// A message naming the field, its value and what is allowed.
    pub fn check(&self) -> Result<(), String> {
        let (d_input, d_output, nonzeros) = (self.d_input, self.d_output, self.nonzeros);
        if d_input == 0 || d_output == 0 || d_input > u32::MAX as usize {
            return Err(format!(
                "d_input = {d_input}, d_output = {d_output}: both at least 1, d_input at most \
                 2^32 − 1"
            ));
        }
        let cells = d_input as u128 * d_output as u128;
        if nonzeros as u128 > cells {
            return Err(format!(
                "nonzeros = {nonzeros}: at most d_input · d_output = {cells}"
            ));
        }
        if self.value_bits > 32 || (self.value_bits == 0) != (nonzeros == 0) {
            return Err(format!(
                "value_bits = {} for {nonzeros} non-zeros: 1 to 32 with non-zeros, else 0",
                self.value_bits
            ));
        }
        let length_limit = match self.columns {
            ColumnCoding::Bitmap => 0,
            _ => bits_for(d_input as u64),
        };
        if self.length_bits > length_limit {
            return Err(format!(
                "length_bits = {} with {:?}: at most {length_limit}",
                self.length_bits, self.columns
            ));
        }
        let (n, lengths) = (
            nonzeros as u128,
            d_output as u128 * self.length_bits as u128,
        );
        let values = n * self.value_bits as u128;
        let (fewest, most) = match self.columns {
            ColumnCoding::Bitmap => (cells + values, cells + values),
            ColumnCoding::Indices { bits } => {
                let index_bits = bits_for(d_input as u64 - 1);
                if bits != index_bits {
                    return Err(format!(
                        "Indices {{ bits: {bits} }} for d_input = {d_input}: {index_bits}, the \
                         bits of d_input − 1"
                    ));
                }
                let exact = lengths + n * bits as u128 + values;
                (exact, exact)
            }
            ColumnCoding::Rice { r } => {
                if r >= 32 {
                    return Err(format!("Rice {{ r: {r} }}: below 32"));
                }
                // A gap's code: at most 63 ones, a zero, then r bits.
                let per_gap = |ones: u128| lengths + n * (ones + 1 + r as u128) + values;
                (per_gap(0), per_gap(63))
            }
        };
        if !(fewest..=most).contains(&(self.bits as u128)) {
            return Err(format!(
                "bits = {}: the other fields imply {fewest} to {most}",
                self.bits
            ));
        }
        Ok(())
    }

    /// The largest `|q|` the value bits hold: `2^(value_bits − 1)`.
    pub fn max_abs_q(&self) -> u64 {
        match self.value_bits {
            0 => 0,
            b => 1 << (b - 1),
        }
    }
}

/// Rows in compressed sparse row form: row `o` holds the columns
/// `columns[starts[o]..starts[o + 1]]` (strictly increasing) with counts `q[..]` (never 0).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SparseRows {
    /// Where every row starts in `columns` and `q`, and the end: `d_output + 1` entries.
    pub starts: Vec<usize>,
    /// The column of every non-zero.
    pub columns: Vec<u32>,
    /// The signed count of every non-zero.
    pub q: Vec<i32>,
}

impl SparseRows {
    /// The non-zeros of dense row-major counts `[d_output, d_input]`.
    ///
    /// # Panics
    /// If `q.len() != d_output · d_input`, or `d_input` is above `u32::MAX`.
    pub fn from_dense(q: &[i32], d_output: usize, d_input: usize) -> Self {
        use rayon::prelude::*;
        assert_eq!(q.len(), d_output * d_input, "SparseRows: shape");
        assert!(
            d_input <= u32::MAX as usize,
            "SparseRows: d_input above u32"
        );
        if d_input == 0 {
            return Self {
                starts: vec![0; d_output + 1],
                ..Self::default()
            };
        }
        let lengths: Vec<usize> = q
            .par_chunks(d_input)
            .map(|row| row.iter().filter(|&&v| v != 0).count())
            .collect();
        let mut starts = Vec::with_capacity(d_output + 1);
        starts.push(0);
        for length in &lengths {
            starts.push(starts.last().expect("one start") + length);
        }
        let nonzeros = starts[d_output];
        let mut columns = vec![0u32; nonzeros];
        let mut values = vec![0i32; nonzeros];
        // Rows in parallel, each into its own slices.
        let mut column_rows = Vec::with_capacity(d_output);
        let mut value_rows = Vec::with_capacity(d_output);
        let (mut column_rest, mut value_rest) = (&mut columns[..], &mut values[..]);
        for &length in &lengths {
            let (c, rest) = column_rest.split_at_mut(length);
            let (v, vrest) = value_rest.split_at_mut(length);
            column_rows.push(c);
            value_rows.push(v);
            (column_rest, value_rest) = (rest, vrest);
        }
        q.par_chunks(d_input)
            .zip(column_rows.into_par_iter().zip(value_rows))
            .for_each(|(row, (columns, values))| {
                // Branch-free on the counts (random signs and zeros defeat a predictor): each
                // entry is written at the cursor, which moves on past non-zeros only; a zero
                // after the row's last non-zero falls off the end.
                let mut at = 0;
                for (j, &v) in row.iter().enumerate() {
                    if let (Some(c), Some(q)) = (columns.get_mut(at), values.get_mut(at)) {
                        (*c, *q) = (j as u32, v);
                    }
                    at += (v != 0) as usize;
                }
            });
        Self {
            starts,
            columns,
            q: values,
        }
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// The longest row's number of non-zeros.
    pub fn widest(&self) -> usize {
        self.starts
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }

    /// The counts as a dense output-major matrix `[rows, d_input]` (a row per neuron, unlike
    /// Burn's `[d_input, d_output]` weight, which `dense_weight` of the layers returns).
    pub fn dense_counts(&self, d_input: usize) -> Vec<i32> {
        let mut dense = vec![0; self.rows() * d_input];
        for o in 0..self.rows() {
            for at in self.starts[o]..self.starts[o + 1] {
                dense[o * d_input + self.columns[at] as usize] = self.q[at];
            }
        }
        dense
    }
}

/// Bits that hold every value in `0..=x`: 0 for 0, 1 for 1, 2 for 2 and 3, …
pub fn bits_for(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// The layout [`pack`] gives `rows` (of `d_input` columns each): the smallest of the three
/// column codings, without writing the stream.
pub fn layout(rows: &SparseRows, d_input: usize) -> PackedLayout {
    let d_output = rows.rows();
    let nonzeros = rows.q.len();
    let max_abs_q = rows
        .q
        .iter()
        .map(|q| q.unsigned_abs() as u64)
        .max()
        .unwrap_or(0);
    let value_bits = match max_abs_q {
        0 => 0,
        m => 1 + bits_for(m - 1),
    };
    let length_bits = bits_for(rows.widest() as u64);
    let index_bits = bits_for(d_input.saturating_sub(1) as u64);
    let lengths = d_output as u64 * length_bits as u64;
    let candidates = [
        (ColumnCoding::Bitmap, (d_output * d_input) as u64),
        (
            ColumnCoding::Indices { bits: index_bits },
            lengths + nonzeros as u64 * index_bits as u64,
        ),
        best_rice(rows).map_or((ColumnCoding::Bitmap, u64::MAX), |(r, bits)| {
            (ColumnCoding::Rice { r }, lengths + bits)
        }),
    ];
    let (columns, column_bits) = candidates
        .into_iter()
        .min_by_key(|&(_, bits)| bits)
        .expect("three candidates");
    PackedLayout {
        d_input,
        d_output,
        nonzeros,
        value_bits,
        length_bits: if columns == ColumnCoding::Bitmap {
            0
        } else {
            length_bits
        },
        columns,
        bits: column_bits + nonzeros as u64 * value_bits as u64,
    }
}

/// Packs `rows` (of `d_input` columns each) as [`layout`] says; returns the layout and the
/// stream as 32-bit words.
///
/// # Panics
/// If a column is not below `d_input` or a row's columns do not increase (a caller's bug:
/// [`SparseRows::from_dense`] makes valid rows).
pub fn pack(rows: &SparseRows, d_input: usize) -> (PackedLayout, Vec<u32>) {
    let layout = layout(rows, d_input);
    let (d_output, columns, value_bits) = (layout.d_output, layout.columns, layout.value_bits);
    let length_bits = layout.length_bits;
    let mut writer = BitWriter::default();
    let mut bitmap: Vec<u64> = Vec::new();
    if columns != ColumnCoding::Bitmap {
        for o in 0..d_output {
            writer.put((rows.starts[o + 1] - rows.starts[o]) as u64, length_bits);
        }
    }
    for o in 0..d_output {
        let row = &rows.columns[rows.starts[o]..rows.starts[o + 1]];
        assert!(
            row.windows(2).all(|w| w[0] < w[1]) && row.iter().all(|&j| (j as usize) < d_input),
            "pack: row {o} has columns out of order or range"
        );
        match columns {
            ColumnCoding::Bitmap => {
                // The row's bits 64 at a time.
                bitmap.clear();
                bitmap.resize(d_input.div_ceil(64), 0);
                for &j in row {
                    bitmap[j as usize / 64] |= 1 << (j % 64);
                }
                for (w, &word) in bitmap.iter().enumerate() {
                    writer.put(word, (d_input - 64 * w).min(64) as u32);
                }
            }
            ColumnCoding::Indices { bits } => row.iter().for_each(|&j| writer.put(j as u64, bits)),
            ColumnCoding::Rice { r } => gaps(row).for_each(|gap| writer.put_rice(gap, r)),
        }
    }
    for &q in &rows.q {
        let sign = (q < 0) as u64;
        writer.put(
            sign << (value_bits - 1) | (q.unsigned_abs() as u64 - 1),
            value_bits,
        );
    }
    let words = writer.finish();
    debug_assert_eq!(words.len(), layout.words());
    (layout, words)
}

/// The gaps before the columns of one row.
fn gaps(row: &[u32]) -> impl Iterator<Item = u64> + '_ {
    row.iter().scan(-1i64, |previous, &j| {
        let gap = j as i64 - *previous - 1;
        *previous = j as i64;
        Some(gap as u64)
    })
}

/// The Rice parameter that codes the gaps of all rows in the fewest bits, and those bits:
/// the exact count for every parameter from one histogram of the gaps; `None` without
/// non-zeros, or when each parameter needs a run of more than 63 ones for some gap.
fn best_rice(rows: &SparseRows) -> Option<(u32, u64)> {
    if rows.q.is_empty() {
        return None;
    }
    // Gaps below 2^16 by value; the (rare) larger ones listed.
    let mut histogram = vec![0u64; 1 << 16];
    let mut large = Vec::new();
    for o in 0..rows.rows() {
        for gap in gaps(&rows.columns[rows.starts[o]..rows.starts[o + 1]]) {
            match histogram.get_mut(gap as usize) {
                Some(count) => *count += 1,
                None => large.push(gap),
            }
        }
    }
    let n = rows.q.len() as u64;
    (0..32u32)
        .filter(|&r| {
            let longest = large
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
                .max(histogram.iter().rposition(|&c| c > 0).unwrap_or(0) as u64);
            longest >> r <= 63
        })
        .map(|r| {
            let unary: u64 = histogram
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(gap, c)| c * ((gap as u64) >> r))
                .sum::<u64>()
                + large.iter().map(|gap| gap >> r).sum::<u64>();
            (r, unary + n * (1 + r as u64))
        })
        .min_by_key(|&(_, bits)| bits)
}

/// Why a stream does not read back as its layout says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackError(pub String);

impl std::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a stream back, checking it against `layout` as it goes: the words, every row length,
/// every column (in range, increasing), the number of non-zeros, the counts (non-zero, within
/// `i32`) and the exact number of bits.
///
/// # Errors
/// What does not match, with where.
pub fn unpack(layout: &PackedLayout, words: &[u32]) -> Result<SparseRows, UnpackError> {
    let fail = |what: String| Err(UnpackError(what));
    if let Err(error) = layout.check() {
        return fail(format!("a layout out of range ({error}): {layout:?}"));
    }
    if words.len() != layout.words() {
        return fail(format!(
            "{} words of packed rows, the layout needs {}",
            words.len(),
            layout.words()
        ));
    }
    let mut reader = BitReader::new(words, layout.bits);
    let truncated = || UnpackError(format!("the stream ends before its {} bits", layout.bits));
    let d_input = layout.d_input;
    let mut rows = SparseRows {
        starts: Vec::with_capacity(layout.d_output + 1),
        columns: Vec::with_capacity(layout.nonzeros.min(words.len() * 32)),
        q: Vec::new(),
    };
    let mut lengths = Vec::with_capacity(layout.d_output);
    if layout.columns != ColumnCoding::Bitmap {
        for o in 0..layout.d_output {
            let length = reader.get(layout.length_bits).ok_or_else(truncated)?;
            if length > d_input as u64 {
                return fail(format!(
                    "row {o} holds {length} non-zeros of {d_input} inputs"
                ));
            }
            lengths.push(length as usize);
        }
    }
    if layout.columns == ColumnCoding::Bitmap {
        // The bitmap holds the lengths.
        lengths.resize(layout.d_output, 0);
    }
    rows.starts.push(0);
    for (o, &length) in lengths.iter().enumerate() {
        match layout.columns {
            ColumnCoding::Bitmap => {
                for j in 0..d_input as u32 {
                    if reader.get(1).ok_or_else(truncated)? == 1 {
                        rows.columns.push(j);
                    }
                }
            }
            ColumnCoding::Indices { bits } => {
                for _ in 0..length {
                    rows.columns
                        .push(reader.get(bits).ok_or_else(truncated)? as u32);
                }
            }
            ColumnCoding::Rice { r } => {
                let mut next = 0u64;
                for _ in 0..length {
                    let gap = reader.get_rice(r).ok_or_else(truncated)?;
                    rows.columns
                        .push(next.saturating_add(gap).min(u32::MAX as u64) as u32);
                    next = next.saturating_add(gap).saturating_add(1);
                }
            }
        }
        let row = &rows.columns[rows.starts[o]..];
        if let Some(&j) = row.iter().find(|&&j| j as usize >= d_input) {
            return fail(format!("row {o} reads input {j} of {d_input}"));
        }
        if row.windows(2).any(|w| w[0] >= w[1]) {
            return fail(format!("row {o} lists its inputs out of order"));
        }
        if rows.columns.len() > layout.nonzeros {
            return fail(format!(
                "more non-zeros than the layout's {}",
                layout.nonzeros
            ));
        }
        rows.starts.push(rows.columns.len());
    }
    if rows.columns.len() != layout.nonzeros {
        return fail(format!(
            "{} non-zeros, the layout says {}",
            rows.columns.len(),
            layout.nonzeros
        ));
    }
    let b = layout.value_bits;
    rows.q.reserve(layout.nonzeros);
    for at in 0..layout.nonzeros {
        let code = reader.get(b).ok_or_else(truncated)?;
        let magnitude = (code & ((1u64 << (b - 1)) - 1)) + 1;
        let negative = code >> (b - 1) == 1;
        // i32 holds −2^31 but not +2^31.
        let q = match (negative, i32::try_from(magnitude)) {
            (false, Ok(q)) => q,
            (true, _) if magnitude <= 1 << 31 => (-(magnitude as i64)) as i32,
            _ => return fail(format!("count {at} is {magnitude}, beyond i32")),
        };
        rows.q.push(q);
    }
    if reader.position != layout.bits {
        return fail(format!(
            "the rows end at bit {}, the layout says {}",
            reader.position, layout.bits
        ));
    }
    Ok(rows)
}

/// Writes values of up to 64 bits, least significant bit first, into 32-bit words.
#[derive(Default)]
struct BitWriter {
    words: Vec<u32>,
    buffer: u64,
    filled: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, bits: u32) {
        if bits == 0 {
            return;
        }
        if bits > 32 {
            self.put(value & 0xffff_ffff, 32);
            self.put(value >> 32, bits - 32);
            return;
        }
        self.buffer |= (value & ((1u64 << bits) - 1)) << self.filled;
        self.filled += bits;
        if self.filled >= 32 {
            self.words.push(self.buffer as u32);
            self.buffer >>= 32;
            self.filled -= 32;
        }
    }

    fn put_rice(&mut self, value: u64, r: u32) {
        for _ in 0..value >> r {
            self.put(1, 1);
        }
        self.put(0, 1);
        self.put(value, r);
    }

    fn finish(mut self) -> Vec<u32> {
        if self.filled > 0 {
            self.words.push(self.buffer as u32);
        }
        self.words
    }
}

/// Reads what [`BitWriter`] wrote, never past `end` bits.
struct BitReader<'a> {
    words: &'a [u32],
    end: u64,
    position: u64,
}

impl<'a> BitReader<'a> {
    fn new(words: &'a [u32], end: u64) -> Self {
        Self {
            words,
            end: end.min(words.len() as u64 * 32),
            position: 0,
        }
    }

    fn get(&mut self, bits: u32) -> Option<u64> {
        if bits == 0 {
            return Some(0);
        }
        if bits > 32 {
            let low = self.get(32)?;
            return Some(low | self.get(bits - 32)? << 32);
        }
        if self.position + bits as u64 > self.end {
            return None;
        }
        let word = (self.position / 32) as usize;
        let offset = (self.position % 32) as u32;
        let mut value = (self.words[word] as u64) >> offset;
        if offset + bits > 32 {
            value |= (self.words[word + 1] as u64) << (32 - offset);
        }
        self.position += bits as u64;
        Some(value & ((1u64 << bits) - 1))
    }

    fn get_rice(&mut self, r: u32) -> Option<u64> {
        let mut unary = 0u64;
        while self.get(1)? == 1 {
            unary += 1;
            if unary > 63 {
                return None;
            }
        }
        Some(unary << r | self.get(r)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of a given density with counts up to `max_q`, from a small LCG.
    fn rows(d_output: usize, d_input: usize, density: f64, max_q: i32, seed: u64) -> Vec<i32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        (0..d_output * d_input)
            .map(|_| {
                if next() < density {
                    let magnitude = 1 + (next() * max_q as f64) as i32 % max_q;
                    if next() < 0.5 { -magnitude } else { magnitude }
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_at_every_density_and_picks_the_fewest_bits() {
        for (d_output, d_input) in [(1, 1), (3, 1), (5, 7), (30, 784), (4, 70_000)] {
            for density in [0.0, 0.001, 0.02, 0.11, 0.45, 1.0] {
                for max_q in [1, 2, 3, 7, 1000] {
                    let dense = rows(d_output, d_input, density, max_q, 7);
                    let sparse = SparseRows::from_dense(&dense, d_output, d_input);
                    let (layout, words) = pack(&sparse, d_input);
                    let back = unpack(&layout, &words).unwrap();
                    assert_eq!(back, sparse, "{d_output}×{d_input} at {density}, ±{max_q}");
                    assert_eq!(back.dense_counts(d_input), dense);
                    assert_eq!(layout.words(), words.len());
                    layout.check().unwrap();
                    // The chosen coding is no larger than the bitmap or the plain indices.
                    let values = sparse.q.len() as u64 * layout.value_bits as u64;
                    assert!(layout.bits - values <= (d_output * d_input) as u64);
                }
            }
        }
    }

    #[test]
    fn value_bits_by_hand() {
        // ±1: the sign alone; ±2: 2 bits; ±3 and ±4: 3; ±5…±8: 4.
        for (max_q, bits) in [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (8, 4), (9, 5)] {
            let sparse = SparseRows::from_dense(&[max_q, 0, -1], 1, 3);
            assert_eq!(pack(&sparse, 3).0.value_bits, bits, "±{max_q}");
        }
        let empty = SparseRows::from_dense(&[0; 6], 2, 3);
        let (layout, words) = pack(&empty, 3);
        assert_eq!((layout.value_bits, layout.nonzeros), (0, 0));
        assert_eq!(unpack(&layout, &words).unwrap(), empty);
    }

    /// A ternary row of 8 inputs with non-zeros at 1, 2 and 6: each coding's bits by hand.
    #[test]
    fn codings_by_hand() {
        let sparse = SparseRows::from_dense(&[0, 1, -1, 0, 0, 0, 1, 0], 1, 8);
        let (layout, words) = pack(&sparse, 8);
        // Bitmap: 8 bits; indices: 2 (length 3) + 3·3 = 11; Rice r = 0: gaps 1, 0, 3 → 2 + 1
        // + 4 = 7, plus 2 for the length = 9; r = 1: 2 + 2 + 3 + 2 = 9. The bitmap wins.
        assert_eq!(layout.columns, ColumnCoding::Bitmap);
        assert_eq!(layout.bits, 8 + 3);
        // Bits, least significant first: bitmap 0110_0010, then the signs 0, 1, 0.
        assert_eq!(words, vec![0b010_0100_0110]);
    }

    #[test]
    fn extreme_counts_round_trip_and_inconsistent_layouts_are_refused() {
        let sparse = SparseRows::from_dense(&[i32::MIN, 0, i32::MAX], 1, 3);
        let (layout, words) = pack(&sparse, 3);
        assert_eq!(layout.value_bits, 32);
        assert_eq!(unpack(&layout, &words).unwrap(), sparse);
        let no_bits = PackedLayout {
            value_bits: 0,
            ..layout.clone()
        };
        assert!(
            unpack(&no_bits, &words)
                .unwrap_err()
                .0
                .contains("out of range")
        );
    }

    #[test]
    fn layouts_out_of_range_are_refused_before_any_stream_is_read() {
        let sparse = SparseRows::from_dense(&[0, 1, 0, -2, 0, 0, 1, 0], 2, 4);
        let (layout, words) = pack(&sparse, 4);
        let with = |edit: fn(&mut PackedLayout)| {
            let mut bad = layout.clone();
            edit(&mut bad);
            bad
        };
        for (bad, expected) in [
            (
                with(|l| l.columns = ColumnCoding::Rice { r: 64 }),
                "Rice { r: 64 }: below 32",
            ),
            (
                with(|l| l.columns = ColumnCoding::Indices { bits: 40 }),
                "Indices { bits: 40 } for d_input = 4: 2",
            ),
            (with(|l| l.bits = u64::MAX), "bits = 18446744073709551615"),
            (with(|l| l.length_bits = 64), "length_bits = 64"),
            (
                with(|l| l.nonzeros = 9),
                "nonzeros = 9: at most d_input · d_output = 8",
            ),
            (with(|l| l.d_input = 0), "d_input = 0"),
            (with(|l| l.value_bits = 33), "value_bits = 33"),
        ] {
            let error = bad.check().unwrap_err();
            assert!(error.contains(expected), "{error}");
            // `unpack` refuses it first, whatever the words.
            let message = unpack(&bad, &words).unwrap_err().0;
            assert!(message.contains(expected), "{message}");
        }
    }

    #[test]
    fn corrupted_streams_are_errors_naming_what() {
        let dense = rows(6, 50, 0.1, 3, 3);
        let sparse = SparseRows::from_dense(&dense, 6, 50);
        let (layout, words) = pack(&sparse, 50);
        assert!(
            matches!(layout.columns, ColumnCoding::Rice { .. }),
            "{layout:?}"
        );
        let error = unpack(&layout, &words[..words.len() - 1]).unwrap_err();
        assert!(error.0.contains("words"), "{error}");
        let fewer = PackedLayout {
            nonzeros: layout.nonzeros - 1,
            ..layout.clone()
        };
        assert!(unpack(&fewer, &words).is_err());
        let narrower = PackedLayout {
            d_input: 20,
            ..layout.clone()
        };
        assert!(unpack(&narrower, &words).is_err());
        // Every single flipped bit is either caught or reads back valid rows.
        for bit in 0..layout.bits as usize {
            let mut flipped = words.clone();
            flipped[bit / 32] ^= 1 << (bit % 32);
            if let Ok(rows) = unpack(&layout, &flipped) {
                assert!(rows.columns.iter().all(|&j| j < 50));
                assert!(rows.q.iter().all(|&q| q != 0));
            }
        }
    }
}
