use iris::iris_test;

#[iris_test]
#[tokio::test]
async fn tokio_test_below() {}

fn main() {}
