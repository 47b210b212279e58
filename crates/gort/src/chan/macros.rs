//! The `select!` macro.

/// Waits on several channel operations at once: Go's `select`.
///
/// ```text
/// gort::select! {
///     recv(rx) -> v => body,          // v: Result<T, RecvError> (Err once closed and drained)
///     send(tx, value) -> res => body, // res: Result<(), SendError<T>> (Err if closed)
///     default => body,                // optional: taken when no arm is ready
/// }
/// ```
///
/// * `rx`/`tx` may be a `Receiver`/`Sender`, a reference to one, or an `Option` of either:
///   `None` switches the arm off, like a nil channel in Go.
/// * When several arms are ready, one is chosen uniformly at random; without `default` the
///   goroutine parks until one is ready. `select! {}` blocks forever (Go's `select {}`).
/// * The send value is evaluated up front and dropped if its arm is not chosen.
/// * The same channel may appear in several arms. Patterns must be irrefutable: a `recv` arm
///   yields a `Result` (Go's `v, ok := <-ch`), so match on it in the body. A refutable
///   pattern is a compile error at the arm:
///
///   ```compile_fail,E0005
///   let (_tx, rx) = gort::chan::bounded::<i32>(1);
///   gort::select! {
///       recv(rx) -> Ok(v) => v, // error[E0005]: refutable pattern: `Err(_)` not covered
///       default => 0,
///   };
///   ```
///
/// * Bodies are expressions or blocks; the select evaluates to the chosen body's value.
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<i32>(1);
/// let (_tx2, rx2) = gort::chan::bounded::<&str>(0);
/// tx.send(7).unwrap();
/// let got = gort::select! {
///     recv(rx) -> v => v.unwrap(),
///     recv(rx2) -> _s => 0,
/// };
/// assert_eq!(got, 7);
/// let none: Option<&gort::chan::Receiver<i32>> = None;
/// let r = gort::select! {
///     recv(none) -> _v => "never",
///     default => "default",
/// };
/// assert_eq!(r, "default");
/// ```
#[macro_export]
macro_rules! select {
    () => {
        $crate::block_forever()
    };
    ($($t:tt)+) => {
        $crate::__select_munch!(() () $($t)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_munch {
    // recv arms
    (($($a:tt)*) ($($d:tt)*) recv($r:expr) -> $p:pat => $b:block, $($rest:tt)*) => {
        $crate::__select_munch!(($($a)* [__arm (recv $r) ($p) ($b)]) ($($d)*) $($rest)*)
    };
    (($($a:tt)*) ($($d:tt)*) recv($r:expr) -> $p:pat => $b:block $($rest:tt)*) => {
        $crate::__select_munch!(($($a)* [__arm (recv $r) ($p) ($b)]) ($($d)*) $($rest)*)
    };
    (($($a:tt)*) ($($d:tt)*) recv($r:expr) -> $p:pat => $b:expr, $($rest:tt)*) => {
        $crate::__select_munch!(($($a)* [__arm (recv $r) ($p) ($b)]) ($($d)*) $($rest)*)
    };
    (($($a:tt)*) ($($d:tt)*) recv($r:expr) -> $p:pat => $b:expr) => {
        $crate::__select_munch!(($($a)* [__arm (recv $r) ($p) ($b)]) ($($d)*))
    };
    // send arms
    (($($a:tt)*) ($($d:tt)*) send($s:expr, $v:expr) -> $p:pat => $b:block, $($rest:tt)*) => {
        $crate::__select_munch!(($($a)* [__arm (send $s, $v) ($p) ($b)]) ($($d)*) $($rest)*)
    };
    (($($a:tt)*) ($($d:tt)*) send($s:expr, $v:expr) -> $p:pat => $b:block $($rest:tt)*) => {
        $crate::__select_munch!(($($a)* [__arm (send $s, $v) ($p) ($b)]) ($($d)*) $($rest)*)
    };
    (($($a:tt)*) ($($d:tt)*) send($s:expr, $v:expr) -> $p:pat => $b:expr, $($rest:tt)*) => {
        $crate::__select_munch!(($($a)* [__arm (send $s, $v) ($p) ($b)]) ($($d)*) $($rest)*)
    };
    (($($a:tt)*) ($($d:tt)*) send($s:expr, $v:expr) -> $p:pat => $b:expr) => {
        $crate::__select_munch!(($($a)* [__arm (send $s, $v) ($p) ($b)]) ($($d)*))
    };
    // default
    (($($a:tt)*) () default => $b:block, $($rest:tt)*) => {
        $crate::__select_munch!(($($a)*) (($b)) $($rest)*)
    };
    (($($a:tt)*) () default => $b:block $($rest:tt)*) => {
        $crate::__select_munch!(($($a)*) (($b)) $($rest)*)
    };
    (($($a:tt)*) () default => $b:expr, $($rest:tt)*) => {
        $crate::__select_munch!(($($a)*) (($b)) $($rest)*)
    };
    (($($a:tt)*) () default => $b:expr) => {
        $crate::__select_munch!(($($a)*) (($b)))
    };
    // done
    (($([$n:ident ($($op:tt)*) ($p:pat) ($b:expr)])*) ($($d:tt)*)) => {{
        $( $crate::__select_arm!($n $($op)*); )*
        let __sel = $crate::chan::select_arms(
            [$(&mut $n as &mut dyn $crate::chan::Arm),*],
            $crate::__select_default!(block $($d)*),
        );
        match __sel {
            ::std::option::Option::Some(__k) => $crate::__select_dispatch!(__k; $([$n ($p) ($b)])*),
            ::std::option::Option::None => $crate::__select_default!(body $($d)*),
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_arm {
    ($n:ident recv $r:expr) => {
        let $n = &$r;
        let mut $n = $crate::chan::RecvArm::new($n);
    };
    ($n:ident send $s:expr, $v:expr) => {
        let $n = &$s;
        let mut $n = $crate::chan::SendArm::new($n, $v);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_default {
    (block) => {
        true
    };
    (block ($b:expr)) => {
        false
    };
    (body) => {
        ::std::unreachable!("select without default returned no arm")
    };
    (body ($b:expr)) => {
        $b
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_dispatch {
    ($k:ident;) => {
        ::std::unreachable!("select: arm index out of range")
    };
    ($k:ident; [$n:ident ($p:pat) ($b:expr)] $($rest:tt)*) => {
        if $k == 0 {
            // The pattern is checked as a parameter of a closure that is never called, so a
            // refutable one (`Ok(v)`) is reported at the user's arm, with no hint into this
            // file; the `match` below then binds it (its fallback arm is unreachable).
            #[allow(unused_variables, unused_mut)]
            $n.check_pattern(|$p| ());
            match $n.take() {
                $p => $b,
                #[allow(unreachable_patterns)]
                _ => ::std::unreachable!("select: pattern checked irrefutable"),
            }
        } else {
            let $k = $k - 1;
            $crate::__select_dispatch!($k; $($rest)*)
        }
    };
}
