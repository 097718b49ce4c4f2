use iris::iris_test;

#[iris_test(stop_timeout = 5)]
fn t() {}

fn main() {}
