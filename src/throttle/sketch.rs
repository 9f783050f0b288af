//! Failure counts in fixed memory: a count-min sketch over rotating slots of the window.
//!
//! `ROWS` rows of `width` 16-bit counters for each of `SLOTS` slots; a slot covers half the
//! window, and a key's count is the sum of the live slots (the current one and the two
//! before it), each read as the least of the key's counters in that slot. Increments are
//! conservative (only the counters at the key's current least are raised), which keeps the
//! invariant every counter is at least the true count of every key mapped to it: the estimate
//! never under-counts, so a key at its limit stays blocked until its failures age out, whatever
//! other keys are counted. A failure counts for at least one window and at most a window and a
//! half.

use std::time::{Duration, Instant};

/// Rows (independent hash functions).
pub(crate) const ROWS: usize = 4;
/// Slots: a window is `SLOTS - 1` of them, plus the slot being filled.
pub(crate) const SLOTS: usize = 3;

pub(crate) struct Sketch {
    width: usize,
    slot_len: Duration,
    origin: Instant,
    /// Per slot: its epoch (the slot number since `origin`) and its counters (rows × width),
    /// allocated zeroed (calloc: pages never written stay out of the resident set).
    slots: Vec<(u64, Box<[u16]>)>,
    /// Failures recorded in the live slots (so a throttle with none skips its lookups).
    live: u64,
}

/// splitmix64's finalizer: the row index of a keyed hash.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const SEEDS: [u64; ROWS] = [
    0x9e37_79b9_7f4a_7c15,
    0xc2b2_ae3d_27d4_eb4f,
    0x1656_67b1_9e37_79f9,
    0x27d4_eb2f_1656_67c5,
];

/// The counters of `key` in a sketch of `width` (a power of two) counters per row: one per
/// row, as indexes into the rows laid end to end.
pub(crate) fn cells(key: u64, width: usize) -> [usize; ROWS] {
    let mut out = [0; ROWS];
    for (row, seed) in SEEDS.iter().enumerate() {
        // Truncation intended: the mask keeps the low bits.
        #[allow(clippy::cast_possible_truncation)]
        let col = (mix(key ^ seed) as usize) & (width - 1);
        out[row] = row * width + col;
    }
    out
}

impl Sketch {
    /// `width` counters per row (rounded up to a power of two, at least 64) for a window.
    pub(crate) fn new(width: usize, window: Duration) -> Self {
        let width = width.clamp(64, 1 << 26).next_power_of_two();
        Self {
            width,
            slot_len: (window / (SLOTS as u32 - 1)).max(Duration::from_millis(1)),
            origin: Instant::now(),
            slots: (0..SLOTS).map(|_| (u64::MAX, Box::default())).collect(),
            live: 0,
        }
    }

    /// The memory the counters take once every slot has been written: `SLOTS × ROWS × width ×
    /// 2` bytes.
    pub(crate) fn bytes(width: usize) -> usize {
        width.clamp(64, 1 << 26).next_power_of_two() * ROWS * SLOTS * 2
    }

    fn epoch(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.slot_len.as_nanos().max(1)).unwrap_or(u64::MAX - 1)
    }

    /// Whether any failure is in a live slot.
    pub(crate) fn has_records(&mut self, now: Instant) -> bool {
        self.expire(now);
        self.live > 0
    }

    /// Drops slots older than the window (their memory is given back).
    fn expire(&mut self, now: Instant) {
        let current = self.epoch(now);
        let mut live = 0;
        for (epoch, cells) in &mut self.slots {
            if *epoch != u64::MAX && current.saturating_sub(*epoch) >= SLOTS as u64 {
                *epoch = u64::MAX;
                *cells = Box::default();
            }
            if *epoch != u64::MAX {
                live += 1;
            }
        }
        if live == 0 {
            self.live = 0;
        }
    }

    fn cells(&self, key: u64) -> [usize; ROWS] {
        cells(key, self.width)
    }

    /// Counts one failure of `key`.
    pub(crate) fn add(&mut self, key: u64, now: Instant) {
        self.expire(now);
        let epoch = self.epoch(now);
        let index = usize::try_from(epoch % SLOTS as u64).unwrap_or(0);
        let cells = self.cells(key);
        let width = self.width;
        let slot = &mut self.slots[index];
        if slot.0 != epoch {
            *slot = (epoch, vec![0u16; ROWS * width].into_boxed_slice());
        }
        let least = cells.iter().map(|&c| slot.1[c]).min().unwrap_or(0);
        let next = least.saturating_add(1);
        for c in cells {
            if slot.1[c] < next {
                slot.1[c] = next;
            }
        }
        self.live = self.live.saturating_add(1);
    }

    /// How long until `key`'s count (never less than its failures in the window) falls below
    /// `limit` (`None`: it is below already).
    #[cfg(test)]
    pub(crate) fn blocked(&mut self, key: u64, limit: u32, now: Instant) -> Option<Duration> {
        self.blocked_with(key, limit, 0, now)
    }

    /// As [`blocked`](Self::blocked), with `extra` failures counted on top (attempts in flight).
    pub(crate) fn blocked_with(
        &mut self,
        key: u64,
        limit: u32,
        extra: u32,
        now: Instant,
    ) -> Option<Duration> {
        self.expire(now);
        if self.live == 0 && extra < limit {
            return None;
        }
        let current = self.epoch(now);
        let cells = self.cells(key);
        // Per live slot, oldest first: (epoch, count).
        let mut counts = [(0u64, 0u32); SLOTS];
        let mut total = u64::from(extra);
        for (i, back) in (0..SLOTS as u64).rev().enumerate() {
            let Some(epoch) = current.checked_sub(back) else {
                continue;
            };
            let slot = &self.slots[usize::try_from(epoch % SLOTS as u64).unwrap_or(0)];
            if slot.0 != epoch {
                continue;
            }
            let n = cells.iter().map(|&c| slot.1[c]).min().unwrap_or(0);
            counts[i] = (epoch, u32::from(n));
            total += u64::from(n);
        }
        if total < u64::from(limit) {
            return None;
        }
        // Until enough of the oldest slots have aged out (the in-flight ones never do here:
        // they settle).
        for (epoch, n) in counts {
            total -= u64::from(n);
            if n > 0 && total < u64::from(limit) {
                let ends = self.origin
                    + self.slot_len * u32::try_from(epoch + SLOTS as u64).unwrap_or(u32::MAX);
                return Some(
                    ends.saturating_duration_since(now)
                        .max(Duration::from_millis(1)),
                );
            }
        }
        // Blocked by attempts in flight alone: they settle within a verification.
        Some(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_block_age_out_and_never_under_count() {
        let w = Duration::from_secs(400);
        let mut s = Sketch::new(1024, w);
        let t0 = s.origin;
        for _ in 0..3 {
            assert_eq!(s.blocked(7, 3, t0), None);
            s.add(7, t0);
        }
        let wait = s.blocked(7, 3, t0 + Duration::from_secs(10)).unwrap();
        // A failure in the first slot (200 s) counts until the end of the third: 600 s.
        assert_eq!(wait, Duration::from_secs(590));
        assert!(s.blocked(7, 3, t0 + Duration::from_secs(599)).is_some());
        assert_eq!(s.blocked(7, 3, t0 + Duration::from_secs(600)), None);
        // Flooding other keys into a tiny sketch never lowers a count.
        let mut small = Sketch::new(64, w);
        for _ in 0..5 {
            small.add(42, t0);
        }
        for k in 0..100_000u64 {
            small.add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), t0);
        }
        assert!(small.blocked(42, 5, t0).is_some());
    }
}
