#![cfg(not(target_arch = "wasm32"))]
//! Fashion-MNIST parsing: the real files (scripts/setup.sh puts them in public/data/fashion-mnist)
//! and every way a file can be broken.

use std::io::Write;
use std::path::Path;

use cnnscope::data::{FashionMnist, idx};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn idx_file(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut data = magic.to_be_bytes().to_vec();
    for d in dims {
        data.extend(d.to_be_bytes());
    }
    data.extend(payload);
    gzip(&data)
}

fn message(result: cnnscope::Result<impl std::fmt::Debug>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn the_real_dataset() {
    let data = FashionMnist::load(Path::new(cnnscope::data::DEFAULT_DIR)).unwrap_or_else(|e| panic!("{e}"));
    for (split, count) in [(&data.train, 60_000), (&data.test, 10_000)] {
        assert_eq!((split.len(), split.images.rows, split.images.cols), (count, 28, 28));
        let mut per_class = [0; 10];
        split.labels.iter().for_each(|&l| per_class[l as usize] += 1);
        assert_eq!(per_class, [count / 10; 10], "Fashion-MNIST is balanced");
    }
    // The first training image is an ankle boot (label 9) with a dark border.
    assert_eq!(data.train.labels[..4], [9, 0, 0, 3]);
    assert_eq!(data.train.images.pixels[0], 0);
    assert!(data.train.images.pixels[..784].iter().any(|&p| p > 200));
}

#[test]
fn broken_files_are_named_and_explained() {
    let images = idx_file(0x803, &[2, 3, 3], &[7; 18]);
    let labels = idx_file(0x801, &[2], &[1, 2]);
    let parse = |images: &[u8], labels: &[u8]| {
        FashionMnist::from_files([images, labels, &idx_file(0x803, &[1, 3, 3], &[0; 9]), &idx_file(0x801, &[1], &[0])])
    };
    assert!(parse(&images, &labels).is_ok());

    assert_eq!(
        message(parse(b"not gzip at all", &labels)),
        "train-images-idx3-ubyte.gz: is not a valid gzip file (invalid gzip header)"
    );
    let cut = &images[..images.len() - 12];
    assert!(message(parse(cut, &labels)).starts_with("train-images-idx3-ubyte.gz: is not a valid gzip file"));
    assert_eq!(
        message(parse(&idx_file(0x801, &[2, 3, 3], &[7; 18]), &labels)),
        "train-images-idx3-ubyte.gz: has magic number 0x00000801, expected 0x00000803: wrong file or not IDX"
    );
    assert_eq!(
        message(parse(&idx_file(0x803, &[2, 3, 3], &[7; 17]), &labels)),
        "train-images-idx3-ubyte.gz: is truncated: the header promises 2 images of 3×3 (18 bytes) but 17 follow"
    );
    assert_eq!(
        message(parse(&idx_file(0x803, &[2, 3, 3], &[7; 20]), &labels)),
        "train-images-idx3-ubyte.gz: has 2 bytes after the 2 images of 3×3 its header describes"
    );
    assert_eq!(
        message(parse(&gzip(&[0, 0, 8, 3, 0]), &labels)),
        "train-images-idx3-ubyte.gz: is truncated: 5 bytes, shorter than the 16-byte IDX header"
    );
    assert_eq!(
        message(parse(&images, &idx_file(0x801, &[3], &[1, 2, 3]))),
        "train-labels-idx1-ubyte.gz: has 3 labels for 2 images"
    );
    assert_eq!(
        message(parse(&images, &idx_file(0x801, &[2], &[1, 10]))),
        "train-labels-idx1-ubyte.gz: label 1 is 10, but there are only 10 classes"
    );
    let other_side = FashionMnist::from_files([&images, &labels, &idx_file(0x803, &[1, 2, 2], &[0; 4]), &idx_file(0x801, &[1], &[0])]);
    assert_eq!(message(other_side), "t10k-images-idx3-ubyte.gz: has 2×2 images, the training set 3×3");
    assert_eq!(
        message(idx::parse_images("x.gz", &idx_file(0x803, &[1, 0, 3], &[]))),
        "x.gz: has images of 0×3 pixels"
    );
}

#[test]
fn a_missing_directory_says_how_to_get_the_data() {
    let err = message(FashionMnist::load(Path::new("/nonexistent")));
    assert!(err.contains("/nonexistent/train-images-idx3-ubyte.gz: cannot be read"), "{err}");
    assert!(err.contains("scripts/setup.sh"), "{err}");
}
