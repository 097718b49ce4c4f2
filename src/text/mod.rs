//! Text the user writes to name things: the globs of ignore lists, durations in
//! environment variables, and the suggestion for a misspelt word.

pub(crate) mod duration;
pub(crate) mod glob;
pub(crate) mod suggest;
