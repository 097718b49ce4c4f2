//! Text the user writes to name things: the globs of ignore lists, and durations in
//! environment variables.

pub(crate) mod duration;
pub(crate) mod glob;
