//! The `#[iris_test]` attribute of the `iris` crate.
//!
//! A thin `#[proc_macro_attribute]` over `expand`, a plain function from token
//! streams to a token stream, so the expansion is unit-tested without a compiler in
//! the loop. Mistakes in the attribute are `syn::Error`s pointing at the offending
//! token; the macro never panics.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{parse2, AttrStyle, Attribute, Item, ItemFn, LitStr, ReturnType};

/// Runs the test in a fresh Iris registry scope and fails it when it leaks a thread
/// or a background thread panicked.
///
/// ```text
/// #[iris_test]
/// fn plain() { /* ... */ }
///
/// #[iris_test(stop_timeout = "2s", linger = "250ms", leaks = "warn", timeout = "30s")]
/// fn with_options() -> Result<(), String> { Ok(()) }
/// ```
///
/// Options (all optional; durations are strings with a unit: `ns`, `us`, `ms`, `s`,
/// `m`, `h`, such as `"250ms"` or `"1.5s"`):
///
/// - `stop_timeout` (default `"5s"`): how long the test's threads get to exit once the
///   test's registry is stopped; those still running are *stragglers*.
/// - `linger` (default `"1s"`): how long threads born during the test get to
///   disappear; the wait ends as soon as they are gone.
/// - `leaks` (default `"fail"`): `"fail"`, `"warn"` (print the report, pass) or
///   `"ignore"`. The environment variable `IRIS_LEAKS` overrides it for a whole run.
/// - `ignore_threads` (no default): a comma-separated list of globs (`*`, `?`) of thread
///   names not to report, such as `"rayon-*"` for a process-wide pool created on
///   first use. `IRIS_IGNORE_THREADS` adds to it for a whole run.
/// - `ignore_tasks` (no default): globs matched against a leaked plain task's spawn
///   location (`file:line:column`, dependencies as `crate-version/src/...`), as
///   tokio reports it (`--cfg tokio_unstable`). `IRIS_IGNORE_TASKS` adds to it.
/// - `thread_panics` (default `"fail"`): what a panic that ended a plain thread of
///   the test and that nobody joined is worth: `"fail"`, `"warn"` (written after the
///   run; the test passes) or `"ignore"`, for a test that means it (a pool's job that
///   panics on purpose). `IRIS_THREAD_PANICS` overrides it for a whole run.
/// - `teardown` (default `"ignore"`): what the test's own teardown had to end (managed
///   threads its registry stopped, tasks cancelled with its runtime): `"fail"` for
///   teams that want every component shut down by the test itself, `"warn"` to see
///   them after the run. `IRIS_TEARDOWN` overrides it for a whole run.
/// - `timeout` (no default): a watchdog. The body runs on its own thread; past the
///   timeout, the test fails with a dump of its live threads instead of hanging.
///
/// `#[test]` is added unless a test attribute (`#[test]`, `#[rstest]`,
/// `#[tokio::test]`, ...) is present or the function takes parameters. Other
/// attributes (`#[should_panic]`, `#[ignore]`, ...) pass through; a test's own panic
/// always wins over the leak report. With rstest, each `#[case]` gets its own scope,
/// whichever of `#[rstest]` and `#[iris_test]` comes first.
///
/// `async fn` (with iris's `tokio` feature) runs on a fresh tokio runtime per test,
/// whose threads and tasks see the test's registry. Stable `#[tokio::test]`'s options
/// apply, with tokio's meaning, so a test converts by replacing the attribute's
/// path (`#[iris::test]` is this attribute):
/// `flavor = "current_thread"` (default), `"multi_thread"` or `"local"` (the body in
/// a `LocalSet`: `spawn_local` works), `worker_threads = N` (multi-thread only),
/// `start_paused = true` (paused time; needs iris's `tokio-test-util` feature, on by
/// default) and `crate = "..."` (accepted; Iris builds the runtime with its own
/// tokio). `blocking = "100ms"` (the default; `"off"` disables it): a task that
/// holds a worker inside one poll that long while the worker sleeps in the kernel
/// is a finding. `task_panics = "warn"` (the default), `"fail"` or `"ignore"`: what
/// a panic of a plain `tokio::spawn` task is worth (tokio hands it to a `JoinHandle`
/// that Iris cannot see being read; see `TestOptions::task_panics`). With `timeout`, the body runs on its own thread, so a body that blocks its
/// thread still fails on time. `#[tokio::test]` written above `#[iris_test]` also
/// works (tokio's runtime, Iris's checks).
#[proc_macro_attribute]
pub fn iris_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The options written in `#[iris_test(...)]`.
#[derive(Debug, Default)]
struct Options {
    stop_timeout: Option<(u64, u32)>,
    linger: Option<(u64, u32)>,
    leaks: Option<String>,
    timeout: Option<(u64, u32)>,
    ignore_threads: Option<String>,
    ignore_tasks: Option<String>,
    /// `flavor = "..."`, with the literal's span for errors.
    flavor: Option<(String, Span)>,
    /// `worker_threads = N`, with the literal's span.
    worker_threads: Option<(usize, Span)>,
    /// `start_paused = true`, with the literal's span.
    start_paused: Option<(bool, Span)>,
    /// tokio's `crate = "path"`: accepted for a drop-in replacement, and unused (the
    /// runtime is built by Iris's own tokio).
    tokio_crate: Option<Span>,
    /// `blocking = "100ms"` (`Some(Some(..))`) or `"off"` (`Some(None)`), with its span.
    blocking: Option<(Option<(u64, u32)>, Span)>,
    /// `task_panics = "fail"|"warn"|"ignore"`, with its span.
    task_panics: Option<(String, Span)>,
    /// `thread_panics = "fail"|"warn"|"ignore"`.
    thread_panics: Option<String>,
    /// `teardown = "fail"|"warn"|"ignore"`.
    teardown: Option<String>,
}

const KEYS: &str = "stop_timeout, linger, leaks, timeout, ignore_threads, ignore_tasks, flavor, worker_threads, start_paused, crate, blocking, task_panics, thread_panics, teardown";
const KEY_LIST: [&str; 14] = [
    "stop_timeout",
    "linger",
    "leaks",
    "timeout",
    "ignore_threads",
    "ignore_tasks",
    "flavor",
    "worker_threads",
    "start_paused",
    "crate",
    "blocking",
    "task_panics",
    "thread_panics",
    "teardown",
];

/// The known option closest to a misspelt `key`, if one is close enough.
fn did_you_mean(key: &str) -> Option<&'static str> {
    KEY_LIST
        .iter()
        .map(|known| (edit_distance(key, known), *known))
        .filter(|(distance, known)| *distance <= known.len() / 3 + 1)
        .min()
        .map(|(_, known)| known)
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn parse_options(attr: TokenStream2) -> syn::Result<Options> {
    let mut options = Options::default();
    if attr.is_empty() {
        return Ok(options);
    }
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .ok_or_else(|| meta.error(format!("expected an option name, one of: {KEYS}")))?;
        let slot_taken = match key.as_str() {
            "stop_timeout" => options.stop_timeout.is_some(),
            "linger" => options.linger.is_some(),
            "leaks" => options.leaks.is_some(),
            "timeout" => options.timeout.is_some(),
            "ignore_threads" => options.ignore_threads.is_some(),
            "ignore_tasks" => options.ignore_tasks.is_some(),
            "flavor" => options.flavor.is_some(),
            "worker_threads" => options.worker_threads.is_some(),
            "start_paused" => options.start_paused.is_some(),
            "crate" => options.tokio_crate.is_some(),
            "blocking" => options.blocking.is_some(),
            "task_panics" => options.task_panics.is_some(),
            "thread_panics" => options.thread_panics.is_some(),
            "teardown" => options.teardown.is_some(),
            _ => {
                return Err(meta.error(match did_you_mean(&key) {
                    Some(known) => format!("unknown option `{key}`; did you mean `{known}`?"),
                    None => format!("unknown option `{key}`; expected one of: {KEYS}"),
                }))
            }
        };
        if slot_taken {
            return Err(meta.error(format!("option `{key}` is given twice")));
        }
        if !meta.input.peek(syn::Token![=]) {
            let example = match key.as_str() {
                "leaks" => "leaks = \"warn\"",
                "ignore_threads" => "ignore_threads = \"rayon-*\"",
                "ignore_tasks" => "ignore_tasks = \"*/deadpool-*\"",
                "linger" => "linger = \"250ms\"",
                "timeout" => "timeout = \"30s\"",
                "flavor" => "flavor = \"multi_thread\"",
                "worker_threads" => "worker_threads = 2",
                "start_paused" => "start_paused = true",
                "crate" => "crate = \"tokio\"",
                "blocking" => "blocking = \"100ms\"",
                "task_panics" => "task_panics = \"fail\"",
                "thread_panics" => "thread_panics = \"warn\"",
                "teardown" => "teardown = \"fail\"",
                _ => "stop_timeout = \"2s\"",
            };
            return Err(meta.error(format!("option `{key}` needs a value, such as `{example}`")));
        }
        let value = meta.value()?;
        let expr: syn::Expr = value.parse()?;
        if key == "start_paused" {
            let paused = match &expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Bool(b),
                    ..
                }) => b.value,
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "`start_paused` takes `true` or `false`",
                    ))
                }
            };
            options.start_paused = Some((paused, expr.span()));
            return Ok(());
        }
        if key == "crate" {
            match &expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(_),
                    ..
                }) => options.tokio_crate = Some(expr.span()),
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "`crate` takes a path in a string, such as \"tokio\"",
                    ))
                }
            }
            return Ok(());
        }
        if key == "worker_threads" {
            let workers = match &expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => n.base10_parse::<usize>().map_err(|_| {
                    syn::Error::new(n.span(), "`worker_threads` takes a whole number, such as 2")
                })?,
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "`worker_threads` takes a whole number, such as 2",
                    ))
                }
            };
            if workers == 0 {
                return Err(syn::Error::new(
                    expr.span(),
                    "`worker_threads` must be at least 1",
                ));
            }
            options.worker_threads = Some((workers, expr.span()));
            return Ok(());
        }
        let literal = match &expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => s.clone(),
            other => {
                let hint = match key.as_str() {
                    "leaks" | "task_panics" | "thread_panics" | "teardown" => {
                        "\"fail\", \"warn\" or \"ignore\""
                    }
                    "flavor" => "\"current_thread\", \"multi_thread\" or \"local\"",
                    "ignore_threads" => "\"rayon-*, my-pool-*\"",
                    "ignore_tasks" => "\"*/deadpool-*, src/reaper.rs:*\"",
                    "blocking" => "\"100ms\" or \"off\"",
                    _ => "\"250ms\" or \"5s\"",
                };
                return Err(syn::Error::new(
                    other.span(),
                    format!("`{key}` takes a string, such as {hint}"),
                ));
            }
        };
        match key.as_str() {
            "leaks" => options.leaks = Some(parse_policy(&literal, "leak")?),
            "task_panics" => {
                options.task_panics = Some((parse_policy(&literal, "task panic")?, literal.span()));
            }
            "thread_panics" => {
                options.thread_panics = Some(parse_policy(&literal, "thread panic")?);
            }
            "teardown" => {
                options.teardown = Some(parse_policy(&literal, "teardown")?);
            }
            "ignore_threads" => options.ignore_threads = Some(literal.value()),
            "ignore_tasks" => options.ignore_tasks = Some(literal.value()),
            "blocking" => {
                let threshold = if literal.value().trim().eq_ignore_ascii_case("off") {
                    None
                } else {
                    let threshold = parse_duration(&literal)?;
                    if threshold == (0, 0) {
                        return Err(syn::Error::new(
                            literal.span(),
                            "a zero `blocking` threshold would call every poll that waits in the \
                             kernel blocking: write \"off\" to turn the check off, or a \
                             threshold such as \"100ms\"",
                        ));
                    }
                    Some(threshold)
                };
                options.blocking = Some((threshold, literal.span()));
            }
            "flavor" => {
                let flavor = literal.value();
                if !["current_thread", "multi_thread", "local"].contains(&flavor.as_str()) {
                    return Err(syn::Error::new(
                        literal.span(),
                        format!("unknown flavor {flavor:?}; expected \"current_thread\", \"multi_thread\" or \"local\""),
                    ));
                }
                options.flavor = Some((flavor, literal.span()));
            }
            _ => {
                let duration = parse_duration(&literal)?;
                if key == "timeout" && duration == (0, 0) {
                    return Err(syn::Error::new(
                        literal.span(),
                        "a zero `timeout` fails every run before its body can finish: leave \
                         `timeout` out for no limit, or give the time the test may take, such \
                         as \"30s\"",
                    ));
                }
                match key.as_str() {
                    "stop_timeout" => options.stop_timeout = Some(duration),
                    "linger" => options.linger = Some(duration),
                    _ => options.timeout = Some(duration),
                }
            }
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(options)
}

/// Checks a policy (`leaks`, `task_panics`, `thread_panics`): `"fail"`, `"warn"` or `"ignore"`.
fn parse_policy(literal: &LitStr, what: &str) -> syn::Result<String> {
    let policy = literal.value();
    if ["fail", "warn", "ignore"].contains(&policy.as_str()) {
        Ok(policy)
    } else {
        Err(syn::Error::new(
            literal.span(),
            format!("unknown {what} policy {policy:?}; expected \"fail\", \"warn\" or \"ignore\""),
        ))
    }
}

/// `::iris::LeakPolicy::VARIANT` for a policy [`parse_policy`] accepted.
fn policy_variant(policy: &str) -> TokenStream2 {
    let variant = syn::Ident::new(
        match policy {
            "warn" => "Warn",
            "ignore" => "Ignore",
            _ => "Fail",
        },
        Span::call_site(),
    );
    quote!(::iris::LeakPolicy::#variant)
}

/// Parses `"250ms"`, `"1.5s"`, `"2m"`... into (seconds, nanoseconds).
fn parse_duration(literal: &LitStr) -> syn::Result<(u64, u32)> {
    let text = literal.value();
    let error = |why: &str| {
        syn::Error::new(
            literal.span(),
            format!("invalid duration {text:?}: {why}; write a number and a unit, such as \"250ms\" or \"5s\" (units: ns, us, ms, s, m, h)"),
        )
    };
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(error("durations cannot be negative"));
    }
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| error("no unit"))?;
    let (number, unit) = trimmed.split_at(split);
    let nanos_per_unit: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        other => return Err(error(&format!("unknown unit {other:?}"))),
    };
    if number.is_empty() {
        return Err(error("no number"));
    }
    let value: f64 = number.parse().map_err(|_| error("not a number"))?;
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos >= u64::MAX as f64 * 1e9 {
        return Err(error("too large"));
    }
    let secs = (nanos / 1e9).floor();
    let rest = (nanos - secs * 1e9).round().min(999_999_999.0);
    Ok((secs as u64, rest as u32))
}

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
    let names: Vec<String> = attr
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    matches!(
        names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["iris_test"] | ["iris", "test"] | ["iris", "iris_test"]
    )
}

fn is_test_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| ["test", "rstest", "test_case"].contains(&s.ident.to_string().as_str()))
}

/// The expansion: `item` with its body wrapped in `::iris::run_test`, and `#[test]`
/// added unless a test attribute is there already (or the function takes
/// parameters, as rstest cases do: rstest generates the tests then).
fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let has_options = !attr.is_empty();
    let options = parse_options(attr)?;
    let mut function: ItemFn = match parse2::<Item>(item.clone()) {
        Ok(Item::Fn(function)) => function,
        Ok(other) => {
            return Err(syn::Error::new(
                other.span(),
                "#[iris_test] can only be applied to a function",
            ))
        }
        Err(_) => {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[iris_test] can only be applied to a function",
            ))
        }
    };
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
            return Ok(function.to_token_stream());
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
    let is_async = function.sig.asyncness.is_some();
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
    } else {
        for (span, option) in [
            (options.flavor.as_ref().map(|f| f.1), "flavor"),
            (
                options.worker_threads.as_ref().map(|w| w.1),
                "worker_threads",
            ),
            (options.start_paused.as_ref().map(|p| p.1), "start_paused"),
            (options.tokio_crate, "crate"),
            (options.blocking.as_ref().map(|b| b.1), "blocking"),
            (options.task_panics.as_ref().map(|p| p.1), "task_panics"),
        ] {
            if let Some(span) = span {
                return Err(syn::Error::new(
                    span,
                    format!("`{option}` is for an async fn (the test's tokio runtime)"),
                ));
            }
        }
    }
    if let Some((true, span)) = &options.start_paused {
        if options.flavor.as_ref().map(|f| f.0.as_str()) == Some("multi_thread") {
            return Err(syn::Error::new(
                *span,
                "`start_paused` needs a current-thread runtime (as in tokio): drop \
                 flavor = \"multi_thread\", or use flavor = \"local\"",
            ));
        }
    }
    if let Some((_, span)) = &options.worker_threads {
        if options.flavor.as_ref().map(|f| f.0.as_str()) != Some("multi_thread") {
            return Err(syn::Error::new(
                *span,
                "`worker_threads` needs flavor = \"multi_thread\" (the default flavor is current_thread)",
            ));
        }
    }

    // An async fn with parameters and no test attribute is the function rstest calls
    // from each generated case (`#[rstest]` written above us): the cases carry this
    // attribute too and are wrapped themselves, so this one stays as it is.
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
    let add_test = !attrs.iter().any(is_test_attribute) && sig.inputs.is_empty();
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
    let test_attr = if add_test {
        std_test_attribute().to_token_stream()
    } else {
        quote!()
    };
    let ident = &sig.ident;
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let duration = |(secs, nanos): (u64, u32)| quote!(::std::time::Duration::new(#secs, #nanos));
    let mut builder = quote!(::iris::TestOptions::new(concat!(
        module_path!(),
        "::",
        stringify!(#ident)
    )));
    if let Some(d) = options.stop_timeout {
        let d = duration(d);
        builder = quote!(#builder.stop_timeout(#d));
    }
    if let Some(d) = options.linger {
        let d = duration(d);
        builder = quote!(#builder.linger(#d));
    }
    if let Some(policy) = &options.leaks {
        let policy = policy_variant(policy);
        builder = quote!(#builder.leaks(#policy));
    }
    if let Some(policy) = &options.thread_panics {
        let policy = policy_variant(policy);
        builder = quote!(#builder.thread_panics(#policy));
    }
    if let Some(globs) = &options.ignore_tasks {
        builder = quote!(#builder.ignore_tasks(#globs));
    }
    if let Some(policy) = &options.teardown {
        let policy = policy_variant(policy);
        builder = quote!(#builder.teardown(#policy));
    }
    if let Some(globs) = &options.ignore_threads {
        builder = quote!(#builder.ignore_threads(#globs));
    }
    if traced {
        builder = quote!(#builder.capture_logs(false));
    }
    if is_async {
        if options
            .flavor
            .as_ref()
            .is_some_and(|f| f.0 == "multi_thread")
        {
            builder = quote!(#builder.flavor(::iris::Flavor::MultiThread));
        }
        if options.flavor.as_ref().is_some_and(|f| f.0 == "local") {
            builder = quote!(#builder.flavor(::iris::Flavor::Local));
        }
        if let Some((threshold, _)) = options.blocking {
            let threshold = match threshold {
                Some(d) => {
                    let d = duration(d);
                    quote!(::std::option::Option::Some(#d))
                }
                None => quote!(::std::option::Option::None),
            };
            builder = quote!(#builder.blocking(#threshold));
        }
        if let Some((policy, _)) = &options.task_panics {
            let policy = policy_variant(policy);
            builder = quote!(#builder.task_panics(#policy));
        }
        if let Some((true, span)) = options.start_paused {
            // A compile error naming the feature when tokio's test-util is missing.
            let check = quote_spanned!(span=> ::iris::__require_tokio_test_util!(););
            builder = quote!({ #check #builder.start_paused(true) });
        }
        if let Some((workers, _)) = options.worker_threads {
            builder = quote!(#builder.worker_threads(#workers));
        }
        sig.asyncness = None;
        // With a timeout the body runs on a thread of its own (so a body that blocks
        // its thread still fails on time): its future is made there.
        let call = match options.timeout {
            Some(d) => {
                let d = duration(d);
                quote_spanned!(block.span()=> ::iris::run_async_test_with_timeout(#builder, #d, move || async move #block))
            }
            None => {
                quote_spanned!(block.span()=> ::iris::run_async_test(#builder, async move #block))
            }
        };
        return Ok(quote! {
            #test_attr
            #(#attrs)*
            #vis #sig {
                #(#inner)*
                #call
            }
        });
    }
    let call = match options.timeout {
        Some(d) => {
            let d = duration(d);
            quote_spanned!(block.span()=> ::iris::run_test_with_timeout(#builder, #d, move || -> #ret #block))
        }
        None => quote_spanned!(block.span()=> ::iris::run_test(#builder, move || -> #ret #block)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: &str, item: &str) -> Result<String, String> {
        expand(attr.parse().unwrap(), item.parse().unwrap())
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_fn_gets_test_and_run_test() {
        let out = expand_str("", "fn works() { assert!(true); }").unwrap();
        assert!(
            out.starts_with("# [:: core :: prelude :: v1 :: test] fn works ()"),
            "{out}"
        );
        assert!(out.contains(":: iris :: run_test (:: iris :: TestOptions :: new (concat ! (module_path ! () , \"::\" , stringify ! (works)))"), "{out}");
        assert!(out.contains("move || -> () { assert ! (true) ; }"), "{out}");
    }

    #[test]
    fn options_become_builder_calls() {
        let out = expand_str(
            r#"stop_timeout = "250ms", linger = "1.5s", leaks = "warn", timeout = "2m""#,
            "fn t() {}",
        )
        .unwrap();
        assert!(
            out.contains(
                ". stop_timeout (:: std :: time :: Duration :: new (0u64 , 250000000u32))"
            ),
            "{out}"
        );
        assert!(
            out.contains(". linger (:: std :: time :: Duration :: new (1u64 , 500000000u32))"),
            "{out}"
        );
        assert!(
            out.contains(". leaks (:: iris :: LeakPolicy :: Warn)"),
            "{out}"
        );
        assert!(out.contains("run_test_with_timeout"), "{out}");
        assert!(out.contains("Duration :: new (120u64 , 0u32)"), "{out}");
        let tasks = expand_str(r#"ignore_tasks = "*/deadpool-*""#, "fn t() {}").unwrap();
        assert!(
            tasks.contains(". ignore_tasks (\"*/deadpool-*\")"),
            "{tasks}"
        );
        let out = expand_str(r#"ignore_threads = "rayon-*, pool-?""#, "fn t() {}").unwrap();
        assert!(
            out.contains(". ignore_threads (\"rayon-*, pool-?\")"),
            "{out}"
        );
    }

    #[test]
    fn existing_test_attributes_and_parameters_suppress_test() {
        for item in [
            "#[test] fn t() {}",
            "#[tokio::test] fn t() {}",
            "#[rstest] #[case(1)] fn t(#[case] x: u32) {}",
            "fn t(x: u32) {}",
        ] {
            let out = expand_str("", item).unwrap();
            assert_eq!(
                out.matches("# [:: core :: prelude :: v1 :: test]").count(),
                usize::from(item.starts_with("#[test]")),
                "{item}: {out}"
            );
        }
    }

    /// With `use iris::*;` or `use iris::test;`, a bare `#[test]` is this attribute:
    /// the expansion must never leave one behind, or it expands forever
    /// ("recursion limit reached while expanding #[test]").
    #[test]
    fn no_bare_test_attribute_is_left_to_resolve_to_iris() {
        for item in [
            "fn t() {}",
            "#[test] fn t() {}",
            "#[should_panic] #[test] fn t() {}",
            "#[rstest] #[case(1)] fn t(#[case] x: u32) {}",
        ] {
            let out = expand_str("", item).unwrap();
            assert!(!out.contains("# [test]"), "{item}: {out}");
            assert_eq!(
                out.matches("# [:: core :: prelude :: v1 :: test]").count(),
                usize::from(!item.contains("rstest")),
                "{item}: {out}"
            );
        }
    }

    /// `#[test] #[iris_test(linger = ..)]` in a file that imports `iris::test`: the
    /// test is wrapped once, with the options; two sets of options are an error.
    #[test]
    fn a_second_iris_attribute_wraps_once() {
        // Reached through the bare `#[test]` (no options): the lower one does the work.
        let out = expand_str("", r#"#[iris_test(linger = "2s")] fn t() {}"#).unwrap();
        assert!(!out.contains("run_test"), "{out}");
        assert!(out.contains("# [iris_test (linger = \"2s\")]"), "{out}");
        let out = expand_str("", "#[iris::test] fn t() {}").unwrap();
        assert!(
            !out.contains("run_test") && out.contains("# [iris :: test]"),
            "{out}"
        );
        // Options above, none below: one expansion, the lower attribute dropped.
        let out = expand_str(r#"linger = "2s""#, "#[iris::test] fn t() {}").unwrap();
        assert_eq!(out.matches("run_test").count(), 1, "{out}");
        assert!(!out.contains("iris :: test]"), "{out}");
        let error = expand_str(
            r#"linger = "2s""#,
            r#"#[iris_test(linger = "1s")] fn t() {}"#,
        )
        .unwrap_err();
        assert!(error.contains("a second Iris attribute"), "{error}");
    }

    #[test]
    fn other_attributes_and_result_returns_pass_through() {
        let out = expand_str(
            "",
            r#"#[should_panic(expected = "boom")] #[ignore] fn t() -> Result<(), String> { Ok(()) }"#,
        )
        .unwrap();
        assert!(
            out.contains("# [should_panic (expected = \"boom\")] # [ignore]"),
            "{out}"
        );
        assert!(out.contains("-> Result < () , String >"), "{out}");
    }

    /// tiny_http's `must_be_send` opens its body with `#![allow(dead_code)]`: written
    /// before the function (as syn keeps it, with the outer ones) it failed to compile.
    #[test]
    fn inner_attributes_open_the_generated_body() {
        let item = "#[ignore] fn t() { #![allow(dead_code)] fn unused() {} }";
        let out = expand_str("", item).unwrap();
        assert!(
            out.starts_with(
                "# [:: core :: prelude :: v1 :: test] # [ignore] fn t () { # ! [allow (dead_code)] :: iris :: run_test"
            ),
            "{out}"
        );
        assert_eq!(out.matches("# ! [allow (dead_code)]").count(), 1, "{out}");
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn inner_attributes_open_the_generated_body_of_an_async_test() {
        let out = expand_str("", "async fn t() { #![allow(unused)] let x = 1; }").unwrap();
        assert!(
            out.contains("fn t () { # ! [allow (unused)] :: iris :: run_async_test"),
            "{out}"
        );
        // The function rstest's cases call stays as written, its inner attribute inside.
        let out = expand_str("", "async fn t(x: u32) { #![allow(unused)] }").unwrap();
        assert!(
            out.starts_with("async fn t (x : u32) { # ! [allow (unused)] }"),
            "{out}"
        );
    }

    #[test]
    fn mistakes_are_errors() {
        let cases = [
            (
                "colour = \"red\"",
                "fn t() {}",
                "unknown option `colour`; expected one of",
            ),
            (
                "stop_timout = \"1s\"",
                "fn t() {}",
                "did you mean `stop_timeout`?",
            ),
            (
                "linger",
                "fn t() {}",
                "option `linger` needs a value, such as `linger = \"250ms\"`",
            ),
            (
                "ignore_threads = 3",
                "fn t() {}",
                "`ignore_threads` takes a string",
            ),
            (
                "timeout = \"5 parsecs\"",
                "fn t() {}",
                "invalid duration \"5 parsecs\": unknown unit \"parsecs\"",
            ),
            ("linger = \"5\"", "fn t() {}", "no unit"),
            (
                "timeout = \"0s\"",
                "fn t() {}",
                "a zero `timeout` fails every run",
            ),
            (
                "blocking = \"0ms\"",
                "async fn t() {}",
                "a zero `blocking` threshold",
            ),
            ("timeout = 5", "fn t() {}", "`timeout` takes a string"),
            (
                "leaks = \"panic\"",
                "fn t() {}",
                "unknown leak policy \"panic\"",
            ),
            (
                "linger = \"1s\", linger = \"2s\"",
                "fn t() {}",
                "given twice",
            ),
            ("", "struct S;", "can only be applied to a function"),
            (
                "flavor = \"multi_thread\"",
                "fn t() {}",
                "`flavor` is for an async fn",
            ),
            ("worker_threads = 0", "fn t() {}", "must be at least 1"),
            (
                "task_panics = \"fail\"",
                "fn t() {}",
                "`task_panics` is for an async fn",
            ),
            (
                "task_panics = \"loud\"",
                "async fn t() {}",
                "unknown task panic policy \"loud\"",
            ),
            (
                "task_panic = \"fail\"",
                "async fn t() {}",
                "did you mean `task_panics`?",
            ),
            (
                "thread_panics = \"loud\"",
                "fn t() {}",
                "unknown thread panic policy \"loud\"",
            ),
            (
                "thread_panics",
                "fn t() {}",
                "needs a value, such as `thread_panics = \"warn\"`",
            ),
            (
                "thread_panic = \"warn\"",
                "fn t() {}",
                "did you mean `thread_panics`?",
            ),
        ];
        for (attr, item, expected) in cases {
            let error = expand_str(attr, item).unwrap_err();
            assert!(error.contains(expected), "{attr} / {item}: {error}");
        }
    }

    #[test]
    fn teardown_maps_onto_the_builder() {
        let out = expand_str("teardown = \"fail\"", "fn t() {}").unwrap();
        assert!(
            out.contains(". teardown (:: iris :: LeakPolicy :: Fail)"),
            "{out}"
        );
        let error = expand_str("teardown = \"strict\"", "fn t() {}").unwrap_err();
        assert!(
            error.contains("unknown teardown policy \"strict\""),
            "{error}"
        );
        let error = expand_str("tear_down = \"fail\"", "fn t() {}").unwrap_err();
        assert!(error.contains("did you mean `teardown`?"), "{error}");
    }

    #[test]
    fn thread_panics_maps_onto_the_builder_for_sync_and_async_tests() {
        let items: &[&str] = if cfg!(feature = "tokio") {
            &["fn t() {}", "async fn t() {}"]
        } else {
            &["fn t() {}"]
        };
        for item in items {
            let out = expand_str("thread_panics = \"warn\"", item).unwrap();
            assert!(
                out.contains(". thread_panics (:: iris :: LeakPolicy :: Warn)"),
                "{item}: {out}"
            );
        }
        let out = expand_str("", "fn t() {}").unwrap();
        assert!(!out.contains("thread_panics"), "{out}");
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn tokio_test_options_are_accepted_with_tokios_meaning() {
        let out = expand_str("start_paused = true", "async fn t() {}").unwrap();
        assert!(
            out.contains(":: iris :: __require_tokio_test_util ! ()")
                && out.contains(". start_paused (true)"),
            "{out}"
        );
        let out = expand_str("start_paused = false", "async fn t() {}").unwrap();
        assert!(!out.contains("start_paused"), "{out}");
        let out = expand_str("task_panics = \"fail\"", "async fn t() {}").unwrap();
        assert!(
            out.contains(". task_panics (:: iris :: LeakPolicy :: Fail)"),
            "{out}"
        );
        let out = expand_str("flavor = \"local\"", "async fn t() {}").unwrap();
        assert!(
            out.contains(". flavor (:: iris :: Flavor :: Local)"),
            "{out}"
        );
        assert!(expand_str("crate = \"tokio\"", "async fn t() {}").is_ok());
        for (attr, item, expected) in [
            (
                "flavor = \"multi_thread\", start_paused = true",
                "async fn t() {}",
                "`start_paused` needs a current-thread runtime",
            ),
            (
                "start_paused = 1",
                "async fn t() {}",
                "`start_paused` takes `true` or `false`",
            ),
            (
                "start_paused = true",
                "fn t() {}",
                "`start_paused` is for an async fn",
            ),
            (
                "crate = tokio",
                "async fn t() {}",
                "`crate` takes a path in a string",
            ),
        ] {
            let error = expand_str(attr, item).unwrap_err();
            assert!(error.contains(expected), "{attr}: {error}");
        }
    }

    #[test]
    fn async_fns_run_on_a_test_runtime_with_the_feature() {
        let result = expand_str("", "async fn t() -> Result<(), String> { Ok(()) }");
        if !cfg!(feature = "tokio") {
            assert!(result.unwrap_err().contains("needs iris's `tokio` feature"));
            return;
        }
        let out = result.unwrap();
        assert!(
            out.starts_with(
                "# [:: core :: prelude :: v1 :: test] fn t () -> Result < () , String >"
            ),
            "{out}"
        );
        assert!(out.contains(":: iris :: run_async_test ("), "{out}");
        assert!(out.contains("async move { Ok (()) }"), "{out}");
        let out = expand_str(
            r#"flavor = "multi_thread", worker_threads = 2, timeout = "1s""#,
            "async fn t() {}",
        )
        .unwrap();
        assert!(
            out.contains(". flavor (:: iris :: Flavor :: MultiThread)"),
            "{out}"
        );
        assert!(out.contains(". worker_threads (2usize)"), "{out}");
        // A timeout puts the body on its own thread, its future made there.
        assert!(
            out.contains(":: iris :: run_async_test_with_timeout (")
                && out.contains(
                    ", :: std :: time :: Duration :: new (1u64 , 0u32) , move || async move"
                ),
            "{out}"
        );
        // The function rstest calls from its cases is left as it is.
        let out = expand_str("", "async fn t(x: u32) { let _ = x; }").unwrap();
        assert!(
            out.contains("async fn t (x : u32)") && !out.contains("run_async_test"),
            "{out}"
        );
        for (attr, item, expected) in [
            (
                "flavor = \"threaded\"",
                "async fn t() {}",
                "unknown flavor \"threaded\"",
            ),
            (
                "worker_threads = 2",
                "async fn t() {}",
                "needs flavor = \"multi_thread\"",
            ),
            (
                "flavor = \"current_thread\", worker_threads = 2",
                "async fn t() {}",
                "needs flavor = \"multi_thread\"",
            ),
            ("", "#[tokio::test] async fn t() {}", "drop #[tokio::test]"),
        ] {
            let error = expand_str(attr, item).unwrap_err();
            assert!(error.contains(expected), "{attr} / {item}: {error}");
        }
    }

    #[test]
    fn traced_test_in_either_order_turns_off_iris_log_capture() {
        let below = expand_str("", "#[traced_test] fn t() {}").unwrap();
        assert!(below.contains(". capture_logs (false)"), "{below}");
        let above = expand_str(
            "",
            "fn t() { tracing_test::internal::INITIALIZED.call_once(|| {}); }",
        )
        .unwrap();
        assert!(above.contains(". capture_logs (false)"), "{above}");
        let plain = expand_str("", "fn t() {}").unwrap();
        assert!(!plain.contains("capture_logs"), "{plain}");
    }

    #[test]
    fn durations_parse() {
        let d = |s: &str| parse_duration(&LitStr::new(s, Span::call_site()));
        assert_eq!(d("0s").unwrap(), (0, 0));
        assert_eq!(d("10ns").unwrap(), (0, 10));
        assert_eq!(d("100us").unwrap(), (0, 100_000));
        assert_eq!(d("2h").unwrap(), (7200, 0));
        assert!(d("").is_err());
        assert!(d("ms").is_err());
        assert!(d("1e999s").is_err());
        let negative = d("-1s").unwrap_err().to_string();
        assert!(
            negative.contains("durations cannot be negative"),
            "{negative}"
        );
        assert!(!negative.contains("unknown unit"), "{negative}");
    }
}
