//! The `#[iris_test]` attribute of the `iris` crate.
//!
//! Placeholder until leak detection lands: it marks the function as a test (adding
//! `#[test]` when no test attribute is present) and otherwise leaves it unchanged.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{parse2, ItemFn};

/// Marks a test whose threads Iris will check for leaks.
#[proc_macro_attribute]
pub fn iris_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    if !attr.is_empty() {
        return Err(syn::Error::new_spanned(
            attr,
            "iris_test takes no options yet",
        ));
    }
    let function: ItemFn = parse2(item)?;
    let has_test_attr = function.attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "test" || s.ident == "rstest")
    });
    let test_attr = if has_test_attr {
        quote!()
    } else {
        quote!(#[test])
    };
    Ok(quote! { #test_attr #function })
}
