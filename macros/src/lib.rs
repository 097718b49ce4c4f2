//! The `#[iris_test]` attribute of the `iris` crate.
//!
//! A thin `#[proc_macro_attribute]` over `expand.rs`, a plain function from token
//! streams to a token stream, so the expansion is unit-tested without a compiler in
//! the loop; the options are one table (`options.rs`). Mistakes in the attribute are
//! `syn::Error`s pointing at the offending token; the macro never panics. The user's
//! documentation of the options is on `iris`'s re-export.
#![deny(missing_docs)]

use proc_macro::TokenStream;

mod expand;
mod options;
#[cfg(test)]
mod tests;

/// The `#[iris_test]` attribute; its options are documented on `iris`'s re-export
/// (`iris::iris_test`), which is how it is used.
#[proc_macro_attribute]
pub fn iris_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
