//! The IDX format of MNIST and Fashion-MNIST: a big-endian magic number (`0x0000_08_dd`,
//! type `u8`, `dd` dimensions), the dimension sizes as big-endian `u32`, then the data.

use std::path::Path;

use crate::DataError;

/// The contents of an IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Size of each dimension, outermost first (`[60000, 28, 28]` for MNIST's training images).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Parses an IDX file of unsigned bytes with `rank` dimensions, checking the magic number
/// and that the data is exactly as long as the header says.
///
/// `path` is only used in error messages.
pub fn parse(bytes: &[u8], rank: u8, path: &Path) -> Result<IdxArray, DataError> {
    if bytes.len() < 4 {
        return Err(DataError::format(
            path,
            format!("truncated IDX header: {} bytes", bytes.len()),
        ));
    }
    let magic = u32::from_be_bytes(bytes[0..4].try_into().unwrap());
    let expected_magic = 0x0000_0800 | rank as u32;
    if magic != expected_magic {
        return Err(DataError::format(
            path,
            format!(
                "wrong IDX magic number {magic:#010x}, expected {expected_magic:#010x} \
                 (unsigned bytes, {rank} dimensions)"
            ),
        ));
    }
    let header_len = 4 + 4 * rank as usize;
    if bytes.len() < header_len {
        return Err(DataError::format(
            path,
            format!(
                "truncated IDX header: {} bytes, need {header_len}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..rank as usize)
        .map(|d| {
            let at = 4 + 4 * d;
            u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
        })
        .collect();
    // The header comes from a file: its product may not fit a usize.
    let Some(expected_len) = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
        return Err(DataError::format(
            path,
            format!("IDX header announces dimensions {dims:?}, more values than fit in memory"),
        ));
    };
    let data = &bytes[header_len..];
    if data.len() != expected_len {
        return Err(DataError::format(
            path,
            format!(
                "IDX header announces {dims:?} = {expected_len} values but the file holds {}{}",
                data.len(),
                if data.len() < expected_len {
                    " (truncated)"
                } else {
                    " (trailing bytes)"
                }
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Reads and parses an IDX file (see [`parse`]).
pub fn read(path: &Path, rank: u8) -> Result<IdxArray, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse(&bytes, rank, path)
}

/// Encodes an array as an IDX file of unsigned bytes (used by tests and tools).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    assert_eq!(
        dims.iter().product::<usize>(),
        data.len(),
        "dims and data disagree"
    );
    let mut bytes = (0x0000_0800u32 | dims.len() as u32).to_be_bytes().to_vec();
    for &d in dims {
        bytes.extend_from_slice(&(d as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("test-idx")
    }

    #[test]
    fn dimensions_whose_product_overflows_are_a_format_error() {
        // Four dimensions of 2^31 − 1: the product overflows 64 bits.
        let mut bytes = vec![0, 0, 8, 4];
        for _ in 0..4 {
            bytes.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        }
        let err = parse(&bytes, 4, path()).unwrap_err().to_string();
        assert!(err.contains("more values than fit in memory"), "{err}");
    }

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..24).collect();
        let bytes = encode(&[2, 3, 4], &data);
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        assert_eq!(&bytes[4..8], &[0, 0, 0, 2]);
        let parsed = parse(&bytes, 3, path()).unwrap();
        assert_eq!(parsed.dims, vec![2, 3, 4]);
        assert_eq!(parsed.data, data);
    }

    #[test]
    fn wrong_magic_is_named() {
        let mut bytes = encode(&[3], &[1, 2, 3]);
        bytes[2] = 0x0d; // float data
        let err = parse(&bytes, 1, path()).unwrap_err().to_string();
        assert!(err.contains("test-idx"), "{err}");
        assert!(err.contains("wrong IDX magic number 0x00000d01"), "{err}");
    }

    #[test]
    fn rank_mismatch_is_a_wrong_magic() {
        let bytes = encode(&[3], &[1, 2, 3]);
        let err = parse(&bytes, 3, path()).unwrap_err().to_string();
        assert!(err.contains("expected 0x00000803"), "{err}");
    }

    #[test]
    fn truncated_data_is_reported() {
        let bytes = encode(&[2, 2], &[1, 2, 3, 4]);
        let err = parse(&bytes[..bytes.len() - 1], 2, path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("4 values but the file holds 3 (truncated)"),
            "{err}"
        );
    }

    #[test]
    fn truncated_header_is_reported() {
        for bytes in [&[0u8, 0, 8][..], &[0, 0, 8, 2, 0, 0, 0, 1, 0]] {
            let err = parse(bytes, 2, path()).unwrap_err().to_string();
            assert!(err.contains("truncated IDX header"), "{err}");
        }
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let mut bytes = encode(&[2], &[1, 2]);
        bytes.push(9);
        let err = parse(&bytes, 1, path()).unwrap_err().to_string();
        assert!(err.contains("trailing bytes"), "{err}");
    }
}
