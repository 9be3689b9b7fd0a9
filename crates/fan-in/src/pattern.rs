//! Connection patterns: random constant fan-in rows, and packing the kept entries of a dense
//! matrix into constant fan-in form.

use mcnn_sequences::counter_hash::CounterHash;
use rayon::prelude::*;

/// `k` distinct inputs out of `d_input` for each of `d_output` rows, uniform, row-major
/// `[d_output, k]`: Floyd's algorithm on a counter-based stream per row (so a row does not
/// depend on the others), each row sorted for locality. The same seed gives the same rows.
///
/// # Panics
/// If `k > d_input`.
pub fn random_indices(d_output: usize, k: usize, d_input: usize, seed: u64) -> Vec<i64> {
    let root = CounterHash::from_seed(seed);
    let mut taken = vec![false; d_input];
    let mut indices = Vec::with_capacity(d_output * k);
    for o in 0..d_output {
        let stream = root.derive(o as u32);
        let mut row = Vec::with_capacity(k);
        for (counter, j) in (d_input - k..d_input).enumerate() {
            // Uniform in 0..=j by multiply-shift (no modulo bias worth the name at 32 bits).
            let t = ((stream.u32_at(counter as u32) as u64 * (j as u64 + 1)) >> 32) as usize;
            let pick = if taken[t] { j } else { t };
            taken[pick] = true;
            row.push(pick);
        }
        row.sort_unstable();
        for &j in &row {
            taken[j] = false;
        }
        indices.extend(row.into_iter().map(|j| j as i64));
    }
    indices
}

/// Packs the kept entries of a row-major `[rows, cols]` matrix into constant fan-in form:
/// `kept(r, c)` says whether row `r` keeps column `c`, and `value(r, c)` is its value. Returns
/// the column indices and the values, both row-major `[rows, k]`, and `k`: the largest number
/// of kept entries in a row (at least 1). Shorter rows are padded with index 0 and
/// `T::default()`, which adds nothing when `T` is a number.
///
/// Rows are packed in parallel and without a branch per entry (whether an entry is kept is
/// often a coin flip, which a branch would mispredict): every entry is written to a scratch row
/// and the slot advances where it is kept. `value` is called for every entry, kept or not.
pub fn pack_rows<T: Copy + Default + Send + Sync>(
    rows: usize,
    cols: usize,
    kept: impl Fn(usize, usize) -> bool + Sync,
    value: impl Fn(usize, usize) -> T + Sync,
) -> (Vec<i64>, Vec<T>, usize) {
    let k = (0..rows)
        .into_par_iter()
        .map(|r| (0..cols).filter(|&c| kept(r, c)).count())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut indices = vec![0i64; rows * k];
    let mut values = vec![T::default(); rows * k];
    indices
        .par_chunks_mut(k)
        .zip(values.par_chunks_mut(k))
        .enumerate()
        .for_each_init(
            || (vec![0i64; cols], vec![T::default(); cols]),
            |(all_c, all_v), (r, (indices, values))| {
                let mut slot = 0;
                for c in 0..cols {
                    all_c[slot] = c as i64;
                    all_v[slot] = value(r, c);
                    slot += usize::from(kept(r, c));
                }
                indices[..slot].copy_from_slice(&all_c[..slot]);
                values[..slot].copy_from_slice(&all_v[..slot]);
            },
        );
    (indices, values, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rows_hold_distinct_in_range_indices_and_depend_on_the_seed() {
        let a = random_indices(50, 7, 20, 1);
        for row in a.chunks(7) {
            assert!(
                row.windows(2).all(|w| w[0] < w[1]),
                "sorted and distinct: {row:?}"
            );
            assert!(row.iter().all(|&j| (0..20).contains(&j)));
        }
        assert_eq!(a, random_indices(50, 7, 20, 1));
        assert_ne!(a, random_indices(50, 7, 20, 2));
        // fan_in = d_input takes every input.
        assert!(
            random_indices(3, 5, 5, 9)
                .chunks(5)
                .all(|r| r == [0, 1, 2, 3, 4])
        );
    }

    #[test]
    fn random_rows_are_uniform_over_the_inputs() {
        // 4000 rows of 3 out of 10: each input expected 1200 times (sd ≈ 29).
        let mut hits = [0usize; 10];
        for j in random_indices(4000, 3, 10, 5) {
            hits[j as usize] += 1;
        }
        assert!(hits.iter().all(|&h| (1080..=1320).contains(&h)), "{hits:?}");
    }

    #[test]
    fn packing_pads_short_rows_with_index_zero() {
        // [[0, 5, 0], [7, 0, 8], [0, 0, 0]]
        let dense = [0, 5, 0, 7, 0, 8, 0, 0, 0];
        let (indices, values, k) =
            pack_rows(3, 3, |r, c| dense[r * 3 + c] != 0, |r, c| dense[r * 3 + c]);
        assert_eq!(k, 2);
        assert_eq!(indices, vec![1, 0, 0, 2, 0, 0]);
        assert_eq!(values, vec![5, 0, 7, 8, 0, 0]);
    }
}
