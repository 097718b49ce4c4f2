//! Text the user writes to name things: the globs of ignore lists, durations in
//! environment variables, and the suggestion for a misspelt word.

#[cfg(feature = "harness")]
pub(crate) mod duration;
pub(crate) mod glob;
#[cfg(feature = "harness")]
pub(crate) mod suggest;
