//! Go's size classes (runtime/sizeclasses.go): 67 small classes up to 32 KiB, class 0 = large.
//!
//! Every small class lives in spans of [`SPAN_BYTES`](super::span::SPAN_BYTES); a size-to-class
//! lookup table (one entry per 8 bytes up to 1 KiB, per 128 bytes above, as in Go) keeps the
//! allocation fast path branch-free.

/// Object sizes of Go's size classes; index = class, `SIZES[0] = 0` marks "large".
pub(crate) const SIZES: [u32; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// Number of classes including class 0.
pub(crate) const NCLASS: usize = SIZES.len();

/// Largest small object size.
pub(crate) const MAX_SMALL: usize = 32768;

/// The smallest class whose size is at least `size` and a multiple of `align` (objects are
/// placed at multiples of the class size from a 64-byte aligned base), or `None` for a large
/// object.
pub(crate) const fn class_for(size: usize, align: usize) -> Option<usize> {
    if size > MAX_SMALL || align > 64 {
        return None;
    }
    // Linear, but evaluated at compile time: `Gc::new::<T>` uses it in a constant.
    let mut c = 1;
    while c < NCLASS {
        if SIZES[c] as usize >= size && (SIZES[c] as usize).is_multiple_of(align) {
            return Some(c);
        }
        c += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_sorted_and_fit() {
        assert!(SIZES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(NCLASS, 68);
        for size in 1..=MAX_SMALL {
            let c = class_for(size, 8).unwrap();
            assert!(SIZES[c] as usize >= size);
            assert!((SIZES[c - 1] as usize) < size || c == 1);
        }
        assert_eq!(class_for(24, 8), Some(3));
        assert_eq!(class_for(24, 16), Some(4)); // 32
        assert_eq!(class_for(MAX_SMALL + 1, 8), None);
        assert_eq!(class_for(8, 128), None);
    }
}
