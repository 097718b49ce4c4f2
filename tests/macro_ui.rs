//! Compile-fail tests of `#[iris_test]`: every mistake is an error pointing at the
//! offending token. Regenerate the expected output with `TRYBUILD=overwrite`.

#[test]
fn attribute_mistakes_are_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
