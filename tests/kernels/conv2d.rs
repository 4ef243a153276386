use cnnscope::ops::{relu_backward, Conv2d};
use cnnscope::reference::{self, Dims};
use cnnscope::{EngineError, GemmCore, Device, Recorder, Tensor, DType};

use crate::common::*;

const FIXTURE: &[u8] = include_bytes!("../fixtures/conv2d.safetensors");

struct Case {
    conv: Conv2d,
    xd: Dims,
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    gy: Vec<f32>,
}

impl Case {
    fn from_fixture(f: &Fixture, name: &str) -> Case {
        let p = f.params(name);
        let get = |t: &str| f.get(&format!("{name}.{t}"));
        Case {
            conv: Conv2d { in_channels: p[1], out_channels: p[4], kernel: p[5], stride: p[6], padding: p[7], relu: p[8] == 1 },
            xd: Dims { n: p[0], c: p[1], h: p[2], w: p[3] },
            x: get("x"),
            w: get("w"),
            b: get("b"),
            gy: get("gy"),
        }
    }

    fn yd(&self) -> Dims {
        let (h, w) = self.conv.output_size(self.xd.h, self.xd.w).unwrap();
        Dims { n: self.xd.n, c: self.conv.out_channels, h, w }
    }
}

struct Outputs {
    y: Vec<f32>,
    gx: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
}

fn nchw(d: Dims) -> [usize; 4] {
    [d.n, d.c, d.h, d.w]
}

/// Forward, then the whole backward (ReLU mask, input, weight and bias gradients) in one submission.
async fn on_device(device: &Device, c: &Case, core: GemmCore) -> Outputs {
    let yd = c.yd();
    let x = Tensor::from_f32(device, &nchw(c.xd), &c.x, "x").unwrap();
    let w = Tensor::from_f32(device, &c.conv.weight_shape(), &c.w, "w").unwrap();
    let b = Tensor::from_f32(device, &[c.conv.out_channels], &c.b, "b").unwrap();
    let y = Tensor::zeros(device, &nchw(yd), DType::F32, "y").unwrap();
    let gy = Tensor::from_f32(device, &nchw(yd), &c.gy, "gy").unwrap();
    let gx = Tensor::zeros(device, &nchw(c.xd), DType::F32, "gx").unwrap();
    let gw = Tensor::zeros(device, &c.conv.weight_shape(), DType::F32, "gw").unwrap();
    let gb = Tensor::zeros(device, &[c.conv.out_channels], DType::F32, "gb").unwrap();
    let mut rec = Recorder::new(device);
    rec.set_gemm_core(core);
    // Split k as a GPU would, whatever the adapter, so the split paths are tested everywhere.
    rec.set_target_workgroups(128);
    c.conv.forward(&mut rec, x.view().unwrap(), &w, &b, y.view().unwrap()).unwrap();
    if c.conv.relu {
        relu_backward(&mut rec, &y, &gy).unwrap();
    }
    c.conv.backward_input(&mut rec, gy.view().unwrap(), &w, gx.view().unwrap(), false).unwrap();
    c.conv.backward_weight(&mut rec, gy.view().unwrap(), x.view().unwrap(), &gw).unwrap();
    c.conv.backward_bias(&mut rec, gy.view().unwrap(), &gb).unwrap();
    rec.submit();
    Outputs {
        y: y.read_f32(device).await.unwrap(),
        gx: gx.read_f32(device).await.unwrap(),
        gw: gw.read_f32(device).await.unwrap(),
        gb: gb.read_f32(device).await.unwrap(),
    }
}

fn by_reference(c: &Case) -> Outputs {
    let (y, _) = reference::conv2d_forward(&c.conv, &c.x, c.xd, &c.w, &c.b);
    let masked: Vec<f32> = if c.conv.relu { c.gy.iter().zip(&y).map(|(&g, &v)| if v > 0.0 { g } else { 0.0 }).collect() } else { c.gy.clone() };
    let g = reference::conv2d_backward(&c.conv, &c.x, c.xd, &c.w, &masked);
    Outputs { y, gx: g.x, gw: g.w, gb: g.b }
}

fn assert_outputs(what: &str, got: &Outputs, want: &Outputs) {
    assert_close(&format!("{what} y"), &got.y, &want.y, RTOL);
    assert_close(&format!("{what} grad x"), &got.gx, &want.gx, RTOL);
    assert_close(&format!("{what} grad w"), &got.gw, &want.gw, RTOL);
    assert_close(&format!("{what} grad b"), &got.gb, &want.gb, RTOL);
}

engine_test! {
    async fn conv2d_forward_and_backward_match_pytorch_and_cpu(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in f.cases() {
            let case = Case::from_fixture(&f, &name);
            let get = |t: &str| f.get(&format!("{name}.{t}"));
            let torch = Outputs { y: get("y"), gx: get("gx"), gw: get("gw"), gb: get("gb") };
            let cpu = by_reference(&case);
            for core in crate::common::gemm_cores(device) {
                let got = on_device(device, &case, core).await;
                assert_outputs(&format!("{name} {core:?} vs pytorch"), &got, &torch);
                assert_outputs(&format!("{name} {core:?} vs cpu"), &got, &cpu);
            }
        }
    }

    async fn conv2d_naive_baseline_is_also_correct(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for name in ["alexnet_like", "k7_rect", "wide_split", "first_layer"] {
            let case = Case::from_fixture(&f, name);
            let got = on_device(device, &case, GemmCore::Naive).await;
            assert_outputs(&format!("{name} naive vs cpu"), &got, &by_reference(&case));
        }
    }

    async fn conv2d_gradients_pass_finite_difference_checks(device: &Device) {
        let f = Fixture::new(FIXTURE);
        for core in crate::common::gemm_cores(device) {
            for name in ["batch7", "stride4_pad2", "k7_rect"] {
                let case = Case::from_fixture(&f, name);
                let grads = on_device(device, &case, core).await;
                // L = sum(conv(x, w, b) ⊙ gy), evaluated from a GPU forward pass.
                let loss = |x: Vec<f32>, w: Vec<f32>, b: Vec<f32>| {
                    let case = Case { x, w, b, gy: case.gy.clone(), ..case };
                    async move { dot(&on_device(device, &case, core).await.y, &case.gy) }
                };
                let what = |t: &str| format!("{name} {core:?} {t}");
                check_directional_derivative(&what("input"), &case.x, &grads.gx, 1, 1e-4, |x| loss(x, case.w.clone(), case.b.clone())).await;
                check_directional_derivative(&what("weight"), &case.w, &grads.gw, 2, 1e-4, |w| loss(case.x.clone(), w, case.b.clone())).await;
                check_directional_derivative(&what("bias"), &case.b, &grads.gb, 3, 1e-4, |b| loss(case.x.clone(), case.w.clone(), b)).await;
            }
        }
    }

    async fn conv2d_reads_and_writes_channel_slices_like_inception(device: &Device) {
        // Two paths read channels 2..5 of an 8-channel input and write channels 0..4 and 4..10 of a
        // 10-channel concatenation; their input gradients accumulate into the same slice.
        let xd = Dims { n: 2, c: 8, h: 7, w: 7 };
        let x = random(xd.len(), 10);
        let slice: Vec<f32> = (0..2).flat_map(|n| x[(n * 8 + 2) * 49..(n * 8 + 5) * 49].to_vec()).collect();
        let sd = Dims { c: 3, ..xd };
        let a = Conv2d { in_channels: 3, out_channels: 4, kernel: 1, stride: 1, padding: 0, relu: true };
        let b = Conv2d { in_channels: 3, out_channels: 6, kernel: 3, stride: 1, padding: 1, relu: true };
        let (wa, ba, wb, bb) = (random(12, 11), random(4, 12), random(162, 13), random(6, 14));
        let gy = random(2 * 10 * 49, 15);

        let xt = Tensor::from_f32(device, &[2, 8, 7, 7], &x, "x").unwrap();
        let cat = Tensor::zeros(device, &[2, 10, 7, 7], DType::F32, "concat").unwrap();
        let gcat = Tensor::from_f32(device, &[2, 10, 7, 7], &gy, "grad concat").unwrap();
        let gx = Tensor::zeros(device, &[2, 8, 7, 7], DType::F32, "grad x").unwrap();
        let up = |d: &[f32], s: &[usize]| Tensor::from_f32(device, s, d, "p").unwrap();
        let (wat, bat, wbt, bbt) = (up(&wa, &[4, 3, 1, 1]), up(&ba, &[4]), up(&wb, &[6, 3, 3, 3]), up(&bb, &[6]));
        let mut rec = Recorder::new(device);
        let input = xt.channels(2, 3).unwrap();
        a.forward(&mut rec, input, &wat, &bat, cat.channels(0, 4).unwrap()).unwrap();
        b.forward(&mut rec, input, &wbt, &bbt, cat.channels(4, 6).unwrap()).unwrap();
        relu_backward(&mut rec, &cat, &gcat).unwrap();
        a.backward_input(&mut rec, gcat.channels(0, 4).unwrap(), &wat, gx.channels(2, 3).unwrap(), false).unwrap();
        b.backward_input(&mut rec, gcat.channels(4, 6).unwrap(), &wbt, gx.channels(2, 3).unwrap(), true).unwrap();
        rec.submit();
        let got_cat = cat.read_f32(device).await.unwrap();
        let got_gx = gx.read_f32(device).await.unwrap();

        let (ya, _) = reference::conv2d_forward(&a, &slice, sd, &wa, &ba);
        let (yb, _) = reference::conv2d_forward(&b, &slice, sd, &wb, &bb);
        let want_cat: Vec<f32> = (0..2).flat_map(|n| [&ya[n * 196..(n + 1) * 196], &yb[n * 294..(n + 1) * 294]].concat()).collect();
        assert_close("concatenated output", &got_cat, &want_cat, RTOL);
        let masked: Vec<f32> = gy.iter().zip(&want_cat).map(|(&g, &y)| if y > 0.0 { g } else { 0.0 }).collect();
        let ga: Vec<f32> = (0..2).flat_map(|n| masked[n * 490..n * 490 + 196].to_vec()).collect();
        let gb: Vec<f32> = (0..2).flat_map(|n| masked[n * 490 + 196..(n + 1) * 490].to_vec()).collect();
        let sum: Vec<f32> = reference::conv2d_backward(&a, &slice, sd, &wa, &ga).x.iter()
            .zip(&reference::conv2d_backward(&b, &slice, sd, &wb, &gb).x).map(|(p, q)| p + q).collect();
        let mut want_gx = vec![0f32; xd.len()];
        for n in 0..2 {
            want_gx[(n * 8 + 2) * 49..(n * 8 + 5) * 49].copy_from_slice(&sum[n * 147..(n + 1) * 147]);
        }
        assert_close("accumulated input gradient", &got_gx, &want_gx, RTOL);
    }

    async fn conv2d_bias_gradient_of_a_channel_slice_sums_only_its_channels(device: &Device) {
        // An Inception path's bias gradient reads its slice (channels 3..8 of 11) of the concatenation's
        // gradient. Planes of 1 (column_sum.wgsl), 3 (channel_sum.wgsl by f32) and 8 values (by vec4).
        for (h, w) in [(1, 1), (1, 3), (2, 4)] {
            let (n, total, offset, channels) = (5, 11, 3, 5);
            let gy = random(n * total * h * w, 20 + w as u64);
            let gyt = Tensor::from_f32(device, &[n, total, h, w], &gy, "grad concat").unwrap();
            let gb = Tensor::from_f32(device, &[channels], &[f32::NAN; 5], "grad bias").unwrap();
            let conv = Conv2d { in_channels: 2, out_channels: channels, kernel: 1, stride: 1, padding: 0, relu: false };
            let mut rec = Recorder::new(device);
            conv.backward_bias(&mut rec, gyt.channels(offset, channels).unwrap(), &gb).unwrap();
            let got = run(device, rec, &gb).await;
            let want: Vec<f32> = (0..channels)
                .map(|c| (0..n).flat_map(|i| gy[((i * total + offset + c) * h * w)..][..h * w].to_vec()).sum())
                .collect();
            assert_close(&format!("bias gradient, {h}×{w} planes"), &got, &want, RTOL);
        }
    }

    async fn conv2d_bad_shapes_are_clear_errors(device: &Device) {
        let conv = Conv2d { in_channels: 3, out_channels: 4, kernel: 11, stride: 4, padding: 0, relu: true };
        let err = conv.output_size(7, 7).unwrap_err();
        assert!(err.to_string().contains("kernel 11×11 is larger than the padded input 7×7"), "{err}");

        let x = Tensor::zeros(device, &[1, 3, 31, 31], DType::F32, "x").unwrap();
        let w = Tensor::zeros(device, &conv.weight_shape(), DType::F32, "w").unwrap();
        let b = Tensor::zeros(device, &[4], DType::F32, "b").unwrap();
        let wrong_y = Tensor::zeros(device, &[1, 4, 5, 5], DType::F32, "y").unwrap();
        let mut rec = Recorder::new(device);
        let err = conv.forward(&mut rec, x.view().unwrap(), &w, &b, wrong_y.view().unwrap()).unwrap_err();
        assert!(err.to_string().contains("needs output 1×4×6×6, got 1×4×5×5"), "{err}");

        let wrong_w = Tensor::zeros(device, &[4, 3, 5, 5], DType::F32, "w").unwrap();
        let y = Tensor::zeros(device, &[1, 4, 6, 6], DType::F32, "y").unwrap();
        let err = conv.forward(&mut rec, x.view().unwrap(), &wrong_w, &b, y.view().unwrap()).unwrap_err();
        assert!(matches!(err, EngineError::InvalidShape { .. }), "{err}");
        assert!(err.to_string().contains("expected shape [4, 3, 11, 11], got [4, 3, 5, 5]"), "{err}");

        let err = conv.forward(&mut rec, x.view().unwrap(), &w, &b, x.view().unwrap()).unwrap_err();
        assert!(err.to_string().contains("3→4 channels"), "{err}");
        let zero = Conv2d { stride: 0, ..conv };
        assert!(zero.output_size(31, 31).is_err());
        // A flat tensor cannot be viewed as channels: an error, not a panic inside the kernel.
        let flat = Tensor::zeros(device, &[1, 3 * 31 * 31], DType::F32, "flat").unwrap();
        let err = flat.view().unwrap_err();
        assert_eq!(err.to_string(), "channel view: needs an NCHW tensor (4 dimensions), got shape [1, 2883]");
        // Nothing invalid reached the GPU.
        rec.submit();
        device.take_error().unwrap();
    }
}
