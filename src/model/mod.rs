//! A network on a device (either engine): its parameters ([`Parameters`]), the compiled forward and backward passes
//! for a batch size ([`Graph`]), weights files ([`weights`]) and ONNX export ([`onnx`]).

mod graph;
mod inception;
mod params;
pub mod explain;
pub mod onnx;
pub mod weights;

pub use graph::{Graph, WeightedLayer};
pub use params::{Init, Parameters};

use crate::engine::error::Result;
use crate::engine::device::Device;
use crate::net::Net;

/// A network description with its parameters.
#[derive(Clone, Debug)]
pub struct Model {
    pub net: Net,
    pub params: Parameters,
}

impl Model {
    /// `net` with freshly initialised parameters.
    pub fn new(device: &Device, net: Net, init: Init, seed: u64) -> Result<Model> {
        crate::net::fit::check(device, &net, crate::net::fit::Run::Weights)?;
        let params = Parameters::init(device, &net, init, seed)?;
        Ok(Model { net, params })
    }

    /// The parameters as a safetensors file with PyTorch's `state_dict` keys.
    pub async fn save_weights(&self, device: &Device) -> Result<Vec<u8>> {
        let values = self.params.read(device).await?;
        weights::to_safetensors(&self.params.specs, &values, Some(weights::net_metadata(&self.net.config)))
    }

    /// The network and its parameters as an ONNX model's bytes (opset 17, dynamic batch, input
    /// `image`: batch × 1 × side × side in [0, 1], output `logits`: batch × 10; [`onnx`] says
    /// exactly what it holds): what the page's "ONNX" download saves.
    pub async fn save_onnx(&self, device: &Device) -> Result<Vec<u8>> {
        let values = self.params.read(device).await?;
        onnx::to_bytes(&self.net, &values)
    }

    /// Replaces the parameters with a safetensors file's; a file that does not fit this network is
    /// refused with the reason and the current parameters stay as they were.
    pub fn load_weights(&self, device: &Device, bytes: &[u8]) -> Result<()> {
        let values = weights::from_safetensors(&self.params.specs, bytes)?;
        self.params.write(device, &values)
    }
}
