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

/// Runs a batch as a pipeline of `blocks` blocks: `produce(b)` makes block `b`'s input on the
/// calling thread (`None` stops production early), `work` turns inputs into
/// outputs, and `consume(b, output)` takes the outputs on the calling thread in block order;
/// its first error stops the batch (work under way finishes and is dropped).
///
/// Why: a caller that must make the inputs and take the outputs on its own thread (the binding
/// converts Python objects and builds result dicts under the GIL) overlaps that serial work
/// with the parallel part instead of adding to it. With `n` threads configured, `n - 1` pool
/// threads take blocks from a queue while the calling thread produces; the calling thread
/// then works through the queue too whenever the next output is not ready to consume, so `n`
/// threads are busy, not `n + 1`. With one thread or one block, or where the pool cannot be
/// built, every step runs on the calling thread, block after block. Either way the output
/// (and the first error) never depends on the thread count.
pub fn pipeline<T: Send, U: Send, E>(
    blocks: usize,
    mut produce: impl FnMut(usize) -> Option<T>,
    work: impl Fn(T) -> U + Sync,
    mut consume: impl FnMut(usize, U) -> Result<(), E>,
) -> Result<(), E> {
    let threads = num_threads();
    let pool = if threads > 1 && blocks > 1 {
        pool()
    } else {
        None
    };
    let Some(pool) = pool else {
        for b in 0..blocks {
            let Some(input) = produce(b) else { break };
            consume(b, work(input))?;
        }
        return Ok(());
    };
    let queue = BlockQueue::new();
    let (done, finished) = std::sync::mpsc::channel::<(usize, U)>();
    pool.in_place_scope(|scope| {
        // However this closure ends (an error, or a panic in `produce` or `consume`), the pool
        // threads must find the queue closed and empty, or the scope would wait for them forever.
        let _closed = CloseOnDrop(&queue);
        for _ in 1..threads {
            let (done, queue, work) = (done.clone(), &queue, &work);
            scope.spawn(move |_| {
                while let Some((b, input)) = queue.wait_pop() {
                    // Cannot fail: the receiver outlives the scope.
                    drop(done.send((b, work(input))));
                }
            });
        }
        drop(done);
        (|| {
            let mut produced = 0;
            while produced < blocks {
                let Some(input) = produce(produced) else {
                    break;
                };
                queue.push(produced, input);
                produced += 1;
            }
            queue.close();
            // Outputs arrive in any order; each waits in `ready` until its turn.
            let mut ready: Vec<Option<U>> = (0..produced).map(|_| None).collect();
            let mut next = 0;
            while next < produced {
                if let Some(output) = ready[next].take() {
                    consume(next, output)?;
                    next += 1;
                } else if let Ok((b, output)) = finished.try_recv() {
                    ready[b] = Some(output);
                } else if let Some((b, input)) = queue.pop() {
                    ready[b] = Some(work(input));
                } else if let Ok((b, output)) = finished.recv() {
                    // Nothing queued: the next output is being made by a pool thread.
                    ready[b] = Some(output);
                } else {
                    // Every pool thread has ended without sending it: one panicked, and the
                    // scope re-raises that panic as it ends.
                    break;
                }
            }
            Ok(())
        })()
    })
}

/// Clears and closes a [`BlockQueue`] when dropped.
struct CloseOnDrop<'a, T>(&'a BlockQueue<T>);

impl<T> Drop for CloseOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// The blocks of a [`pipeline`] waiting for a thread, and whether more will come.
struct BlockQueue<T> {
    state: Mutex<(std::collections::VecDeque<(usize, T)>, bool)>,
    more: std::sync::Condvar,
}

impl<T> BlockQueue<T> {
    fn new() -> Self {
        BlockQueue {
            state: Mutex::new((std::collections::VecDeque::new(), false)),
            more: std::sync::Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (std::collections::VecDeque<(usize, T)>, bool)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, b: usize, input: T) {
        self.lock().0.push_back((b, input));
        self.more.notify_one();
    }

    /// No more blocks will be pushed.
    fn close(&self) {
        self.lock().1 = true;
        self.more.notify_all();
    }

    /// Drops the blocks not yet taken, and closes.
    fn clear(&self) {
        let mut state = self.lock();
        state.0.clear();
        state.1 = true;
        drop(state);
        self.more.notify_all();
    }

    /// The next block, if one is queued.
    fn pop(&self) -> Option<(usize, T)> {
        self.lock().0.pop_front()
    }

    /// The next block, waiting for one while the queue is open; `None` once it is closed and
    /// empty.
    fn wait_pop(&self) -> Option<(usize, T)> {
        let mut state = self.lock();
        loop {
            if let Some(block) = state.0.pop_front() {
                return Some(block);
            }
            if state.1 {
                return None;
            }
            state = self
                .more
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Held by tests that change the process-wide thread count (cargo runs tests side by side),
/// so that each sees the count it set.
#[cfg(test)]
pub(crate) static TEST_THREADS: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    /// Squares of `0..n` through [`pipeline`] in blocks of 7, with `fail` as the first item
    /// whose work fails and `stop` as the first item `produce` refuses (ending its block
    /// early and the batch after it): the outputs consumed, then the error.
    fn squares(n: usize, fail: usize, stop: usize) -> (Vec<usize>, Option<String>) {
        let mut out = Vec::new();
        let mut stopped = None;
        let result = pipeline(
            n.div_ceil(7),
            |b| {
                if stopped.is_some() {
                    return None;
                }
                let items: Vec<usize> = (7 * b..n.min(7 * b + 7))
                    .take_while(|&i| i < stop)
                    .collect();
                if items.len() < n.min(7 * b + 7) - 7 * b {
                    stopped = Some(format!("stop at {stop}"));
                }
                Some((items, stopped.clone()))
            },
            |(items, stop): (Vec<usize>, Option<String>)| {
                let squares: Result<Vec<usize>, String> = items
                    .iter()
                    .map(|&i| {
                        if i == fail {
                            Err(format!("fail at {i}"))
                        } else {
                            Ok(i * i)
                        }
                    })
                    .collect();
                (squares, stop)
            },
            |_, (squares, stop)| {
                out.extend(squares?);
                stop.map_or(Ok(()), Err)
            },
        );
        (out, result.err())
    }

    #[test]
    fn pipeline_keeps_order_and_the_first_error_whatever_the_threads() {
        let _threads = TEST_THREADS.lock().unwrap_or_else(PoisonError::into_inner);
        let cases = [
            (0, usize::MAX, usize::MAX),
            (1, usize::MAX, usize::MAX),
            (7, usize::MAX, usize::MAX),
            (200, usize::MAX, usize::MAX),
            (200, 150, usize::MAX),
            (200, usize::MAX, 100),
            (200, 101, 100),
            (200, 99, 100),
            (200, 99, 98),
        ];
        for (n, fail, stop) in cases {
            // A block whose work fails gives no output; one cut short gives what it has.
            let expected_len = if fail < n && fail < stop {
                7 * (fail / 7)
            } else {
                n.min(stop)
            };
            let (out, err) = squares(n, fail, stop);
            assert_eq!(
                out,
                (0..expected_len).map(|i| i * i).collect::<Vec<_>>(),
                "{n} {fail} {stop}"
            );
            let expected_err = if fail < n && fail < stop {
                Some(format!("fail at {fail}"))
            } else if stop < n {
                Some(format!("stop at {stop}"))
            } else {
                None
            };
            assert_eq!(err, expected_err, "{n} {fail} {stop}");
            for threads in [2, 3, 8] {
                set_num_threads(threads);
                assert_eq!(
                    squares(n, fail, stop),
                    (out.clone(), err.clone()),
                    "{threads} threads"
                );
            }
            set_num_threads(0);
        }
    }

    #[test]
    fn pipeline_passes_on_a_panic_in_produce_instead_of_hanging() {
        let _threads = TEST_THREADS.lock().unwrap_or_else(PoisonError::into_inner);
        for threads in [1, 2, 4] {
            set_num_threads(threads);
            let caught = std::panic::catch_unwind(|| {
                pipeline(
                    10,
                    |b| {
                        assert!(b < 3, "produce fails at block 3");
                        Some(b)
                    },
                    |b| b * 2,
                    |_, _| Ok::<(), ()>(()),
                )
            });
            assert!(caught.is_err(), "{threads} threads");
        }
        set_num_threads(0);
    }
}
