//! A network's parameters on the device (a GPU buffer or the CPU engine's memory), in PyTorch's `state_dict` order, and their initialisation.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::error::{EngineError, Result};
use crate::engine::device::Device;
use crate::net::{Net, ParamSpec};
use crate::engine::tensor::{DType, Tensor};

/// How weights start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Init {
    /// PyTorch's default for `nn.Conv2d`/`nn.Linear`: weights and biases U(±1/√fan_in).
    #[default]
    Default,
    /// d2l v2's recipes: Xavier-uniform weights U(±√(6/(fan_in + fan_out))), zero biases.
    Xavier,
}

impl std::str::FromStr for Init {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "default" | "pytorch" => Ok(Init::Default),
            "xavier" => Ok(Init::Xavier),
            _ => Err(format!("unknown init {s:?}: choose default or xavier")),
        }
    }
}

/// Every parameter tensor of one network; cloning shares the GPU memory.
#[derive(Clone, Debug)]
pub struct Parameters {
    pub specs: Vec<ParamSpec>,
    pub tensors: Vec<Tensor>,
}

impl Parameters {
    /// Fresh parameters for `net`, drawn from a ChaCha8 stream seeded with `seed`.
    pub fn init(device: &Device, net: &Net, init: Init, seed: u64) -> Result<Parameters> {
        let specs = net.root.params("");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let values: Vec<Vec<f32>> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                // A bias follows its weight and shares its fans.
                let weight = if spec.shape.len() == 1 { &specs[i - 1].shape } else { &spec.shape };
                let receptive: usize = weight[2..].iter().product();
                let (fan_in, fan_out) = (weight[1] * receptive, weight[0] * receptive);
                let bound = match (init, spec.shape.len()) {
                    (Init::Xavier, 1) => 0.0,
                    (Init::Xavier, _) => (6.0 / (fan_in + fan_out) as f64).sqrt(),
                    (Init::Default, _) => 1.0 / (fan_in as f64).sqrt(),
                } as f32;
                (0..spec.len()).map(|_| if bound == 0.0 { 0.0 } else { rng.gen_range(-bound..bound) }).collect()
            })
            .collect();
        Self::upload(device, specs, &values)
    }

    /// Parameters holding `values` (one Vec per spec, in order).
    pub fn upload(device: &Device, specs: Vec<ParamSpec>, values: &[Vec<f32>]) -> Result<Parameters> {
        check_values(&specs, values)?;
        let tensors = specs
            .iter()
            .zip(values)
            .map(|(spec, v)| Tensor::from_f32(device, &spec.shape, v, &spec.name))
            .collect::<Result<_>>()?;
        Ok(Parameters { specs, tensors })
    }

    /// Tensors of zeros shaped like every parameter: gradients, optimiser state.
    pub fn zeros_like(&self, device: &Device, what: &str) -> Result<Vec<Tensor>> {
        self.specs.iter().map(|s| Tensor::zeros(device, &s.shape, DType::F32, &format!("{} {what}", s.name))).collect()
    }

    /// Overwrites every parameter (checked first: on error nothing changes).
    pub fn write(&self, device: &Device, values: &[Vec<f32>]) -> Result<()> {
        check_values(&self.specs, values)?;
        for (tensor, v) in self.tensors.iter().zip(values) {
            tensor.write_f32(device, v)?;
        }
        Ok(())
    }

    /// Copies every parameter to the CPU.
    pub async fn read(&self, device: &Device) -> Result<Vec<Vec<f32>>> {
        Tensor::read_all_f32(device, &self.tensors).await
    }

    /// Total number of scalars.
    pub fn count(&self) -> usize {
        self.specs.iter().map(|s| s.len()).sum()
    }
}

fn check_values(specs: &[ParamSpec], values: &[Vec<f32>]) -> Result<()> {
    if specs.len() != values.len() {
        return Err(EngineError::Weights(format!("{} tensors given for {} parameters", values.len(), specs.len())));
    }
    for (spec, v) in specs.iter().zip(values) {
        if v.len() != spec.len() {
            return Err(EngineError::Weights(format!("{} needs {} values, got {}", spec.name, spec.len(), v.len())));
        }
    }
    Ok(())
}
