//! The full walk around the LFSR cycle: 2^32 − 1 steps, a few seconds in release, about
//! a minute unoptimised, so it is ignored by default. Run it with
//!
//! ```text
//! cargo test --release -p mcnn-sequences --test lfsr_period -- --ignored
//! ```
//!
//! The unit test `lfsr::tests::period_is_exactly_two_to_the_32_minus_one` proves the same
//! fact algebraically and always runs.

use mcnn_sequences::lfsr::{Lfsr32, step};

#[test]
#[ignore = "4.3e9 steps; run with --release -- --ignored"]
fn period_is_two_to_the_32_minus_one_by_walking() {
    let start = 1u32;
    let mut s = start;
    let mut steps: u64 = 0;
    loop {
        s = step(s);
        steps += 1;
        assert_ne!(s, 0, "reached the zero state after {steps} steps");
        if s == start {
            break;
        }
    }
    assert_eq!(steps, Lfsr32::PERIOD);
}
