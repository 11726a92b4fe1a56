//! # hpkit-kernels
//!
//! The numeric kernels behind `hpkit.kernels` and the machine probes behind
//! `hpkit machine`. Pure Rust: slices in, Rust values and [`KernelError`] out; the
//! binding crate `hpkit-py` does the Python side (validation of Python objects, releasing
//! the GIL, Ctrl-C).
//!
//! * [`julia`] - the book's chapter 2 Julia set. Counts are bit-for-bit what CPython's
//!   complex arithmetic gives (no FMA, no reassociation; the `abs(z) < 2` test resolved
//!   with libm's `hypot` in a narrow band around 4), on the scalar, AVX2 and AVX-512 paths.
//! * [`diffusion`] - the book's chapter 6 heat equation (explicit Euler, periodic 5-point
//!   and 3-point Laplacian, f32/f64), bit-for-bit WORKLOADS.md's "order S" numpy reference,
//!   with several steps fused per pass over memory (temporal blocking) for grids beyond cache.
//! * [`norm`] - the chapter 6 vector norm `Σ v*v`: exact for int64 (u128, checked: an
//!   overflow is an error, never a wrap-around), compensated (Dot2) for float64, and the
//!   norm correctly rounded from the exact integer sum.
//! * [`pi`] - chapter 9's Monte Carlo π with a counter-based SplitMix64 stream: sample `i`
//!   is a pure function of (seed, i), so the count is the same for any thread count.
//! * [`primes`] - chapter 9's primes: the book's trial division (its rule behind a flag),
//!   deterministic u64 primality (`machine-prime`), smallest factors by Pollard-Brent rho,
//!   and a segmented mod-30 wheel sieve (pre-sieved patterns, L1/L2 blocking, rayon) for
//!   counting and listing primes, on par with primesieve for `count_primes(0, 10^9)`.
//! * [`simd`] - runtime dispatch: one binary carries every path and picks the widest the
//!   CPU has (never `-C target-cpu=native`). NEON is not written yet; aarch64 runs scalar.
//! * [`pool`] - one rayon pool sized by `HPKIT_NUM_THREADS` (default: all cores) and cached
//!   pools for an explicit thread count.
//! * [`probe`] - STREAM-style bandwidth (copy, triad) and peak floating-point throughput,
//!   the limits the lab reports results against (roofline style).
//!
//! Limits: outputs larger than the machine's RAM are refused up front
//! ([`KernelError::TooLarge`]) rather than left to the OS's out-of-memory killer.

pub mod diffusion;
mod error;
pub mod julia;
pub mod limits;
pub mod norm;
pub mod pi;
pub mod pool;
pub mod primes;
pub mod probe;
pub mod simd;

pub use error::{KernelError, Result};
pub use num_complex::Complex64;
