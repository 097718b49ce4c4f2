use iris::ThreadContainer;

use crate::log_capture::capture_logs;
use crate::PATIENCE;

#[test]
fn background_logs_reach_the_spawners_subscriber_inside_a_named_span() {
    let (logs, _guard) = capture_logs();

    let app = ThreadContainer::new("test:logging");
    let child = app.create_child("io");
    child
        .spawn("reader", |_stop| tracing::info!("read 3 records"))
        .join()
        .unwrap();
    app.spawn("doomed", |_stop| panic!("disk on fire"));
    assert!(app.wait_timeout(PATIENCE));
    let _ = app.stop(PATIENCE);

    let text = logs.text();
    assert!(
        text.contains("iris_thread{thread=reader container=test:logging/io}")
            && text.contains("read 3 records"),
        "{text}"
    );
    assert!(
        text.contains("managed thread panicked") && text.contains("disk on fire"),
        "{text}"
    );
}
