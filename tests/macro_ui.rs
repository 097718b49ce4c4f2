//! Compile-fail tests of `#[iris_test]`: every mistake is an error pointing at the
//! offending token. Regenerate the expected output with `TRYBUILD=overwrite`.
//! Cases about `async fn` depend on iris's `tokio` feature, so they are in a folder
//! per build.

#[test]
fn attribute_mistakes_are_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    if cfg!(feature = "tokio") {
        cases.compile_fail("tests/ui/tokio/*.rs");
    } else {
        cases.compile_fail("tests/ui/no_tokio/*.rs");
    }
}
