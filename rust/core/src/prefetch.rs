//! A software prefetch hint, for scans that read memory faster than the hardware prefetcher
//! fetches it.
//!
//! Why: one core scanning a mask array far larger than its caches waits on memory. The L2
//! streamer stops at every 4 KB page and keeps too few lines in flight; asking for the line a
//! few KB ahead keeps more in flight and took the encode scan from memory speed minus a third
//! to a bare read's speed (see `mask::run_end`).

/// Asks the CPU to bring the cache line at `bytes.as_ptr() + ahead` into L1. Only a hint: the
/// address may lie past the slice (the next mask of a batch, or nothing at all) and is never
/// read by this program.
#[inline(always)]
pub(crate) fn prefetch(bytes: &[u8], ahead: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = bytes.as_ptr().wrapping_add(ahead).cast::<i8>();
        // SAFETY: PREFETCHT0 is a hint, not a memory access: it never faults, whatever the
        // address (unmapped, past the allocation, null), changes no architectural state and
        // has no effect on what any load returns. `wrapping_add` makes forming the address
        // defined for any `ahead`. Nothing is dereferenced.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, ahead);
}
