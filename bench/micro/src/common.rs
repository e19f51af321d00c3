//! What `cirrus-bench-micro` and `cirrus-bench-broker` share: timing an
//! operation on several threads with the process's CPU time and page faults
//! around it, and making an RSA key the way the server stores pool keys.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Rate {
    pub ops: u64,
    pub seconds: f64,
    pub per_thread: Vec<u64>,
    /// Process CPU time (user, system; in USER_HZ ticks) and minor page
    /// faults over the timed part, from /proc/self/stat.
    pub user_ticks: u64,
    pub sys_ticks: u64,
    pub minflt: u64,
}

impl Rate {
    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.seconds
    }

    pub fn json(&self) -> Value {
        json!({
            "ops": self.ops,
            "seconds": round(self.seconds, 3),
            "per_sec": round(self.per_sec(), 2),
            "per_thread_ops": self.per_thread,
            "user_ticks": self.user_ticks,
            "sys_ticks": self.sys_ticks,
            "minflt": self.minflt,
        })
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// (minor page faults, user CPU ticks, system CPU ticks) of this process so
/// far, all threads, joined ones included; zeros where /proc is not there.
pub fn proc_self() -> (u64, u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name, starting at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    let get = |field: usize| f.get(field - 3).copied().unwrap_or(0);
    (get(10), get(14), get(15))
}

/// Runs the operation made by `make` on `threads` threads for `duration`.
/// Each thread makes its own operation, runs it once untimed, then all
/// start together; the rate is all completed operations over the time until
/// the last thread finished its last one.
pub fn measure<M, F>(threads: usize, duration: Duration, make: M) -> Rate
where
    M: Fn() -> F + Sync,
    F: FnMut(),
{
    let barrier = Barrier::new(threads + 1);
    let (start, (results, before, after)) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut op = make();
                    op();
                    barrier.wait();
                    let deadline = Instant::now() + duration;
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        op();
                        n += 1;
                    }
                    (n, Instant::now())
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let before = proc_self();
        let results: Vec<(u64, Instant)> =
            handles.into_iter().map(|h| h.join().expect("bench thread panicked")).collect();
        let after = proc_self();
        (start, (results, before, after))
    });
    let end = results.iter().map(|r| r.1).max().unwrap_or(start);
    Rate {
        ops: results.iter().map(|r| r.0).sum(),
        seconds: end.duration_since(start).as_secs_f64(),
        per_thread: results.iter().map(|r| r.0).collect(),
        user_ticks: after.1.saturating_sub(before.1),
        sys_ticks: after.2.saturating_sub(before.2),
        minflt: after.0.saturating_sub(before.0),
    }
}

/// A UUID-shaped string; only its shape matters here.
pub fn uuid_like(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut hex = String::new();
    for _ in 0..32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        hex.push(char::from_digit((x & 15) as u32, 16).expect("hex digit"));
    }
    format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}
