//! Low-discrepancy and random sequences for Monte Carlo neural networks.
//!
//! The pieces that partition dropout, sampled linear and convolution layers and path
//! networks share (see `docs/algorithms.md`, sections 2, 4 and 6):
//!
//! - [`sobol::Sequence`]: Sobol' points in base 2 with the Joe–Kuo direction numbers
//!   ([`direction_numbers`]), Gray-code enumeration, direct access to point `i`, optional
//!   Cranley–Patterson shift, digital shift or Owen scrambling;
//! - [`radical_inverse`]: van der Corput and radical inverses in other bases;
//! - [`lfsr::Lfsr32`]: the 32-bit maximal-length LFSR of the slides;
//! - [`counter_hash::CounterHash`]: a stateless hash of `(seed, counter)`, u32 arithmetic
//!   only, for GPU kernels and for masks recomputed in backward passes;
//! - [`samplers`]: iid, jittered, systematic and low-discrepancy samples in `[0, 1)`;
//! - [`counts`]: discrete-density sampling, the signed integer counts `q_j` that turn
//!   weights into `(S/N) · q`, per tensor or per row;
//! - [`threshold`]: threshold sampling, the head of a row kept and its tail sampled, the
//!   least variance for an expected number of non-zeros.
//!
//! ```
//! use mcnn_sequences::counts::{sample_counts, Scheme};
//! use mcnn_sequences::sobol::Sequence;
//!
//! // Eight samples from |w| / Σ|w|: w ≈ (S/N) · q with small integers q.
//! let w = [0.5_f32, -0.25, 0.0, 1.25];
//! let c = sample_counts(&w, 8, Scheme::Systematic, 7).unwrap();
//! assert_eq!(c.q.iter().map(|q| q.unsigned_abs()).sum::<u32>(), 8);
//! assert_eq!(c.summary.scale, 0.25); // S / N = 2 / 8
//! assert_eq!(c.q, vec![2, -1, 0, 5]); // exact: every N·p_j is an integer here
//!
//! // The first Sobol' points in two dimensions (Gray-code order, as Joe–Kuo and SciPy).
//! let sobol = Sequence::new(2).unwrap();
//! let mut x = [0.0; 2];
//! sobol.point(3, &mut x);
//! assert_eq!(x, [0.25, 0.75]);
//! ```

#![warn(missing_docs)]

pub mod counter_hash;
pub mod counts;
pub mod direction_numbers;
pub mod error;
pub mod lfsr;
pub mod radical_inverse;
pub mod samplers;
pub mod sobol;
pub mod threshold;
pub mod unit;

pub use error::SamplingError;
