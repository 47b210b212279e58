//! Tests of the overflow handler. The crash scenarios run in a child process: the test binary
//! re-executes itself with `--exact <this test>` and [`CHILD_ENV`] set, the child crashes, and
//! the parent checks how it died and what it printed (Go's `runTestProg` pattern).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use corosensei::Coroutine;

use super::*;

const CHILD_ENV: &str = "GORT_STACK_OVERFLOW_CHILD";

/// The child-mode scenario this process was started for, if it is a child.
fn child_mode() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

/// Re-runs test `name` of this module in a child process with `CHILD_ENV=mode`.
fn run_child(name: &str, mode: &str) -> Output {
    // module_path!() is "gort::rt::stack::overflow::tests"; test names omit the crate.
    let module = module_path!().split_once("::").unwrap().1;
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("{module}::{name}"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .output()
        .expect("spawn the test binary")
}

/// In a child about to crash on purpose: no core dump (slow, and litter).
fn no_core_dumps() {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) };
}

/// Recurses until the stack runs out. The array and black_box keep every frame real.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut buf = [0u8; 512];
    buf[(depth % 512) as usize] = depth as u8;
    let buf = std::hint::black_box(buf);
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(buf[3] as u64)
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn format_u64_by_hand() {
    let mut buf = [0u8; 20];
    assert_eq!(format_u64(0, &mut buf), b"0");
    assert_eq!(format_u64(7, &mut buf), b"7");
    assert_eq!(format_u64(65536, &mut buf), b"65536");
    assert_eq!(format_u64(u64::MAX, &mut buf), b"18446744073709551615");
}

#[test]
fn current_is_per_thread_and_cleared() {
    let s = GoStack::new(16 * 1024).unwrap();
    assert_eq!(current(), None);
    set_current_stack(&s, 42);
    let (lo, hi) = s.guard_range();
    assert_eq!(current(), Some((lo, hi, 42, s.usable_size())));
    std::thread::spawn(|| assert_eq!(current(), None))
        .join()
        .unwrap();
    set_current(1, 2, 3, 0);
    assert_eq!(current(), Some((1, 2, 3, 0)));
    clear_current();
    assert_eq!(current(), None);
}

#[test]
fn install_is_idempotent_and_installs_ours() {
    install_overflow_handler();
    install_overflow_handler();
    for sig in SIGNALS {
        // SAFETY: querying into a zeroed, valid sigaction.
        let act = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(sig, ptr::null(), &mut act), 0);
            act
        };
        assert_eq!(act.sa_sigaction, handler as *const () as libc::sighandler_t);
        assert_ne!(act.sa_flags & libc::SA_ONSTACK, 0);
        assert_ne!(act.sa_flags & libc::SA_SIGINFO, 0);
    }
}

#[test]
fn ensure_sigaltstack_maps_one_when_missing() {
    std::thread::spawn(|| {
        // Drop whatever std gave this thread, so ours gets mapped.
        let off = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disabling the alternate stack of this thread; nothing is running on it.
        assert_eq!(unsafe { libc::sigaltstack(&off, ptr::null_mut()) }, 0);
        assert!(ensure_sigaltstack());
        // SAFETY: querying into zeroed, valid memory.
        let cur = unsafe {
            let mut cur: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(ptr::null(), &mut cur);
            cur
        };
        assert_eq!(cur.ss_flags & libc::SS_DISABLE, 0);
        assert!(cur.ss_size >= ALTSTACK_MIN);
        let ours = ALTSTACK.with(|a| a.borrow().as_ref().map(|a| a.sp));
        assert_eq!(ours, Some(cur.ss_sp));
        // A second call sees the stack and maps nothing.
        assert!(ensure_sigaltstack());
        assert_eq!(
            ALTSTACK.with(|a| a.borrow().as_ref().map(|a| a.sp)),
            Some(cur.ss_sp)
        );
    })
    .join()
    .unwrap();
}

/// The main scenario: a goroutine (a corosensei coroutine on a GoStack) recurses without bound
/// on a thread whose alternate signal stack we mapped; the process must die by SIGABRT saying
/// which goroutine overflowed.
#[test]
fn goroutine_stack_overflow_is_reported() {
    if child_mode().as_deref() == Some("goroutine") {
        no_core_dumps();
        install_overflow_handler();
        std::thread::spawn(|| {
            let off = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling this thread's alternate stack so ensure_sigaltstack maps ours.
            unsafe { libc::sigaltstack(&off, ptr::null_mut()) };
            assert!(ensure_sigaltstack());
            let stack = GoStack::new(64 * 1024).unwrap();
            let (lo, hi) = stack.guard_range();
            let mut co: Coroutine<(), (), u64, GoStack> =
                Coroutine::with_stack(stack, |_, ()| recurse(0));
            set_current(lo, hi, 7, 0);
            let _ = co.resume(());
            clear_current();
        })
        .join()
        .unwrap();
        unreachable!("the goroutine should have overflowed its stack");
    }
    let out = run_child("goroutine_stack_overflow_is_reported", "goroutine");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains("goroutine 7 stack overflow\n"),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains("gort::Builder::stack_size"),
        "{}",
        describe(&out)
    );
}

/// Same, with the size known through set_current_stack: the hint gives it in KiB.
#[test]
fn overflow_hint_names_the_stack_size() {
    if child_mode().as_deref() == Some("sized") {
        no_core_dumps();
        install_overflow_handler();
        assert!(ensure_sigaltstack());
        let stack = GoStack::new(64 * 1024).unwrap();
        // The record holds addresses, which moving the GoStack into the coroutine keeps.
        set_current_stack(&stack, 12345);
        let mut co: Coroutine<(), (), u64, GoStack> =
            Coroutine::with_stack(stack, |_, ()| recurse(0));
        let _ = co.resume(());
        unreachable!("the goroutine should have overflowed its stack");
    }
    let out = run_child("overflow_hint_names_the_stack_size", "sized");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains(
            "goroutine 12345 stack overflow\nfatal error: stack overflow (goroutine stack size is \
             64 KiB; raise it with gort::Builder::stack_size)\n"
        ),
        "{}",
        describe(&out)
    );
}

/// A fault that is not in the current goroutine's guard page is not ours: the process must die
/// of the plain SIGSEGV, without our message.
#[test]
fn other_faults_are_passed_on() {
    if child_mode().as_deref() == Some("other") {
        no_core_dumps();
        install_overflow_handler();
        let running = GoStack::new(16 * 1024).unwrap();
        let (lo, hi) = running.guard_range();
        set_current(lo, hi, 9, 0);
        let other = GoStack::new(16 * 1024).unwrap();
        let (bad, _) = other.guard_range();
        // SAFETY: deliberately not safe: reads a PROT_NONE page to raise SIGSEGV.
        let v = unsafe { ptr::read_volatile(bad as *const u8) };
        unreachable!("read {v} from a guard page");
    }
    let out = run_child("other_faults_are_passed_on", "other");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "{}",
        describe(&out)
    );
    assert!(!stderr.contains("stack overflow"), "{}", describe(&out));
}

/// Overflow of an ordinary thread stack (no goroutine running) still reaches std's handler,
/// which we chained to.
#[test]
fn thread_stack_overflow_still_reaches_std() {
    if child_mode().as_deref() == Some("thread") {
        no_core_dumps();
        install_overflow_handler();
        std::thread::Builder::new()
            .name("deep".into())
            .stack_size(256 * 1024)
            .spawn(|| recurse(0))
            .unwrap()
            .join()
            .unwrap();
        unreachable!("the thread should have overflowed its stack");
    }
    let out = run_child("thread_stack_overflow_still_reaches_std", "thread");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{}",
        describe(&out)
    );
    assert!(
        stderr.contains("has overflowed its stack"),
        "{}",
        describe(&out)
    );
    assert!(!stderr.contains("goroutine"), "{}", describe(&out));
}
