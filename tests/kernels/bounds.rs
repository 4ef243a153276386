//! Sizes computed from what a user types, at the bounds where the browser's 32-bit usize would
//! wrap: refused with the reason before any product is taken in usize, or counted in u64. Runs
//! natively and, compiled for wasm32, in Chromium — where the wrap would happen.

use cnnscope::engine::device::Capacity;
use cnnscope::net::fit::{MemoryPlan, Run};
use cnnscope::net::{Arch, Net, NetConfig, Summary};

fn own(text: &str, side: usize) -> NetConfig {
    NetConfig { arch: Arch::Own(text.into()), ratio: 1, side, second_hidden: true }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn sizes_at_32_bit_bounds_are_refused_or_counted_in_u64() {
    // Inception's inner 1×1 path of 4096×1024² = 2^32 values: wrapped to 0 in the page once.
    let err = Net::new(own("inception 1 (4096,1) (1,1) 1\nglobal_avg_pool\nflatten\nlinear 10", 1024)).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("line 1: inception: its path 2's 1×1 output of 4096×1024×1024 values is more than the 2^28 one module may hold"), "{err}");

    // Thirty 3×3 convolutions of 4096 channels: 4.4e9 parameters, past 2^32.
    let text = format!("{}global_avg_pool\nflatten\nlinear 10", "conv 4096 k=3 p=1\n".repeat(30));
    let net = Net::new(own(&text, 8)).unwrap();
    let params = (4096 * 9 + 4096) + 29 * (4096 * 4096 * 9 + 4096) + (4096 * 10 + 10);
    assert!(params > u64::from(u32::MAX));
    assert_eq!(Summary::new(&net).unwrap().params, params);
    let plan = MemoryPlan::new(&net, Run::Training { batch: 1, moments: 2 });
    let parameters: u64 = plan.tensors.iter().filter(|t| t.name.starts_with("parameter")).map(|t| t.bytes * t.buffers).sum();
    assert_eq!(parameters, 4 * params * 4, "weights, gradients and Adam's two moments");
    let err = plan.check_capacity(Capacity::Cpu { budget: 4 << 30, max_tensor: 4 << 30 }).unwrap_err().to_string();
    assert!(err.starts_with("training at batch 1 needs 1") && err.contains(" GiB, but cnnscope gives one run at most 4.0 GiB of memory on the CPU engine"), "{err}");
}
