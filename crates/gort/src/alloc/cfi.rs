//! Unwind rules for code built without frame pointers (libc and the other shared objects),
//! read from their `.eh_frame` once, outside any signal handler, so that the profilers' walk
//! (`fpwalk.rs`) can step over a libc frame and keep the Rust caller.
//!
//! # The problem
//!
//! gort's profilers walk saved frame pointers: Rust code, std included, is built with them (the
//! workspace's `force-frame-pointers`, and std ships with them on x86-64 Linux). glibc is not.
//! A CPU sample that lands in `__libc_send` or `__write` (a syscall-bound server spends most of
//! its samples there) walks from `rbp` as the interrupted code left it: either the caller's frame
//! pointer, which silently skips the direct caller, or a register glibc reused for its own state
//! (`__send` in a multi-threaded process pushes `rbp` and keeps the cancellation state in it),
//! which ends the walk at the wrapper. `go tool pprof -peek __libc_send` then shows no callers.
//!
//! # How
//!
//! At profile start, [`ensure`] walks the loaded objects (`dl_iterate_phdr`). For each shared
//! object with a `PT_GNU_EH_FRAME` segment (every one but the main executable, whose code has
//! frame pointers) it parses the in-memory `.eh_frame` with gimli and flattens every FDE's
//! CFI into rows: an address range, the CFA as `rsp + n` or `rbp + n`, and where the caller's
//! `rbp` was saved (`CFA + m`), if it was. Rows of every object go into one array sorted by
//! address, published once through an `AtomicPtr` and never freed. In the handler a lookup is a
//! binary search over that array: no allocation, no lock, no libc call. A row whose CFA or
//! `rbp` rule is anything else (a DWARF expression: PLT stubs, signal trampolines) is left out,
//! and the walk falls back to the frame pointer there. The return address is at `CFA - 8` on
//! x86-64.
//!
//! # Rejected
//!
//! * A fixed rule for syscall wrappers ("the return address is at `[rsp]`"): wrong for
//!   glibc 2.36's `__send` in a multi-threaded program (`push %rbp; sub $0x20,%rsp` before the
//!   syscall: the return address is at `rsp + 0x28`) and for `__write` (`sub $0x28`).
//! * Unwinding with `.eh_frame` inside the handler (interpreting CFI per sample, as libunwind
//!   does): allocation-free parsers exist, but the CIE/FDE search and the CFI program run on
//!   every frame of every sample; a flat table moves that cost to profile start (libc.so.6 on
//!   this machine: a few tens of thousands of rows, built in milliseconds).
//! * Tables for the main executable too: its code has frame pointers (the build check in
//!   `prof/buildcheck.rs` warns when it has not), and its rows would be the bulk of the table.
//!
//! # Invariants
//!
//! * The table is written only by [`ensure`], before it is published (Release); readers load it
//!   with Acquire and only read it. It lives for the rest of the process.
//! * Rows never overlap; [`lookup`] returns the row containing an address or nothing.
//! * Objects loaded after the table was built have no rows: their frames use the frame pointer,
//!   as before. An object unloaded afterwards (`dlclose`) leaves stale rows; the walk reads only
//!   the current stack, bounds-checked, so a stale row can only produce a wrong frame, never a
//!   fault.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Once;

/// How to compute the canonical frame address (CFA) of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    Sp,
    Fp,
}

/// The unwind rule for the instructions in `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// CFA = base register + `cfa_off`.
    pub(crate) base: Base,
    pub(crate) cfa_off: i32,
    /// The caller's frame pointer is saved at CFA + `fp_off`; `None`: the register still holds it.
    pub(crate) fp_off: Option<i32>,
}

struct Table {
    rows: Vec<Row>,
}

static TABLE: AtomicPtr<Table> = AtomicPtr::new(std::ptr::null_mut());

/// The row covering `addr`, if the table holds one. Async-signal-safe: an atomic load and a
/// binary search over memory that is never freed or written again.
#[inline]
pub(crate) fn lookup(addr: usize) -> Option<Row> {
    let t = TABLE.load(Ordering::Acquire);
    if t.is_null() {
        return None;
    }
    // SAFETY: a non-null TABLE points at a leaked Box<Table> that is never freed nor written
    // after its Release store (module invariants).
    let rows = unsafe { &(*t).rows };
    let i = rows.partition_point(|r| r.start <= addr);
    let r = rows.get(i.checked_sub(1)?)?;
    (addr < r.end).then_some(*r)
}

/// Number of rows in the table (0 before [`ensure`]); for tests and diagnostics.
#[allow(dead_code)]
pub(crate) fn len() -> usize {
    let t = TABLE.load(Ordering::Acquire);
    if t.is_null() {
        0
    } else {
        // SAFETY: as in `lookup`.
        unsafe { (*t).rows.len() }
    }
}

/// Builds and publishes the table once per process (later calls return at once). Allocates
/// and parses: call it outside signal handlers, before sampling starts.
pub(crate) fn ensure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut rows = Vec::new();
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        objects(&mut rows);
        rows.sort_by_key(|r| r.start);
        // Overlaps would make lookup ambiguous: keep the first of any overlapping pair.
        rows.dedup_by(|b, a| b.start < a.end);
        let t = Box::into_raw(Box::new(Table { rows }));
        TABLE.store(t, Ordering::Release);
    });
}

/// The rows of every loaded shared object's `.eh_frame`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn objects(rows: &mut Vec<Row>) {
    /// `dl_iterate_phdr`'s callback: adds one object's rows.
    ///
    /// # Safety
    /// Called by `dl_iterate_phdr` only, with a valid `info` and the `data` given below.
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info for the duration of the callback, and
        // `data` is the `&mut Vec<Row>` given below.
        let (info, rows) = unsafe { (&*info, &mut *(data as *mut Vec<Row>)) };
        // SAFETY: dlpi_name is a valid C string (possibly empty) for the callback's duration.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) };
        if name.is_empty() {
            return 0; // the main executable: frame pointers
        }
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers of a loaded object.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let bias = info.dlpi_addr as usize;
        let Some(hdr) = phdrs.iter().find(|p| p.p_type == libc::PT_GNU_EH_FRAME) else {
            return 0;
        };
        let hdr_addr = bias + hdr.p_vaddr as usize;
        // The loaded, readable segment that holds .eh_frame_hdr bounds every read below.
        let Some(seg) = phdrs.iter().find(|p| {
            p.p_type == libc::PT_LOAD
                && p.p_flags & libc::PF_R != 0
                && p.p_vaddr <= hdr.p_vaddr
                && hdr.p_vaddr < p.p_vaddr + p.p_memsz
        }) else {
            return 0;
        };
        let seg_lo = bias + seg.p_vaddr as usize;
        let seg_hi = seg_lo + seg.p_memsz as usize;
        // SAFETY: [seg_lo, seg_hi) is a loaded PT_LOAD segment with PF_R, mapped readable for
        // as long as the object stays loaded (the callback runs under the loader's lock).
        let seg_bytes = unsafe { std::slice::from_raw_parts(seg_lo as *const u8, seg_hi - seg_lo) };
        let text = phdrs
            .iter()
            .find(|p| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_X != 0)
            .map(|p| bias + p.p_vaddr as usize);
        parse_object(seg_bytes, seg_lo, hdr_addr, text, rows);
        0
    }
    // SAFETY: `each` matches dl_iterate_phdr's callback type and only reads what it is given;
    // `rows` outlives the call.
    unsafe {
        libc::dl_iterate_phdr(Some(each), rows as *mut Vec<Row> as *mut libc::c_void);
    }
}

/// Flattens the CFI of one object: `seg` is its readable segment loaded at `seg_lo`, holding
/// `.eh_frame_hdr` at `hdr_addr` (and, as linkers lay them out, `.eh_frame`).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn parse_object(
    seg: &[u8],
    seg_lo: usize,
    hdr_addr: usize,
    text: Option<usize>,
    rows: &mut Vec<Row>,
) {
    use gimli::{
        BaseAddresses, CfaRule, EhFrame, EhFrameHdr, LittleEndian, Pointer, RegisterRule,
        UnwindContext, UnwindSection, X86_64,
    };
    let at = |addr: usize| addr.checked_sub(seg_lo).filter(|&o| o < seg.len());
    let Some(hdr_off) = at(hdr_addr) else { return };
    let mut bases = BaseAddresses::default().set_eh_frame_hdr(hdr_addr as u64);
    if let Some(t) = text {
        bases = bases.set_text(t as u64);
    }
    let Ok(hdr) = EhFrameHdr::new(&seg[hdr_off..], LittleEndian).parse(&bases, 8) else {
        return;
    };
    let Pointer::Direct(eh_addr) = hdr.eh_frame_ptr() else {
        return;
    };
    let Some(eh_off) = at(eh_addr as usize) else {
        return;
    };
    let eh = EhFrame::new(&seg[eh_off..], LittleEndian);
    let bases = bases.set_eh_frame(eh_addr);
    let mut ctx = UnwindContext::new();
    let mut entries = eh.entries(&bases);
    while let Ok(Some(entry)) = entries.next() {
        let gimli::CieOrFde::Fde(partial) = entry else {
            continue;
        };
        let Ok(fde) = partial.parse(|s, b, o| s.cie_from_offset(b, o)) else {
            continue;
        };
        let Ok(mut table) = fde.rows(&eh, &bases, &mut ctx) else {
            continue;
        };
        while let Ok(Some(row)) = table.next_row() {
            let (base, off) = match *row.cfa() {
                CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RSP => {
                    (Base::Sp, offset)
                }
                CfaRule::RegisterAndOffset { register, offset } if register == X86_64::RBP => {
                    (Base::Fp, offset)
                }
                _ => continue,
            };
            let fp_off = match row.register(X86_64::RBP) {
                None | Some(RegisterRule::Undefined) | Some(RegisterRule::SameValue) => None,
                Some(RegisterRule::Offset(o)) => Some(o),
                _ => continue,
            };
            let (Ok(cfa_off), Ok(fp_off)) =
                (i32::try_from(off), fp_off.map(i32::try_from).transpose())
            else {
                continue;
            };
            if row.start_address() >= row.end_address() {
                continue;
            }
            rows.push(Row {
                start: row.start_address() as usize,
                end: row.end_address() as usize,
                base,
                cfa_off,
                fp_off,
            });
        }
    }
}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn libc_functions_have_rows_and_their_first_instruction_has_cfa_rsp_plus_8() {
        let t0 = std::time::Instant::now();
        ensure();
        eprintln!("unwind table: {} rows, built in {:?}", len(), t0.elapsed());
        assert!(len() > 1000, "libc alone has thousands of rows: {}", len());
        for name in [c"send", c"recv", c"write", c"read", c"nanosleep"] {
            // SAFETY: dlsym with RTLD_DEFAULT and a valid C string.
            let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) } as usize;
            // The interposer may define some of these in this executable; find libc's.
            // SAFETY: as above.
            let next = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
            let f = if lookup(f).is_some() { f } else { next };
            assert_ne!(f, 0, "{name:?}");
            let r = lookup(f).unwrap_or_else(|| panic!("no row for {name:?} at {f:#x}"));
            // At a function's entry the return address was just pushed: CFA = rsp + 8, and
            // rbp is untouched.
            assert_eq!(
                (r.base, r.cfa_off, r.fp_off),
                (Base::Sp, 8, None),
                "{name:?}"
            );
        }
        // The main executable's code (with frame pointers) has none.
        let here = libc_functions_have_rows_and_their_first_instruction_has_cfa_rsp_plus_8 as fn()
            as usize;
        assert_eq!(lookup(here), None);
    }

    #[test]
    fn rows_are_sorted_and_disjoint() {
        ensure();
        let t = TABLE.load(Ordering::Acquire);
        // SAFETY: published by ensure above.
        let rows = unsafe { &(*t).rows };
        assert!(rows.windows(2).all(|w| w[0].end <= w[1].start));
    }
}
