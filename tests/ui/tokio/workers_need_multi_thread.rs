use iris::iris_test;

#[iris_test(worker_threads = 4)]
async fn workers_need_multi_thread() {}

fn main() {}
