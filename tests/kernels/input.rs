use cnnscope::ops::{Augment, gather_resize};
use cnnscope::reference;
use cnnscope::{DType, Recorder, Tensor};

use crate::common::*;

const FIXTURE: &[u8] = include_bytes!("../fixtures/resize.safetensors");

engine_test! {
    async fn gather_resize_matches_torch_interpolate_and_cpu(device: &Device) {
        let f = Fixture::new(FIXTURE);
        let bytes: Vec<u8> = f.get("images").iter().map(|&v| v as u8).collect();
        let packed: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let pixels = Tensor::from_u32(device, &[packed.len()], &packed, "pixels").unwrap();
        let all_labels = Tensor::from_u32(device, &[3], &[7, 2, 9], "labels").unwrap();
        // The batch is positions 1..4 of the shuffled order: images 0, 2, 1.
        let order = Tensor::from_u32(device, &[4], &[2, 0, 2, 1], "order").unwrap();
        let picked = [0usize, 2, 1];
        for side in [20usize, 28, 67, 96, 224] {
            let images = Tensor::zeros(device, &[3, 1, side, side], DType::F32, "images").unwrap();
            let labels = Tensor::zeros(device, &[3], DType::U32, "batch labels").unwrap();
            let mut rec = Recorder::new(device);
            gather_resize(&mut rec, &pixels, (28, 28), &all_labels, &order, 1, &images, &labels, None).unwrap();
            let got = run(device, rec, &images).await;
            assert_eq!(labels.read_u32(device).await.unwrap(), vec![7, 9, 2]);
            let torch = f.get(&format!("side{side}.y"));
            let area = side * side;
            let want: Vec<f32> = picked.iter().flat_map(|&i| torch[i * area..(i + 1) * area].to_vec()).collect();
            assert_close(&format!("side {side} vs torch"), &got, &want, RTOL);
            let cpu: Vec<f32> = picked.iter().flat_map(|&i| reference::resize_bilinear(&bytes[i * 784..(i + 1) * 784], 28, 28, side)).collect();
            assert_close(&format!("side {side} vs cpu"), &got, &cpu, RTOL);
        }
    }

    // Augmented (flipped, cropped, jittered) batches equal the CPU reference: the resize, then
    // `reference::augment` (f64, apart from both engines) with the same draws.
    async fn augmented_gather_matches_the_cpu_reference(device: &Device) {
        use cnnscope::engine::augment::{Augmentation, salt};
        let bytes: Vec<u8> = (0..3 * 784u32).map(|i| (cnnscope::engine::augment::pcg(i) % 256) as u8).collect();
        let packed: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let pixels = Tensor::from_u32(device, &[packed.len()], &packed, "pixels").unwrap();
        let all_labels = Tensor::from_u32(device, &[3], &[7, 2, 9], "labels").unwrap();
        let order = Tensor::from_u32(device, &[6], &[2, 0, 1, 1, 0, 2], "order").unwrap();
        for (side, step) in [(28usize, 0u64), (67, 9), (96, 123_456)] {
            let salt = salt(5, step);
            let images = Tensor::zeros(device, &[6, 1, side, side], DType::F32, "images").unwrap();
            let labels = Tensor::zeros(device, &[6], DType::U32, "batch labels").unwrap();
            let mut rec = Recorder::new(device);
            gather_resize(&mut rec, &pixels, (28, 28), &all_labels, &order, 0, &images, &labels, Some(Augment { salt, first_row: 0 })).unwrap();
            let got = run(device, rec, &images).await;
            // The batch's last two rows gathered as a micro-batch of their own: the same images.
            let part = Tensor::zeros(device, &[2, 1, side, side], DType::F32, "micro-batch").unwrap();
            let part_labels = Tensor::zeros(device, &[2], DType::U32, "micro-batch labels").unwrap();
            let mut rec = Recorder::new(device);
            gather_resize(&mut rec, &pixels, (28, 28), &all_labels, &order, 4, &part, &part_labels, Some(Augment { salt, first_row: 4 })).unwrap();
            assert_eq!(run(device, rec, &part).await, got[4 * side * side..], "side {side}: rows 4 and 5 as a micro-batch");
            let mut want = Vec::new();
            let mut changed = 0;
            for (b, &i) in [2usize, 0, 1, 1, 0, 2].iter().enumerate() {
                let resized = reference::resize_bilinear(&bytes[i * 784..(i + 1) * 784], 28, 28, side);
                let a = Augmentation::draw(salt, b as u32, side as u32);
                let augmented = reference::augment(&resized, side, a.flip, (a.dy, a.dx), (a.brightness, a.contrast));
                changed += (augmented != resized) as usize;
                want.extend(augmented);
            }
            assert_eq!(changed, 6, "side {side}: every image is changed");
            assert_close(&format!("side {side}, step {step}: augmented vs cpu"), &got, &want, RTOL);
        }
    }

    async fn gather_resize_rejects_batches_past_the_order(device: &Device) {
        let pixels = Tensor::zeros(device, &[196], DType::U32, "pixels").unwrap();
        let all_labels = Tensor::zeros(device, &[1], DType::U32, "labels").unwrap();
        let order = Tensor::zeros(device, &[1], DType::U32, "order").unwrap();
        let images = Tensor::zeros(device, &[2, 1, 28, 28], DType::F32, "images").unwrap();
        let labels = Tensor::zeros(device, &[2], DType::U32, "batch labels").unwrap();
        let mut rec = Recorder::new(device);
        let err = gather_resize(&mut rec, &pixels, (28, 28), &all_labels, &order, 0, &images, &labels, None).unwrap_err();
        assert!(err.to_string().contains("positions 0..2 exceed the order's 1 entries"), "{err}");
    }
}
