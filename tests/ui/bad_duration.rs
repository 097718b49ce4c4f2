use iris::iris_test;

#[iris_test(timeout = "5 parsecs")]
fn t() {}

fn main() {}
