use iris::iris_test;

#[iris_test(stop_timout = "1s")]
fn misspelt() {}

fn main() {}
