//! What users write to Iris: durations (`"250ms"`, `"1.5s"`) and the suggestion for
//! a misspelt word. Shared by the `iris` crate (environment variables, options) and
//! its `#[iris_test]` attribute, so that a duration reads the same everywhere and a
//! refusal says the same thing. Not meant to be used on its own.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod duration;
mod suggest;

pub use duration::{parse_duration, DurationError, UNITS};
pub use suggest::{closest, edit_distance};
