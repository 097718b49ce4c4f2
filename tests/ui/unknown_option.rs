use iris::iris_test;

#[iris_test(colour = "red")]
fn t() {}

fn main() {}
