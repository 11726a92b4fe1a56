//! Runtime-dispatched SIMD.
//!
//! Kernels are written once, generic over [`Lanes`] (a vector of `f64` lanes with a lane
//! mask), and instantiated per instruction set inside a `#[target_feature]` function, so
//! one wheel carries the scalar, AVX2 and AVX-512 code and picks at run time. Nothing here
//! uses fused multiply-add: every lane does exactly the IEEE operations the scalar code
//! does, so the SIMD paths give bit-identical results.
#![allow(unsafe_code)] // intrinsics; every use is guarded by a runtime feature check

use crate::error::{KernelError, Result};

/// An instruction set a kernel can run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Simd {
    /// Plain scalar code (every machine).
    Scalar,
    /// 4 x f64 lanes (x86-64 with AVX2).
    Avx2,
    /// 8 x f64 lanes with mask registers (x86-64 with AVX-512F).
    Avx512,
}

impl Simd {
    pub const ALL: [Simd; 3] = [Simd::Scalar, Simd::Avx2, Simd::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Simd::Scalar => "scalar",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    /// Parse a user's choice; `"auto"` means [`Simd::best`].
    pub fn parse(name: &str) -> Result<Simd> {
        let chosen = match name {
            "auto" => return Ok(Simd::best()),
            "scalar" => Simd::Scalar,
            "avx2" => Simd::Avx2,
            "avx512" => Simd::Avx512,
            other => {
                return Err(KernelError::InvalidArgument(format!(
                    "unknown simd {other:?}; expected one of 'auto', 'scalar', 'avx2', 'avx512'"
                )))
            }
        };
        if !chosen.is_available() {
            return Err(KernelError::Unsupported(format!(
                "simd={:?}",
                chosen.name()
            )));
        }
        Ok(chosen)
    }

    /// Whether this CPU (detected at run time) can run the path.
    pub fn is_available(self) -> bool {
        match self {
            Simd::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Simd::Avx2 | Simd::Avx512 => false,
        }
    }

    /// The widest available path.
    pub fn best() -> Simd {
        Simd::ALL
            .into_iter()
            .rev()
            .find(|s| s.is_available())
            .unwrap_or(Simd::Scalar)
    }

    pub fn available() -> Vec<Simd> {
        Simd::ALL.into_iter().filter(|s| s.is_available()).collect()
    }
}

/// The path a kernel runs: `None` picks the widest path this CPU has that `usable` also
/// accepts; a named path must pass both. `usable` states what a kernel needs beyond the
/// path's own instruction set (e.g. FMA next to AVX2), checked at run time.
pub fn resolve(simd: Option<Simd>, usable: impl Fn(Simd) -> bool) -> Result<Simd> {
    let usable = |s: Simd| s.is_available() && usable(s);
    match simd {
        None => Ok(Simd::ALL
            .into_iter()
            .rev()
            .find(|&s| usable(s))
            .unwrap_or(Simd::Scalar)),
        Some(s) if usable(s) => Ok(s),
        Some(s) => Err(KernelError::Unsupported(format!("simd={:?}", s.name()))),
    }
}

/// CPU features detected at run time, by name (for reports).
pub fn cpu_features() -> Vec<&'static str> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(
                if std::arch::is_x86_feature_detected!($f) { found.push($f); }
            )*};
        }
        probe!("sse2", "sse4.2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512vl");
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push("neon");
        }
    }
    found
}

/// A vector of `f64` lanes. Implementations are `#[inline(always)]` wrappers over
/// intrinsics; they are only ever called from inside a function compiled with the matching
/// `#[target_feature]`, after a runtime check.
pub(crate) trait Lanes: Copy {
    const N: usize;
    type Mask: Copy;
    unsafe fn splat(x: f64) -> Self;
    /// Load `N` values from `p[0..N]`.
    unsafe fn load(p: &[f64]) -> Self;
    unsafe fn store(self, p: &mut [f64]);
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    /// Lanes where `self < b` (ordered: false for NaN).
    unsafe fn lt(self, b: Self) -> Self::Mask;
    unsafe fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    unsafe fn or(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// One bit per lane, lane 0 in bit 0.
    unsafe fn bits(m: Self::Mask) -> u32;
    unsafe fn from_bits(bits: u32) -> Self::Mask;
    /// `self + one` in the lanes of `m`, `self` elsewhere.
    unsafe fn add_where(self, m: Self::Mask, one: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256d);

    impl Lanes for Avx2 {
        const N: usize = 4;
        type Mask = __m256d;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Avx2(_mm256_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn load(p: &[f64]) -> Self {
            debug_assert!(p.len() >= 4);
            Avx2(unsafe { _mm256_loadu_pd(p.as_ptr()) })
        }
        #[inline(always)]
        unsafe fn store(self, p: &mut [f64]) {
            debug_assert!(p.len() >= 4);
            unsafe { _mm256_storeu_pd(p.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Avx2(_mm256_add_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Avx2(_mm256_sub_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Avx2(_mm256_mul_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn lt(self, b: Self) -> __m256d {
            _mm256_cmp_pd::<_CMP_LT_OQ>(self.0, b.0)
        }
        #[inline(always)]
        unsafe fn and(a: __m256d, b: __m256d) -> __m256d {
            _mm256_and_pd(a, b)
        }
        #[inline(always)]
        unsafe fn or(a: __m256d, b: __m256d) -> __m256d {
            _mm256_or_pd(a, b)
        }
        #[inline(always)]
        unsafe fn bits(m: __m256d) -> u32 {
            _mm256_movemask_pd(m) as u32
        }
        #[inline(always)]
        unsafe fn from_bits(bits: u32) -> __m256d {
            let lane = _mm256_set_epi64x(8, 4, 2, 1);
            let hit = _mm256_and_si256(_mm256_set1_epi64x(i64::from(bits)), lane);
            _mm256_castsi256_pd(_mm256_cmpeq_epi64(hit, lane))
        }
        #[inline(always)]
        unsafe fn add_where(self, m: __m256d, one: Self) -> Self {
            Avx2(_mm256_add_pd(self.0, _mm256_and_pd(m, one.0)))
        }
    }

    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512d);

    impl Lanes for Avx512 {
        const N: usize = 8;
        type Mask = __mmask8;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Avx512(_mm512_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn load(p: &[f64]) -> Self {
            debug_assert!(p.len() >= 8);
            Avx512(unsafe { _mm512_loadu_pd(p.as_ptr()) })
        }
        #[inline(always)]
        unsafe fn store(self, p: &mut [f64]) {
            debug_assert!(p.len() >= 8);
            unsafe { _mm512_storeu_pd(p.as_mut_ptr(), self.0) }
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Avx512(_mm512_add_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn sub(self, b: Self) -> Self {
            Avx512(_mm512_sub_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn mul(self, b: Self) -> Self {
            Avx512(_mm512_mul_pd(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn lt(self, b: Self) -> __mmask8 {
            _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self.0, b.0)
        }
        #[inline(always)]
        unsafe fn and(a: __mmask8, b: __mmask8) -> __mmask8 {
            a & b
        }
        #[inline(always)]
        unsafe fn or(a: __mmask8, b: __mmask8) -> __mmask8 {
            a | b
        }
        #[inline(always)]
        unsafe fn bits(m: __mmask8) -> u32 {
            u32::from(m)
        }
        #[inline(always)]
        unsafe fn from_bits(bits: u32) -> __mmask8 {
            bits as __mmask8
        }
        #[inline(always)]
        unsafe fn add_where(self, m: __mmask8, one: Self) -> Self {
            Avx512(_mm512_mask_add_pd(self.0, m, self.0, one.0))
        }
    }
}
