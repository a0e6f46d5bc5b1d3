//! Peak resident memory of this process, per workload.
//!
//! Linux keeps the high-water mark (`VmHWM` in `/proc/self/status`) and lets
//! a process reset it to the current RSS by writing `5` to
//! `/proc/self/clear_refs`, so each workload's peak is measured alone.
//! Elsewhere both are no-ops and the peak is unknown.

/// Resets the high-water mark to the current resident size.
pub fn reset() {
    #[cfg(target_os = "linux")]
    {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

/// The high-water mark since the last [`reset`], in bytes.
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn peak_grows_with_a_touched_allocation_and_resets() {
        super::reset();
        let before = super::peak_bytes().unwrap();
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let during = super::peak_bytes().unwrap();
        assert!(during >= before + (60 << 20), "{before} → {during}");
        drop(block);
        super::reset();
        assert!(super::peak_bytes().unwrap() < during);
    }
}
