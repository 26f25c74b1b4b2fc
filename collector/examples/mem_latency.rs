//! How long one random read takes on this machine, by how much memory the reads range over:
//! the cost a hash index pays per probe once it outgrows each cache level. BENCHMARKS.md uses
//! it to explain why linking a span costs more at 1M spans than at 10k with the same work.
//!
//! `cargo run --release -p hopscope-collector --example mem_latency` (`MAX_MIB=N` sets the
//! largest range, default 1024).

use std::time::Instant;

/// Reads timed per range, each depending on the one before.
const STEPS: usize = 5_000_000;

fn main() {
    let max_mib: usize = std::env::var("MAX_MIB").ok().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let mut mib = 1;
    while mib <= max_mib {
        let n = mib * (1 << 20) / 8;
        // Sattolo's algorithm: one cycle through every slot, in random order, so each read's
        // address comes from the read before and nothing can be prefetched.
        let mut next: Vec<u64> = (0..n as u64).collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in (1..n).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            next.swap(i, (x % i as u64) as usize);
        }
        let mut p = 0usize;
        for _ in 0..STEPS / 10 {
            p = next[p] as usize;
        }
        let t = Instant::now();
        for _ in 0..STEPS {
            p = next[p] as usize;
        }
        let ns = t.elapsed().as_nanos() as f64 / STEPS as f64;
        println!("{mib:5} MiB: {ns:6.1} ns per read (ended at {p})");
        mib *= 2;
    }
}
