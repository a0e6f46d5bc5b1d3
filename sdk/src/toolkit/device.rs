//! The Candle device named by a plugin context.

use candle_core::Device;

use crate::{
    error::{ErrorKind, PluginError, PluginResult},
    PluginContext,
};

/// The device for `context.device`: `cpu`, or `cuda:N` (`cuda` = `cuda:0`).
///
/// A CUDA device in a build without the `cuda` feature, or on a machine
/// without a working driver, is an [`ErrorKind::Device`] error.
pub fn device_for(context: &PluginContext) -> PluginResult<Device> {
    parse_device(context.device.as_str())
}

fn parse_device(spec: &str) -> PluginResult<Device> {
    let spec = spec.trim();
    if spec == "cpu" {
        return Ok(Device::Cpu);
    }
    let ordinal = match spec.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                device_error(format!("`{spec}` is not a device; use `cpu` or `cuda:N`"))
            })?,
        None => {
            return Err(device_error(format!(
                "`{spec}` is not a device; use `cpu` or `cuda:N`"
            )))
        }
    };
    if !cfg!(feature = "cuda") {
        return Err(device_error(format!(
            "`{spec}` asked for, but this plugin was built without CUDA; rebuild it with `--features cuda`"
        )));
    }
    Device::new_cuda(ordinal).map_err(|e| device_error(format!("cannot open `{spec}`: {e}")))
}

fn device_error(message: String) -> PluginError {
    PluginError::new(ErrorKind::Device, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_garbage() {
        assert!(matches!(parse_device("cpu"), Ok(Device::Cpu)));
        let err = parse_device("tpu").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Device);
        assert!(parse_device("cuda:x").is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_fix_it() {
        let err = parse_device("cuda:0").unwrap_err();
        assert!(err.message().contains("--features cuda"), "{err}");
    }
}
