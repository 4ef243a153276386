use cnnscope::{DType, Device, EngineError, Tensor};

wgsl_test! {
    async fn context_reports_adapter_and_real_limits(device: &Device) {
        let gpu = device.gpu_ref().unwrap();
        assert!(!gpu.describe().is_empty());
        // The device carries the adapter's limits, which are at least WebGPU's defaults.
        let defaults = wgpu::Limits::default();
        assert!(gpu.limits.max_storage_buffer_binding_size >= defaults.max_storage_buffer_binding_size);
        assert!(gpu.limits.max_compute_workgroup_storage_size >= defaults.max_compute_workgroup_storage_size);
        assert!(gpu.max_binding_bytes() >= 128 << 20);
        // The browser build really runs on the browser's WebGPU, the native build on a native API.
        let backend = gpu.info.backend;
        if cfg!(target_arch = "wasm32") {
            assert_eq!(backend, wgpu::Backend::BrowserWebGpu);
        } else {
            assert!(matches!(backend, wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12), "{backend:?}");
        }
    }

    async fn errors_while_discarding_are_not_kept_for_the_next_check(_shared: &Device) {
        // A device of its own: the shared one's errors belong to the tests running beside this.
        let own = Device::Wgsl(cnnscope::Gpu::new().await.unwrap());
        let device = &own;
        let gpu = own.gpu_ref().unwrap();
        // A mappable storage buffer is invalid without a native-only feature.
        let invalid = || {
            let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::STORAGE;
            gpu.device.create_buffer(&wgpu::BufferDescriptor { label: Some("invalid"), size: 16, usage, mapped_at_creation: false })
        };
        // A readback between, so that the browser's error events have arrived.
        let x = Tensor::from_f32(device, &[1], &[1.0], "x").unwrap();
        let _discarded = device.discarding_errors(invalid);
        x.read_f32(device).await.unwrap();
        device.take_error().unwrap();
        let _kept = invalid();
        let kept = x.read_f32(device).await.and_then(|_| device.take_error());
        assert!(kept.is_err(), "outside, the same mistake is kept");
    }
}

engine_test! {
    async fn tensors_refuse_zero_sized_oversized_and_mismatched_data(device: &Device) {
        let err = Tensor::zeros(device, &[2, 0, 3], DType::F32, "activations").unwrap_err();
        assert!(err.to_string().contains("zero-sized dimension"), "{err}");
        // AlexNet's first conv output at batch 4096 and side 224 (96×54×54 per image): 4.6 GB,
        // over a GPU's binding; the CPU engine's budget is the host's memory, so at 4M images (a
        // petabyte) there.
        let batch = if crate::common::on_cpu(device) { 1 << 22 } else { 4096 };
        let err = Tensor::zeros(device, &[batch, 96, 54, 54], DType::F32, "conv1 output").unwrap_err();
        assert!(matches!(err, EngineError::BufferTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("lower the batch size"), "{err}");
        let err = Tensor::from_f32(device, &[2, 3], &[1.0; 5], "x").unwrap_err();
        assert!(err.to_string().contains("holds 6 elements but 5 were given"), "{err}");
        let t = Tensor::from_f32(device, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "x").unwrap();
        assert!(t.reshape(&[4]).is_err());
        assert_eq!(t.reshape(&[3, 2]).unwrap().read_f32(device).await.unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        device.take_error().unwrap();
    }

    async fn tensors_of_the_two_engines_do_not_mix(device: &Device) {
        // A tensor of the other engine given to a kernel is refused with a message, not a panic.
        let other = if crate::common::on_cpu(device) { return } else { Device::cpu() };
        let x = Tensor::from_f32(&other, &[1, 1, 2, 2], &[1.0; 4], "x").unwrap();
        let mut rec = cnnscope::Recorder::new(device);
        let err = cnnscope::ops::relu_forward(&mut rec, &x).unwrap_err();
        assert!(err.to_string().contains("other engine"), "{err}");
        assert!(matches!(err, cnnscope::EngineError::WrongEngine { .. }), "an engine mismatch says so: {err:?}");
    }
}
