//! A sleep that needs no runtime support ([`Delay`]): one process-wide timer thread wakes the
//! expired delays, so deadlines work under any executor (and any Tokio runtime, with or
//! without its time driver).

#![cfg_attr(
    not(any(feature = "tower", feature = "actix", feature = "password")),
    allow(dead_code)
)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A sleep that works under any executor (and any Tokio runtime, with or without its time
/// driver): one process-wide timer thread wakes the expired delays.
pub(crate) struct Delay {
    deadline: Instant,
    slot: Option<Arc<TimerSlot>>,
}

struct TimerSlot {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct TimerEntry {
    deadline: Instant,
    seq: u64,
    slot: Arc<TimerSlot>,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

struct Timer {
    heap: Mutex<(BinaryHeap<Reverse<TimerEntry>>, u64)>,
    cond: Condvar,
}

/// The timer, its thread started on first use.
///
/// # Panics
///
/// When the thread cannot be started (the process is out of threads or memory): every delay
/// the library relies on (the hashing pool's deadline, the padding that keeps refusals from
/// telling users apart, the body timeout) would otherwise end at once, silently turning those
/// protections off. The panic fails the request that needed a delay, and the next one tries
/// again.
fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    // A panic here leaves the cell empty: the next use tries again.
    TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new((BinaryHeap::new(), 0)),
            cond: Condvar::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("httpauth-timer".into())
            .spawn(move || timer.run());
        if let Err(err) = spawned {
            tracing::error!(target: "httpauth", "cannot start the timer thread: {err}");
            panic!("httpauth: cannot start the timer thread: {err}");
        }
        timer
    })
}

impl Timer {
    fn run(&self) {
        let mut guard = self.heap.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            while guard.0.peek().is_some_and(|e| e.0.deadline <= now) {
                if let Some(Reverse(entry)) = guard.0.pop() {
                    entry.slot.fired.store(true, Ordering::Release);
                    let waker = entry
                        .slot
                        .waker
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            }
            guard = match guard.0.peek().map(|e| e.0.deadline) {
                Some(next) => {
                    self.cond
                        .wait_timeout(guard, next.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .cond
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

impl Delay {
    /// Ends `duration` from now.
    pub(crate) fn new(duration: Duration) -> Self {
        Self::until(Instant::now() + duration)
    }

    /// Ends at `deadline`.
    pub(crate) fn until(deadline: Instant) -> Self {
        Self {
            deadline,
            slot: None,
        }
    }
}

impl Future for Delay {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let timer = timer();
        let slot = match &self.slot {
            Some(slot) => slot.clone(),
            None => {
                let slot = Arc::new(TimerSlot {
                    fired: AtomicBool::new(false),
                    waker: Mutex::new(None),
                });
                let mut heap = timer.heap.lock().unwrap_or_else(PoisonError::into_inner);
                let seq = heap.1;
                heap.1 += 1;
                heap.0.push(Reverse(TimerEntry {
                    deadline: self.deadline,
                    seq,
                    slot: slot.clone(),
                }));
                drop(heap);
                timer.cond.notify_one();
                self.slot = Some(slot.clone());
                slot
            }
        };
        *slot.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        // Fired between the check above and storing the waker: its wake found no waker.
        if slot.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl fmt::Debug for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delay")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Runs `future` until `deadline`: `None` when the deadline came first (the adapters' body
/// timeout).
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) async fn within<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut delay = Delay::new(duration);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        match Pin::new(&mut delay).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
