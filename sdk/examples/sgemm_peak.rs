//! The CPU's single-precision matmul throughput through Candle (the `gemm`
//! crate), the reference for the GFLOP/s figures in docs/performance.md:
//!
//!     cargo run --release -p agon-sdk --features candle --example sgemm_peak
//!
//! Prints the median of 10 products for square sizes 512–2048.

use candle_core::{Device, Tensor};

fn main() -> candle_core::Result<()> {
    for n in [512usize, 1024, 2048] {
        let a = Tensor::ones((n, n), candle_core::DType::F32, &Device::Cpu)?;
        let b = (Tensor::ones((n, n), candle_core::DType::F32, &Device::Cpu)? * 0.5)?;
        for _ in 0..3 {
            a.matmul(&b)?;
        }
        let mut times: Vec<f64> = (0..10)
            .map(|_| {
                let start = std::time::Instant::now();
                let product = a.matmul(&b);
                let elapsed = start.elapsed().as_secs_f64();
                product.map(|_| elapsed)
            })
            .collect::<candle_core::Result<_>>()?;
        times.sort_by(f64::total_cmp);
        let median = (times[4] + times[5]) / 2.0;
        println!(
            "sgemm {n}×{n}×{n}: {:.1} GFLOP/s (median of 10)",
            2.0 * (n as f64).powi(3) / median / 1e9
        );
    }
    Ok(())
}
