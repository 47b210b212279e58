//! Temporary stack shim (replaced by the stack subsystem).
#![allow(dead_code)]
use std::sync::Mutex;

pub(crate) type GoStack = corosensei::stack::DefaultStack;

#[derive(Debug)]
pub struct StackError(std::io::Error);
impl std::fmt::Display for StackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot map goroutine stack: {}", self.0)
    }
}
impl std::error::Error for StackError {}

pub(crate) trait GuardRange {
    fn guard_range(&self) -> (usize, usize);
}
impl GuardRange for GoStack {
    fn guard_range(&self) -> (usize, usize) {
        use corosensei::stack::Stack;
        let l = self.limit().get();
        (l.saturating_sub(4096), l)
    }
}

pub(crate) struct StackPool {
    size: usize,
    v: Vec<GoStack>,
}
impl StackPool {
    pub(crate) fn new(size: usize) -> Self {
        StackPool { size, v: Vec::new() }
    }
    pub(crate) fn get(&mut self, g: &GlobalStackPool) -> Result<GoStack, StackError> {
        match self.v.pop() {
            Some(s) => Ok(s),
            None => g.get(),
        }
    }
    pub(crate) fn put(&mut self, s: GoStack, _g: &GlobalStackPool) {
        if self.v.len() < 64 {
            self.v.push(s)
        }
    }
}
pub(crate) struct GlobalStackPool {
    size: usize,
    v: Mutex<Vec<GoStack>>,
}
impl GlobalStackPool {
    pub(crate) fn new(size: usize) -> Self {
        GlobalStackPool { size, v: Mutex::new(Vec::new()) }
    }
    pub(crate) fn get(&self) -> Result<GoStack, StackError> {
        if let Some(s) = self.v.lock().unwrap().pop() {
            return Ok(s);
        }
        GoStack::new(self.size).map_err(StackError)
    }
}
pub(crate) fn install_overflow_handler() {}
pub(crate) fn ensure_sigaltstack() {}
pub(crate) fn set_current(_lo: usize, _hi: usize, _id: u64) {}
pub(crate) fn clear_current() {}
