//! Which implementation of a component's math runs: hand-written CPU
//! kernels, or Candle tensor ops with autograd (what runs on a GPU). A
//! component with both takes a `compute:` config key, so the tensor path
//! can be run, tested and compared on the CPU too.

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::error::{PluginError, PluginResult};

/// The `compute:` config key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compute {
    /// Kernels on the CPU, tensor ops on any other device.
    #[default]
    Auto,
    /// The hand-written CPU kernels (CPU only).
    Kernels,
    /// Candle tensor ops and autograd, on any device.
    Tensor,
}

/// The implementation a component runs, resolved from [`Compute`] and the
/// device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputePath {
    Kernels,
    Tensor,
}

impl ComputePath {
    /// What `auto` resolves to on `device`: the kernels on the CPU, tensor
    /// ops elsewhere.
    pub fn auto(device: &Device) -> ComputePath {
        match device.is_cpu() {
            true => ComputePath::Kernels,
            false => ComputePath::Tensor,
        }
    }
}

impl Compute {
    /// The path on `device`; `kernels` on a device other than the CPU is a
    /// config error.
    pub fn resolve(self, device: &Device) -> PluginResult<ComputePath> {
        match (self, device.is_cpu()) {
            (Compute::Auto, _) => Ok(ComputePath::auto(device)),
            (Compute::Kernels, true) => Ok(ComputePath::Kernels),
            (Compute::Tensor, _) => Ok(ComputePath::Tensor),
            (Compute::Kernels, false) => Err(PluginError::config(
                "compute: kernels runs on the CPU only; use auto or tensor on this device",
            )),
        }
    }
}

/// The doc line of the `compute` key, for components that have both paths.
pub const COMPUTE_CONFIG_DOCS: &[(&str, &str)] = &[(
    "compute",
    "Which implementation runs: auto (the hand-written CPU kernels on the CPU, Candle tensor ops elsewhere), kernels (CPU only) or tensor (Candle tensor ops and autograd on any device, the path a GPU runs). Both give the same numbers up to float rounding.",
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_kernels_on_the_cpu_and_kernels_elsewhere_is_refused() {
        let cpu = Device::Cpu;
        assert_eq!(Compute::Auto.resolve(&cpu).unwrap(), ComputePath::Kernels);
        assert_eq!(Compute::Tensor.resolve(&cpu).unwrap(), ComputePath::Tensor);
        assert_eq!(
            Compute::Kernels.resolve(&cpu).unwrap(),
            ComputePath::Kernels
        );
        let parsed: Compute = crate::yaml::from_str("tensor").unwrap();
        assert_eq!(parsed, Compute::Tensor);
    }
}
