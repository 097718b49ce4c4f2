//! The expansion: a plain function from token streams to a token stream, so it is
//! unit-tested without a compiler in the loop.

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{parse2, AttrStyle, Attribute, Item, ItemFn, ReturnType};

use crate::options::{self, duration_tokens, Value};

/// The standard test attribute, by a path no import can shadow. A bare `#[test]`
/// would resolve to `iris::test` (this attribute) in a file with `use iris::*;` or
/// `use iris::test;`, and expand forever.
fn std_test_attribute() -> Attribute {
    syn::parse_quote!(#[::core::prelude::v1::test])
}

/// `#[test]` written bare: the standard attribute, or this one when the file imports
/// `iris::test` (a glob import does). Either way the function is a test that Iris
/// wraps once, here; what remains must be the standard attribute.
fn is_bare_test(attr: &Attribute) -> bool {
    attr.path().leading_colon.is_none() && attr.path().is_ident("test")
}

/// Another Iris attribute on the same function (`#[iris_test]`, `#[iris::test]`):
/// the case when this expansion was reached through a bare `#[test]` resolved to
/// `iris::test`, with `#[iris_test(..)]` written below it.
fn is_iris_attribute(attr: &Attribute) -> bool {
    matches!(
        path_of(attr).iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["iris_test"] | ["iris", "test"] | ["iris", "iris_test"]
    )
}

/// An attribute's path, segment by segment (`["ntest", "timeout"]`).
fn path_of(attr: &Attribute) -> Vec<String> {
    attr.path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect()
}

fn is_test_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| ["test", "rstest", "test_case"].contains(&s.ident.to_string().as_str()))
}

/// Attributes that run the function they are on in a thread of their own and wait
/// for it with a time limit (ntest's `#[timeout(ms)]`). Written below us, they
/// would wrap Iris's whole check: the time limit would fail the test from outside
/// it, with Iris's check still blocked in the thread, and no verdict. So they go
/// on a function that holds the body, inside the check: the same as writing them
/// above us.
fn runs_on_its_own_thread(attr: &Attribute) -> bool {
    matches!(
        path_of(attr).iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["timeout"] | ["ntest", "timeout"] | ["ntest_timeout", "timeout"]
    )
}

/// The body, for the closure Iris runs: as written, or inside a function of its
/// own that carries the attributes which move a body to its own thread.
fn body_for_the_check(moved: &[Attribute], ret: &TokenStream2, block: &syn::Block) -> TokenStream2 {
    if moved.is_empty() {
        return block.to_token_stream();
    }
    quote_spanned! {block.span()=> {
        #(#moved)*
        fn __iris_test_body() -> #ret #block
        __iris_test_body()
    }}
}

/// The expansion: `item` with its body wrapped in `::iris::run_test` (or its async
/// or timed form), inside the stress run's loop (`::iris::__run_stress`) when the
/// body can run again, and `#[test]` added unless a test attribute is there already
/// (or the function takes parameters, as rstest cases do: rstest generates the
/// tests then).
pub(crate) fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let has_options = !attr.is_empty();
    let options = options::parse(attr)?;
    let mut function = parse_function(item)?;
    if !settle_test_attributes(&mut function, has_options)? {
        return Ok(function.to_token_stream());
    }
    check_options_fit(&function, &options)?;
    // An async fn with parameters and no test attribute is the function rstest calls
    // from each generated case (`#[rstest]` written above us): the cases carry this
    // attribute too and are wrapped themselves, so this one stays as it is.
    let is_async = function.sig.asyncness.is_some();
    if is_async && !function.sig.inputs.is_empty() && !function.attrs.iter().any(is_test_attribute)
    {
        return Ok(function.to_token_stream());
    }
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    // syn keeps the body's inner attributes (`#![allow(dead_code)]` as its first
    // line) with the outer ones; written before the function they would not compile.
    // They open the generated body instead, which holds the original one, so a lint
    // level still covers all of it.
    let (inner, attrs): (Vec<Attribute>, Vec<Attribute>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
    let test_attr = if !attrs.iter().any(is_test_attribute) && sig.inputs.is_empty() {
        std_test_attribute().to_token_stream()
    } else {
        quote!()
    };
    let written = builder_tokens(&options, &sig, &attrs, &block);
    // A body that can run again goes through the stress run's loop, which hands each
    // iteration its options.
    let repeatable = can_run_again(&sig, &attrs);
    let builder = if repeatable {
        quote!(__iris_options)
    } else {
        written.clone()
    };
    let (attrs, call) = if is_async {
        sig.asyncness = None;
        (attrs, async_call(&options, builder, &block))
    } else {
        sync_body_call(&options, builder, &sig, attrs, &block)
    };
    let call = if repeatable {
        quote_spanned! {block.span()=>
            ::iris::__run_stress(#written, ::iris::__cargo_target!(), |__iris_options: ::iris::TestOptions| #call)
        }
    } else {
        call
    };
    Ok(quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #(#inner)*
            #call
        }
    })
}

/// A sync test's call of the check, and the attributes left on the test: one that
/// runs the body on a thread of its own (ntest's `#[timeout]`) moves inside the
/// check, except on an rstest case, which reads its own `#[timeout]` and whose body
/// uses its parameters.
fn sync_body_call(
    options: &options::Written,
    builder: TokenStream2,
    sig: &syn::Signature,
    attrs: Vec<Attribute>,
    block: &syn::Block,
) -> (Vec<Attribute>, TokenStream2) {
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let rstest = !sig.inputs.is_empty()
        || attrs.iter().any(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "rstest")
        });
    let (moved, attrs): (Vec<Attribute>, Vec<Attribute>) = attrs
        .into_iter()
        .partition(|a| !rstest && runs_on_its_own_thread(a));
    let body = body_for_the_check(&moved, &ret, block);
    let call = sync_call(options, builder, &ret, &body, block);
    (attrs, call)
}

/// Whether the test's body can run again, as a stress run repeats it: it takes no
/// parameters (an rstest case's values are moved into its body) and is not
/// `should_panic` (its first iteration ends the run, as expected).
fn can_run_again(sig: &syn::Signature, attrs: &[Attribute]) -> bool {
    sig.inputs.is_empty()
        && !attrs.iter().any(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "should_panic" || s.ident == "rstest")
        })
}

/// The item, if it is a function.
fn parse_function(item: TokenStream2) -> syn::Result<ItemFn> {
    match parse2::<Item>(item) {
        Ok(Item::Fn(function)) => Ok(function),
        Ok(other) => Err(syn::Error::new(
            other.span(),
            "#[iris_test] can only be applied to a function",
        )),
        Err(_) => Err(syn::Error::new(
            Span::call_site(),
            "#[iris_test] can only be applied to a function",
        )),
    }
}

/// Makes the function's test attributes what one Iris wrap needs; `false` when
/// another Iris attribute on it wraps it instead (leave it as it is).
fn settle_test_attributes(function: &mut ItemFn, has_options: bool) -> syn::Result<bool> {
    // A bare `#[test]` left on the function becomes the standard one by its full
    // path: re-read in a file that imports `iris::test`, it would wrap the test again.
    for attr in &mut function.attrs {
        if is_bare_test(attr) {
            *attr = std_test_attribute();
        }
    }
    // Two Iris attributes on one function (`#[test] #[iris_test(..)]` with
    // `iris::test` imported): one wraps the test. The one with options does; with
    // none on either, the lower one.
    if let Some(position) = function.attrs.iter().position(is_iris_attribute) {
        let below = &function.attrs[position];
        let below_has_options = !matches!(below.meta, syn::Meta::Path(_));
        if !has_options {
            return Ok(false);
        }
        if below_has_options {
            return Err(syn::Error::new(
                below.span(),
                "a second Iris attribute on this test: keep one, with every option on it \
                 (a bare #[test] is Iris's in a file with `use iris::*;` or `use iris::test;`)",
            ));
        }
        function.attrs.remove(position);
    }
    Ok(true)
}

/// Options and attributes that do not fit the function: an error at the token.
fn check_options_fit(function: &ItemFn, options: &options::Written) -> syn::Result<()> {
    if let Some(asyncness) = &function.sig.asyncness {
        if !cfg!(feature = "tokio") {
            return Err(syn::Error::new(
                asyncness.span(),
                "#[iris_test] async fn needs iris's `tokio` feature: \
                 iris = { version = \"0.1\", features = [\"tokio\"] }",
            ));
        }
        if let Some(tokio) = function.attrs.iter().find(|a| {
            a.path().segments.len() == 2
                && a.path().segments[0].ident == "tokio"
                && a.path().segments[1].ident == "test"
        }) {
            return Err(syn::Error::new(
                tokio.span(),
                "#[iris_test] async fn builds its own runtime: drop #[tokio::test], or write it \
                 above #[iris_test] (tokio then expands first)",
            ));
        }
    } else if let Some((opt, _, span)) = options.0.iter().find(|(opt, _, _)| opt.async_only) {
        return Err(syn::Error::new(
            *span,
            format!(
                "`{}` is for an async fn (the test's tokio runtime)",
                opt.name
            ),
        ));
    }
    if let Some((Value::Flag(true), span)) = options.get("start_paused") {
        if options.is_word("flavor", "multi_thread") {
            return Err(syn::Error::new(
                span,
                "`start_paused` needs a current-thread runtime (as in tokio): drop \
                 flavor = \"multi_thread\", or use flavor = \"local\"",
            ));
        }
    }
    if let Some((_, span)) = options.get("worker_threads") {
        if !options.is_word("flavor", "multi_thread") {
            return Err(syn::Error::new(
                span,
                "`worker_threads` needs flavor = \"multi_thread\" (the default flavor is current_thread)",
            ));
        }
    }
    Ok(())
}

/// `::iris::TestOptions::new(..)` with a builder call per option.
fn builder_tokens(
    options: &options::Written,
    sig: &syn::Signature,
    attrs: &[Attribute],
    block: &syn::Block,
) -> TokenStream2 {
    let ident = &sig.ident;
    let calls = options.builder_calls();
    let mut builder = quote!(::iris::TestOptions::new(concat!(
        module_path!(),
        "::",
        stringify!(#ident)
    )) #calls);
    // `#[traced_test]` installs its own (global) subscriber and reads the logs back:
    // Iris must not install its fallback one in front of it. Written below us it is
    // an attribute we see; written above us it has already put its set-up into the
    // body, which names `tracing_test`.
    let traced = attrs.iter().any(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "traced_test")
    }) || block.to_token_stream().to_string().contains("tracing_test");
    if traced {
        builder = quote!(#builder.capture_logs(false));
    }
    if sig.asyncness.is_none() {
        return builder;
    }
    if options.is_word("flavor", "multi_thread") {
        builder = quote!(#builder.flavor(::iris::Flavor::MultiThread));
    }
    if options.is_word("flavor", "local") {
        builder = quote!(#builder.flavor(::iris::Flavor::Local));
    }
    if let Some((Value::Flag(true), span)) = options.get("start_paused") {
        // A compile error naming the feature when tokio's test-util is missing.
        let check = quote_spanned!(span=> ::iris::__require_tokio_test_util!(););
        builder = quote!({ #check #builder.start_paused(true) });
    }
    builder
}

/// The call that runs an async body on the test's runtime. With a timeout the body
/// runs on a thread of its own (so a body that blocks its thread still fails on
/// time): its future is made there.
fn async_call(
    options: &options::Written,
    builder: TokenStream2,
    block: &syn::Block,
) -> TokenStream2 {
    match options.get("timeout") {
        Some((Value::Duration(d), _)) => {
            let d = duration_tokens(*d);
            quote_spanned!(block.span()=> ::iris::run_async_test_with_timeout(#builder, #d, move || async move #block))
        }
        _ => quote_spanned!(block.span()=> ::iris::run_async_test(#builder, async move #block)),
    }
}

/// The call that runs a sync body inside Iris's check.
fn sync_call(
    options: &options::Written,
    builder: TokenStream2,
    ret: &TokenStream2,
    body: &TokenStream2,
    block: &syn::Block,
) -> TokenStream2 {
    match options.get("timeout") {
        Some((Value::Duration(d), _)) => {
            let d = duration_tokens(*d);
            quote_spanned!(block.span()=> ::iris::run_test_with_timeout(#builder, #d, move || -> #ret #body))
        }
        _ => quote_spanned!(block.span()=> ::iris::run_test(#builder, move || -> #ret #body)),
    }
}
