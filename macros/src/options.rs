//! The options of `#[iris_test(...)]`, as one table: each option's name, what its
//! value is, an example, whether it is for an `async fn`, and the `TestOptions`
//! builder method it sets. Parsing, "did you mean", duplicates, "needs a value",
//! wrong types and the builder calls all come from the table, so a new option is one
//! row (and, only if its value needs an expansion of its own, one match arm in
//! `expand.rs`). Durations are parsed by `iris-text`, the parser the library uses
//! for its environment variables: one language, one message.

use std::time::Duration;

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::spanned::Spanned;
use syn::LitStr;

/// What an option's value is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// A duration in a string, `"250ms"`; `zero` says why zero means nothing there.
    Duration { zero: Option<&'static str> },
    /// A duration, or `"off"`.
    DurationOrOff { zero: Option<&'static str> },
    /// `"fail"`, `"warn"` or `"ignore"`; the noun for messages (`leak`).
    Policy(&'static str),
    /// Globs, comma-separated, in a string.
    Globs,
    /// One of these words, in a string.
    Word(&'static [&'static str]),
    /// A whole number, at least 1.
    Count,
    /// A whole number of iterations (at least 1), or a duration in a string (not
    /// zero): a stress run.
    CountOrDuration,
    /// `true` or `false`.
    Flag,
    /// `true`, `false`, or a seed in a string (`"0x5eed"`, `"24301"`): chaos.
    FlagOrSeed,
    /// A path in a string (tokio's `crate`): accepted, and unused.
    Path,
}

/// One option of the attribute.
#[derive(Debug)]
pub(crate) struct Opt {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// How it is written, for "needs a value" and wrong types.
    pub(crate) example: &'static str,
    /// For an `async fn` only (the test's tokio runtime).
    pub(crate) async_only: bool,
    /// The `TestOptions` builder method its value goes to; `None` when the expansion
    /// itself uses it (`timeout` picks the runner, `flavor` the runtime).
    pub(crate) method: Option<&'static str>,
}

const ZERO_TIMEOUT: &str = "a zero `timeout` fails every run before its body can finish: leave \
     `timeout` out for no limit, or give the time the test may take, such as \"30s\"";
const ZERO_STRESS: &str =
    "a stress run of no time would run nothing: give a time such as \"30s\", \
     or a number of iterations such as 200";
const ZERO_BLOCKING: &str = "a zero `blocking` threshold would call every poll that waits in the \
     kernel blocking: write \"off\" to turn the check off, or a threshold such as \"100ms\"";

/// Every option, in the order the docs list them.
pub(crate) const OPTIONS: &[Opt] = &[
    Opt {
        name: "stop_timeout",
        kind: Kind::Duration { zero: None },
        example: "stop_timeout = \"2s\"",
        async_only: false,
        method: Some("stop_timeout"),
    },
    Opt {
        name: "linger",
        kind: Kind::Duration { zero: None },
        example: "linger = \"250ms\"",
        async_only: false,
        method: Some("linger"),
    },
    Opt {
        name: "leaks",
        kind: Kind::Policy("leak"),
        example: "leaks = \"warn\"",
        async_only: false,
        method: Some("leaks"),
    },
    Opt {
        name: "timeout",
        kind: Kind::Duration {
            zero: Some(ZERO_TIMEOUT),
        },
        example: "timeout = \"30s\"",
        async_only: false,
        method: None,
    },
    Opt {
        name: "ignore_threads",
        kind: Kind::Globs,
        example: "ignore_threads = \"rayon-*\"",
        async_only: false,
        method: Some("ignore_threads"),
    },
    Opt {
        name: "ignore_tasks",
        kind: Kind::Globs,
        example: "ignore_tasks = \"*/deadpool-*\"",
        async_only: false,
        method: Some("ignore_tasks"),
    },
    Opt {
        name: "thread_panics",
        kind: Kind::Policy("thread panic"),
        example: "thread_panics = \"warn\"",
        async_only: false,
        method: Some("thread_panics"),
    },
    Opt {
        name: "teardown",
        kind: Kind::Policy("teardown"),
        example: "teardown = \"fail\"",
        async_only: false,
        method: Some("teardown"),
    },
    Opt {
        name: "stress",
        kind: Kind::CountOrDuration,
        example: "stress = 200",
        async_only: false,
        method: Some("stress"),
    },
    Opt {
        name: "chaos",
        kind: Kind::FlagOrSeed,
        example: "chaos = true",
        async_only: false,
        method: Some("chaos"),
    },
    Opt {
        name: "flavor",
        kind: Kind::Word(&["current_thread", "multi_thread", "local"]),
        example: "flavor = \"multi_thread\"",
        async_only: true,
        method: None,
    },
    Opt {
        name: "worker_threads",
        kind: Kind::Count,
        example: "worker_threads = 2",
        async_only: true,
        method: Some("worker_threads"),
    },
    Opt {
        name: "start_paused",
        kind: Kind::Flag,
        example: "start_paused = true",
        async_only: true,
        method: None,
    },
    Opt {
        name: "crate",
        kind: Kind::Path,
        example: "crate = \"tokio\"",
        async_only: true,
        method: None,
    },
    Opt {
        name: "blocking",
        kind: Kind::DurationOrOff {
            zero: Some(ZERO_BLOCKING),
        },
        example: "blocking = \"100ms\"",
        async_only: true,
        method: Some("blocking"),
    },
    Opt {
        name: "task_panics",
        kind: Kind::Policy("task panic"),
        example: "task_panics = \"fail\"",
        async_only: true,
        method: Some("task_panics"),
    },
];

/// An option's value, parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Duration(Duration),
    Off,
    /// `Fail`, `Warn` or `Ignore`.
    Policy(&'static str),
    Text(String),
    Count(usize),
    Flag(bool),
    Seed(u64),
    Path,
}

/// The options written, in order, each with its value and where it was written.
#[derive(Debug, Default)]
pub(crate) struct Written(pub(crate) Vec<(&'static Opt, Value, Span)>);

impl Written {
    /// The value of option `name`, with its span.
    pub(crate) fn get(&self, name: &str) -> Option<(&Value, Span)> {
        self.0
            .iter()
            .find(|(opt, _, _)| opt.name == name)
            .map(|(_, value, span)| (value, *span))
    }

    /// Whether option `name` was written as the word `word`.
    pub(crate) fn is_word(&self, name: &str, word: &str) -> bool {
        matches!(self.get(name), Some((Value::Text(w), _)) if w == word)
    }

    /// The builder calls of the options that have a method, in order.
    pub(crate) fn builder_calls(&self) -> TokenStream2 {
        let mut calls = TokenStream2::new();
        for (opt, value, _) in &self.0 {
            let Some(method) = opt.method else { continue };
            let method = syn::Ident::new(method, Span::call_site());
            let argument = match (opt.kind, value) {
                (Kind::DurationOrOff { .. }, Value::Off) => quote!(::std::option::Option::None),
                (Kind::DurationOrOff { .. }, Value::Duration(d)) => {
                    let d = duration_tokens(*d);
                    quote!(::std::option::Option::Some(#d))
                }
                (Kind::CountOrDuration, Value::Count(n)) => {
                    let n = u32::try_from(*n).unwrap_or(u32::MAX);
                    quote!(#n)
                }
                (_, Value::Duration(d)) => duration_tokens(*d),
                (_, Value::Policy(variant)) => {
                    let variant = syn::Ident::new(variant, Span::call_site());
                    quote!(::iris::LeakPolicy::#variant)
                }
                (_, Value::Text(text)) => quote!(#text),
                (_, Value::Count(n)) => quote!(#n),
                (_, Value::Seed(seed)) => quote!(::iris::Chaos::Seed(#seed)),
                (_, Value::Flag(b)) => quote!(#b),
                (_, Value::Off | Value::Path) => continue,
            };
            calls.extend(quote!(.#method(#argument)));
        }
        calls
    }
}

/// `::std::time::Duration::new(secs, nanos)`.
pub(crate) fn duration_tokens(d: Duration) -> TokenStream2 {
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    quote!(::std::time::Duration::new(#secs, #nanos))
}

/// Every option's name, for "expected one of".
fn names() -> String {
    OPTIONS
        .iter()
        .map(|o| o.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses the attribute's arguments against [`OPTIONS`].
pub(crate) fn parse(attr: TokenStream2) -> syn::Result<Written> {
    let mut written = Written::default();
    if attr.is_empty() {
        return Ok(written);
    }
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .ok_or_else(|| meta.error(format!("expected an option name, one of: {}", names())))?;
        let Some(opt) = OPTIONS.iter().find(|o| o.name == key) else {
            let known = OPTIONS.iter().map(|o| o.name);
            return Err(meta.error(match iris_text::closest(&key, known) {
                Some(known) => format!("unknown option `{key}`; did you mean `{known}`?"),
                None => format!("unknown option `{key}`; expected one of: {}", names()),
            }));
        };
        if written.get(opt.name).is_some() {
            return Err(meta.error(format!("option `{key}` is given twice")));
        }
        if !meta.input.peek(syn::Token![=]) {
            return Err(meta.error(format!(
                "option `{key}` needs a value, such as `{}`",
                opt.example
            )));
        }
        let expr: syn::Expr = meta.value()?.parse()?;
        let value = value_of(opt, &expr)?;
        written.0.push((opt, value, expr.span()));
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(written)
}

/// The value of `opt` written as `expr`, or the error at it.
fn value_of(opt: &Opt, expr: &syn::Expr) -> syn::Result<Value> {
    let key = opt.name;
    let wrong = |what: &str| {
        syn::Error::new(
            expr.span(),
            format!("`{key}` takes {what}, such as `{}`", opt.example),
        )
    };
    let literal = match expr {
        syn::Expr::Lit(syn::ExprLit { lit, .. }) => lit,
        _ => return Err(wrong(expected(opt.kind))),
    };
    match (opt.kind, literal) {
        (Kind::Flag | Kind::FlagOrSeed, syn::Lit::Bool(b)) => Ok(Value::Flag(b.value)),
        (Kind::Count, syn::Lit::Int(n)) => match n.base10_parse::<usize>() {
            Ok(0) => Err(syn::Error::new(
                n.span(),
                format!("`{key}` must be at least 1"),
            )),
            Ok(n) => Ok(Value::Count(n)),
            Err(_) => Err(wrong(expected(opt.kind))),
        },
        (Kind::CountOrDuration, syn::Lit::Int(n)) => match n.base10_parse::<u32>() {
            Ok(0) => Err(syn::Error::new(
                n.span(),
                format!("`{key}` must be at least 1 iteration"),
            )),
            Ok(n) => Ok(Value::Count(n as usize)),
            Err(_) => Err(syn::Error::new(
                n.span(),
                format!("`{key}` takes at most {} iterations", u32::MAX),
            )),
        },
        (Kind::FlagOrSeed, syn::Lit::Int(n)) => match n.base10_parse::<u64>() {
            Ok(0) => Err(syn::Error::new(
                n.span(),
                "0 is no seed: write `chaos = true` for a fresh one, or another number",
            )),
            Ok(seed) => Ok(Value::Seed(seed)),
            Err(_) => Err(wrong(expected(opt.kind))),
        },
        (Kind::Flag | Kind::Count, _) => Err(wrong(expected(opt.kind))),
        (_, syn::Lit::Str(s)) => value_of_string(opt, s),
        _ => Err(wrong(expected(opt.kind))),
    }
}

/// What a kind of value is, in words.
fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Duration { .. } => "a duration in a string",
        Kind::DurationOrOff { .. } => "a duration or \"off\" in a string",
        Kind::Policy(_) => "\"fail\", \"warn\" or \"ignore\"",
        Kind::Globs => "globs in a string",
        Kind::Word(_) => "a word in a string",
        Kind::Count => "a whole number",
        Kind::CountOrDuration => "a number of iterations or a duration in a string",
        Kind::Flag => "`true` or `false`",
        Kind::FlagOrSeed => "`true`, `false` or a seed",
        Kind::Path => "a path in a string",
    }
}

fn value_of_string(opt: &Opt, literal: &LitStr) -> syn::Result<Value> {
    let text = literal.value();
    let error = |message: String| syn::Error::new(literal.span(), message);
    let duration = |zero: Option<&'static str>| {
        let d = iris_text::parse_duration(&text).map_err(|e| error(e.to_string()))?;
        match zero {
            Some(why) if d.is_zero() => Err(error(why.to_string())),
            _ => Ok(Value::Duration(d)),
        }
    };
    match opt.kind {
        Kind::Duration { zero } => duration(zero),
        Kind::DurationOrOff { .. } if text.trim().eq_ignore_ascii_case("off") => Ok(Value::Off),
        Kind::DurationOrOff { zero } => duration(zero),
        Kind::Policy(what) => match text.as_str() {
            "fail" => Ok(Value::Policy("Fail")),
            "warn" => Ok(Value::Policy("Warn")),
            "ignore" => Ok(Value::Policy("Ignore")),
            _ => Err(error(format!(
                "unknown {what} policy {text:?}; expected \"fail\", \"warn\" or \"ignore\""
            ))),
        },
        Kind::Globs => Ok(Value::Text(text)),
        Kind::Word(words) if words.contains(&text.as_str()) => Ok(Value::Text(text)),
        Kind::Word(words) => Err(error(format!(
            "unknown {} {text:?}; expected {}",
            opt.name,
            words
                .iter()
                .map(|w| format!("{w:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Kind::Path => Ok(Value::Path),
        Kind::CountOrDuration => duration(Some(ZERO_STRESS)),
        Kind::FlagOrSeed => {
            let seed = match text.trim().strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.trim().parse::<u64>(),
            };
            match seed {
                Ok(0) => Err(error(
                    "0 is no seed: write `chaos = true` for a fresh one, or another number"
                        .to_string(),
                )),
                Ok(seed) => Ok(Value::Seed(seed)),
                Err(_) => Err(error(format!(
                    "a seed is a whole number below 2^64, decimal or 0x hex, such as \"0x5eed\"; not {text:?}"
                ))),
            }
        }
        Kind::Count | Kind::Flag => unreachable!("not a string"),
    }
}
