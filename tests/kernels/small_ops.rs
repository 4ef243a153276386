use cnnscope::ops::{adam_update_stats, copy_channels, relu_backward, relu_forward, tensor_stats, Dropout};
use cnnscope::{DType, Recorder, Tensor};

use crate::common::*;

const RELU: &[u8] = include_bytes!("../fixtures/relu.safetensors");

/// (Σx, Σx², columns ≤ 0 in every row) of `x` as [rows, cols], in f64: the CPU reference.
fn summary(x: &[f32], rows: usize) -> [f32; 3] {
    let cols = x.len() / rows;
    let dead = (0..cols).filter(|&c| (0..rows).all(|r| x[r * cols + c] <= 0.0)).count();
    [x.iter().map(|&v| v as f64).sum::<f64>() as f32, x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() as f32, dead as f32]
}

engine_test! {
    // Tensor summaries (per-layer statistics) on awkward shapes: one row, one column, more
    // columns than invocations, whole dead columns; and Adam's update direction from moments.
    async fn tensor_stats_match_the_cpu(device: &Device) {
        let cases = [(1usize, 1usize), (3, 1), (1, 1000), (7, 301), (32, 2049)];
        let out = Tensor::zeros(device, &[4 * (cases.len() + 1)], DType::F32, "stats").unwrap();
        let mut rec = Recorder::new(device);
        let mut inputs = Vec::new();
        for (slot, &(rows, cols)) in cases.iter().enumerate() {
            let mut x = random(rows * cols, slot as u64 + 1);
            // Every third column off for every row: a dead unit.
            for r in 0..rows {
                for c in (0..cols).step_by(3) {
                    x[r * cols + c] = -x[r * cols + c].abs();
                }
            }
            let t = Tensor::from_f32(device, &[rows, cols], &x, "x").unwrap();
            tensor_stats(&mut rec, &t, rows, &out, slot).unwrap();
            inputs.push((t, x, rows));
        }
        let (m, v) = (random(777, 9), random(777, 10).iter().map(|v| v * v).collect::<Vec<f32>>());
        let (mt, vt) = (Tensor::from_f32(device, &[777], &m, "m").unwrap(), Tensor::from_f32(device, &[777], &v, "v").unwrap());
        let (a, b, eps) = (1.0 / (1.0 - 0.9f32.powi(3)), 1.0 / (1.0 - 0.999f32.powi(3)), 1e-8f32);
        adam_update_stats(&mut rec, &mt, &vt, (a, b, eps), &out, cases.len()).unwrap();
        let got = run(device, rec, &out).await;
        for (slot, (_, x, rows)) in inputs.iter().enumerate() {
            let want = summary(x, *rows);
            assert_close(&format!("case {:?}", cases[slot]), &got[4 * slot..4 * slot + 3], &want, 1e-4);
            assert_eq!(got[4 * slot + 2], want[2], "case {:?}: dead columns, exactly", cases[slot]);
        }
        let update: Vec<f32> = m.iter().zip(&v).map(|(&m, &v)| a * m / ((b * v).sqrt() + eps)).collect();
        let slot = cases.len();
        assert_close("adam update", &got[4 * slot..4 * slot + 2], &summary(&update, 1)[..2], 1e-4);
    }

    async fn relu_forward_and_backward_match_pytorch(device: &Device) {
        let f = Fixture::new(RELU);
        let x = f.upload(device, "relu.x");
        let gy = f.upload(device, "relu.gy");
        let mut rec = Recorder::new(device);
        relu_forward(&mut rec, &x).unwrap();
        relu_backward(&mut rec, &x, &gy).unwrap();
        rec.submit();
        assert_close("relu y", &x.read_f32(device).await.unwrap(), &f.get("relu.y"), RTOL);
        assert_close("relu grad", &gy.read_f32(device).await.unwrap(), &f.get("relu.gx"), RTOL);
        // CPU reference: the definition.
        let want: Vec<f32> = f.get("relu.x").iter().map(|v| v.max(0.0)).collect();
        assert_close("relu y vs cpu", &x.read_f32(device).await.unwrap(), &want, 0.0);
    }

    async fn dropout_keeps_the_right_fraction_scaled_and_backward_reuses_the_mask(device: &Device) {
        let n = 200_000;
        let rate = 0.3f32;
        let ones = vec![1.0f32; n];
        let x = Tensor::from_f32(device, &[n], &ones, "x").unwrap();
        let g = Tensor::from_f32(device, &[n], &ones, "grad").unwrap();
        let other = Tensor::from_f32(device, &[n], &ones, "other seed").unwrap();
        let d = Dropout { rate };
        let mut rec = Recorder::new(device);
        d.forward(&mut rec, &x, 42, 0).unwrap();
        d.backward(&mut rec, &g, 42, 0).unwrap();
        d.forward(&mut rec, &other, 43, 0).unwrap();
        // A micro-batch's part of the tensor, told where it starts in the whole, drops exactly what
        // the whole batch drops there (at a u32 offset that wraps the same way in both).
        let part = Tensor::from_f32(device, &[n - 1001], &ones[1001..], "part").unwrap();
        d.forward(&mut rec, &part, 42, 1001).unwrap();
        rec.submit();
        let (y, gx, y2) = (x.read_f32(device).await.unwrap(), g.read_f32(device).await.unwrap(), other.read_f32(device).await.unwrap());
        let scale = 1.0 / (1.0 - rate);
        assert!(y.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6), "kept values are scaled by 1/(1-p)");
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        // Binomial standard deviation is 0.001 here: 5 sigma.
        assert!((kept - 0.7).abs() < 0.005, "kept fraction {kept}");
        assert_eq!(y, gx, "backward applies exactly the forward mask and scale");
        assert_eq!(part.read_f32(device).await.unwrap(), y[1001..], "a part starting at element 1001 draws the whole tensor's mask there");
        let same = y.iter().zip(&y2).filter(|(a, b)| a == b).count() as f64 / n as f64;
        assert!((same - 0.58).abs() < 0.01, "another seed gives an independent mask ({same} agree; 0.7² + 0.3² expected)");
        // Neighbouring elements are independent: P(both kept) ≈ 0.49.
        let pairs = y.windows(2).filter(|w| w[0] != 0.0 && w[1] != 0.0).count() as f64 / (n - 1) as f64;
        assert!((pairs - 0.49).abs() < 0.01, "adjacent keep rate {pairs}");
        // Expected value is preserved: mean ≈ 1.
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    }

    async fn accumulate_adds_a_micro_batchs_gradient(device: &Device) {
        // 1001 values: not whole vec4s, so the tail goes through the buffer's padding.
        let (x, sum) = (random(1001, 5), random(1001, 6));
        let (xt, st) = (Tensor::from_f32(device, &[7, 11, 13], &x, "x").unwrap(), Tensor::from_f32(device, &[7, 11, 13], &sum, "sum").unwrap());
        let mut rec = Recorder::new(device);
        cnnscope::ops::accumulate(&mut rec, &xt, &st).unwrap();
        cnnscope::ops::accumulate(&mut rec, &xt, &st).unwrap();
        let want: Vec<f32> = sum.iter().zip(&x).map(|(s, v)| s + v + v).collect();
        assert_close("sum + 2x", &run(device, rec, &st).await, &want, 0.0);
        let mut rec = Recorder::new(device);
        let err = cnnscope::ops::accumulate(&mut rec, &xt, &xt).unwrap_err();
        assert!(err.to_string().contains("must not share memory"), "{err}");
        assert!(matches!(err, cnnscope::EngineError::Aliased { .. }), "{err:?}");
        let other = Tensor::zeros(device, &[1001], DType::F32, "flat").unwrap();
        let err = cnnscope::ops::accumulate(&mut rec, &xt, &other).unwrap_err();
        assert!(err.to_string().contains("expected shape [1001], got [7, 11, 13]"), "{err}");
    }

    async fn dropout_rejects_rates_outside_zero_to_one(device: &Device) {
        let x = Tensor::zeros(device, &[4], DType::F32, "x").unwrap();
        let mut rec = Recorder::new(device);
        for rate in [1.0, -0.1, f32::NAN] {
            let err = Dropout { rate }.forward(&mut rec, &x, 0, 0).unwrap_err();
            assert!(err.to_string().contains("rate must be in [0, 1)"), "{err}");
        }
    }

    async fn copy_channels_concatenates_and_splits(device: &Device) {
        let a = random(2 * 3 * 5, 30);
        let b = random(2 * 4 * 5, 31);
        let at = Tensor::from_f32(device, &[2, 3, 1, 5], &a, "a").unwrap();
        let bt = Tensor::from_f32(device, &[2, 4, 1, 5], &b, "b").unwrap();
        let cat = Tensor::zeros(device, &[2, 7, 1, 5], DType::F32, "cat").unwrap();
        let back = Tensor::from_f32(device, &[2, 4, 1, 5], &b, "b again").unwrap();
        let mut rec = Recorder::new(device);
        copy_channels(&mut rec, at.view().unwrap(), cat.channels(0, 3).unwrap(), false).unwrap();
        copy_channels(&mut rec, bt.view().unwrap(), cat.channels(3, 4).unwrap(), false).unwrap();
        // Backward: the gradient slice of b, added to what `back` holds.
        copy_channels(&mut rec, cat.channels(3, 4).unwrap(), back.view().unwrap(), true).unwrap();
        rec.submit();
        let want: Vec<f32> = (0..2).flat_map(|n| [&a[n * 15..(n + 1) * 15], &b[n * 20..(n + 1) * 20]].concat()).collect();
        assert_eq!(cat.read_f32(device).await.unwrap(), want);
        let doubled: Vec<f32> = b.iter().map(|v| v + v).collect();
        assert_eq!(back.read_f32(device).await.unwrap(), doubled);
        let mut rec = Recorder::new(device);
        let err = copy_channels(&mut rec, at.view().unwrap(), cat.channels(3, 4).unwrap(), false).unwrap_err();
        assert!(err.to_string().contains("differ"), "{err}");
        assert!(cat.channels(5, 4).is_err());
    }
}
