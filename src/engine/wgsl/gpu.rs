//! The GPU context: one adapter, one device with the adapter's real limits, and compiled pipelines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::engine::error::{EngineError, Result};
use crate::engine::wgsl::gemm_core::GemmCore;
use crate::engine::wgsl::shaders;

/// What the engine needs from any adapter. WebGPU's defaults satisfy all of it; a smaller adapter
/// (some mobile or compatibility-mode devices) is refused up front with the limit named.
const REQUIRED: [(&str, fn(&wgpu::Limits) -> u64, u64); 4] = [
    ("maxComputeInvocationsPerWorkgroup", |l| l.max_compute_invocations_per_workgroup as u64, 256),
    ("maxComputeWorkgroupStorageSize", |l| l.max_compute_workgroup_storage_size as u64, 16384),
    ("maxStorageBuffersPerShaderStage", |l| l.max_storage_buffers_per_shader_stage as u64, 6),
    ("maxComputeWorkgroupSizeX", |l| l.max_compute_workgroup_size_x as u64, 256),
];

/// How a kernel uses each storage buffer it binds (binding 0 is always its parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// A kernel: its WGSL and bindings, compiled on first use ([`Gpu::compiled`]) or ahead of it
/// ([`Gpu::compile_pending`], which reports progress: on a software adapter in a browser a net's
/// kernels take a minute or more to compile).
pub struct Pipeline {
    /// The cache key, which names the kernel in profiles.
    pub(crate) key: String,
    source: String,
    pub(crate) storage: Vec<Access>,
    compiled: OnceLock<Compiled>,
}

/// A compiled compute pipeline and the layout its bind groups follow.
pub(crate) struct Compiled {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
}

/// Everything that runs work on one GPU device.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Who made the adapter and what it is (name, vendor, backend, device type, driver).
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with: the adapter's own, not WebGPU's defaults.
    pub limits: wgpu::Limits,
    /// The subgroup size, where the device has subgroup operations and every subgroup has this
    /// one size (lavapipe: 8), so the subgroup GEMM core can be compiled for it.
    pub subgroup_size: Option<u32>,
    /// Whether the device writes GPU timestamps (`timestamp-query`), which time a step's parts
    /// in one submission ([`crate::Recorder::time_parts`]). `CNNSCOPE_NO_TIMESTAMPS` set turns
    /// them off natively, so the round-trip method is tested too.
    pub timestamps: bool,
    /// A lower binding limit the user set ([`crate::Device::limit_bindings`]): tensors above it are
    /// refused and training steps run in micro-batches, as on an adapter that binds no more.
    binding_limit: Option<u64>,
    pipelines: Mutex<HashMap<String, Arc<Pipeline>>>,
    /// Pipelines asked for and not compiled yet, in the order they were asked for.
    pending: Mutex<Vec<Arc<Pipeline>>>,
    errors: Arc<Mutex<Vec<String>>>,
    /// Why the device was lost, once it is (driver reset, watchdog, another tab, `destroy`).
    lost: Arc<Mutex<Option<String>>>,
    /// Whoever waits for the loss ([`Gpu::lost_notice`]): woken by the device's lost callback.
    lost_waiting: Arc<Mutex<Vec<std::task::Waker>>>,
    scratch: Mutex<Option<wgpu::Buffer>>,
    placeholder: OnceLock<wgpu::Buffer>,
    /// A kernel broken on purpose ([`Gpu::break_kernel`]): what to replace, and with what.
    broken: Mutex<Option<(String, String)>>,
}

/// The adapter's subgroup size where the subgroup core may run: it has subgroup operations, one
/// fixed size of 4 to 16 (lavapipe: 8, its SIMD width), and is a CPU. The core assumes each
/// workgroup of that many invocations is one full subgroup (it broadcasts between all of its
/// lanes). Neither WebGPU nor Vulkan without `requireFullSubgroups` promises that of a GPU, which
/// may split a workgroup over partial subgroups; a CPU adapter runs a workgroup's invocations in
/// chunks of its SIMD width, one subgroup each, and is the only place the core was measured faster.
/// wgpu offers subgroups to native backends only; in the browser the tiled core runs.
/// `CNNSCOPE_NO_SUBGROUPS` set runs natively as the browser does: with Chromium's SwiftShader as
/// the Vulkan driver, the browser's kernels and their compile times in a native process
/// (docs/ENGINE.md).
fn fixed_subgroup_size(adapter: &wgpu::Adapter, info: &wgpu::AdapterInfo) -> Option<u32> {
    let like_the_browser = std::env::var_os("CNNSCOPE_NO_SUBGROUPS").is_some();
    let offered = cfg!(not(target_arch = "wasm32")) && !like_the_browser && adapter.features().contains(wgpu::Features::SUBGROUP);
    offered.then(|| subgroup_core_size(info)).flatten()
}

/// [`fixed_subgroup_size`]'s judgement of the adapter itself.
fn subgroup_core_size(info: &wgpu::AdapterInfo) -> Option<u32> {
    let fixed = info.subgroup_min_size == info.subgroup_max_size;
    let usable = (4..=16).contains(&info.subgroup_min_size);
    (fixed && usable && info.device_type == wgpu::DeviceType::Cpu).then_some(info.subgroup_min_size)
}

impl Gpu {
    /// Opens the best adapter (a discrete GPU where there is one) with all of its limits.
    pub async fn new() -> Result<Gpu> {
        Gpu::with_limits(wgpu::Limits::clone).await
    }

    /// The best adapter at WebGPU's default limits, the least a browser may give a page (128 MiB
    /// per storage binding, 256 MiB per buffer, 16 KiB of workgroup memory, 256 invocations,
    /// 65,535 workgroups per dimension, 8 storage buffers per stage), whatever the adapter has:
    /// the kernel and training tests run at them too, as on a browser that gives no more.
    pub async fn at_webgpu_defaults() -> Result<Gpu> {
        Gpu::with_limits(|_| wgpu::Limits::default()).await
    }

    /// The best adapter, with the limits `limits` picks from the adapter's own.
    async fn with_limits(limits: impl FnOnce(&wgpu::Limits) -> wgpu::Limits) -> Result<Gpu> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| EngineError::NoAdapter(e.to_string()))?;
        let limits = limits(&adapter.limits());
        for (name, get, required) in REQUIRED {
            let available = get(&limits);
            if available < required {
                return Err(EngineError::LimitsTooSmall { limit: name, required, available });
            }
        }
        let info = adapter.get_info();
        let subgroup_size = fixed_subgroup_size(&adapter, &info);
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY) && std::env::var_os("CNNSCOPE_NO_TIMESTAMPS").is_none();
        let mut features = wgpu::Features::empty();
        features.set(wgpu::Features::SUBGROUP, subgroup_size.is_some());
        features.set(wgpu::Features::TIMESTAMP_QUERY, timestamps);
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("cnnscope"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| EngineError::DeviceRequest(e.to_string()))?;
        // wgpu panics on an uncaptured error by default; we record it and report it as a typed
        // error at the next readback instead.
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().push(e.to_string());
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_waiting: Arc<Mutex<Vec<std::task::Waker>>> = Arc::default();
        let (why, waiting) = (lost.clone(), lost_waiting.clone());
        device.set_device_lost_callback(move |reason, message| {
            let reason = match reason {
                wgpu::DeviceLostReason::Destroyed => "destroyed",
                wgpu::DeviceLostReason::Unknown => "lost by the driver or browser",
            };
            *why.lock().unwrap() = Some(if message.is_empty() { reason.to_string() } else { format!("{reason}: {message}") });
            waiting.lock().unwrap().drain(..).for_each(std::task::Waker::wake);
        });
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            subgroup_size,
            timestamps,
            binding_limit: None,
            pipelines: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
            errors,
            lost,
            lost_waiting,
            scratch: Mutex::new(None),
            placeholder: OnceLock::new(),
            broken: Mutex::new(None),
        })
    }

    /// The GEMM core this adapter runs fastest: the subgroup core where it may run at all (CPU
    /// adapters with a fixed subgroup size, [`fixed_subgroup_size`]; measured on lavapipe: 2.4–2.8×
    /// the tiled core), the tiled core elsewhere.
    pub fn fastest_gemm(&self) -> GemmCore {
        match self.subgroup_size {
            Some(_) => GemmCore::Subgroup,
            None => GemmCore::Tiled,
        }
    }

    /// The blocked GEMM cores this device can run (the subgroup core needs a fixed subgroup size):
    /// what the kernel tests cover.
    pub fn gemm_cores(&self) -> Vec<GemmCore> {
        let mut cores = vec![GemmCore::Tiled];
        if self.subgroup_size.is_some() {
            cores.push(GemmCore::Subgroup);
        }
        cores
    }

    /// How many loop iterations one invocation of a kernel may run before the driver stops its
    /// loops, where it does: Mesa's llvmpipe (lavapipe) counts every loop of a shader against one
    /// limiter of 65,535 (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS) and then leaves them silently, so
    /// a GEMM 65,536 deep summed only 65,535 terms. The GEMM policy splits deeper products
    /// (`gemm::GemmKernel::plan`); other kernels' loops stay far below it (docs/ENGINE.md).
    pub fn loop_limit(&self) -> Option<u64> {
        let driver = format!("{} {}", self.info.driver, self.info.name).to_lowercase();
        driver.contains("llvmpipe").then_some(65_535)
    }

    /// The adapter's name.
    pub fn name(&self) -> String {
        if self.info.name.is_empty() { "an adapter the browser does not name".into() } else { self.info.name.clone() }
    }

    /// One line naming the adapter, for logs and benchmark tables.
    pub fn describe(&self) -> String {
        let i = &self.info;
        format!("{} ({:?}, {:?}, driver {} {})", self.name(), i.backend, i.device_type, i.driver, i.driver_info)
            .replace(" )", ")")
    }

    /// The largest buffer a kernel may bind, in bytes (lowered where the user set a limit), and
    /// never 4 GiB: the kernels index in u32 (an element index stays below 2^30, so sums of two
    /// cannot wrap and the one index cast to i32, conv2d_params' padding sentinel, stays positive),
    /// where a native GPU may offer more (Metal binds whole buffers).
    pub fn max_binding_bytes(&self) -> u64 {
        const U32_INDEXED: u64 = (1 << 32) - 16;
        let adapter = self.limits.max_buffer_size.min(self.limits.max_storage_buffer_binding_size).min(U32_INDEXED);
        self.binding_limit.map_or(adapter, |limit| limit.min(adapter))
    }

    /// Binds no more than `bytes` per buffer from now on ([`crate::Device::limit_bindings`]).
    pub fn limit_bindings(&mut self, bytes: u64) {
        self.binding_limit = Some(bytes);
    }

    /// The pipeline for `key`, made from `source()` the first time it is asked for and cached
    /// afterwards; it is compiled when first used, or by [`Gpu::compile_pending`] (until then
    /// every request puts it on the pending list again, should [`Gpu::forget_pending`] have
    /// taken it off).
    pub(crate) fn pipeline(&self, key: &str, storage: &[Access], source: impl FnOnce() -> String) -> Arc<Pipeline> {
        let pipeline = self.pipelines.lock().unwrap().entry(key.to_string()).or_insert_with(|| {
            Arc::new(Pipeline { key: key.to_string(), source: source(), storage: storage.to_vec(), compiled: OnceLock::new() })
        }).clone();
        let mut pending = self.pending.lock().unwrap();
        if pipeline.compiled.get().is_none() && !pending.iter().any(|p| Arc::ptr_eq(p, &pipeline)) {
            pending.push(pipeline.clone());
        }
        pipeline
    }

    /// `pipeline` compiled (now, if it is not yet).
    pub(crate) fn compiled<'p>(&self, pipeline: &'p Pipeline) -> &'p Compiled {
        pipeline.compiled.get_or_init(|| self.compile(pipeline))
    }

    /// Compiles every pipeline asked for and not compiled yet, one at a time, calling
    /// `progress(done, total)` after each; in the browser it waits for each (the browser's GPU
    /// process compiles them in order), so the progress is the real one.
    pub async fn compile_pending(&self, progress: impl Fn(usize, usize)) {
        self.compile_pending_until(progress, || false).await;
    }

    /// [`Gpu::compile_pending`], stopping when `stop()` says so between two pipelines: those not
    /// compiled stay pending (a page that compiles ahead for a setup stops when the setup changes).
    /// Each pipeline is taken off the list as it is compiled, so two callers at once (compiling
    /// ahead, and a run that starts meanwhile) share the work, and neither misses any.
    pub async fn compile_pending_until(&self, progress: impl Fn(usize, usize), stop: impl Fn() -> bool) {
        let total = self.pending_pipelines();
        let mut done = 0;
        while !stop() && self.compile_next().await {
            done += 1;
            progress(done, total.max(done));
        }
    }

    /// Compiles the next pending pipeline, if there is one (in the browser, waiting until the GPU
    /// process has); says whether there was. A page compiling ahead takes one at a time, so that
    /// a click between two is answered at once.
    pub async fn compile_next(&self) -> bool {
        let next = {
            let mut pending = self.pending.lock().unwrap();
            pending.retain(|p| p.compiled.get().is_none());
            (!pending.is_empty()).then(|| pending.remove(0))
        };
        let Some(pipeline) = next else { return false };
        self.compiled(&pipeline);
        #[cfg(target_arch = "wasm32")]
        self.idle().await;
        true
    }

    /// Runs `f` (which must not wait on anything) with the device's errors discarded, not kept for
    /// the next [`Gpu::take_error`]: for work whose failure only means it was not worth doing, such
    /// as a throwaway trainer asking for its kernels, whose memory must not fail a run's next step.
    pub fn discarding_errors<T>(&self, f: impl FnOnce() -> T) -> T {
        let scopes = [wgpu::ErrorFilter::OutOfMemory, wgpu::ErrorFilter::Validation, wgpu::ErrorFilter::Internal].map(|filter| self.device.push_error_scope(filter));
        let result = f();
        for scope in scopes.into_iter().rev() {
            drop(scope.pop());
        }
        result
    }

    /// Takes every pipeline off the pending list (they stay cached, and are compiled when asked
    /// for and used): compiling ahead for a setup starts with its own kernels alone, not those of
    /// a setup the user has left.
    pub fn forget_pending(&self) {
        self.pending.lock().unwrap().clear();
    }

    /// Pipelines asked for and not compiled yet.
    pub fn pending_pipelines(&self) -> usize {
        self.pending.lock().unwrap().iter().filter(|p| p.compiled.get().is_none()).count()
    }

    /// Test-only: breaks a kernel on purpose, as a driver that miscompiles it would: from now on,
    /// the first `needle` in the source of each kernel compiled that holds it is `with` instead.
    /// The self-check's tests prove with it that a wrong kernel is caught (`cnnscope::check`).
    #[doc(hidden)]
    pub fn break_kernel(&self, needle: &str, with: &str) {
        *self.broken.lock().unwrap() = Some((needle.to_string(), with.to_string()));
    }

    fn compile(&self, p: &Pipeline) -> Compiled {
        let (key, storage) = (p.key.as_str(), p.storage.as_slice());
        let source = match &*self.broken.lock().unwrap() {
            Some((needle, with)) if p.source.contains(needle.as_str()) => p.source.replacen(needle.as_str(), with, 1),
            _ => p.source.clone(),
        };
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(key),
            source: wgpu::ShaderSource::Wgsl(format!("{}\n{}", shaders::PARAMS, source).into()),
        });
        // Binding 0: the kernel's parameters, a read-only storage buffer (shaders/params.wgsl says why).
        let params = wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: true },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let entries: Vec<_> = std::iter::once(params)
            .chain(storage.iter().enumerate().map(|(i, access)| wgpu::BindGroupLayoutEntry {
                binding: i as u32 + 1,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Storage { read_only: *access == Access::Read },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }))
            .collect();
        let layout = self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(key),
            entries: &entries,
        });
        let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(key),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Compiled { pipeline, layout }
    }

    /// A scratch buffer of at least `bytes`, shared by kernels that need temporary space inside one
    /// command buffer (dispatches run in order, so one user finishes before the next begins).
    pub(crate) fn scratch(&self, bytes: u64) -> wgpu::Buffer {
        let mut slot = self.scratch.lock().unwrap();
        match slot.as_ref() {
            Some(b) if b.size() >= bytes => b.clone(),
            _ => {
                let b = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("scratch"),
                    size: bytes.next_power_of_two().min(self.max_binding_bytes()).max(bytes),
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                });
                *slot = Some(b.clone());
                b
            }
        }
    }

    /// A 16-byte buffer for bindings a kernel declares but a particular call does not read.
    pub(crate) fn placeholder(&self) -> wgpu::Buffer {
        self.placeholder
            .get_or_init(|| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("placeholder"),
                    size: 16,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .clone()
    }

    /// Resolves once everything submitted so far has run.
    pub async fn idle(&self) {
        let (sender, receiver) = futures_channel::oneshot::channel();
        self.queue.on_submitted_work_done(move || {
            let _ = sender.send(());
        });
        self.poll();
        let _ = self.or_lost(receiver).await;
    }

    /// `receiver`'s answer, or `None` once the device is lost: a destroyed device may never answer
    /// (Chromium can leave a destroyed device's `onSubmittedWorkDone` pending, and the worker
    /// that waited on it then waited forever).
    async fn or_lost<T>(&self, receiver: futures_channel::oneshot::Receiver<T>) -> Option<T> {
        use std::future::Future;
        use std::task::Poll;
        let mut receiver = std::pin::pin!(receiver);
        std::future::poll_fn(|cx| match receiver.as_mut().poll(cx) {
            Poll::Ready(answer) => Poll::Ready(answer.ok()),
            Poll::Pending => self.poll_lost(cx).map(|_| None),
        })
        .await
    }

    /// Waits for submitted work natively; in the browser the event loop drives it, so this returns.
    pub(crate) fn poll(&self) {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// Maps `staging` (a `MAP_READ` buffer whose copies are submitted) and reads its bytes: the one
    /// way results come back from the GPU.
    pub(crate) async fn read_mapped(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>> {
        let (sender, receiver) = futures_channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        self.poll();
        let mapped = self.or_lost(receiver).await;
        self.take_error()?;
        mapped.ok_or_else(|| EngineError::Readback("the device dropped the request".into()))?.map_err(|e| EngineError::Readback(e.to_string()))?;
        let bytes = staging.get_mapped_range(..).map_err(|e| EngineError::Readback(e.to_string()))?.to_vec();
        staging.unmap();
        Ok(bytes)
    }

    /// Why the device was lost, if it was: its memory is gone, a new `Gpu` is needed.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap().clone()
    }

    /// Resolves with the reason once the device is lost: a page waiting for its user learns of a
    /// loss (a laptop's sleep, a driver reset) when it happens, with no timer.
    pub async fn lost_notice(&self) -> String {
        std::future::poll_fn(|cx| self.poll_lost(cx)).await
    }

    /// Ready with the reason once the device is lost; until then `cx` is woken by the device's
    /// lost callback (or by [`Gpu::destroy_as_reset`]).
    fn poll_lost(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<String> {
        if let Some(reason) = self.lost() {
            return std::task::Poll::Ready(reason);
        }
        let mut waiting = self.lost_waiting.lock().unwrap();
        if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
            waiting.push(cx.waker().clone());
        }
        // The callback may have run between the check and the registration.
        drop(waiting);
        self.lost().map_or(std::task::Poll::Pending, std::task::Poll::Ready)
    }

    /// Destroys the device and knows it lost at once, as every call after a driver reset does: the
    /// page's test hook for a loss mid-run. (After [`Gpu::destroy`] alone Chromium goes on
    /// running submissions and reads for a second or more, until it resolves the device's `lost`
    /// promise: measured 1.2–2 s, and longer under load, enough for a run to finish and keep what
    /// it read from a destroyed device.)
    pub fn destroy_as_reset(&self) {
        self.device.destroy();
        let mut lost = self.lost.lock().unwrap();
        if lost.is_none() {
            *lost = Some("destroyed (a driver reset, as the test asked)".into());
        }
        drop(lost);
        self.lost_waiting.lock().unwrap().drain(..).for_each(std::task::Waker::wake);
    }

    /// Destroys the device, as a driver reset would: for tests of what survives a lost device.
    /// The loss is learnt as a real one is, from the device's lost callback (natively at once; in
    /// the browser when its `lost` promise resolves, which may be after a readback has failed).
    pub fn destroy(&self) {
        self.device.destroy();
    }

    /// Errors the device reported since the last call, as one typed error; a lost device first.
    pub fn take_error(&self) -> Result<()> {
        if let Some(reason) = self.lost() {
            return Err(EngineError::DeviceLost(reason));
        }
        let mut errors = self.errors.lock().unwrap();
        if errors.is_empty() {
            Ok(())
        } else {
            let message = errors.join("; ");
            errors.clear();
            Err(EngineError::Gpu(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subgroup_core_size;

    fn adapter(device_type: wgpu::DeviceType, min: u32, max: u32) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo { subgroup_min_size: min, subgroup_max_size: max, ..wgpu::AdapterInfo::new(device_type, wgpu::Backend::Vulkan) }
    }

    /// The subgroup core runs only where each workgroup of the subgroup size is one full subgroup:
    /// a CPU adapter with one SIMD width (lavapipe's 8, or 4 with LP_NATIVE_VECTOR_WIDTH=128), not a
    /// GPU with a fixed size of 16 (a Mali's), nor one whose size varies.
    #[test]
    fn the_subgroup_core_runs_only_on_cpu_adapters_of_one_subgroup_size() {
        use wgpu::DeviceType::{Cpu, DiscreteGpu, IntegratedGpu};
        assert_eq!(subgroup_core_size(&adapter(Cpu, 8, 8)), Some(8));
        assert_eq!(subgroup_core_size(&adapter(Cpu, 4, 4)), Some(4));
        assert_eq!(subgroup_core_size(&adapter(IntegratedGpu, 16, 16)), None);
        assert_eq!(subgroup_core_size(&adapter(DiscreteGpu, 8, 8)), None);
        assert_eq!(subgroup_core_size(&adapter(Cpu, 4, 16)), None);
        assert_eq!(subgroup_core_size(&adapter(Cpu, 32, 32)), None);
    }
}
