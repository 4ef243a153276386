//! The IDX format of (Fashion-)MNIST, gzip-compressed: a big-endian header (magic, then one u32
//! per dimension) followed by u8 values. Every defect is an error naming the file.

use std::io::Read;

use crate::error::{EngineError, Result};

/// Magic numbers: 0x0000_08 (u8 data) then the number of dimensions.
const IMAGES_MAGIC: u32 = 0x0803;
const LABELS_MAGIC: u32 = 0x0801;

/// Fashion-MNIST's largest file decompresses to 47 MB; anything far beyond is not a dataset.
const MAX_BYTES: u64 = 256 << 20;

/// `count` images of rows × cols u8 pixels, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

fn error(file: &str, detail: impl Into<String>) -> EngineError {
    EngineError::Dataset { file: file.to_string(), detail: detail.into() }
}

fn gunzip(file: &str, gz: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| error(file, format!("is not a valid gzip file ({e})")))?;
    if out.len() as u64 > MAX_BYTES {
        return Err(error(file, format!("decompresses to more than {MAX_BYTES} bytes: not an IDX file")));
    }
    Ok(out)
}

/// Checks the magic number and reads `dims` big-endian dimensions; returns them and the payload.
fn header<'a>(file: &str, data: &'a [u8], magic: u32, dims: usize) -> Result<(Vec<usize>, &'a [u8])> {
    let header_len = 4 * (1 + dims);
    if data.len() < header_len {
        return Err(error(file, format!("is truncated: {} bytes, shorter than the {header_len}-byte IDX header", data.len())));
    }
    let word = |i: usize| u32::from_be_bytes([data[4 * i], data[4 * i + 1], data[4 * i + 2], data[4 * i + 3]]);
    if word(0) != magic {
        return Err(error(file, format!("has magic number {:#010x}, expected {magic:#010x}: wrong file or not IDX", word(0))));
    }
    Ok(((1..=dims).map(|i| word(i) as usize).collect(), &data[header_len..]))
}

fn payload<'a>(file: &str, payload: &'a [u8], expected: usize, what: &str) -> Result<&'a [u8]> {
    if payload.len() < expected {
        return Err(error(file, format!("is truncated: the header promises {what} ({expected} bytes) but {} follow", payload.len())));
    }
    if payload.len() > expected {
        return Err(error(file, format!("has {} bytes after the {what} its header describes", payload.len() - expected)));
    }
    Ok(payload)
}

/// Parses a gzip-compressed IDX image file.
pub fn parse_images(file: &str, gz: &[u8]) -> Result<Images> {
    let data = gunzip(file, gz)?;
    let (dims, rest) = header(file, &data, IMAGES_MAGIC, 3)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(error(file, format!("has images of {rows}×{cols} pixels")));
    }
    let pixels = payload(file, rest, count * rows * cols, &format!("{count} images of {rows}×{cols}"))?.to_vec();
    Ok(Images { count, rows, cols, pixels })
}

/// Parses a gzip-compressed IDX label file; every label must be below `classes`.
pub fn parse_labels(file: &str, gz: &[u8], classes: usize) -> Result<Vec<u8>> {
    let data = gunzip(file, gz)?;
    let (dims, rest) = header(file, &data, LABELS_MAGIC, 1)?;
    let labels = payload(file, rest, dims[0], &format!("{} labels", dims[0]))?;
    if let Some(i) = labels.iter().position(|&l| l as usize >= classes) {
        return Err(error(file, format!("label {i} is {}, but there are only {classes} classes", labels[i])));
    }
    Ok(labels.to_vec())
}
