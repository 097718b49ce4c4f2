//! 1,000 trivial tests twice: plain `#[test]`s and `#[iris_test]`s, to measure what
//! the attribute costs a whole suite under `cargo test` and under nextest. Not run by
//! `cargo test` (`test = false` in Cargo.toml); the benchmark report runs it:
//! `cargo run --release --example bench_report`.

/// Ten trivial tests with the given attribute, in each of the named modules.
macro_rules! ten_tests_in {
    ($attr:path; $($module:ident)*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use iris::iris_test;
                #[$attr] fn t0() {}
                #[$attr] fn t1() {}
                #[$attr] fn t2() {}
                #[$attr] fn t3() {}
                #[$attr] fn t4() {}
                #[$attr] fn t5() {}
                #[$attr] fn t6() {}
                #[$attr] fn t7() {}
                #[$attr] fn t8() {}
                #[$attr] fn t9() {}
            }
        )*
    };
}

mod plain {
    ten_tests_in!(test; m0 m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 m11 m12 m13 m14 m15 m16 m17 m18 m19 m20 m21 m22 m23 m24 m25 m26 m27 m28 m29 m30 m31 m32 m33 m34 m35 m36 m37 m38 m39 m40 m41 m42 m43 m44 m45 m46 m47 m48 m49 m50 m51 m52 m53 m54 m55 m56 m57 m58 m59 m60 m61 m62 m63 m64 m65 m66 m67 m68 m69 m70 m71 m72 m73 m74 m75 m76 m77 m78 m79 m80 m81 m82 m83 m84 m85 m86 m87 m88 m89 m90 m91 m92 m93 m94 m95 m96 m97 m98 m99);
}

mod with_iris {
    ten_tests_in!(iris_test; m0 m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 m11 m12 m13 m14 m15 m16 m17 m18 m19 m20 m21 m22 m23 m24 m25 m26 m27 m28 m29 m30 m31 m32 m33 m34 m35 m36 m37 m38 m39 m40 m41 m42 m43 m44 m45 m46 m47 m48 m49 m50 m51 m52 m53 m54 m55 m56 m57 m58 m59 m60 m61 m62 m63 m64 m65 m66 m67 m68 m69 m70 m71 m72 m73 m74 m75 m76 m77 m78 m79 m80 m81 m82 m83 m84 m85 m86 m87 m88 m89 m90 m91 m92 m93 m94 m95 m96 m97 m98 m99);
}
