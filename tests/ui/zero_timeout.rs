use iris::iris_test;

#[iris_test(timeout = "0s")]
fn t() {}

fn main() {}
