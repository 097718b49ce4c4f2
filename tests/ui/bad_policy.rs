use iris::iris_test;

#[iris_test(leaks = "sometimes")]
fn t() {}

fn main() {}
