//! Shell-style globs, as ignore lists are written: `*` matches any run of
//! characters (also none) and `?` exactly one; nothing else is special.
//!
//! They match thread names and function names (`rayon_core::registry::*`), so they
//! work on characters, not bytes, and have no escapes: `::`, `<`, `{` and `}` are
//! plain characters in a glob.
// Parts of this serve only the test harness (feature `harness`).
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

/// Splits a comma-separated list of globs, dropping blanks around and between them.
pub(crate) fn split_globs(globs: &str) -> impl Iterator<Item = String> + '_ {
    globs
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
}

/// Whether `text` matches `glob`.
pub(crate) fn glob_matches(glob: &str, text: &str) -> bool {
    let glob: Vec<char> = glob.chars().collect();
    walk(&glob, text).is_some_and(|g| glob[g..].iter().all(|c| *c == '*'))
}

/// Whether some text that begins with `start` matches `glob`: for a name the OS cut
/// short (Linux keeps 15 bytes of a thread's name), matched against a glob written
/// for the whole name (`async-global-executor-*` and `async-global-ex`). Running out
/// of text is a match: the rest of the glob can always be met by what was cut.
pub(crate) fn glob_matches_start(glob: &str, start: &str) -> bool {
    let glob: Vec<char> = glob.chars().collect();
    walk(&glob, start).is_some()
}

/// Walks `text` along `glob` (classic two-pointer wildcard matching, backtracking to
/// the last `*`): where in the glob the whole text ends, or `None` when no way
/// through the glob takes all of the text.
fn walk(glob: &[char], text: &str) -> Option<usize> {
    let text: Vec<char> = text.chars().collect();
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if g < glob.len() && (glob[g] == '?' || glob[g] == text[t]) {
            g += 1;
            t += 1;
        } else if g < glob.len() && glob[g] == '*' {
            star = Some((g, t));
            g += 1;
        } else if let Some((star_g, star_t)) = star {
            g = star_g + 1;
            t = star_t + 1;
            star = Some((star_g, star_t + 1));
        } else {
            return None;
        }
    }
    Some(g)
}

/// The longest run of identifier characters (`[A-Za-z0-9_]`) that every text the
/// glob matches contains: a cheap first test before matching. A Rust symbol keeps
/// each identifier of its path whole when mangled (`_ZN10rayon_core8registry...`),
/// so a mangled name that lacks it cannot demangle to a match. `None` when the glob
/// has no such run (`*`, `<*>::new`).
#[cfg_attr(
    not(all(iris_tracking, target_pointer_width = "64")),
    allow(dead_code) // only the symbol-table matcher of thread tracking needs it
)]
pub(crate) fn required_word(glob: &str) -> Option<&str> {
    glob.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .max_by_key(|word| word.len())
        .filter(|word| !word.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_of_a_name_matches_a_glob_some_longer_name_would() {
        assert!(glob_matches_start(
            "async-global-executor-*",
            "async-global-ex"
        ));
        assert!(glob_matches_start("async-std/runtime", "async-std/runti"));
        assert!(glob_matches_start("*-worker-?", "pool-wor"));
        assert!(
            glob_matches_start("rayon-*", "rayon-worker-3"),
            "a whole match too"
        );
        assert!(glob_matches_start("anything", ""));
        assert!(!glob_matches_start("async-io", "async-ix"));
        assert!(
            !glob_matches_start("worker-?", "worker-17"),
            "past the glob's end"
        );
        assert!(!glob_matches_start("r2d2-worker-*", "my-r2d2-worke"));
    }

    #[test]
    fn stars_match_any_run_and_question_marks_one_character() {
        assert!(glob_matches("rayon-*", "rayon-worker-3"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "a-x-b-y-c"));
        assert!(glob_matches("worker-?", "worker-7"));
        assert!(!glob_matches("worker-?", "worker-17"));
        assert!(!glob_matches("rayon-*", "my-rayon-worker"));
        assert!(glob_matches(
            "*::global_registry",
            "rayon_core::registry::global_registry"
        ));
        assert!(glob_matches("*{{closure}}", "a::b::{{closure}}"));
        assert!(
            glob_matches("привет*", "привет-мир"),
            "characters, not bytes"
        );
    }

    #[test]
    fn lists_are_split_on_commas_without_blanks() {
        let globs: Vec<String> = split_globs(" rayon-*, ,tokio-*  ,").collect();
        assert_eq!(globs, ["rayon-*", "tokio-*"]);
    }

    #[test]
    fn the_required_word_is_the_longest_identifier_run() {
        assert_eq!(
            required_word("rayon_core::registry::global_registry"),
            Some("global_registry")
        );
        assert_eq!(
            required_word("*start_leaky_worker"),
            Some("start_leaky_worker")
        );
        assert_eq!(required_word("<*>::new"), Some("new"));
        assert_eq!(required_word("*"), None);
        assert_eq!(required_word("?*"), None);
        // Whatever the glob matches contains the word.
        for glob in [
            "rayon_core::registry::global_registry",
            "*leaky*",
            "a?c_def*",
        ] {
            let word = required_word(glob).unwrap();
            for text in [
                "rayon_core::registry::global_registry",
                "x::start_leaky_worker",
                "abc_defg",
            ] {
                if glob_matches(glob, text) {
                    assert!(text.contains(word), "{glob} {text}");
                }
            }
        }
    }
}
