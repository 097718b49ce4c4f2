//! Searching bytes with the C library's `memmem`.
//!
//! # Invariants
//! 1. [`occurrences`] passes `memmem` only pointers and lengths of live slices, and
//!    turns the pointer it returns back into an offset within the slice searched.

/// Every offset at which `needle` (not empty) occurs in `haystack`, found with the C
/// library's `memmem`: std and glibc are built optimised, while a crate's own search
/// (memchr's) is compiled with the user's profile, and in a debug build it made the
/// symbol table's scan (one pass per glob over megabytes of names) take a quarter
/// of a second of every first test process after a rebuild.
pub(crate) fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    if needle.is_empty() {
        return found;
    }
    let mut from = 0;
    while from + needle.len() <= haystack.len() {
        let rest = &haystack[from..];
        // SAFETY: both pointers and lengths come from live slices; memmem reads
        // within them only and returns null or a pointer into `rest`.
        let at = unsafe {
            libc::memmem(
                rest.as_ptr().cast(),
                rest.len(),
                needle.as_ptr().cast(),
                needle.len(),
            )
        };
        if at.is_null() {
            break;
        }
        let offset = from + (at as usize - rest.as_ptr() as usize);
        found.push(offset);
        from = offset + 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_finds_every_one_overlapping_and_never_reads_past_the_end() {
        assert_eq!(occurrences(b"aaaa", b"aa"), vec![0, 1, 2]);
        assert_eq!(
            occurrences(b"x\0rayon_core\0my_rayon", b"rayon"),
            vec![2, 16]
        );
        assert_eq!(occurrences(b"abc", b"abcd"), Vec::<usize>::new());
        assert_eq!(occurrences(b"abc", b""), Vec::<usize>::new());
        assert_eq!(occurrences(b"", b"a"), Vec::<usize>::new());
        assert_eq!(occurrences(b"abc", b"c"), vec![2]);
    }
}
