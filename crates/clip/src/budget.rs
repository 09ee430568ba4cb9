//! One memory budget for decoded pixels, shared by every decode thread of the process.
//!
//! The pixel limit bounds one file; it does not bound a process that decodes several at once:
//! four blank 15000 x 15000 RGBA PNGs (0.9 MB files) took indexing to 3 GB. So before a photo
//! is decoded its decoder's allocations (the native pixels, 16-bit and RGBA intermediates, the
//! 8-bit RGB copy: [`crate::decode::footprint`]) are reserved here, and released when those
//! pixels are freed. A photo that alone needs more than the whole budget fails with a reason;
//! others wait until there is room.
//!
//! The budget is a quarter of the machine's memory, between `DEFAULT_MIN` and
//! `DEFAULT_MAX`; the `GLIMPSE_DECODE_MEMORY_MB` environment variable (`ENV`) sets it.

use std::sync::{Condvar, Mutex, OnceLock};

/// The environment variable that sets the process's decode budget, in MB (1 MB = 2^20 bytes).
pub(crate) const ENV: &str = "GLIMPSE_DECODE_MEMORY_MB";

/// The smallest default budget: enough for a 50-megapixel photo decoded whole (RGBA then RGB).
pub(crate) const DEFAULT_MIN: u64 = 512 << 20;

/// The largest default budget: decode threads rarely need more, and the model and the rest of
/// the machine keep theirs.
pub(crate) const DEFAULT_MAX: u64 = 8 << 30;

/// Why a photo's pixels were not given memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The photo alone needs more than the whole budget.
    #[error(
        "too large to decode: needs {} MB of memory, more than the {} MB Glimpse uses for \
         decoding (set GLIMPSE_DECODE_MEMORY_MB to allow more)",
        mb(.needed),
        mb(.limit)
    )]
    TooLarge {
        /// Bytes the decode needs.
        needed: u64,
        /// The whole budget, in bytes.
        limit: u64,
    },
}

/// Bytes as whole MB, rounded up (a need of 1 byte over the limit must not read as equal).
fn mb(bytes: &u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// A memory budget: bytes that reservations may hold at once.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    used: Mutex<u64>,
    room: Condvar,
}

impl Budget {
    /// A budget of `limit` bytes, none of them reserved.
    pub(crate) fn new(limit: u64) -> Self {
        Budget {
            limit,
            used: Mutex::new(0),
            room: Condvar::new(),
        }
    }

    /// The whole budget, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes reserved now, for checks and logs.
    pub fn in_use(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `bytes`, waiting while other reservations leave too little room; fails at once
    /// if `bytes` is more than the whole budget. The bytes return when the reservation drops.
    pub fn reserve(&self, bytes: u64) -> Result<Reservation<'_>, BudgetError> {
        if bytes > self.limit {
            return Err(BudgetError::TooLarge {
                needed: bytes,
                limit: self.limit,
            });
        }
        // A poisoned lock only means a thread panicked while holding it; the count is whole.
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let mut waited = false;
        while *used + bytes > self.limit {
            if !waited {
                tracing::debug!(
                    bytes,
                    used = *used,
                    limit = self.limit,
                    "waiting for decode memory"
                );
                waited = true;
            }
            used = self.room.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Ok(Reservation {
            budget: self,
            bytes,
        })
    }
}

/// Bytes held in a [`Budget`] until dropped: keep it as long as the pixels it pays for.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a Budget,
    bytes: u64,
}

impl Reservation<'_> {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.bytes == 0 {
            return;
        }
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.bytes);
        drop(used);
        self.budget.room.notify_all();
    }
}

/// The process's decode budget, sized on first use from `ENV` or the machine's memory.
pub fn global() -> &'static Budget {
    static GLOBAL: OnceLock<Budget> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let limit = limit_from(std::env::var(ENV).ok().as_deref(), physical_memory());
        tracing::debug!(mb = mb(&limit), "decode memory budget");
        Budget::new(limit)
    })
}

/// The budget for a setting of [`ENV`] (MB; unset, empty or invalid: the default) on a machine
/// with `physical` bytes of memory (`None`: unknown).
pub(crate) fn limit_from(setting: Option<&str>, physical: Option<u64>) -> u64 {
    if let Some(text) = setting.map(str::trim).filter(|t| !t.is_empty()) {
        match text.parse::<u64>() {
            Ok(n) if n > 0 => return n.saturating_mul(1 << 20),
            _ => tracing::warn!("{ENV}={text:?} is not a number of megabytes; using the default"),
        }
    }
    // Unknown: assume a small machine (4 GB), which gives the smallest default.
    let physical = physical.unwrap_or(4 << 30);
    (physical / 4).clamp(DEFAULT_MIN, DEFAULT_MAX)
}

/// The machine's physical memory in bytes, where the system says.
fn physical_memory() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: sysconf reads a system constant and has no other effect.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let (pages, size) = (u64::try_from(pages).ok()?, u64::try_from(size).ok()?);
        pages.checked_mul(size).filter(|&b| b > 0)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn more_than_the_whole_budget_fails_with_a_reason() {
        let b = Budget::new(100 << 20);
        let e = b.reserve((100 << 20) + 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "too large to decode: needs 101 MB of memory, more than the 100 MB Glimpse uses \
             for decoding (set GLIMPSE_DECODE_MEMORY_MB to allow more)"
        );
        let all = b.reserve(100 << 20).unwrap();
        assert_eq!((all.bytes(), b.in_use()), (100 << 20, 100 << 20));
        drop(all);
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn threads_wait_for_room_and_never_hold_more_than_the_budget() {
        let b = Arc::new(Budget::new(1000));
        let peak = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8u64)
            .map(|i| {
                let (b, peak) = (Arc::clone(&b), Arc::clone(&peak));
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let r = b.reserve(300 + i * 50).unwrap();
                        peak.fetch_max(b.in_use(), Ordering::SeqCst);
                        std::thread::yield_now();
                        drop(r);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!(peak <= 1000, "held {peak} of 1000");
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn a_reservation_that_does_not_fit_waits_for_a_release() {
        let b = Arc::new(Budget::new(1000));
        let held = b.reserve(600).unwrap();
        let other = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let r = b.reserve(600).unwrap();
                // 1200 if it had not waited for the first 600 to come back.
                let seen = b.in_use();
                drop(r);
                seen
            })
        };
        drop(held);
        assert_eq!(other.join().unwrap(), 600);
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn the_limit_comes_from_the_setting_or_the_machine() {
        let gb = 1u64 << 30;
        assert_eq!(limit_from(Some("300"), Some(64 * gb)), 300 << 20);
        assert_eq!(limit_from(Some(" 300 "), None), 300 << 20);
        // A quarter of the machine, within the bounds.
        assert_eq!(limit_from(None, Some(16 * gb)), 4 * gb);
        assert_eq!(limit_from(None, Some(gb)), DEFAULT_MIN);
        assert_eq!(limit_from(None, Some(256 * gb)), DEFAULT_MAX);
        assert_eq!(limit_from(None, None), gb);
        // Nonsense falls back to the default.
        for bad in ["", "lots", "-5", "0", "1.5"] {
            assert_eq!(limit_from(Some(bad), Some(16 * gb)), 4 * gb, "{bad:?}");
        }
        assert!(physical_memory().is_some_and(|b| b > 0) || cfg!(not(unix)));
    }
}
