//! Frame-pointer stack walking, safe to run inside the allocator and in signal handlers.
//!
//! The walk follows the chain of saved frame pointers: on x86-64 and AArch64 a frame holds the
//! caller's frame pointer at `[fp]` and the return address at `[fp + 8]`. It reads only
//! addresses inside the current stack, between the current stack pointer and the stack's top,
//! which are always mapped, so a broken chain (code built without frame pointers, where the
//! register holds arbitrary data) ends the walk early instead of faulting. It stops at
//! [`MAX_DEPTH`] frames, or at a null, misaligned, out-of-bounds or non-increasing frame
//! pointer. Complete stacks need `-C force-frame-pointers=yes`; without it, stacks are shorter.

/// Most frames recorded per stack (as Go's profiling buckets keep 32).
pub(crate) const MAX_DEPTH: usize = 32;

/// The bounds of the stack this thread runs on now: the running goroutine's (from the
/// thread's current-goroutine record, `rt/current.rs`), else the thread's own if cached;
/// `(0, 0)` if unknown. Never looks them up. Async-signal-safe: reads of const-initialised
/// thread-locals without destructors.
pub(crate) fn declared_bounds() -> (usize, usize) {
    match crate::rt::current::curg() {
        Some(g) => g.stack_bounds(),
        None => crate::rt::current::thread_stack(),
    }
}

/// The current thread's stack bounds from pthreads. May allocate (glibc reads
/// `/proc/self/maps` for the main thread): callers are on the profiler's guarded path.
pub(crate) fn thread_stack_bounds() -> (usize, usize) {
    // SAFETY: `attr` is initialised by `pthread_getattr_np` before it is read and destroyed
    // once; `pthread_self()` is always a valid thread handle for the calling thread.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if ok {
            (addr as usize, addr as usize + size)
        } else {
            (0, 0)
        }
    }
}

fn current_bounds() -> (usize, usize) {
    match crate::rt::current::curg() {
        Some(g) => g.stack_bounds(),
        None => crate::rt::current::cache_thread_stack(),
    }
}

#[inline(always)]
fn frame_pointer() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: copies a register; touches no memory.
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: copies a register; touches no memory.
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

/// Fills `pcs` with return addresses, innermost first; returns how many.
#[inline(never)]
pub(crate) fn capture(pcs: &mut [usize; MAX_DEPTH]) -> usize {
    let (lo, hi) = current_bounds();
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    if hi == 0 || sp < lo || sp >= hi {
        return 0; // unknown stack (for example a goroutine stack the scheduler did not declare)
    }
    walk(frame_pointer(), sp, hi, pcs)
}

/// Walks the chain from `fp`, reading only inside `[lo, hi)`: the callers of the function
/// whose frame `fp` is, where `lo` is the current stack pointer.
pub(crate) fn walk<const N: usize>(fp: usize, lo: usize, hi: usize, pcs: &mut [usize; N]) -> usize {
    walk_from(None, lo, fp, hi, pcs)
}

/// Walks from interrupted registers: `pc` (if known) executing with stack pointer `sp` and
/// frame pointer `fp`, on a stack whose top is `hi`. Records the return addresses of the
/// callers, innermost first. A frame whose code has unwind rows (`cfi.rs`: libc and the other
/// shared objects, built without frame pointers) is stepped over with its CFI: the CFA from
/// `rsp` or `rbp`, the return address at `CFA - 8`, the caller's `rbp` restored where the
/// function saved it. Any other frame is stepped with the frame pointer: `[fp]` the caller's
/// frame pointer, `[fp + 8]` the return address, `fp + 16` the caller's stack pointer. Every
/// read is checked to lie in `[sp, hi)` (the live part of the stack, which is mapped), and
/// each step must move the stack pointer up, so a garbage register or rule ends the walk.
/// Async-signal-safe: no allocation, no lock, no libc call.
pub(crate) fn walk_from<const N: usize>(
    pc: Option<usize>,
    sp: usize,
    fp: usize,
    hi: usize,
    pcs: &mut [usize; N],
) -> usize {
    let lo = sp;
    let read = |a: usize| -> Option<usize> {
        if a < lo || a & (std::mem::align_of::<usize>() - 1) != 0 || a.checked_add(8)? > hi {
            return None;
        }
        // SAFETY: `[a, a + 8)` lies inside `[lo, hi)`, the live part of the current stack
        // (above the stack pointer), which is mapped and readable; the value read is a plain
        // integer, so garbage only ends the walk.
        Some(unsafe { std::ptr::read_volatile(a as *const usize) })
    };
    let (mut sp, mut fp) = (sp, fp);
    // Where the current frame executes: the exact interrupted pc, or a return address (whose
    // call instruction is the byte before it).
    let mut at = pc;
    let mut n = 0;
    while n < N {
        let row = at.and_then(super::cfi::lookup);
        let step = match row {
            Some(r) => (|| {
                let base = match r.base {
                    super::cfi::Base::Sp => sp,
                    super::cfi::Base::Fp => fp,
                };
                let cfa = base.checked_add_signed(r.cfa_off as isize)?;
                let ret = read(cfa.checked_sub(8)?)?;
                let next_fp = match r.fp_off {
                    Some(o) => read(cfa.checked_add_signed(o as isize)?)?,
                    None => fp,
                };
                Some((ret, cfa, next_fp))
            })(),
            None => (|| Some((read(fp.checked_add(8)?)?, fp.checked_add(16)?, read(fp)?)))(),
        };
        let Some((ret, next_sp, next_fp)) = step else {
            break;
        };
        if ret == 0 || next_sp <= sp {
            break;
        }
        pcs[n] = ret;
        n += 1;
        sp = next_sp;
        fp = next_fp;
        at = Some(ret - 1);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_follows_a_fake_chain_and_stops_at_a_non_increasing_link() {
        // Three frames laid out in an array: [next_fp, ret] pairs.
        let mut mem = [0usize; 8];
        let base = mem.as_mut_ptr() as usize;
        mem[0] = base + 16; // frame 0 -> frame 1
        mem[1] = 0x1000;
        mem[2] = base + 32; // frame 1 -> frame 2
        mem[3] = 0x2000;
        mem[4] = base; // frame 2 -> back down: stop after recording it
        mem[5] = 0x3000;
        std::hint::black_box(&mut mem); // read through raw addresses below
        let mut pcs = [0; MAX_DEPTH];
        let n = walk(base, base, base + 64, &mut pcs);
        assert_eq!(&pcs[..n], &[0x1000, 0x2000, 0x3000]);
        // Misaligned or out-of-bounds starts record nothing.
        assert_eq!(walk(base + 1, base, base + 64, &mut pcs), 0);
        assert_eq!(walk(base + 64, base, base + 64, &mut pcs), 0);
    }

    #[test]
    fn capture_never_faults() {
        let mut pcs = [0; MAX_DEPTH];
        let n = capture(&mut pcs);
        assert!(n <= MAX_DEPTH);
    }
}
