//! The IDX format of (Fashion-)MNIST, gzip-compressed: a big-endian header (magic, then one u32
//! per dimension) followed by u8 values. Every defect is an error naming the file; sizes from the
//! header are multiplied with checked arithmetic (wasm32's usize is 32 bits), and nothing from the
//! file is indexed unchecked.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Read;

use crate::engine::error::{EngineError, Result};

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
fn header<'a, const DIMS: usize>(file: &str, data: &'a [u8], magic: u32) -> Result<([usize; DIMS], &'a [u8])> {
    let mut words = data.chunks_exact(4).map(|w| w.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)));
    let truncated = || error(file, format!("is truncated: {} bytes, shorter than the {}-byte IDX header", data.len(), 4 * (1 + DIMS)));
    let found = words.next().ok_or_else(truncated)?;
    if found != magic {
        return Err(error(file, format!("has magic number {found:#010x}, expected {magic:#010x}: wrong file or not IDX")));
    }
    let mut dims = [0usize; DIMS];
    for d in &mut dims {
        *d = words.next().ok_or_else(truncated)? as usize;
    }
    let rest = data.get(4 * (1 + DIMS)..).ok_or_else(truncated)?;
    Ok((dims, rest))
}

/// The payload, which must be `expected` bytes (None: the header's dimensions multiply past
/// what any file could hold).
fn payload<'a>(file: &str, payload: &'a [u8], expected: Option<usize>, what: &str) -> Result<&'a [u8]> {
    match expected {
        Some(n) if payload.len() == n => Ok(payload),
        Some(n) if payload.len() > n => {
            Err(error(file, format!("has {} bytes after the {what} its header describes", payload.len().saturating_sub(n))))
        }
        Some(n) => Err(error(file, format!("is truncated: the header promises {what} ({n} bytes) but {} follow", payload.len()))),
        None => Err(error(file, format!("has a header promising {what}, more bytes than any file holds: not a dataset"))),
    }
}

/// Parses a gzip-compressed IDX image file.
pub fn parse_images(file: &str, gz: &[u8]) -> Result<Images> {
    let data = gunzip(file, gz)?;
    let ([count, rows, cols], rest) = header::<3>(file, &data, IMAGES_MAGIC)?;
    if rows == 0 || cols == 0 {
        return Err(error(file, format!("has images of {rows}×{cols} pixels")));
    }
    let bytes = count.checked_mul(rows).and_then(|n| n.checked_mul(cols));
    let pixels = payload(file, rest, bytes, &format!("{count} images of {rows}×{cols}"))?.to_vec();
    Ok(Images { count, rows, cols, pixels })
}

/// Parses a gzip-compressed IDX label file; every label must be below `classes`.
pub fn parse_labels(file: &str, gz: &[u8], classes: usize) -> Result<Vec<u8>> {
    let data = gunzip(file, gz)?;
    let ([count], rest) = header::<1>(file, &data, LABELS_MAGIC)?;
    let labels = payload(file, rest, Some(count), &format!("{count} labels"))?;
    if let Some((i, label)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= classes) {
        return Err(error(file, format!("label {i} is {label}, but there are only {classes} classes")));
    }
    Ok(labels.to_vec())
}
