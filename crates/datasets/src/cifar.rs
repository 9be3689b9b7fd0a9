//! CIFAR-10's binary format, and the conversion from the PNG sprites that the registry
//! package ships.
//!
//! A binary batch holds 10 000 records of `1 + 3·1024` bytes: the label, then the red, green
//! and blue planes of a 32×32 image, row-major.

use std::path::Path;

use crate::DataError;

/// Pixels per image plane.
pub const PLANE: usize = 32 * 32;
/// Bytes per record: the label byte and three planes.
pub const RECORD: usize = 1 + 3 * PLANE;
/// Records per batch file.
pub const RECORDS_PER_BATCH: usize = 10_000;
/// Number of classes.
pub const CLASSES: u8 = 10;

/// Images (`[n, 3, 32, 32]` as bytes) and labels of one or more batches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CifarBatch {
    /// Image bytes, channel-major per image.
    pub images: Vec<u8>,
    /// One label in `0..10` per image.
    pub labels: Vec<u8>,
}

/// Parses a binary batch file of exactly 10 000 records with labels below 10.
///
/// `path` is only used in error messages.
pub fn parse(bytes: &[u8], path: &Path) -> Result<CifarBatch, DataError> {
    let expected = RECORD * RECORDS_PER_BATCH;
    if bytes.len() != expected {
        return Err(DataError::format(
            path,
            format!(
                "a CIFAR-10 batch has {RECORDS_PER_BATCH} records of {RECORD} bytes = {expected} \
                 bytes, this file has {}",
                bytes.len()
            ),
        ));
    }
    let mut batch = CifarBatch {
        images: Vec::with_capacity(RECORDS_PER_BATCH * 3 * PLANE),
        labels: Vec::with_capacity(RECORDS_PER_BATCH),
    };
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        if record[0] >= CLASSES {
            return Err(DataError::format(
                path,
                format!("record {i} has label {}, expected 0..=9", record[0]),
            ));
        }
        batch.labels.push(record[0]);
        batch.images.extend_from_slice(&record[1..]);
    }
    Ok(batch)
}

/// Reads and parses a binary batch file (see [`parse`]).
pub fn read(path: &Path) -> Result<CifarBatch, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse(&bytes, path)
}

/// Converts one PNG sprite of the registry package (row `i` = image `i`, 1024 RGB pixels in
/// `y·32 + x` order) and its labels to the upstream binary batch format.
///
/// `path` is only used in error messages.
pub fn png_sprite_to_binary(png: &[u8], labels: &[u8], path: &Path) -> Result<Vec<u8>, DataError> {
    let mut decoder = png::Decoder::new(png);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| DataError::format(path, format!("not a readable PNG: {e}")))?;
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut pixels)
        .map_err(|e| DataError::format(path, format!("PNG data is corrupted: {e}")))?;
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => {
            return Err(DataError::format(
                path,
                format!("PNG colour type {other:?}, expected RGB or RGBA"),
            ));
        }
    };
    let (width, height) = (info.width as usize, info.height as usize);
    if width != PLANE || height != labels.len() {
        return Err(DataError::format(
            path,
            format!(
                "PNG is {width}×{height}, expected {PLANE}×{} (one image per row)",
                labels.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(height * RECORD);
    for (row, &label) in pixels[..info.buffer_size()]
        .chunks_exact(width * channels)
        .zip(labels)
    {
        out.push(label);
        for c in 0..3 {
            out.extend(row.chunks_exact(channels).map(|px| px[c]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("test-batch")
    }

    fn batch_bytes(label_of: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(RECORD * RECORDS_PER_BATCH);
        for i in 0..RECORDS_PER_BATCH {
            bytes.push(label_of(i));
            bytes.extend((0..3 * PLANE).map(|p| ((i + p) % 251) as u8));
        }
        bytes
    }

    #[test]
    fn parses_labels_and_planes() {
        let bytes = batch_bytes(|i| (i % 10) as u8);
        let batch = parse(&bytes, path()).unwrap();
        assert_eq!(batch.labels.len(), RECORDS_PER_BATCH);
        assert_eq!(&batch.labels[..3], &[0, 1, 2]);
        assert_eq!(batch.images.len(), RECORDS_PER_BATCH * 3 * PLANE);
        // Image 2, pixel 5 of the green plane.
        assert_eq!(
            batch.images[2 * 3 * PLANE + PLANE + 5],
            ((2 + PLANE + 5) % 251) as u8
        );
    }

    #[test]
    fn wrong_size_is_named() {
        let bytes = batch_bytes(|_| 0);
        let err = parse(&bytes[..RECORD * 10], path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("test-batch"), "{err}");
        assert!(err.contains("this file has 30730"), "{err}");
    }

    #[test]
    fn bad_label_is_named() {
        let bytes = batch_bytes(|i| if i == 7 { 12 } else { 1 });
        let err = parse(&bytes, path()).unwrap_err().to_string();
        assert!(err.contains("record 7 has label 12"), "{err}");
    }

    fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .unwrap()
            .write_image_data(rgb)
            .unwrap();
        png
    }

    #[test]
    fn sprite_rows_become_records_with_planes() {
        // Two images: pixel k of image i is (r, g, b) = (k, i, 255 - k) modulo 256.
        let mut rgb = Vec::new();
        for i in 0..2u8 {
            for k in 0..PLANE {
                rgb.extend([k as u8, i, 255 - k as u8]);
            }
        }
        let png = encode_png(PLANE as u32, 2, &rgb);
        let out = png_sprite_to_binary(&png, &[3, 8], path()).unwrap();
        assert_eq!(out.len(), 2 * RECORD);
        assert_eq!(out[0], 3);
        assert_eq!(out[RECORD], 8);
        assert_eq!(out[1 + 300], 300u32 as u8); // red plane, pixel 300
        assert_eq!(out[RECORD + 1 + PLANE + 7], 1); // green of image 1
        assert_eq!(out[1 + 2 * PLANE + 10], 245); // blue plane, pixel 10
    }

    #[test]
    fn sprite_with_wrong_height_is_rejected() {
        let png = encode_png(PLANE as u32, 1, &vec![0; 3 * PLANE]);
        let err = png_sprite_to_binary(&png, &[1, 2], path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 1024×2"), "{err}");
    }

    #[test]
    fn corrupted_png_is_rejected() {
        let mut png = encode_png(PLANE as u32, 1, &vec![7; 3 * PLANE]);
        let n = png.len();
        png.truncate(n / 2);
        let err = png_sprite_to_binary(&png, &[1], path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("test-batch"), "{err}");
    }
}
