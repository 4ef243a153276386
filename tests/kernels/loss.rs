use cnnscope::ops::{softmax, softmax_cross_entropy};
use cnnscope::reference;
use cnnscope::{DType, Device, Recorder, Tensor};

use crate::common::*;

const FIXTURE: &[u8] = include_bytes!("../fixtures/cross_entropy.safetensors");

/// (mean loss, correct, grad) for one batch, its gradient a mean over `mean_over` images.
async fn on_device(device: &Device, logits: &[f32], labels: &[u32], mean_over: usize) -> (f64, f32, Vec<f32>) {
    let batch = labels.len();
    let lt = Tensor::from_f32(device, &[batch, 10], logits, "logits").unwrap();
    let lab = Tensor::from_u32(device, &[batch], labels, "labels").unwrap();
    let grad = Tensor::zeros(device, &[batch, 10], DType::F32, "grad").unwrap();
    let stats = Tensor::zeros(device, &[3], DType::F32, "stats").unwrap();
    let mut rec = Recorder::new(device);
    softmax_cross_entropy(&mut rec, &lt, &lab, &grad, &stats, mean_over).unwrap();
    rec.submit();
    let s = stats.read_f32(device).await.unwrap();
    assert_eq!(s[2], batch as f32, "examples counted");
    (s[0] as f64 / batch as f64, s[1], grad.read_f32(device).await.unwrap())
}

engine_test! {
    async fn cross_entropy_matches_pytorch_and_cpu(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in f.cases() {
            let get = |t: &str| f.get(&format!("{name}.{t}"));
            let logits = get("logits");
            let labels: Vec<u32> = get("labels").iter().map(|&v| v as u32).collect();
            let (loss, correct, grad) = on_device(device, &logits, &labels, labels.len()).await;
            assert_close(&format!("{name} loss"), &[loss as f32], &get("loss"), RTOL);
            assert_eq!(correct, get("correct")[0], "{name} correct");
            assert_close(&format!("{name} grad"), &grad, &get("grad"), RTOL);
            let cpu = reference::cross_entropy(&logits, &labels, 10);
            assert_close(&format!("{name} loss vs cpu"), &[loss as f32], &[cpu.loss as f32], RTOL);
            assert_eq!(correct as usize, cpu.correct);
            assert_close(&format!("{name} grad vs cpu"), &grad, &cpu.grad, RTOL);
            // One micro-batch of a step three times its size: the same loss, a third the gradient.
            let (part_loss, _, part) = on_device(device, &logits, &labels, 3 * labels.len()).await;
            assert_eq!(part_loss, loss);
            let thirds: Vec<f32> = grad.iter().map(|g| g / 3.0).collect();
            assert_close(&format!("{name} grad as a third of the step"), &part, &thirds, RTOL);
        }
    }

    async fn cross_entropy_gradient_passes_finite_difference_check(device: &Device) {
        let f = Fixture::new(FIXTURE);
        let logits = f.get("batch7.logits");
        let labels: Vec<u32> = f.get("batch7.labels").iter().map(|&v| v as u32).collect();
        let (_, _, grad) = on_device(device, &logits, &labels, labels.len()).await;
        check_directional_derivative("cross-entropy", &logits, &grad, 8, 1e-3, |z| {
            let labels = labels.clone();
            async move { on_device(device, &z, &labels, labels.len()).await.0 }
        })
        .await;
    }

    async fn cross_entropy_statistics_accumulate_across_steps(device: &Device) {
        let f = Fixture::new(FIXTURE);
        let lt = f.upload(device, "batch7.logits");
        let labels: Vec<u32> = f.get("batch7.labels").iter().map(|&v| v as u32).collect();
        let lab = Tensor::from_u32(device, &[7], &labels, "labels").unwrap();
        let grad = Tensor::zeros(device, &[7, 10], DType::F32, "grad").unwrap();
        let stats = Tensor::zeros(device, &[3], DType::F32, "stats").unwrap();
        let mut rec = Recorder::new(device);
        for _ in 0..3 {
            softmax_cross_entropy(&mut rec, &lt, &lab, &grad, &stats, 7).unwrap();
        }
        rec.submit();
        let s = stats.read_f32(device).await.unwrap();
        let loss = f.get("batch7.loss")[0] as f64;
        assert_close("summed loss", &[s[0]], &[(3.0 * 7.0 * loss) as f32], RTOL);
        assert_eq!(s[1], 3.0 * f.get("batch7.correct")[0]);
        assert_eq!(s[2], 21.0);
    }

    async fn softmax_matches_pytorch(device: &Device) {
        let f = Fixture::new(FIXTURE);
        let logits = f.upload(device, "batch300.logits");
        let probs = Tensor::zeros(device, &[300, 10], DType::F32, "probs").unwrap();
        let mut rec = Recorder::new(device);
        softmax(&mut rec, &logits, &probs).unwrap();
        assert_close("softmax", &run(device, rec, &probs).await, &f.get("batch300.probs"), RTOL);
    }

    async fn cross_entropy_rejects_mismatched_labels(device: &Device) {
        let logits = Tensor::zeros(device, &[4, 10], DType::F32, "logits").unwrap();
        let labels = Tensor::zeros(device, &[5], DType::U32, "labels").unwrap();
        let float_labels = Tensor::zeros(device, &[4], DType::F32, "labels").unwrap();
        let grad = Tensor::zeros(device, &[4, 10], DType::F32, "grad").unwrap();
        let stats = Tensor::zeros(device, &[3], DType::F32, "stats").unwrap();
        let mut rec = Recorder::new(device);
        let err = softmax_cross_entropy(&mut rec, &logits, &labels, &grad, &stats, 4).unwrap_err();
        assert!(err.to_string().contains("expected shape [4], got [5]"), "{err}");
        let err = softmax_cross_entropy(&mut rec, &logits, &float_labels, &grad, &stats, 4).unwrap_err();
        assert!(err.to_string().contains("u32"), "{err}");
        let err = softmax_cross_entropy(&mut rec, &logits, &labels, &grad, &stats, 3).unwrap_err();
        assert!(err.to_string().contains("a mean over 3 images cannot take a batch of 4"), "{err}");
    }
}
