//! "Did you mean": the known word closest to a misspelt one, for option names,
//! environment variables and levels.
//!
//! Invariant: a suggestion is offered only when it is close (an edit distance of at
//! most a third of the known word's length, plus one), so a word that is merely
//! different gets none, and an exact word needs none.

/// The entry of `known` closest to `word`, if one is close enough.
///
/// ```
/// let levels = ["trace", "debug", "info", "warn", "error", "off"];
/// assert_eq!(iris_text::closest("dbug", levels), Some("debug"));
/// assert_eq!(iris_text::closest("my_crate", levels), None);
/// ```
pub fn closest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (edit_distance(word, k), k))
        .filter(|(distance, k)| *distance > 0 && *distance <= k.chars().count() / 3 + 1)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
///
/// ```
/// assert_eq!(iris_text::edit_distance("kitten", "sitting"), 3);
/// ```
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_suggested_and_far_or_exact_ones_are_not() {
        let levels = ["trace", "debug", "info", "warn", "error", "off"];
        assert_eq!(closest("dbug", levels), Some("debug"));
        assert_eq!(closest("inf", levels), Some("info"));
        assert_eq!(closest("my_crate", levels), None);
        assert_eq!(closest("debug", levels), None);
        assert_eq!(
            closest("IRIS_LEAK", ["IRIS_LEAKS", "IRIS_LOG"]),
            Some("IRIS_LEAKS")
        );
        assert_eq!(
            closest("stop_timout", ["stop_timeout", "timeout"]),
            Some("stop_timeout")
        );
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
