//! Named tensors to and from safetensors files, with errors that name the file.

use std::{collections::HashMap, path::Path};

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use crate::error::{PluginError, PluginResult};

/// Writes `tensors` to the safetensors file `path`.
pub fn save_tensors(path: &Path, tensors: &HashMap<String, Tensor>) -> PluginResult<()> {
    candle_core::safetensors::save(tensors, path)
        .map_err(|e| PluginError::io(format!("cannot write {}: {e}", path.display())))
}

/// Reads every tensor of the safetensors file `path` onto `device`.
pub fn load_tensors(path: &Path, device: &Device) -> PluginResult<HashMap<String, Tensor>> {
    if !path.is_file() {
        let relative = if path.is_relative() {
            std::env::current_dir()
                .map(|d| {
                    format!(
                        " (a relative path resolves against the current directory, {})",
                        d.display()
                    )
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        return Err(PluginError::io(format!(
            "{} does not exist{relative}",
            path.display()
        )));
    }
    candle_core::safetensors::load(path, device).map_err(|e| {
        PluginError::io(format!(
            "{} is not a readable safetensors file ({e}); it may be truncated or from another program",
            path.display()
        ))
    })
}

/// The variables of `varmap`, sorted by name (VarMap iterates a HashMap, whose
/// order changes from run to run; everything order-dependent uses this).
pub fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut vars: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Sets every variable of `varmap` from `tensors` (a map written by
/// [`save_tensors`] of [`sorted_vars`]), checking names and shapes so that a
/// checkpoint of another model is refused with a clear message.
pub fn restore_vars(
    varmap: &VarMap,
    tensors: &HashMap<String, Tensor>,
    prefix: &str,
    file: &Path,
) -> PluginResult<()> {
    for (name, var) in sorted_vars(varmap) {
        let tensor = tensor_like(tensors, &format!("{prefix}{name}"), var.dims(), file)?;
        var.set(&tensor.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// The tensor `key` of `tensors` (read from `file`), which must have the
/// shape `dims`: a missing tensor or another shape means a checkpoint of a
/// different model, and the error says so.
pub fn tensor_like<'a>(
    tensors: &'a HashMap<String, Tensor>,
    key: &str,
    dims: &[usize],
    file: &Path,
) -> PluginResult<&'a Tensor> {
    let tensor = tensors.get(key).ok_or_else(|| {
        PluginError::io(format!(
            "{} has no tensor `{key}`: it is a checkpoint of a different model",
            file.display()
        ))
    })?;
    if tensor.dims() != dims {
        return Err(PluginError::io(format!(
            "{}: tensor `{key}` has shape {:?} but this model's is {dims:?} (a checkpoint of a model with other dimensions)",
            file.display(),
            tensor.dims(),
        )));
    }
    Ok(tensor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use candle_nn::Init;

    #[test]
    fn round_trip_and_shape_mismatch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let varmap = VarMap::new();
        varmap
            .get((2, 3), "w", Init::Const(1.5), DType::F32, &Device::Cpu)
            .unwrap();
        let tensors: HashMap<String, Tensor> = sorted_vars(&varmap)
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect();
        save_tensors(&path, &tensors).unwrap();
        let loaded = load_tensors(&path, &Device::Cpu).unwrap();
        let other = VarMap::new();
        other
            .get((2, 3), "w", Init::Const(0.0), DType::F32, &Device::Cpu)
            .unwrap();
        restore_vars(&other, &loaded, "", &path).unwrap();
        assert_eq!(
            sorted_vars(&other)[0]
                .1
                .as_tensor()
                .to_vec2::<f32>()
                .unwrap(),
            vec![vec![1.5; 3]; 2]
        );
        let wrong = VarMap::new();
        wrong
            .get((3, 3), "w", Init::Const(0.0), DType::F32, &Device::Cpu)
            .unwrap();
        let err = restore_vars(&wrong, &loaded, "", &path).unwrap_err();
        assert!(err.message().contains("other dimensions"), "{err}");
    }

    #[test]
    fn truncated_file_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        std::fs::write(&path, b"\x10\x00\x00").unwrap();
        let err = load_tensors(&path, &Device::Cpu).unwrap_err();
        assert!(err.message().contains("bad.safetensors"), "{err}");
    }
}
