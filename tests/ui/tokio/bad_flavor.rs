use iris::iris_test;

#[iris_test(flavor = "threaded")]
async fn bad_flavor() {}

fn main() {}
