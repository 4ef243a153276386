//! The self-check (`cnnscope::check`) catches a wrong kernel: with one broken on purpose, as a
//! driver's miscompile would break it, the check fails and names the kernel; unbroken, every case
//! agrees. Each test breaks a GPU device of its own, never the one the other tests share.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use cnnscope::net::{Arch, NetConfig};
    use cnnscope::{Device, Gpu};

    fn nin() -> [NetConfig; 1] {
        [NetConfig { arch: Arch::Nin, ratio: 16, side: 67, second_hidden: true }]
    }

    /// A wrong index in a backward kernel: the convolution's input gradient reads the tap's row
    /// where it should read its column.
    #[test]
    fn the_check_catches_a_wrong_index_in_a_backward_kernel() {
        let gpu = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
        gpu.gpu_ref().unwrap().break_kernel("let tx = c.tx - i32(t.z);", "let tx = c.tx - i32(t.y);");
        let report = pollster::block_on(cnnscope::check::run(&gpu, &Device::cpu(), &nin(), |_, _| {})).unwrap();
        assert!(!report.passed(), "{}", report.text());
        let differs: Vec<&str> = report.cases.iter().filter(|c| !c.agrees()).map(|c| c.kernel.as_str()).collect();
        assert!(differs.contains(&"convolution: grad x"), "{differs:?}");
        assert!(differs.iter().all(|k| *k == "convolution: grad x" || k.starts_with("training step: ")), "only what the broken kernel feeds: {differs:?}");
        assert!(report.text().contains("cases differ from the CPU engine"), "{}", report.text());
    }

    /// A subgroup core that assumes a subgroup of 32 lanes (as one written for NVIDIA's warps
    /// would), on an adapter whose subgroups are narrower (lavapipe: 8): its blocks' columns past
    /// the lanes that ran are never written.
    #[test]
    fn the_check_catches_a_subgroup_core_that_assumes_a_size() {
        let gpu = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
        if gpu.gpu_ref().unwrap().subgroup_size.is_none_or(|lanes| lanes >= 32) {
            return eprintln!("this adapter offers no subgroup core narrower than 32 lanes: nothing to break");
        }
        gpu.gpu_ref().unwrap().break_kernel("const BN: u32 = SG * TN;", "const BN: u32 = 32u * TN;");
        let report = pollster::block_on(cnnscope::check::run(&gpu, &Device::cpu(), &nin(), |_, _| {})).unwrap();
        assert!(!report.passed(), "{}", report.text());
        assert!(report.cases.iter().any(|c| !c.agrees() && c.kernel.starts_with("gemm Subgroup: ")), "{}", report.text());
        assert!(report.cases.iter().filter(|c| c.kernel.starts_with("gemm Tiled: ")).all(|c| c.agrees()), "the tiled core is not broken: {}", report.text());
    }

    /// `--device auto`'s trust: an adapter whose check fails is not trusted, and the verdict is
    /// remembered for that adapter (asked again with its kernels mended, it is still the failed
    /// check's answer: no second check ran), in the file given (the user's cache directory, natively).
    #[test]
    fn a_failed_check_is_remembered_and_the_adapter_not_trusted() {
        let file = std::env::temp_dir().join(format!("cnnscope-trust-{}.tsv", std::process::id()));
        let broken = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
        broken.gpu_ref().unwrap().break_kernel("let tx = c.tx - i32(t.z);", "let tx = c.tx - i32(t.y);");
        let why = pollster::block_on(cnnscope::check::trusted_by(&broken, Some(&file), &nin())).unwrap_err();
        assert!(why.contains("cases differ from the CPU engine"), "{why}");
        let mended = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
        assert_eq!(pollster::block_on(cnnscope::check::trusted_by(&mended, Some(&file), &nin())), Err(why), "remembered, not checked again");
        std::fs::remove_file(&file).unwrap();
        let checked = pollster::block_on(cnnscope::check::trusted_by(&mended, Some(&file), &nin())).unwrap();
        assert!(checked.starts_with("checked on this GPU: "), "{checked}");
        std::fs::remove_file(&file).unwrap();
    }

    #[test]
    fn every_case_agrees_on_this_adapter() {
        let gpu = Device::Wgsl(pollster::block_on(Gpu::new()).unwrap());
        let report = pollster::block_on(cnnscope::check::run(&gpu, &Device::cpu(), &nin(), |_, _| {})).unwrap();
        assert!(report.passed(), "{}", report.text());
        eprintln!("{}", report.text());
    }
}

/// In Chromium, on its WebGPU (SwiftShader here): the same broken kernel fails the check there too,
/// naming it. The kernels alone (no training step: each net's kernels take SwiftShader a second
/// apiece to compile), on a device of its own, since a broken kernel must not reach the other tests.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen_test::wasm_bindgen_test]
async fn the_check_catches_a_wrong_index_in_the_browser() {
    use cnnscope::{Device, Gpu};
    let gpu = Device::Wgsl(Gpu::new().await.unwrap());
    gpu.gpu_ref().unwrap().break_kernel("let tx = c.tx - i32(t.z);", "let tx = c.tx - i32(t.y);");
    let report = cnnscope::check::run(&gpu, &Device::cpu(), &[], |_, _| {}).await.unwrap();
    let differs: Vec<&str> = report.cases.iter().filter(|c| !c.agrees()).map(|c| c.kernel.as_str()).collect();
    assert_eq!(differs.iter().copied().collect::<std::collections::BTreeSet<_>>(), ["convolution: grad x"].into(), "{}", report.text());
    assert!(report.cases.len() > 30, "{}", report.text());
}
