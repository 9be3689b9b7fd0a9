//! Heap accounting for benches, memory tests and experiments: a counting global allocator and
//! the two measurements made with it.
//!
//! A binary opts in by installing the allocator; without it every measurement is 0:
//!
//! ```
//! use mcnn_backends::memory::{CountingAllocator, retained_bytes};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator;
//!
//! # fn main() {
//! assert!(retained_bytes(|| vec![0u8; 1 << 20]) >= 1 << 20);
//! # }
//! ```
//!
//! CPU backends keep their tensors on this heap; a GPU backend's buffers are not counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes in use and their high-water mark.
pub struct CountingAllocator;

// SAFETY: every call is forwarded to the system allocator unchanged; the counters are atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Heap bytes in use now (0 unless [`CountingAllocator`] is the global allocator).
pub fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// Heap bytes still held after `f` returns its value (kept alive until measured).
pub fn retained_bytes<T>(f: impl FnOnce() -> T) -> usize {
    let base = in_use();
    let value = f();
    let held = in_use().saturating_sub(base);
    drop(value);
    held
}

/// `f`'s value, and the heap bytes it allocated beyond the starting level at its peak.
/// Not meaningful when other threads of the process allocate at the same time for other work.
pub fn peak_extra_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = in_use();
    PEAK.store(base, Ordering::Relaxed);
    let value = f();
    (value, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}
