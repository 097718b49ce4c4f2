//! "Did you mean": the known word closest to a misspelt one (`iris-text`'s, which
//! `#[iris_test]` uses for its options too).

pub(crate) use iris_text::closest;
