//! Async test files written the way users write them: `use iris::*;`, and
//! `use iris::test;` beside it (see tests/leaks/imports.rs for why a bare `#[test]`
//! needs the second). Compiling at all is half the check (the attribute once emitted
//! a bare `#[test]`, which failed every test here); each test also runs in its own
//! Iris scope.

fn assert_in_a_test_scope() {
    let name = iris::get_thread_registry().name().to_owned();
    assert!(
        name.starts_with("test:async_tests::imports::") || name.starts_with("test:imports::"),
        "{name}"
    );
}

mod glob {
    use iris::*;

    #[iris_test]
    async fn an_async_iris_test_compiles_beside_a_glob_import() {
        super::assert_in_a_test_scope();
        tokio::task::yield_now().await;
    }

    #[iris::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_path_form_with_tokio_options() {
        super::assert_in_a_test_scope();
        assert_eq!(tokio::runtime::Handle::current().metrics().num_workers(), 2);
    }

    /// tokio's attribute above (tokio expands first and writes the standard test
    /// attribute by its full path).
    #[tokio::test]
    #[iris::test]
    async fn tokio_test_above() {
        super::assert_in_a_test_scope();
    }

    #[rstest::rstest]
    #[case(1)]
    #[case(2)]
    #[iris::test]
    async fn rstest_async_cases(#[case] n: u32) {
        assert!(n > 0);
        super::assert_in_a_test_scope();
    }
}

mod glob_and_test {
    use iris::test;
    use iris::*;

    #[test]
    async fn a_bare_async_test_is_an_iris_test() {
        super::assert_in_a_test_scope();
        let task = get_thread_registry().spawn_task("echo", |_stop| async { 7 });
        assert_eq!(task.join().await.unwrap(), 7);
    }

    #[test]
    fn a_bare_sync_test_beside_it() {
        super::assert_in_a_test_scope();
    }
}
