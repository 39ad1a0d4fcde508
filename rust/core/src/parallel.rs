//! A private Rayon pool with a settable size, safe across `fork()`.
//!
//! Threads do not survive `fork()`: a forked DataLoader worker that used the parent's pool would
//! wait forever. The pool remembers the pid that built it, and a process with another pid builds
//! its own (the parent's pool is leaked in the child, never dropped, since its threads are gone).
//! Results never depend on the thread count: every parallel operation writes each output item
//! from exactly one task, with the same arithmetic as the sequential code.

use std::sync::{Arc, Mutex, PoisonError};

use rayon::{ThreadPool, ThreadPoolBuilder};

/// Environment variable read when the pool is first built.
pub const NUM_THREADS_ENV: &str = "COCORS_NUM_THREADS";

struct PoolState {
    pid: u32,
    threads: usize,
    pool: Option<Arc<ThreadPool>>,
}

static STATE: Mutex<PoolState> = Mutex::new(PoolState {
    pid: 0,
    threads: 0,
    pool: None,
});

fn default_threads() -> usize {
    std::env::var(NUM_THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Sets the number of worker threads (0 means the default: `COCORS_NUM_THREADS` or the number
/// of CPUs). Takes effect on the next parallel call.
pub fn set_num_threads(n: usize) {
    let mut st = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    st.threads = if n == 0 { default_threads() } else { n };
    if let Some(old) = st.pool.take() {
        if st.pid != std::process::id() {
            std::mem::forget(old);
        }
    }
}

/// The number of worker threads parallel calls use.
pub fn num_threads() -> usize {
    let mut st = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    if st.threads == 0 {
        st.threads = default_threads();
    }
    st.threads
}

/// The pool for this process, built on first use (or first use after a fork).
fn pool() -> Option<Arc<ThreadPool>> {
    let mut st = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if st.pid != pid {
        if let Some(inherited) = st.pool.take() {
            std::mem::forget(inherited);
        }
        st.pid = pid;
    }
    if st.threads == 0 {
        st.threads = default_threads();
    }
    if st.pool.is_none() {
        // If the OS refuses threads we fall back to running on the caller's thread.
        st.pool = ThreadPoolBuilder::new()
            .num_threads(st.threads)
            .thread_name(|i| format!("cocors-{i}"))
            .build()
            .ok()
            .map(Arc::new);
    }
    st.pool.clone()
}

/// Runs `f` inside the cocors pool, so that Rayon's parallel iterators in it use that pool's
/// threads (one thread configured means one worker: the work is then sequential).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Whether a batch of `items` costing about `work` elementary steps in all is worth spreading
/// over threads; tiny batches run inline to avoid the hand-off cost.
pub fn worth_parallel(items: usize, work: usize) -> bool {
    items > 1 && work > 20_000 && num_threads() > 1
}
