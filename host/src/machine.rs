//! The machine a run is made on: its CPU and the instruction set agon's
//! kernels pick at run time.
//!
//! Runs of one config and seed are bit-identical whatever the thread count,
//! but only on one kind of machine: the kernels choose AVX-512 or AVX2 code
//! when they start, and the two sum in different orders (so do Candle's
//! matmuls, whose blocking follows the CPU's caches). A run's config.yaml
//! therefore records the machine beside the commit (`written_by.machine`),
//! a resumed run the machines it continued on, and `agon compare` says
//! which machines its runs came from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind of machine, as far as float rounding goes.
/// Unknown fields are ignored when read, so that a later agon may add one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Machine {
    /// The CPU's model name (its brand string), e.g. `AMD EPYC 7B13`.
    pub cpu: String,
    /// The widest instruction set agon's kernels use on it: `avx512f`,
    /// `avx2+fma` or `sse2` on x86-64; the architecture's name elsewhere.
    pub instruction_set: String,
}

impl Machine {
    /// This machine.
    pub fn this() -> Self {
        Machine {
            cpu: cpu_model().unwrap_or_else(|| format!("unknown {} CPU", std::env::consts::ARCH)),
            instruction_set: instruction_set(),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.cpu, self.instruction_set)
    }
}

/// The instruction set the kernels dispatch to (the order of their checks:
/// `agon_kernels`' `is_x86_feature_detected!` tests).
fn instruction_set() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f".into();
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "avx2+fma".into();
        }
        "sse2".into()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::env::consts::ARCH.into()
    }
}

/// The CPU's brand string from `cpuid` on x86-64, else Linux's
/// /proc/cpuinfo; `None` when neither says.
fn cpu_model() -> Option<String> {
    brand_string().or_else(|| {
        let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
        info.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| matches!(key.trim(), "model name" | "Model" | "Hardware"))
            .map(|(_, value)| tidy(value))
            .filter(|name| !name.is_empty())
    })
}

#[cfg(target_arch = "x86_64")]
fn brand_string() -> Option<String> {
    use std::arch::x86_64::__cpuid;
    // `unsafe` (and allowed to be unneeded) for the toolchains before
    // `__cpuid` became a safe function.
    #[allow(unused_unsafe)]
    // SAFETY: `cpuid` exists on every x86-64 CPU; leaves above the highest
    // extended leaf it reports are not read.
    let highest = unsafe { __cpuid(0x8000_0000) }.eax;
    if highest < 0x8000_0004 {
        return None;
    }
    let mut bytes = Vec::with_capacity(48);
    for leaf in 0x8000_0002u32..=0x8000_0004 {
        #[allow(unused_unsafe)]
        // SAFETY: the leaf is at most the highest one reported.
        let r = unsafe { __cpuid(leaf) };
        for word in [r.eax, r.ebx, r.ecx, r.edx] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let name = tidy(text.trim_end_matches('\0'));
    (!name.is_empty()).then_some(name)
}

#[cfg(not(target_arch = "x86_64"))]
fn brand_string() -> Option<String> {
    None
}

/// Trimmed, with runs of spaces (brand strings are padded) made one.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_a_name_and_the_kernels_instruction_set() {
        let machine = Machine::this();
        assert!(!machine.cpu.is_empty());
        assert_eq!(machine.cpu, tidy(&machine.cpu), "{machine:?}");
        #[cfg(target_arch = "x86_64")]
        {
            let avx512 = std::arch::is_x86_feature_detected!("avx512f");
            assert_eq!(machine.instruction_set == "avx512f", avx512, "{machine:?}");
            assert!(
                ["avx512f", "avx2+fma", "sse2"].contains(&machine.instruction_set.as_str()),
                "{machine:?}"
            );
        }
        assert_eq!(machine, Machine::this(), "the same machine twice");
        assert_eq!(
            machine.to_string(),
            format!("{} ({})", machine.cpu, machine.instruction_set)
        );
    }

    #[test]
    fn brand_strings_lose_their_padding() {
        assert_eq!(
            tidy("  Intel(R) Xeon(R)   CPU @ 2.20GHz  "),
            "Intel(R) Xeon(R) CPU @ 2.20GHz"
        );
        assert_eq!(tidy(" \t "), "");
    }
}
