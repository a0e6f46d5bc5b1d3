//! One portable loop, compiled again for each wider instruction set, and the
//! widest version the CPU runs picked at run time.
//!
//! Plugins are built for baseline x86-64 (SSE2), so a plain loop vectorises
//! four lanes wide. [`widest_versions!`] wraps an `#[inline(always)]`
//! portable function in one `#[target_feature]` function per listed
//! feature, so the compiler vectorises the same loop 8 or 16 lanes wide (no
//! intrinsics), and defines two functions:
//!
//! * the picker, `fn name() -> Type`: the widest version this CPU runs;
//! * `fn name_versions() -> impl Iterator<Item = (&'static str, Type)>`:
//!   every version this CPU runs, widest first and the portable one last,
//!   so a test can hold each to the portable loop.
//!
//! Whether the versions give the same bits is the loop's business (each
//! kernel's tests say why and check it): Rust does not contract `a * b + c`
//! into a fused multiply-add, and square roots and divisions round
//! correctly at every width, so a loop of those is the same at every width.

/// `widest_versions! { /// doc  pub fn picker() -> Type, every version:
/// versions_fn, portable: portable_fn(arg: ArgType, …), features: ["avx512f",
/// "avx2"] }` — features widest first; `Type` must be
/// `fn(ArgType, …)` (no return value).
macro_rules! widest_versions {
    (
        $(#[$picker_doc:meta])*
        $vis:vis fn $picker:ident() -> $ty:ty,
        every version: $versions:ident,
        portable: $portable:ident $params:tt,
        features: [$($feature:tt),+ $(,)?] $(,)?
    ) => {
        $(#[$picker_doc])*
        $vis fn $picker() -> $ty {
            $versions()
                .next()
                .map(|(_, version)| version)
                .unwrap_or($portable)
        }

        /// Every version of the loop this CPU runs, widest first, the
        /// portable one last: for tests that hold each to the portable loop.
        $vis fn $versions() -> impl Iterator<Item = (&'static str, $ty)> {
            #[cfg(target_arch = "x86_64")]
            let wide = [$((
                $feature,
                std::arch::is_x86_feature_detected!($feature),
                $crate::widest::widest_versions!(@version $feature, $ty, $portable $params),
            )),+]
            .into_iter()
            .filter(|&(_, runs, _)| runs)
            .map(|(feature, _, version)| (feature, version));
            #[cfg(not(target_arch = "x86_64"))]
            let wide = std::iter::empty();
            wide.chain(std::iter::once(("portable", $portable as $ty)))
        }
    };
    // The portable loop compiled with `$feature` enabled, as a safe `$ty`.
    (@version $feature:tt, $ty:ty, $portable:ident ($($arg:ident: $arg_ty:ty),* $(,)?)) => {{
        fn version($($arg: $arg_ty),*) {
            #[target_feature(enable = $feature)]
            unsafe fn wide($($arg: $arg_ty),*) {
                $portable($($arg),*)
            }
            // SAFETY: only listed where the CPU has the feature.
            unsafe { wide($($arg),*) }
        }
        version as $ty
    }};
}

pub(crate) use widest_versions;

#[cfg(test)]
mod tests {
    type Double = fn(values: &mut [f32]);

    #[inline(always)]
    fn double(values: &mut [f32]) {
        for v in values {
            *v *= 2.0;
        }
    }

    widest_versions! {
        fn double_kernel() -> Double,
        every version: double_versions,
        portable: double(values: &mut [f32]),
        features: ["avx512f", "avx2"],
    }

    #[test]
    fn every_version_the_cpu_runs_is_listed_widest_first_and_runs_the_loop() {
        let mut want: Vec<&str> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                want.push("avx512f");
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                want.push("avx2");
            }
        }
        want.push("portable");
        let listed: Vec<&str> = double_versions().map(|(name, _)| name).collect();
        assert_eq!(listed, want);
        assert_eq!(
            double_kernel() as usize,
            double_versions().next().unwrap().1 as usize,
            "the picker gives the widest"
        );
        for (name, version) in double_versions() {
            let mut values: Vec<f32> = (0..37).map(|i| i as f32).collect();
            version(&mut values);
            assert!(
                values.iter().enumerate().all(|(i, &v)| v == 2.0 * i as f32),
                "{name}"
            );
        }
    }
}
