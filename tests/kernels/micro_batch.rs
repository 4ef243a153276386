//! A training step run in micro-batches (where one tensor of the whole batch would exceed the
//! binding limit) is the whole step: the same losses and, up to the order of float additions, the
//! same weights, with dropout and augmentation drawn per image of the whole batch.

use cnnscope::data::{Images, Split};
use cnnscope::model::{Init, Model};
use cnnscope::net::fit::{MemoryPlan, MicroBatches, Run};
use cnnscope::net::{Arch, Net, NetConfig};
use cnnscope::train::{Optimizer, TrainConfig, Trainer};
use cnnscope::Device;

/// A device of `like`'s engine of its own, binding at most `limit` bytes (the shared one's limit
/// belongs to the tests running beside this).
async fn limited_like(like: &Device, limit: u64) -> Device {
    let mut device = if crate::common::on_cpu(like) { Device::cpu() } else { Device::gpu().await.unwrap() };
    device.limit_bindings(limit);
    device
}

/// Two steps of AlexNet ÷16 at 67 px (it has dropout), augmented, with Adam; the losses (f32 bits
/// of the running sum) and every weight after them.
async fn two_steps(device: &Device, batch: usize) -> (Vec<f32>, Vec<f32>, MicroBatches) {
    let count = 3 * batch;
    let images = Images { count, rows: 28, cols: 28, pixels: (0..count * 784).map(|i| (i * 37 % 251) as u8).collect() };
    let split = Split { images, labels: (0..count).map(|i| (i * 7 % 10) as u8).collect() };
    let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
    let model = Model::new(device, net, Init::Default, 3).unwrap();
    let optimizer = Optimizer::Adam(cnnscope::ops::Adam { lr: 2e-3, ..Default::default() });
    let config = TrainConfig { batch, optimizer, seed: 11, augment: true };
    let mut trainer = Trainer::new(device, model, split.upload(device).unwrap(), config).unwrap();
    trainer.reset_stats(device).unwrap();
    let mut losses = Vec::new();
    for _ in 0..2 {
        trainer.step(device).unwrap();
        losses.push(trainer.stats(device).await.unwrap().loss_sum as f32);
    }
    let weights = trainer.model.params.read(device).await.unwrap().concat();
    (losses, weights, trainer.micro_batches())
}

engine_test! {
    async fn a_step_in_micro_batches_is_the_whole_step(device: &Device) {
        let net = Net::new(NetConfig::new(Arch::AlexNet, 16).with_side(67)).unwrap();
        let plan = MemoryPlan::new(&net, Run::Training { batch: 1, moments: 2 });
        let per_image = plan.tensors.iter().filter_map(|t| t.per_image).max().unwrap();
        let largest_fixed = plan.tensors.iter().filter(|t| t.per_image.is_none() && !t.on_host).map(|t| t.bytes).max().unwrap();
        // A limit that holds the parameters and a few images: a batch of 2¾ times that many runs
        // as three micro-batches, the first smaller (on a graph of its own).
        let limit = largest_fixed.max(8 * per_image);
        let most = (limit / per_image) as usize;
        let batch = 2 * most + most * 3 / 4;
        let limited = limited_like(device, limit).await;
        let (whole_losses, whole, one) = two_steps(device, batch).await;
        let (micro_losses, micro, split) = two_steps(&limited, batch).await;
        assert_eq!(one, MicroBatches::whole(batch));
        assert_eq!((split.count(), split.size), (3, batch.div_ceil(3)), "{split:?}");
        assert!(split.last() < split.size, "an uneven split: {split:?}");
        assert_eq!(split.describe(), format!("3 micro-batches of {} (one of {})", split.size, split.last()));
        for (m, w) in micro_losses.iter().zip(&whole_losses) {
            assert!((m - w).abs() <= 1e-5 * w.abs(), "losses {micro_losses:?} in micro-batches, {whole_losses:?} whole");
        }
        let worst = micro.iter().zip(&whole).map(|(m, w)| (m - w).abs() / (1e-3 + w.abs())).fold(0f32, f32::max);
        assert!(worst < 1e-4, "weights differ by {worst} (relative)");
    }
}
