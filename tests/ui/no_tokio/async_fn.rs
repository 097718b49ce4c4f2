use iris::iris_test;

#[iris_test]
async fn t() {}

fn main() {}
