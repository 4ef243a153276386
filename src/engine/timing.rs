//! Where a step's time goes: the parts a step is recorded in (a layer's forward or backward pass,
//! the rest), and each part's time as either engine measures it (`Recorder::time_parts`).

/// The part of a step a dispatch belongs to, for seeing where the step's time goes
/// ([`crate::Recorder::time_parts`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part {
    /// A layer's forward or backward pass, by its module name (`conv.3`).
    Forward(String),
    Backward(String),
    /// Everything else: the batch gather, the loss, the optimiser.
    Other(String),
}

/// How a step's parts were timed, which says how far their times can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Clock {
    /// The GPU's own timestamps around each part, all in one submission: what the GPU spent.
    GpuTimestamps,
    /// Each part submitted and waited for on its own, timed by the host: each reads high by a
    /// submission's round trip (Firefox: ~100 ms; Chromium: under 15).
    RoundTrips,
    /// The CPU engine's tasks, timed as they run.
    CpuTasks,
}

/// A step's parts in order with their times, and how they were timed.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTiming {
    pub parts: Vec<PartTime>,
    pub clock: Clock,
}

/// How long one part of a step took, and in how many dispatches.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartTime {
    pub part: Part,
    pub secs: f64,
    pub dispatches: usize,
}

/// A step's time by layer: its forward and backward passes (the batch, the loss and the optimiser
/// as rows of their own, under `other`), in the order the step first reaches each.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerTime {
    pub name: String,
    pub forward: f64,
    pub backward: f64,
    pub other: f64,
}

impl LayerTime {
    pub fn total(&self) -> f64 {
        self.forward + self.backward + self.other
    }

    /// `parts` summed by layer.
    pub fn by_layer(parts: &[PartTime]) -> Vec<LayerTime> {
        let mut rows: Vec<LayerTime> = Vec::new();
        for p in parts {
            let name = match &p.part {
                Part::Forward(n) | Part::Backward(n) | Part::Other(n) => n,
            };
            let at = match rows.iter().position(|r| r.name == *name) {
                Some(at) => at,
                None => {
                    rows.push(LayerTime { name: name.clone(), ..LayerTime::default() });
                    rows.len() - 1
                }
            };
            let row = &mut rows[at];
            match p.part {
                Part::Forward(_) => row.forward += p.secs,
                Part::Backward(_) => row.backward += p.secs,
                Part::Other(_) => row.other += p.secs,
            }
        }
        rows
    }
}
