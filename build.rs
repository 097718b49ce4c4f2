//! One name for "thread tracking is compiled in": `cfg(iris_tracking)`.
//!
//! The `thread-tracking` feature works only on Linux with glibc, and not under Miri
//! (which would call the interposed `pthread_create`); everywhere else it compiles
//! to nothing. Spelling that condition out at each of its forty uses is how one of
//! them ends up missing a part.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(iris_tracking)");
    let on = |name: &str| std::env::var_os(name).is_some();
    let is = |name: &str, value: &str| std::env::var(name).is_ok_and(|v| v == value);
    if on("CARGO_FEATURE_THREAD_TRACKING")
        && is("CARGO_CFG_TARGET_OS", "linux")
        && is("CARGO_CFG_TARGET_ENV", "gnu")
        && !on("CARGO_CFG_MIRI")
    {
        println!("cargo::rustc-cfg=iris_tracking");
    }
}
