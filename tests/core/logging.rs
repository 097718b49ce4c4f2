use std::io::Write;
use std::sync::Arc;

use iris::ThreadContainer;
use parking_lot::Mutex;

use crate::PATIENCE;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn background_logs_reach_the_spawners_subscriber_inside_a_named_span() {
    let buffer = Buffer::default();
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = ThreadContainer::new("test:logging");
    let child = app.create_child("io");
    child
        .spawn("reader", |_stop| tracing::info!("read 3 records"))
        .join()
        .unwrap();
    app.spawn("doomed", |_stop| panic!("disk on fire"));
    assert!(app.wait_timeout(PATIENCE));
    let _ = app.stop(PATIENCE);

    let text = String::from_utf8(buffer.0.lock().clone()).unwrap();
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
