//! Text the user writes to name things: the globs of ignore lists.

pub(crate) mod glob;
