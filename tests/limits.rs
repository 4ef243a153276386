//! The WGSL kernels at the edges of what the engine admits, on the native GPU adapter (lavapipe
//! here): an elementwise kernel over the largest buffer one binding holds (up to 128 MiB, which
//! also takes the dispatch past one grid row of 65,535 workgroups), and each kernel that divides
//! element indices (index_math.wgsl's divmod) at one below its quotient bound, [`ops::MAX_DIVIDED`]
//! (2^21 planes, images or channels), where it must still index exactly, and at the bound, where
//! it is refused. Native only: the browser's SwiftShader would take minutes over these sizes.
#![cfg(not(target_arch = "wasm32"))]

use cnnscope::ops::{self, Augment, Conv2d, Dropout, MAX_DIVIDED, Pool2d};
use cnnscope::{DType, Device, Gpu, Recorder, Tensor};

fn gpu() -> &'static Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    GPU.get_or_init(|| Device::Wgsl(pollster::block_on(Gpu::new()).unwrap_or_else(|e| panic!("{e}"))))
}

fn read(t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.read_f32(gpu())).unwrap()
}

/// Elements of the largest f32 tensor the adapter binds, capped at 128 MiB (WebGPU's default
/// binding, lavapipe's; larger GPUs' limits take seconds and gigabytes more to reach).
fn largest_elements() -> usize {
    (gpu().max_binding_bytes().min(128 << 20) / 4) as usize
}

#[test]
fn elementwise_kernels_cover_the_largest_binding() {
    let n = largest_elements();
    let values: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { -1.0 } else { (i % 1000) as f32 }).collect();
    let x = Tensor::from_f32(gpu(), &[n], &values, "x").unwrap();
    let mut rec = Recorder::new(gpu());
    ops::relu_forward(&mut rec, &x).unwrap();
    rec.submit();
    let y = read(&x);
    let wrong = y.iter().zip(&values).position(|(y, v)| *y != v.max(0.0));
    assert_eq!(wrong, None, "relu over {n} values");

    // Dropout, one invocation per element: 2^15 workgroups per 2^23 values, so a 2-D grid past
    // 65,535; its mask at the last elements equals the CPU's (the same hash of the index).
    let ones = vec![1.0f32; n];
    let d = Tensor::from_f32(gpu(), &[n], &ones, "dropout").unwrap();
    let sum = Tensor::from_f32(gpu(), &[n], &ones, "sum").unwrap();
    let mut rec = Recorder::new(gpu());
    Dropout { rate: 0.5 }.forward(&mut rec, &d, 7, 0).unwrap();
    ops::accumulate(&mut rec, &d, &sum).unwrap();
    rec.submit();
    let (dropped, summed) = (read(&d), read(&sum));
    let cpu = Device::cpu();
    let tail = 1 << 16;
    let reference = Tensor::from_f32(&cpu, &[tail], &ones[..tail], "tail").unwrap();
    let mut rec = Recorder::new(&cpu);
    Dropout { rate: 0.5 }.forward(&mut rec, &reference, 7, (n - tail) as u32).unwrap();
    rec.submit();
    assert_eq!(dropped[n - tail..], read_cpu(&cpu, &reference), "dropout's mask at the last {tail} of {n} values");
    let kept = dropped.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
    assert!((kept - 0.5).abs() < 0.001, "kept {kept}");
    assert!(summed.iter().zip(&dropped).all(|(s, d)| *s == d + 1.0), "accumulate over {n} values");
}

fn read_cpu(cpu: &Device, t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.read_f32(cpu)).unwrap()
}

/// Max and average pooling over 2^21 − 1 planes of 2×2: each plane's largest value sits in a
/// corner that moves with the plane, so one plane indexed as its neighbour shows.
#[test]
fn pools_index_exactly_below_the_plane_bound() {
    let planes = MAX_DIVIDED - 1;
    let x: Vec<f32> = (0..planes * 4).map(|i| if i % 4 == (i / 4) % 4 { (i / 4) as f32 } else { -((i % 7) as f32) }).collect();
    let xt = Tensor::from_f32(gpu(), &[1, planes, 2, 2], &x, "x").unwrap();
    let (max, avg) = (Pool2d::max(2, 2, 0), Pool2d::average(2, 2, 0));
    let y_max = Tensor::zeros(gpu(), &[1, planes, 1, 1], DType::F32, "max").unwrap();
    let y_avg = Tensor::zeros(gpu(), &[1, planes, 1, 1], DType::F32, "avg").unwrap();
    let argmax = Tensor::zeros(gpu(), &[1, planes, 1, 1], DType::U32, "argmax").unwrap();
    let g_max = Tensor::zeros(gpu(), &[1, planes, 2, 2], DType::F32, "max grad").unwrap();
    let g_avg = Tensor::zeros(gpu(), &[1, planes, 2, 2], DType::F32, "avg grad").unwrap();
    let mut rec = Recorder::new(gpu());
    max.forward(&mut rec, &xt, &y_max, Some(&argmax)).unwrap();
    avg.forward(&mut rec, &xt, &y_avg, None).unwrap();
    // The gradient flowing back is the pooled output itself: plane p scatters p to its winner.
    max.backward(&mut rec, &y_max, Some(&argmax), &g_max).unwrap();
    avg.backward(&mut rec, &y_avg, None, &g_avg).unwrap();
    rec.submit();
    let (y_max, y_avg, g_max, g_avg) = (read(&y_max), read(&y_avg), read(&g_max), read(&g_avg));
    for p in 0..planes {
        let window = &x[4 * p..4 * p + 4];
        assert_eq!(y_max[p], p as f32, "max of plane {p}");
        let mean = window.iter().sum::<f32>() / 4.0;
        assert!((y_avg[p] - mean).abs() <= 1e-6 * mean.abs().max(1.0), "average of plane {p}: {} for {mean}", y_avg[p]);
        let want: Vec<f32> = (0..4).map(|i| if i == p % 4 { p as f32 } else { 0.0 }).collect();
        assert_eq!(g_max[4 * p..4 * p + 4], want, "max pool's gradient in plane {p}");
        assert!(g_avg[4 * p..4 * p + 4].iter().all(|g| (g - y_avg[p] / 4.0).abs() <= 1e-6 * g.abs().max(1.0)), "average pool's gradient in plane {p}");
    }
    let too_many = Tensor::zeros(gpu(), &[2, MAX_DIVIDED / 2, 2, 2], DType::F32, "x").unwrap();
    let pooled = Tensor::zeros(gpu(), &[2, MAX_DIVIDED / 2, 1, 1], DType::F32, "y").unwrap();
    let err = avg.forward(&mut Recorder::new(gpu()), &too_many, &pooled, None).unwrap_err().to_string();
    assert!(err.contains("2097152 planes (2 images × 1048576 channels) is more than one kernel indexes exactly"), "{err}");
}

/// A 1×1 convolution with 2^21 − 1 input channels (the weight gradient and the input gradient
/// divide by the kernel's taps into channels), and one over 2^21 − 1 images of one pixel (the
/// kernels divide columns into images), forward and backward, against sums in f64. On llvmpipe
/// the forward pass over 2^21 − 1 channels is refused: its depth loop would stop short.
#[test]
fn convolutions_index_exactly_below_the_channel_and_image_bounds() {
    let most = MAX_DIVIDED - 1;
    let values = |n: usize, salt: usize| -> Vec<f32> { (0..n).map(|i| ((i * 2_654_435_761 + salt) % 1999) as f32 / 1999.0 - 0.5).collect() };

    // Channels: y = Σ_c w_c x_c + b over 2^21 − 1 channels of one image.
    let conv = Conv2d { in_channels: most, out_channels: 1, kernel: 1, stride: 1, padding: 0, relu: false };
    let (x, w) = (values(most, 1), values(most, 2));
    let (xt, wt) = (Tensor::from_f32(gpu(), &[1, most, 1, 1], &x, "x").unwrap(), Tensor::from_f32(gpu(), &[1, most, 1, 1], &w, "w").unwrap());
    let b = Tensor::from_f32(gpu(), &[1], &[0.25], "b").unwrap();
    let y = Tensor::zeros(gpu(), &[1, 1, 1, 1], DType::F32, "y").unwrap();
    let gy = Tensor::from_f32(gpu(), &[1, 1, 1, 1], &[2.0], "gy").unwrap();
    let (gx, gw) = (Tensor::zeros(gpu(), &[1, most, 1, 1], DType::F32, "gx").unwrap(), Tensor::zeros(gpu(), &[1, most, 1, 1], DType::F32, "gw").unwrap());
    let mut rec = Recorder::new(gpu());
    let forward = conv.forward(&mut rec, xt.view().unwrap(), &wt, &b, y.view().unwrap());
    conv.backward_input(&mut rec, gy.view().unwrap(), &wt, gx.view().unwrap(), false).unwrap();
    conv.backward_weight(&mut rec, gy.view().unwrap(), xt.view().unwrap(), &gw).unwrap();
    rec.submit();
    match gpu().gpu_ref().unwrap().loop_limit() {
        // The forward product is 2^21 − 1 deep in one pass (its bias epilogue needs the whole
        // sum): llvmpipe would stop its loop at 65,535 terms, so it is refused there.
        Some(_) => {
            let err = forward.unwrap_err();
            assert!(matches!(err, cnnscope::EngineError::LoopLimit { depth: 2_097_151, limit: 65_535, .. }), "{err:?}");
            let err = err.to_string();
            assert!(err.contains("a product 2097151 deep (k) in one pass: this adapter's driver (llvmpipe) stops every loop"), "{err}");
        }
        None => {
            forward.unwrap();
            let want: f64 = x.iter().zip(&w).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() + 0.25;
            let scale: f64 = x.iter().zip(&w).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum();
            assert!((read(&y)[0] as f64 - want).abs() <= 1e-5 * scale, "y = {} for {want}", read(&y)[0]);
        }
    }
    assert_eq!(read(&gx), w.iter().map(|v| 2.0 * v).collect::<Vec<_>>(), "the input gradient, channel by channel");
    assert_eq!(read(&gw), x.iter().map(|v| 2.0 * v).collect::<Vec<_>>(), "the weight gradient, channel by channel");

    // Images: y_i = w x_i + b over 2^21 − 1 images of one pixel, two channels in, one out.
    let conv = Conv2d { in_channels: 2, out_channels: 1, kernel: 1, stride: 1, padding: 0, relu: false };
    let x = values(2 * most, 3);
    let xt = Tensor::from_f32(gpu(), &[most, 2, 1, 1], &x, "x").unwrap();
    let wt = Tensor::from_f32(gpu(), &[1, 2, 1, 1], &[0.5, -2.0], "w").unwrap();
    let y = Tensor::zeros(gpu(), &[most, 1, 1, 1], DType::F32, "y").unwrap();
    let mut rec = Recorder::new(gpu());
    conv.forward(&mut rec, xt.view().unwrap(), &wt, &b, y.view().unwrap()).unwrap();
    rec.submit();
    let got = read(&y);
    let wrong = (0..most).find(|&i| (got[i] - (0.5 * x[2 * i] - 2.0 * x[2 * i + 1] + 0.25)).abs() > 1e-6);
    assert_eq!(wrong, None, "image {wrong:?} of {most}");

    let too_many = Tensor::zeros(gpu(), &[MAX_DIVIDED, 2, 1, 1], DType::F32, "x").unwrap();
    let out = Tensor::zeros(gpu(), &[MAX_DIVIDED, 1, 1, 1], DType::F32, "y").unwrap();
    let err = conv.forward(&mut Recorder::new(gpu()), too_many.view().unwrap(), &wt, &b, out.view().unwrap()).unwrap_err().to_string();
    assert!(err.contains("2097152 images is more than one kernel indexes exactly"), "{err}");
}

/// The batch gather over 2^21 − 1 images of 2×2 (it divides element indices into images), each
/// the dataset's image its order names, augmented per row.
#[test]
fn the_batch_gather_indexes_exactly_below_the_image_bound() {
    let most = MAX_DIVIDED - 1;
    // Three 28×28 images of one grey each: 10, 20, 30.
    let bytes: Vec<u8> = (0..3 * 784).map(|i| 10 * (1 + i / 784) as u8).collect();
    let packed: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let pixels = Tensor::from_u32(gpu(), &[packed.len()], &packed, "pixels").unwrap();
    let all_labels = Tensor::from_u32(gpu(), &[3], &[4, 5, 6], "labels").unwrap();
    let order: Vec<u32> = (0..most as u32).map(|i| i.wrapping_mul(2_654_435_761) % 3).collect();
    let order_t = Tensor::from_u32(gpu(), &[most], &order, "order").unwrap();
    let images = Tensor::zeros(gpu(), &[most, 1, 2, 2], DType::F32, "images").unwrap();
    let labels = Tensor::zeros(gpu(), &[most], DType::U32, "batch labels").unwrap();
    let mut rec = Recorder::new(gpu());
    ops::gather_resize(&mut rec, &pixels, (28, 28), &all_labels, &order_t, 0, &images, &labels, None).unwrap();
    rec.submit();
    let (got, got_labels) = (read(&images), pollster::block_on(labels.read_u32(gpu())).unwrap());
    let wrong = (0..most).find(|&i| got[4 * i..4 * i + 4].iter().any(|&v| v != 10.0 * (1 + order[i]) as f32 / 255.0) || got_labels[i] != 4 + order[i]);
    assert_eq!(wrong, None, "image {wrong:?} of {most}");
    let augment = Some(Augment { salt: 1, first_row: 0 });
    let order_t = Tensor::zeros(gpu(), &[MAX_DIVIDED], DType::U32, "order").unwrap();
    let too_many = Tensor::zeros(gpu(), &[MAX_DIVIDED, 1, 1, 1], DType::F32, "images").unwrap();
    let too_many_labels = Tensor::zeros(gpu(), &[MAX_DIVIDED], DType::U32, "labels").unwrap();
    let err = ops::gather_resize(&mut Recorder::new(gpu()), &pixels, (28, 28), &all_labels, &order_t, 0, &too_many, &too_many_labels, augment).unwrap_err().to_string();
    assert!(err.contains("2097152 images is more than one kernel indexes exactly"), "{err}");
}

/// WebGPU's default limits, the least a browser may give a page (`Gpu::at_webgpu_defaults`): the
/// third device the kernel and training tests run on holds to them whatever the adapter has
/// (lavapipe binds 2 GiB), so the tests there meet a browser's 128 MiB binding and its micro-batches.
#[test]
fn the_default_limits_device_is_what_a_browser_may_give() {
    let gpu = pollster::block_on(Gpu::at_webgpu_defaults()).unwrap();
    assert_eq!(u64::from(gpu.limits.max_storage_buffer_binding_size), 128 << 20);
    assert_eq!(gpu.limits.max_compute_workgroup_storage_size, 16384);
    assert_eq!(gpu.limits.max_compute_invocations_per_workgroup, 256);
    assert_eq!(gpu.limits.max_compute_workgroups_per_dimension, 65535);
    assert!(Device::Wgsl(gpu).max_binding_bytes() <= 128 << 20);
}
