use cnnscope::ops::{relu_backward, Linear, Matmul};
use cnnscope::reference;
use cnnscope::{DType, GemmCore, Device, Recorder, Tensor};

use crate::common::*;

const FIXTURE: &[u8] = include_bytes!("../fixtures/linear.safetensors");

struct Out {
    y: Vec<f32>,
    gx: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
}

async fn on_device(device: &Device, layer: Linear, batch: usize, x: &[f32], w: &[f32], b: &[f32], gy: &[f32], core: GemmCore) -> Out {
    let (i, o) = (layer.in_features, layer.out_features);
    let xt = Tensor::from_f32(device, &[batch, i], x, "x").unwrap();
    let wt = Tensor::from_f32(device, &[o, i], w, "w").unwrap();
    let bt = Tensor::from_f32(device, &[o], b, "b").unwrap();
    let y = Tensor::zeros(device, &[batch, o], DType::F32, "y").unwrap();
    let gyt = Tensor::from_f32(device, &[batch, o], gy, "gy").unwrap();
    let gx = Tensor::zeros(device, &[batch, i], DType::F32, "gx").unwrap();
    let gw = Tensor::zeros(device, &[o, i], DType::F32, "gw").unwrap();
    let gb = Tensor::zeros(device, &[o], DType::F32, "gb").unwrap();
    let mut rec = Recorder::new(device);
    rec.set_gemm_core(core);
    layer.forward(&mut rec, &xt, &wt, &bt, &y).unwrap();
    if layer.relu {
        relu_backward(&mut rec, &y, &gyt).unwrap();
    }
    layer.backward_input(&mut rec, &gyt, &wt, &gx).unwrap();
    layer.backward_weight(&mut rec, &gyt, &xt, &gw).unwrap();
    layer.backward_bias(&mut rec, &gyt, &gb).unwrap();
    rec.submit();
    Out { y: y.read_f32(device).await.unwrap(), gx: gx.read_f32(device).await.unwrap(), gw: gw.read_f32(device).await.unwrap(), gb: gb.read_f32(device).await.unwrap() }
}

fn assert_out(what: &str, got: &Out, want: &Out) {
    assert_close(&format!("{what} y"), &got.y, &want.y, RTOL);
    assert_close(&format!("{what} grad x"), &got.gx, &want.gx, RTOL);
    assert_close(&format!("{what} grad w"), &got.gw, &want.gw, RTOL);
    assert_close(&format!("{what} grad b"), &got.gb, &want.gb, RTOL);
}

fn by_reference(layer: Linear, batch: usize, x: &[f32], w: &[f32], b: &[f32], gy: &[f32]) -> Out {
    let (i, o) = (layer.in_features, layer.out_features);
    let y = reference::linear_forward(x, w, b, batch, i, o, layer.relu);
    let masked: Vec<f32> = gy.iter().zip(&y).map(|(&g, &v)| if !layer.relu || v > 0.0 { g } else { 0.0 }).collect();
    let g = reference::linear_backward(x, w, &masked, batch, i, o);
    Out { y, gx: g.x, gw: g.w, gb: g.b }
}

engine_test! {
    async fn linear_forward_and_backward_match_pytorch_and_cpu(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in f.cases() {
            let p = f.params(&name);
            let layer = Linear { in_features: p[1], out_features: p[2], relu: p[3] == 1 };
            let get = |t: &str| f.get(&format!("{name}.{t}"));
            let (x, w, b, gy) = (get("x"), get("w"), get("b"), get("gy"));
            for core in crate::common::gemm_cores(device).into_iter().chain([GemmCore::Naive]) {
                let got = on_device(device, layer, p[0], &x, &w, &b, &gy, core).await;
                assert_out(&format!("{name} {core:?} vs pytorch"), &got, &Out { y: get("y"), gx: get("gx"), gw: get("gw"), gb: get("gb") });
                assert_out(&format!("{name} {core:?} vs cpu"), &got, &by_reference(layer, p[0], &x, &w, &b, &gy));
            }
        }
    }

    async fn linear_gradients_pass_finite_difference_checks(device: &Device) {
        let f = Fixture::new(FIXTURE);
        let name = "batch7";
        let p = f.params(name);
        let layer = Linear { in_features: p[1], out_features: p[2], relu: true };
        let get = |t: &str| f.get(&format!("{name}.{t}"));
        let (x, w, b, gy) = (get("x"), get("w"), get("b"), get("gy"));
        for core in crate::common::gemm_cores(device) {
            let g = on_device(device, layer, 7, &x, &w, &b, &gy, core).await;
            let loss = |x: Vec<f32>, w: Vec<f32>, b: Vec<f32>| {
                let gy = gy.clone();
                async move { dot(&on_device(device, layer, 7, &x, &w, &b, &gy, core).await.y, &gy) }
            };
            check_directional_derivative(&format!("linear {core:?} input"), &x, &g.gx, 5, 1e-4, |x| loss(x, w.clone(), b.clone())).await;
            check_directional_derivative(&format!("linear {core:?} weight"), &w, &g.gw, 6, 1e-4, |w| loss(x.clone(), w, b.clone())).await;
            check_directional_derivative(&format!("linear {core:?} bias"), &b, &g.gb, 7, 1e-4, |b| loss(x.clone(), w.clone(), b)).await;
        }
    }

    async fn matmul_with_split_k_matches_cpu(device: &Device) {
        // k = 1500 is split into several parts; m, n are not multiples of any tile.
        let (m, n, k) = (19, 45, 1500);
        let a = random(k * m, 20);
        let b = random(k * n, 21);
        let at = Tensor::from_f32(device, &[k, m], &a, "a").unwrap();
        let bt = Tensor::from_f32(device, &[k, n], &b, "b").unwrap();
        let c = Tensor::zeros(device, &[m, n], DType::F32, "c").unwrap();
        let want: Vec<f32> = (0..m * n).map(|i| (0..k).map(|j| a[j * m + i / n] as f64 * b[j * n + i % n] as f64).sum::<f64>() as f32).collect();
        for core in crate::common::gemm_cores(device) {
            let mut rec = Recorder::new(device);
            rec.set_gemm_core(core);
            rec.set_target_workgroups(128);
            Matmul { m, n, k, trans_a: true, trans_b: false }.record(&mut rec, &at, &bt, None, false, &c).unwrap();
            let got = run(device, rec, &c).await;
            assert_close(&format!("{core:?} aᵀ·b"), &got, &want, RTOL);
        }
    }

    async fn matmul_is_right_for_every_block_shape_and_transpose(device: &Device) {
        // One shape per block the engine picks (src/engine/wgsl/gemm.rs tile_for: by rows 128 / 64 / 32 / 16 / 4,
        // and the column-narrow ones; subgroup_tile_for: 64 rows and more, fewer, narrow) ×
        // transposes, none a multiple of its block.
        let shapes = [(130, 150, 70), (50, 200, 40), (20, 100, 33), (10, 300, 20), (3, 300, 21), (50, 30, 19), (13, 40, 17), (70, 9, 25), (1, 1, 1)];
        for (m, n, k) in shapes {
            for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = random(m * k, (m * 7 + k) as u64);
                let b = random(k * n, (n * 5 + k) as u64);
                let at = Tensor::from_f32(device, &[m * k], &a, "a").unwrap();
                let bt = Tensor::from_f32(device, &[k * n], &b, "b").unwrap();
                let c = Tensor::zeros(device, &[m, n], DType::F32, "c").unwrap();
                let ai = |i: usize, j: usize| if trans_a { a[j * m + i] } else { a[i * k + j] } as f64;
                let bi = |j: usize, l: usize| if trans_b { b[l * k + j] } else { b[j * n + l] } as f64;
                let want: Vec<f32> = (0..m * n).map(|e| (0..k).map(|j| ai(e / n, j) * bi(j, e % n)).sum::<f64>() as f32).collect();
                for core in crate::common::gemm_cores(device) {
                    let mut rec = Recorder::new(device);
                    rec.set_gemm_core(core);
                    Matmul { m, n, k, trans_a, trans_b }.record(&mut rec, &at, &bt, None, false, &c).unwrap();
                    let got = run(device, rec, &c).await;
                    assert_close(&format!("{core:?} {m}×{n}×{k} trans {trans_a} {trans_b}"), &got, &want, RTOL);
                }
            }
        }
    }

    async fn linear_bad_shapes_are_clear_errors(device: &Device) {
        let layer = Linear { in_features: 6400, out_features: 4096, relu: true };
        let x = Tensor::zeros(device, &[2, 256, 4, 4], DType::F32, "x").unwrap();
        let w = Tensor::zeros(device, &[10, 4096], DType::F32, "w").unwrap();
        let b = Tensor::zeros(device, &[10], DType::F32, "b").unwrap();
        let y = Tensor::zeros(device, &[2, 10], DType::F32, "y").unwrap();
        let mut rec = Recorder::new(device);
        let err = layer.forward(&mut rec, &x, &w, &b, &y).unwrap_err();
        assert!(err.to_string().contains("expected [batch, 6400]"), "{err}");
    }
}
