use iris::iris_test;

#[iris_test]
struct NotATest;

fn main() {}
