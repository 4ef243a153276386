use cnnscope::ops::{Pool2d, PoolKind};
use cnnscope::reference::{self, Dims};
use cnnscope::{DType, Device, Recorder, Tensor};

use crate::common::*;

const FIXTURE: &[u8] = include_bytes!("../fixtures/pool.safetensors");

fn case(f: &Fixture, name: &str) -> (Pool2d, Dims) {
    let p = f.params(name);
    let kind = if p[4] == 0 { PoolKind::Max } else { PoolKind::Average };
    (Pool2d { kind, kernel_h: p[5], kernel_w: p[6], stride: p[7], padding: p[8] }, Dims { n: p[0], c: p[1], h: p[2], w: p[3] })
}

/// (y, grad x) from the GPU for input x and upstream gradient gy.
async fn on_device(device: &Device, pool: &Pool2d, xd: Dims, x: &[f32], gy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (oh, ow) = pool.output_size(xd.h, xd.w).unwrap();
    let yshape = [xd.n, xd.c, oh, ow];
    let xt = Tensor::from_f32(device, &[xd.n, xd.c, xd.h, xd.w], x, "x").unwrap();
    let y = Tensor::zeros(device, &yshape, DType::F32, "y").unwrap();
    let gyt = Tensor::from_f32(device, &yshape, gy, "gy").unwrap();
    // Backward overwrites grad x: start from NaN, so an input it skips cannot pass as a zero.
    let gx = Tensor::from_f32(device, xt.shape(), &vec![f32::NAN; x.len()], "gx").unwrap();
    let argmax = Tensor::zeros(device, &yshape, DType::U32, "argmax").unwrap();
    let argmax = (pool.kind == PoolKind::Max).then_some(&argmax);
    let mut rec = Recorder::new(device);
    pool.forward(&mut rec, &xt, &y, argmax).unwrap();
    pool.backward(&mut rec, &gyt, argmax, &gx).unwrap();
    rec.submit();
    (y.read_f32(device).await.unwrap(), gx.read_f32(device).await.unwrap())
}

fn by_reference(pool: &Pool2d, xd: Dims, x: &[f32], gy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    match pool.kind {
        PoolKind::Max => {
            let (y, arg, _) = reference::max_pool_forward(pool, x, xd);
            (y, reference::max_pool_backward(&arg, gy, xd.len()))
        }
        PoolKind::Average => (reference::avg_pool_forward(pool, x, xd).0, reference::avg_pool_backward(pool, gy, xd)),
    }
}

engine_test! {
    async fn pooling_forward_and_backward_match_pytorch_and_cpu(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in f.cases() {
            let (pool, xd) = case(&f, &name);
            let (x, gy) = (f.get(&format!("{name}.x")), f.get(&format!("{name}.gy")));
            let (y, gx) = on_device(device, &pool, xd, &x, &gy).await;
            assert_close(&format!("{name} y vs pytorch"), &y, &f.get(&format!("{name}.y")), RTOL);
            assert_close(&format!("{name} grad x vs pytorch"), &gx, &f.get(&format!("{name}.gx")), RTOL);
            let (cy, cgx) = by_reference(&pool, xd, &x, &gy);
            assert_close(&format!("{name} y vs cpu"), &y, &cy, RTOL);
            assert_close(&format!("{name} grad x vs cpu"), &gx, &cgx, RTOL);
        }
    }

    async fn pooling_gradients_pass_finite_difference_checks(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in ["max_3s2p1_rect", "avg_3s2p1", "global_avg"] {
            let (pool, xd) = case(&f, name);
            let (x, gy) = (f.get(&format!("{name}.x")), f.get(&format!("{name}.gy")));
            let (_, gx) = on_device(device, &pool, xd, &x, &gy).await;
            // Average pooling is linear, so a large step is exact and keeps f32 rounding small;
            // max pooling wants a small one that crosses few kinks.
            let eps = if pool.kind == PoolKind::Max { 1e-4 } else { 1e-2 };
            check_directional_derivative(name, &x, &gx, 4, eps, |x| {
                let gy = gy.clone();
                async move { dot(&on_device(device, &pool, xd, &x, &gy).await.0, &gy) }
            })
            .await;
        }
    }

    async fn pooling_bad_shapes_are_clear_errors(device: &Device) {
        let err = Pool2d::max(3, 2, 0).output_size(2, 9).unwrap_err();
        assert!(err.to_string().contains("window 3×3 is larger than the padded input 2×9"), "{err}");
        let err = Pool2d::max(3, 2, 2).output_size(9, 9).unwrap_err();
        assert!(err.to_string().contains("padding 2 must be at most half the kernel"), "{err}");
        let x = Tensor::zeros(device, &[1, 2, 9, 9], DType::F32, "x").unwrap();
        let y = Tensor::zeros(device, &[1, 2, 4, 4], DType::F32, "y").unwrap();
        let mut rec = Recorder::new(device);
        let err = Pool2d::max(3, 2, 0).forward(&mut rec, &x, &y, None).unwrap_err();
        assert!(err.to_string().contains("needs an argmax"), "{err}");
        let err = Pool2d::average(3, 1, 0).forward(&mut rec, &x, &y, None).unwrap_err();
        assert!(err.to_string().contains("expected shape [1, 2, 7, 7], got [1, 2, 4, 4]"), "{err}");
    }
}
