use crate::expand::expand;

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
    assert!(out.contains(":: iris :: __run_stress (:: iris :: TestOptions :: new (concat ! (module_path ! () , \"::\" , stringify ! (works)))"), "{out}");
    assert!(
        out.contains(", :: iris :: __cargo_target ! () , | __iris_options : :: iris :: TestOptions | :: iris :: run_test (__iris_options , move || -> () { assert ! (true) ; })"),
        "{out}"
    );
}

/// Chaos takes a flag or a seed, written as a number or in a string.
#[test]
fn chaos_takes_a_flag_or_a_seed() {
    let out = expand_str("chaos = true", "fn t() {}").unwrap();
    assert!(out.contains(". chaos (true)"), "{out}");
    for written in ["chaos = 0x5eed", "chaos = \"0x5eed\"", "chaos = \"24301\""] {
        let out = expand_str(written, "fn t() {}").unwrap();
        assert!(
            out.contains(". chaos (:: iris :: Chaos :: Seed (24301u64))"),
            "{written}: {out}"
        );
    }
    for (written, says) in [
        ("chaos = 0", "0 is no seed"),
        ("chaos = \"0x0\"", "0 is no seed"),
        ("chaos = \"soon\"", "a seed is a whole number below 2^64"),
        ("chaos = 1.5", "`chaos` takes `true`, `false` or a seed"),
    ] {
        let error = expand_str(written, "fn t() {}").unwrap_err();
        assert!(error.contains(says), "{written}: {error}");
    }
}

/// A stress run repeats a body that can run again: not an rstest case's (its
/// values are moved into it), not a `should_panic` test's.
#[test]
fn only_a_body_that_can_run_again_goes_through_the_stress_loop() {
    for item in [
        "#[should_panic] fn t() { panic!() }",
        "#[rstest] fn t() {}",
        "#[rstest] #[case(1)] fn t(#[case] x: u32) {}",
    ] {
        let out = expand_str("", item).unwrap();
        assert!(!out.contains("__run_stress"), "{item}: {out}");
    }
    let out = expand_str(
        "stress = 200, timeout = \"5s\"",
        "fn t() -> Result<(), String> { Ok(()) }",
    )
    .unwrap();
    assert!(out.contains(". stress (200u32)"), "{out}");
    assert!(
        out.contains("| __iris_options : :: iris :: TestOptions | :: iris :: run_test_with_timeout (__iris_options ,"),
        "{out}"
    );
    let out = expand_str("stress = \"30s\"", "fn t() {}").unwrap();
    assert!(
        out.contains(". stress (:: std :: time :: Duration :: new (30u64 , 0u32))"),
        "{out}"
    );
    for (options, says) in [
        ("stress = 0", "`stress` must be at least 1 iteration"),
        (
            "stress = 99999999999",
            "`stress` takes at most 4294967295 iterations",
        ),
        (
            "stress = \"0s\"",
            "a stress run of no time would run nothing",
        ),
        (
            "stress = true",
            "`stress` takes a number of iterations or a duration in a string",
        ),
    ] {
        let error = expand_str(options, "fn t() {}").unwrap_err();
        assert!(error.contains(says), "{options}: {error}");
    }
}

/// ntest's `#[timeout]` below the attribute runs the body in a thread of its own:
/// it moves inside Iris's check, as if written above it, so that a timed-out test
/// still gets Iris's verdict on what it left running.
#[test]
fn a_timeout_attribute_below_moves_inside_the_check() {
    for attr in ["#[timeout(50)]", "#[ntest::timeout(50)]"] {
        let item = format!("#[should_panic] {attr} fn t() {{ hang(); }}");
        let out = expand_str("", &item).unwrap();
        let check = out.find(":: iris :: run_test").expect("the check");
        let moved = out.find("timeout (50)]").expect("the attribute is kept");
        assert!(moved > check, "inside the check: {out}");
        assert!(
            out.contains("fn __iris_test_body () -> () { hang () ; } __iris_test_body ()"),
            "{out}"
        );
        assert!(
            out.find("# [should_panic]").unwrap() < check,
            "other attributes stay on the test: {out}"
        );
    }
    let untouched = expand_str("", "#[my_timeout(50)] fn t() {}").unwrap();
    assert!(!untouched.contains("__iris_test_body"), "{untouched}");
    // rstest's own `#[timeout]` is rstest's to read, and a case's body uses its
    // parameters: left where it is.
    for item in [
        "#[rstest] #[timeout(Duration::from_millis(50))] fn t() {}",
        "#[timeout(50)] fn t(#[case] x: u32) { hang(x); }",
    ] {
        let out = expand_str("", item).unwrap();
        assert!(!out.contains("__iris_test_body"), "{item}: {out}");
    }
}

#[test]
fn options_become_builder_calls() {
    let out = expand_str(
        r#"stop_timeout = "250ms", linger = "1.5s", leaks = "warn", timeout = "2m""#,
        "fn t() {}",
    )
    .unwrap();
    assert!(
        out.contains(". stop_timeout (:: std :: time :: Duration :: new (0u64 , 250000000u32))"),
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
            "# [:: core :: prelude :: v1 :: test] # [ignore] fn t () { # ! [allow (dead_code)] :: iris :: __run_stress"
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
        out.contains("fn t () { # ! [allow (unused)] :: iris :: __run_stress")
            && out.contains("| :: iris :: run_async_test (__iris_options , async move"),
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
            "`ignore_threads` takes globs in a string",
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
        (
            "timeout = 5",
            "fn t() {}",
            "`timeout` takes a duration in a string",
        ),
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
        out.starts_with("# [:: core :: prelude :: v1 :: test] fn t () -> Result < () , String >"),
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
            && out
                .contains(", :: std :: time :: Duration :: new (1u64 , 0u32) , move || async move"),
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

/// Every row of the table is whole: its example parses (for the kind of function
/// it is for), and the attribute's documentation names it.
#[test]
fn every_option_of_the_table_has_a_working_example_and_its_doc() {
    // The user's documentation is on `iris`'s re-export (src/lib.rs).
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../src/lib.rs"))
        .expect("iris's src/lib.rs beside this crate");
    for opt in crate::options::OPTIONS {
        let item = if opt.async_only {
            "async fn t() {}"
        } else {
            "fn t() {}"
        };
        if opt.async_only && !cfg!(feature = "tokio") {
            continue;
        }
        let extra = if opt.name == "worker_threads" {
            ", flavor = \"multi_thread\""
        } else {
            ""
        };
        let expanded = expand_str(&format!("{}{extra}", opt.example), item);
        assert!(expanded.is_ok(), "{}: {expanded:?}", opt.name);
        assert!(
            docs.contains(&format!("`{}", opt.name)),
            "{} is documented",
            opt.name
        );
    }
}

/// Durations are `iris-text`'s, as the library's: one language, one message.
#[test]
fn durations_are_iris_texts() {
    let out = expand_str("linger = \"2h\", stop_timeout = \"10ns\"", "fn t() {}").unwrap();
    assert!(out.contains("Duration :: new (7200u64 , 0u32)"), "{out}");
    assert!(out.contains("Duration :: new (0u64 , 10u32)"), "{out}");
    let error = expand_str("linger = \"-1s\"", "fn t() {}").unwrap_err();
    assert_eq!(
        error,
        iris_text::parse_duration("-1s").unwrap_err().to_string()
    );
}
