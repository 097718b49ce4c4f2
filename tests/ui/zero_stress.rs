use iris::iris_test;

#[iris_test(stress = 0)]
fn no_iterations() {}

#[iris_test(stress = "0s")]
fn no_time() {}

#[iris_test(chaos = "soon")]
fn no_seed() {}

fn main() {}
