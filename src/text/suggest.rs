//! "Did you mean": the known word closest to a misspelt one (`iris-text`'s, which
//! `#[iris_test]` uses for its options too).

#[cfg_attr(not(feature = "harness"), allow(unused_imports))] // the harness's knobs
pub(crate) use iris_text::closest;
