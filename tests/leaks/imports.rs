//! Test files written the way users write them: `use iris::*;` (the contract says it
//! brings everything in) and `use iris::test;` (the idiom test-log users know). With
//! `use iris::test;` a bare `#[test]` is Iris's attribute; with the glob alone, Rust
//! calls a bare `#[test]` ambiguous (E0659: a glob import against the standard
//! prelude), so a glob file that wants bare `#[test]`s (rstest's cases are bare
//! `#[test]`s too) imports `iris::test` by name as well. These modules compiling at
//! all is half the check: the attribute once emitted a bare `#[test]` itself, which
//! failed every test in such a file ("recursion limit reached while expanding
//! #[test]"). The other half: each test runs in exactly one Iris scope, named after it.

/// The registry the body sees is the test's own, named `test:` + its path (without
/// the crate's name, as libtest names it).
fn assert_in_its_own_scope(path: &str) {
    let name = iris::get_thread_registry().name().to_owned();
    let (_crate, path) = path.split_once("::").expect("a module path");
    assert_eq!(name, format!("test:{path}"));
}

mod glob {
    use iris::*;

    #[iris_test]
    fn iris_test_compiles_beside_a_glob_import() {
        super::assert_in_its_own_scope(concat!(
            module_path!(),
            "::iris_test_compiles_beside_a_glob_import"
        ));
    }

    #[iris::test(linger = "10ms")]
    fn the_path_form_with_options_compiles() {
        super::assert_in_its_own_scope(concat!(
            module_path!(),
            "::the_path_form_with_options_compiles"
        ));
    }

    #[iris_test]
    #[should_panic(expected = "the body's own panic")]
    fn should_panic_still_matches() {
        panic!("the body's own panic");
    }

    /// rstest sees a test attribute (`iris::test`) and writes no bare `#[test]` of
    /// its own, which would be ambiguous here.
    #[rstest::rstest]
    #[case(1)]
    #[case(2)]
    #[iris::test]
    fn rstest_cases_with_iris_test_below(#[case] n: u32) {
        assert!(n > 0);
        assert!(get_thread_registry().name().starts_with("test:"));
    }

    /// `#[iris_test]` rewrites the bare `#[test]` rstest writes below it before the
    /// compiler resolves it.
    #[rstest::rstest]
    #[case(1)]
    #[iris_test]
    fn rstest_cases_with_iris_test_attribute(#[case] n: u32) {
        assert_eq!(n, 1);
        assert!(get_thread_registry().name().starts_with("test:"));
    }
}

/// The glob and the attribute by name: every bare `#[test]` is Iris's.
mod glob_and_test {
    use iris::test;
    use iris::*;

    #[iris::test(linger = "10ms")]
    fn the_path_form_with_options_compiles() {
        super::assert_in_its_own_scope(concat!(
            module_path!(),
            "::the_path_form_with_options_compiles"
        ));
    }

    /// `#[test]` (Iris's, bare) above `#[iris_test(..)]`: wrapped once, with the options.
    #[test]
    #[iris_test(stop_timeout = "1s")]
    fn two_iris_attributes_wrap_once() {
        super::assert_in_its_own_scope(concat!(module_path!(), "::two_iris_attributes_wrap_once"));
    }

    #[test]
    #[should_panic(expected = "the body's own panic")]
    fn should_panic_still_matches() {
        panic!("the body's own panic");
    }

    #[test]
    fn a_result_return_works() -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn a_bare_test_is_an_iris_test() {
        super::assert_in_its_own_scope(concat!(module_path!(), "::a_bare_test_is_an_iris_test"));
    }

    /// rstest's cases live in a module that imports this one's names with a glob,
    /// where a bare `#[test]` (rstest's own, or one written here and copied onto each
    /// case) is ambiguous: the attribute by its path below `#[rstest]` is not.
    #[rstest::rstest]
    #[case(1)]
    #[case(2)]
    #[iris::test]
    fn rstest_cases_compile(#[case] n: u32) {
        assert!(n > 0);
        assert!(get_thread_registry().name().starts_with("test:"));
    }

    #[rstest::rstest]
    #[case(1)]
    #[iris_test]
    fn rstest_cases_with_iris_test_below(#[case] n: u32) {
        assert_eq!(n, 1);
        assert!(get_thread_registry().name().starts_with("test:"));
    }
}

mod test_alias {
    use iris::test;

    #[test]
    fn a_plain_test_is_an_iris_test() {
        super::assert_in_its_own_scope(concat!(module_path!(), "::a_plain_test_is_an_iris_test"));
    }

    #[test]
    #[ignore = "compiled, never run: an ignored Iris test still compiles"]
    fn an_ignored_one_compiles() {}
}
