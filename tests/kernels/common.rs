//! Shared test machinery: one test body for native and browser, fixtures, comparisons.

use cnnscope::{Device, Gpu, Recorder, Tensor};
use safetensors::SafeTensors;

/// Declares `async fn name(device: &Device) { .. }` as a test of each engine, the way candle's
/// `test_device!` does: `name::wgsl` on the GPU adapter's WGSL kernels and `name::cpu` on the CPU
/// engine, each on both targets (natively a #[test] blocking on the future, in the browser a
/// #[wasm_bindgen_test] awaiting it); natively also `name::wgsl_at_webgpu_defaults`, the same
/// adapter at WebGPU's default limits (what a browser may give: `Gpu::at_webgpu_defaults`).
macro_rules! engine_test {
    ($(async fn $name:ident($device:ident: &Device) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($device: &cnnscope::Device) $body

            #[cfg(not(target_arch = "wasm32"))]
            #[test]
            fn wgsl() {
                pollster::block_on(body($crate::common::native_gpu()));
            }

            #[cfg(not(target_arch = "wasm32"))]
            #[test]
            fn wgsl_at_webgpu_defaults() {
                pollster::block_on(body($crate::common::native_gpu_at_defaults()));
            }

            #[cfg(not(target_arch = "wasm32"))]
            #[test]
            fn cpu() {
                pollster::block_on(body($crate::common::native_cpu()));
            }

            #[cfg(target_arch = "wasm32")]
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn wgsl() {
                body(&*$crate::common::browser_gpu().await).await;
            }

            #[cfg(target_arch = "wasm32")]
            #[wasm_bindgen_test::wasm_bindgen_test]
            async fn cpu() {
                body(&cnnscope::Device::cpu()).await;
            }
        }
    )*};
}

/// Declares `async fn name(device: &Device) { .. }` as a test of the WGSL engine alone (the
/// adapter's limits, its errors), on both targets.
macro_rules! wgsl_test {
    ($(async fn $name:ident($device:ident: &Device) $body:block)*) => {$(
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            async fn body($device: &cnnscope::Device) $body
            pollster::block_on(body($crate::common::native_gpu()));
        }

        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            async fn body($device: &cnnscope::Device) $body
            body(&*$crate::common::browser_gpu().await).await;
        }
    )*};
}

/// The GEMM cores the kernel tests cover on `device`: every core its adapter offers; the CPU
/// engine has one way of multiplying, which any core names.
pub fn gemm_cores(device: &Device) -> Vec<cnnscope::GemmCore> {
    device.gpu_ref().map_or_else(|| vec![cnnscope::GemmCore::default()], Gpu::gemm_cores)
}

/// Whether `device` is the CPU engine.
pub fn on_cpu(device: &Device) -> bool {
    matches!(device, Device::Cpu(_))
}

/// One GPU device for the whole native test run: pipelines compile once.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_gpu() -> &'static Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    GPU.get_or_init(|| {
        let gpu = pollster::block_on(Gpu::new()).unwrap_or_else(|e| panic!("{e}"));
        let lanes = gpu.subgroup_size.map_or(String::new(), |n| format!(", the subgroup core at {n} lanes"));
        eprintln!("testing on {}{lanes}", gpu.describe());
        Device::Wgsl(gpu)
    })
}

/// The GPU device at WebGPU's default limits, for the whole native test run.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_gpu_at_defaults() -> &'static Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    GPU.get_or_init(|| Device::Wgsl(pollster::block_on(Gpu::at_webgpu_defaults()).unwrap_or_else(|e| panic!("{e}"))))
}

/// The CPU engine, for the whole native test run.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_cpu() -> &'static Device {
    static CPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    CPU.get_or_init(Device::cpu)
}

#[cfg(target_arch = "wasm32")]
pub async fn browser_gpu() -> std::rc::Rc<Device> {
    thread_local!(static GPU: std::cell::RefCell<Option<std::rc::Rc<Device>>> = const { std::cell::RefCell::new(None) });
    if let Some(gpu) = GPU.with(|g| g.borrow().clone()) {
        return gpu;
    }
    let gpu = std::rc::Rc::new(Device::Wgsl(Gpu::new().await.unwrap_or_else(|e| panic!("{e}"))));
    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
    gpu
}

/// A PyTorch fixture file written by tests/fixtures/make_fixtures.py (every tensor f32).
pub struct Fixture(SafeTensors<'static>);

impl Fixture {
    pub fn new(bytes: &'static [u8]) -> Fixture {
        Fixture(SafeTensors::deserialize(bytes).expect("fixture file is valid safetensors"))
    }

    pub fn get(&self, name: &str) -> Vec<f32> {
        let view = self.0.tensor(name).unwrap_or_else(|_| panic!("fixture has no tensor {name}"));
        view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    pub fn shape(&self, name: &str) -> Vec<usize> {
        self.0.tensor(name).unwrap_or_else(|_| panic!("fixture has no tensor {name}")).shape().to_vec()
    }

    /// The case names: every prefix that has a `.params` tensor, sorted.
    pub fn cases(&self) -> Vec<String> {
        let mut cases: Vec<String> =
            self.0.names().iter().filter_map(|n| n.strip_suffix(".params")).map(str::to_string).collect();
        cases.sort();
        assert!(!cases.is_empty(), "fixture has no cases");
        cases
    }

    /// A case's integer hyper-parameters.
    pub fn params(&self, case: &str) -> Vec<usize> {
        self.get(&format!("{case}.params")).iter().map(|&v| v as usize).collect()
    }

    /// Uploads a fixture tensor with its own shape.
    pub fn upload(&self, device: &Device, name: &str) -> Tensor {
        Tensor::from_f32(device, &self.shape(name), &self.get(name), name).unwrap()
    }
}

/// Asserts |got − want| ≤ rtol·(|want| + mean|want|) element-wise: relative, with a floor at the
/// tensor's typical magnitude so values that cancel to near zero are not held to 1e-4 of nothing.
#[track_caller]
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().map(|v| v.abs() as f64).sum::<f64>() / want.len().max(1) as f64;
    assert!(scale > 0.0 || want.iter().all(|&v| v == 0.0), "{what}: scale");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w as f64).abs();
        let bound = rtol * (w.abs() as f64 + scale);
        assert!(err <= bound || (scale == 0.0 && g == 0.0), "{what}[{i}]: got {g}, want {w} (error {err:.3e} > {bound:.3e})");
    }
}

/// The tolerance of the comparisons against PyTorch and the CPU reference.
pub const RTOL: f64 = 1e-4;

/// Submits and reads a tensor back.
pub async fn run(device: &Device, rec: Recorder<'_>, out: &Tensor) -> Vec<f32> {
    rec.submit();
    out.read_f32(device).await.unwrap()
}

/// A deterministic pseudo-random vector in [-1, 1) (the engine's own, which the self-check uses too).
pub use cnnscope::reference::random;

pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// x + t·v
pub fn axpy(x: &[f32], t: f32, v: &[f32]) -> Vec<f32> {
    x.iter().zip(v).map(|(&a, &b)| a + t * b).collect()
}

/// Finite-difference gradient check along a random direction v: compares the analytic directional
/// derivative ⟨grad, v⟩ with (L(x + εv) − L(x − εv)) / 2ε, where `loss` evaluates L on the GPU.
/// Piecewise-linear layers (ReLU, max) want a small ε so few kinks are crossed; smooth ones (the
/// loss, summed in f32 on the GPU) a larger one so rounding stays small.
pub async fn check_directional_derivative<F, Fut>(what: &str, x: &[f32], grad: &[f32], seed: u64, eps: f32, loss: F)
where
    F: Fn(Vec<f32>) -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let v = random(x.len(), seed);
    let analytic = dot(grad, &v);
    let numeric = (loss(axpy(x, eps, &v)).await - loss(axpy(x, -eps, &v)).await) / (2.0 * eps as f64);
    let err = (analytic - numeric).abs();
    assert!(
        err <= 1e-2 * analytic.abs().max(1e-3),
        "{what}: gradient check failed: analytic {analytic}, finite difference {numeric}"
    );
}
