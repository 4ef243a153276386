//! The CPU engine's recorded work: tasks ([`super::tasks`]) waiting for the submission, then run
//! in recording order, as a GPU queue runs its dispatches.

use crate::engine::cpu::Cpu;
use crate::engine::cpu::tasks::Run;
use crate::engine::error::Result;
use crate::engine::timing::{Part, PartTime};

struct Task {
    /// Index into the recorder's parts.
    part: usize,
    /// The kernel's name in profiles (native only).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    name: &'static str,
    run: Run,
}

/// Tasks waiting to be submitted together.
#[derive(Default)]
pub(crate) struct Queue {
    tasks: Vec<Task>,
}

impl Queue {
    pub fn push(&mut self, part: usize, (name, run): (&'static str, Run)) {
        self.tasks.push(Task { part, name, run });
    }

    /// Runs `tasks` in order; the first error stops them and waits for the next readback, as a
    /// GPU's errors do.
    fn run(cpu: &Cpu, tasks: impl IntoIterator<Item = Task>) {
        for task in tasks {
            if let Err(e) = (task.run)() {
                cpu.report(e);
                return;
            }
        }
    }

    /// Runs everything recorded.
    pub fn submit(self, cpu: &Cpu) {
        Self::run(cpu, self.tasks);
    }

    /// Runs everything recorded part by part, each part timed by `clock` (seconds).
    pub fn time_parts(self, cpu: &Cpu, parts: &[Part], clock: impl Fn() -> f64) -> Result<Vec<PartTime>> {
        let mut times: Vec<PartTime> = Vec::new();
        for task in self.tasks {
            let (part, began) = (task.part, clock());
            Self::run(cpu, [task]);
            let secs = clock() - began;
            match times.last_mut() {
                Some(last) if last.part == parts[part] => {
                    last.secs += secs;
                    last.dispatches += 1;
                }
                _ => times.push(PartTime { part: parts[part].clone(), secs, dispatches: 1 }),
            }
        }
        cpu.take_error()?;
        Ok(times)
    }

    /// Runs each task on its own: (kernel, 1, seconds) per task.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn profile(self, cpu: &Cpu) -> Vec<(String, u64, f64)> {
        self.tasks
            .into_iter()
            .map(|task| {
                let (name, start) = (task.name, std::time::Instant::now());
                Self::run(cpu, [task]);
                (name.to_string(), 1, start.elapsed().as_secs_f64())
            })
            .collect()
    }
}
