use iris::iris_test;

#[iris_test(linger = "1s", stop_timeout)]
fn needs_a_value() {}

fn main() {}
