//! The unscrambled Sobol' points equal SciPy's, bit for bit.
//!
//! `tests/data/` was written by `tools/gen_test_vectors.py` (SciPy 1.17.1):
//! `qmc.Sobol(d, scramble=False, bits=32)`, points in Gray-code order from the origin,
//! times 2^32. `sobol_scipy_points.txt` holds whole points of dimensions 0..63 (indices
//! 0..255, every 2^(k+1) − 1 up to 2^32 − 1 and a few large ones);
//! `sobol_scipy_digests.txt` holds, per dimension 0..1023, an FNV-1a 64 digest of that
//! coordinate at the indices listed in its header.

use mcnn_sequences::direction_numbers::MAX_DIMENSIONS;
use mcnn_sequences::sobol::Sequence;

const POINTS: &str = include_str!("data/sobol_scipy_points.txt");
const DIGESTS: &str = include_str!("data/sobol_scipy_digests.txt");

fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

#[test]
fn points_equal_scipy() {
    let sobol = Sequence::new(64).unwrap();
    let mut ours = [0u32; 64];
    let mut checked = 0;
    for line in data_lines(POINTS) {
        let mut fields = line.split_whitespace();
        let index: u32 = fields.next().unwrap().parse().unwrap();
        let scipy: Vec<u32> = fields
            .map(|h| u32::from_str_radix(h, 16).unwrap())
            .collect();
        assert_eq!(scipy.len(), 64);
        sobol.point_u32(index, &mut ours);
        assert_eq!(&ours[..], &scipy[..], "point {index}");
        checked += 1;
    }
    // 0..255, the 24 indices 2^(k+1) − 1 from 511 on, and 5 more large ones.
    assert_eq!(checked, 256 + 24 + 5);
}

#[test]
fn gray_code_enumeration_equals_scipy() {
    let sobol = Sequence::new(64).unwrap();
    let mut points = sobol.points();
    for line in data_lines(POINTS).take(256) {
        let mut fields = line.split_whitespace();
        let index: u64 = fields.next().unwrap().parse().unwrap();
        assert_eq!(points.index(), index);
        let scipy: Vec<u32> = fields
            .map(|h| u32::from_str_radix(h, 16).unwrap())
            .collect();
        assert_eq!(points.next_u32().unwrap(), &scipy[..], "point {index}");
    }
}

fn fnv1a64(values: impl Iterator<Item = u32>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for byte in v.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[test]
fn every_dimension_matches_scipy_digest() {
    let mut lines = data_lines(DIGESTS);
    let header = lines.next().unwrap();
    let indices: Vec<u32> = header
        .strip_prefix("indices ")
        .unwrap()
        .split_whitespace()
        .map(|i| i.parse().unwrap())
        .collect();
    let sobol = Sequence::new(MAX_DIMENSIONS).unwrap();
    let mut dims = 0;
    for line in lines {
        let (d, digest) = line.split_once(' ').unwrap();
        let d: usize = d.parse().unwrap();
        let expected = u64::from_str_radix(digest, 16).unwrap();
        let ours = fnv1a64(indices.iter().map(|&i| sobol.coordinate_u32(i, d)));
        assert_eq!(ours, expected, "dimension {d}");
        dims += 1;
    }
    assert_eq!(dims, MAX_DIMENSIONS);
}
