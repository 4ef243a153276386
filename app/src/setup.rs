//! The knobs a user sets before training: network, scale, batch, optimiser, epochs, seed. Defaults
//! are each net's quick recipe (`cnnscope::train::Recipe::quick`) and seed 0.

use cnnscope::engine::device::Capacity;
use cnnscope::net::fit::{self, MicroBatches};
use cnnscope::net::{Arch, MAX_RATIO, MAX_SIDE, Net, NetConfig};
use cnnscope::ops::{Adam, Sgd};
use cnnscope::train::{Optimizer, Recipe, TrainConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    #[serde(with = "arch_wire")]
    pub arch: Arch,
    pub ratio: usize,
    pub side: usize,
    pub second_hidden: bool,
    pub batch: usize,
    pub adam: bool,
    pub lr: f32,
    pub epochs: usize,
    /// Draws the initial weights and the batch order: the same seed trains the same way.
    pub seed: u64,
    /// Flip, crop and jitter each training image (`cnnscope::engine::augment`).
    pub augment: bool,
}

impl Setup {
    pub fn for_net(arch: Arch) -> Setup {
        let r = Recipe::quick(arch.clone());
        Setup {
            arch,
            ratio: r.net.ratio,
            side: r.net.side,
            second_hidden: true,
            batch: r.batch,
            adam: matches!(r.optimizer, Optimizer::Adam(_)),
            lr: r.optimizer.lr(),
            epochs: r.epochs,
            seed: 0,
            augment: false,
        }
    }

    pub fn config(&self) -> NetConfig {
        NetConfig { arch: self.arch.clone(), ratio: self.ratio, side: self.side, second_hidden: self.second_hidden }
    }

    pub fn net(&self) -> Result<Net, String> {
        Net::new(self.config()).map_err(|e| e.to_string())
    }

    pub fn optimizer(&self) -> Optimizer {
        if self.adam {
            Optimizer::Adam(Adam { lr: self.lr, ..Adam::default() })
        } else {
            Optimizer::Sgd(Sgd { lr: self.lr, momentum: 0.0, weight_decay: 0.0 })
        }
    }

    /// This setup with its network written out as a design (one of the four as its preset): the
    /// same network, now editable.
    pub fn as_own(self) -> Setup {
        match self.arch.preset() {
            Some(text) => Setup { arch: Arch::Own(text.into()), ..self },
            None => self,
        }
    }
}

/// A network in the protocol's messages: one of the four by its id (`alexnet`, …), or an own
/// network's design.
mod arch_wire {
    use cnnscope::net::Arch;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    enum Wire {
        Preset(String),
        Own(String),
    }

    pub fn serialize<S: Serializer>(arch: &Arch, s: S) -> Result<S::Ok, S::Error> {
        match arch {
            Arch::Own(design) => Wire::Own(design.to_string()),
            preset => Wire::Preset(preset.id().to_string()),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arch, D::Error> {
        match Wire::deserialize(d)? {
            Wire::Own(design) => Ok(Arch::Own(design.into())),
            Wire::Preset(id) => id.parse().map_err(|_| serde::de::Error::custom(format!("unknown network {id}"))),
        }
    }
}

/// How a setup fits its engine: the memory training takes, and how each step runs its batch
/// (whole, or in micro-batches where one of its tensors would pass the binding limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    pub bytes: u64,
    pub micro: MicroBatches,
}

impl Fit {
    /// The network card's words: "1.2 GiB of memory to train at batch 128", then ", each step in 2
    /// micro-batches of 64" where the step is split.
    pub fn describe(&self) -> String {
        let memory = format!("{} of memory to train at batch {}", cnnscope::engine::error::human(self.bytes), self.micro.batch);
        match self.micro.is_split() {
            true => format!("{memory}, each step in {} (this adapter binds too little for the whole batch at once)", self.micro.describe()),
            false => memory,
        }
    }
}

/// Why this setup cannot train on an engine of `capacity` (the engine's own checks: the
/// description, the optimiser's knobs, the fit), or how it fits.
pub fn check(capacity: Capacity, setup: &Setup) -> Result<Fit, String> {
    check_net(capacity, &setup.net()?, setup)
}

/// [`check`] for `net`, already built from `setup`: the engine's own fit check, micro-batches and
/// all ([`fit::fit_training`]).
pub fn check_net(capacity: Capacity, net: &Net, setup: &Setup) -> Result<Fit, String> {
    let config = TrainConfig { batch: setup.batch, optimizer: setup.optimizer(), seed: setup.seed, augment: setup.augment };
    config.check().map_err(|e| e.to_string())?;
    let plan = fit::fit_training(capacity, net, setup.batch, config.optimizer.moments(), 0).map_err(|e| e.to_string())?;
    Ok(Fit { bytes: plan.total_for(capacity), micro: plan.micro })
}

/// A knob the user types into: its label on the page, its key in a shared link (`share`), how
/// the setup shows it and how its text sets it (or what is wrong with the text).
pub struct Knob {
    pub label: &'static str,
    pub key: &'static str,
    pub get: fn(&Setup) -> String,
    pub set: fn(&mut Setup, &str) -> Result<(), String>,
}

/// The typed knobs, in the page's order (the network and optimiser are choices, not text). The
/// engine's bounds keep every size far inside 32-bit arithmetic (usize in the browser).
pub const KNOBS: [Knob; 6] = [
    Knob { label: "width ÷", key: "ratio", get: |s| s.ratio.to_string(), set: |s, v| {
        s.ratio = whole(v, 1..=MAX_RATIO)?;
        Ok(())
    } },
    Knob { label: "side", key: "side", get: |s| s.side.to_string(), set: |s, v| {
        s.side = whole(v, 1..=MAX_SIDE)?;
        Ok(())
    } },
    Knob { label: "batch", key: "batch", get: |s| s.batch.to_string(), set: |s, v| {
        s.batch = whole(v, 1..=1_000_000)?;
        Ok(())
    } },
    Knob { label: "learning rate", key: "lr", get: |s| s.lr.to_string(), set: |s, v| {
        s.lr = learning_rate(v)?;
        Ok(())
    } },
    Knob { label: "epochs", key: "epochs", get: |s| s.epochs.to_string(), set: |s, v| {
        s.epochs = whole(v, 1..=10_000)?;
        Ok(())
    } },
    Knob {
        label: "seed",
        key: "seed",
        get: |s| s.seed.to_string(),
        set: |s, v| {
            s.seed = v.trim().parse().map_err(|_| format!("«{}» is not a whole number from 0 to {}", v.trim(), u64::MAX))?;
            Ok(())
        },
    },
];

/// A knob's text as a whole number in `range`, or what is wrong with it.
pub fn whole(text: &str, range: std::ops::RangeInclusive<usize>) -> Result<usize, String> {
    let (lo, hi) = (*range.start(), *range.end());
    match text.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("«{}» is not a whole number from {lo} to {hi}", text.trim())),
    }
}

/// The learning-rate knob's text as a rate the optimisers take, or what is wrong with it.
pub fn learning_rate(text: &str) -> Result<f32, String> {
    let lr = text.trim().parse::<f32>().map_err(|_| format!("«{}» is not a number", text.trim()))?;
    Optimizer::Adam(Adam { lr, ..Adam::default() }).check().map_err(|e| e.to_string())?;
    Ok(lr)
}
