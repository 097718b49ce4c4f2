//! The flake corpus: planted concurrency bugs of the shapes users meet, each with
//! its fixed twin, for `scripts/flake-corpus.py` to run under plain stress runs and
//! under schedule chaos (docs/benchmarks.md, "Flakes found"). Not part of the
//! timed suite (`test = false`): every `bug_*` passes a single plain run almost
//! always and fails sometimes, which is the point of it.
//!
//! Each bug is written as it is found in the wild, with the assumption it makes in
//! a comment; its twin makes the same test deterministic with a wait on the event.

mod real;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use iris::iris_test;

const PATIENCE: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// 1. A sleep used as synchronization: "the worker has surely started by now".
#[iris_test]
fn bug_sleep_as_sync() {
    let started = Arc::new(AtomicBool::new(false));
    let flag = started.clone();
    let worker = thread::spawn(move || flag.store(true, Ordering::SeqCst));
    thread::sleep(ms(20));
    let seen = started.load(Ordering::SeqCst);
    worker.join().unwrap();
    assert!(seen, "the worker had not started");
}

#[iris_test]
fn fixed_sleep_as_sync() {
    let (started, seen) = mpsc::channel();
    let worker = thread::spawn(move || started.send(()).unwrap());
    seen.recv_timeout(PATIENCE).unwrap();
    worker.join().unwrap();
}

// 2. An atomicity violation across two lock scopes: read under one, write under
// another, with work between; "the second worker starts after the first is done".
fn add_one_in_two_scopes(counter: &Mutex<u32>) {
    let seen = *counter.lock().unwrap();
    thread::sleep(Duration::from_micros(500)); // the work between
    *counter.lock().unwrap() = seen + 1;
}

#[iris_test]
fn bug_two_lock_scopes() {
    let counter = Arc::new(Mutex::new(0));
    let first = counter.clone();
    let a = thread::spawn(move || add_one_in_two_scopes(&first));
    thread::sleep(ms(10));
    let second = counter.clone();
    let b = thread::spawn(move || add_one_in_two_scopes(&second));
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(*counter.lock().unwrap(), 2, "an update was lost");
}

#[iris_test]
fn fixed_two_lock_scopes() {
    let counter = Arc::new(Mutex::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn(move || {
                let mut value = counter.lock().unwrap();
                thread::sleep(Duration::from_micros(500));
                *value += 1;
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(*counter.lock().unwrap(), 2);
}

// 3. A lost notification: notified before the waiter waits, with no flag to check;
// "the worker takes longer to start than we take to wait".
#[iris_test]
fn bug_lost_notification() {
    let pair = Arc::new((Mutex::new(()), Condvar::new()));
    let theirs = pair.clone();
    let worker = thread::spawn(move || {
        let _held = theirs.0.lock().unwrap();
        theirs.1.notify_one();
    });
    let guard = pair.0.lock().unwrap();
    let (_guard, result) = pair.1.wait_timeout(guard, ms(200)).unwrap();
    worker.join().unwrap();
    assert!(!result.timed_out(), "the notification was lost");
}

#[iris_test]
fn fixed_lost_notification() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let theirs = pair.clone();
    let worker = thread::spawn(move || {
        *theirs.0.lock().unwrap() = true;
        theirs.1.notify_one();
    });
    let guard = pair.0.lock().unwrap();
    let (guard, _) = pair
        .1
        .wait_timeout_while(guard, PATIENCE, |done| !*done)
        .unwrap();
    assert!(*guard);
    drop(guard);
    worker.join().unwrap();
}

// 4. A condvar wait without its predicate loop: woken by the worker's first
// notification ("started"), not the one it waits for ("ready").
#[iris_test]
fn bug_wait_without_predicate() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let theirs = pair.clone();
    let worker = thread::spawn(move || {
        theirs.1.notify_all(); // "started": nobody waits yet, surely
        thread::sleep(ms(30));
        *theirs.0.lock().unwrap() = true;
        theirs.1.notify_all();
    });
    thread::sleep(ms(10)); // set-up before waiting
    let guard = pair.0.lock().unwrap();
    let guard = pair.1.wait_timeout(guard, PATIENCE).unwrap().0;
    let ready = *guard;
    drop(guard);
    worker.join().unwrap();
    assert!(ready, "woken by the wrong notification");
}

#[iris_test]
fn fixed_wait_without_predicate() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let theirs = pair.clone();
    let worker = thread::spawn(move || {
        theirs.1.notify_all();
        thread::sleep(ms(30));
        *theirs.0.lock().unwrap() = true;
        theirs.1.notify_all();
    });
    let guard = pair.0.lock().unwrap();
    let guard = pair
        .1
        .wait_timeout_while(guard, PATIENCE, |ready| !*ready)
        .unwrap()
        .0;
    assert!(*guard);
    drop(guard);
    worker.join().unwrap();
}

// 5. An assumption that a spawned thread has finished (never joined).
#[iris_test]
fn bug_assumes_finished() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let theirs = log.clone();
    let worker = thread::spawn(move || theirs.lock().unwrap().push("done"));
    thread::sleep(ms(20));
    let done = log.lock().unwrap().len();
    worker.join().unwrap();
    assert_eq!(done, 1, "the worker had not finished");
}

#[iris_test]
fn fixed_assumes_finished() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let theirs = log.clone();
    thread::spawn(move || theirs.lock().unwrap().push("done"))
        .join()
        .unwrap();
    assert_eq!(log.lock().unwrap().len(), 1);
}

// 6. A channel treated as drained when it is momentarily empty.
#[iris_test]
fn bug_channel_drained() {
    let (send, receive) = mpsc::channel();
    let producer = thread::spawn(move || {
        for i in 0..3 {
            send.send(i).unwrap();
            thread::sleep(Duration::from_micros(300));
        }
    });
    thread::sleep(ms(20));
    let got: Vec<i32> = receive.try_iter().collect();
    producer.join().unwrap();
    assert_eq!(got.len(), 3, "read before the producer was done: {got:?}");
}

#[iris_test]
fn fixed_channel_drained() {
    let (send, receive) = mpsc::channel();
    let producer = thread::spawn(move || {
        for i in 0..3 {
            send.send(i).unwrap();
            thread::sleep(Duration::from_micros(300));
        }
    });
    let got: Vec<i32> = receive.iter().collect();
    producer.join().unwrap();
    assert_eq!(got.len(), 3);
}

// 7. A `Drop` that stops a worker without joining it: the test reads what the
// worker writes on its way out, "surely written by now".
struct Worker {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
    joins: bool,
}

impl Worker {
    fn start(log: Arc<Mutex<Vec<&'static str>>>, joins: bool) -> Worker {
        let stop = Arc::new(AtomicBool::new(false));
        let theirs = stop.clone();
        let handle = thread::spawn(move || {
            while !theirs.load(Ordering::SeqCst) {
                thread::sleep(ms(1));
            }
            log.lock().unwrap().push("flushed");
        });
        Worker {
            stop,
            handle: Some(handle),
            joins,
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let handle = self.handle.take().unwrap();
        if self.joins {
            handle.join().unwrap();
        }
    }
}

#[iris_test]
fn bug_drop_without_join() {
    let log = Arc::new(Mutex::new(Vec::new()));
    drop(Worker::start(log.clone(), false));
    thread::sleep(ms(20));
    assert_eq!(
        *log.lock().unwrap(),
        ["flushed"],
        "read before the worker flushed"
    );
}

#[iris_test]
fn fixed_drop_without_join() {
    let log = Arc::new(Mutex::new(Vec::new()));
    drop(Worker::start(log.clone(), true));
    assert_eq!(*log.lock().unwrap(), ["flushed"]);
}

// 8. A deadline too tight under load.
#[iris_test]
fn bug_deadline_too_tight() {
    let (send, receive) = mpsc::channel();
    let worker = thread::spawn(move || {
        thread::sleep(ms(5)); // the work
        let _ = send.send(42);
    });
    let answer = receive.recv_timeout(ms(30));
    worker.join().unwrap();
    assert_eq!(answer, Ok(42), "no answer within 30 ms");
}

#[iris_test]
fn fixed_deadline_too_tight() {
    let (send, receive) = mpsc::channel();
    let worker = thread::spawn(move || {
        thread::sleep(ms(5));
        let _ = send.send(42);
    });
    assert_eq!(receive.recv_timeout(PATIENCE), Ok(42));
    worker.join().unwrap();
}

// 9. Tasks assumed to run in spawn order (blocking tasks on tokio's pool).
#[iris_test]
async fn bug_spawn_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = order.clone();
    let a = tokio::task::spawn_blocking(move || first.lock().unwrap().push(1));
    let second = order.clone();
    let b = tokio::task::spawn_blocking(move || second.lock().unwrap().push(2));
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(*order.lock().unwrap(), [1, 2], "ran out of spawn order");
}

#[iris_test]
async fn fixed_spawn_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = order.clone();
    tokio::task::spawn_blocking(move || first.lock().unwrap().push(1))
        .await
        .unwrap();
    let second = order.clone();
    tokio::task::spawn_blocking(move || second.lock().unwrap().push(2))
        .await
        .unwrap();
    assert_eq!(*order.lock().unwrap(), [1, 2]);
}

// 10. A test that passes only with one worker: jobs assumed to finish in the order
// they were queued.
fn run_jobs(workers: usize) -> Vec<u32> {
    let queue = Arc::new(Mutex::new(VecDeque::from([1, 2])));
    let done = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (queue, done) = (queue.clone(), done.clone());
            thread::spawn(move || loop {
                let Some(job) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                thread::sleep(ms(2)); // the job
                done.lock().unwrap().push(job);
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let done = done.lock().unwrap().clone();
    done
}

#[iris_test]
fn bug_one_worker() {
    assert_eq!(run_jobs(2), [1, 2], "jobs finished out of order");
}

#[iris_test]
fn fixed_one_worker() {
    let mut done = run_jobs(2);
    done.sort_unstable();
    assert_eq!(done, [1, 2]);
}

// 11. Two tests sharing a static: the pair's second overwrites it while the first
// still reads it ("it runs long after we are done").
static SHARED: AtomicU32 = AtomicU32::new(0);

#[iris_test]
fn bug_shared_static_first() {
    SHARED.store(1, Ordering::SeqCst);
    thread::sleep(ms(10));
    assert_eq!(SHARED.load(Ordering::SeqCst), 1, "a neighbour changed it");
}

#[iris_test]
fn bug_shared_static_second() {
    thread::sleep(ms(30));
    SHARED.store(2, Ordering::SeqCst);
}

static OWN_FIRST: AtomicU32 = AtomicU32::new(0);

#[iris_test]
fn fixed_shared_static_first() {
    OWN_FIRST.store(1, Ordering::SeqCst);
    thread::sleep(ms(10));
    assert_eq!(OWN_FIRST.load(Ordering::SeqCst), 1);
}

#[iris_test]
fn fixed_shared_static_second() {
    thread::sleep(ms(30));
    SHARED.store(2, Ordering::SeqCst);
}

// 12. A shutdown racing an in-flight request: the server checks its stop flag
// before the request it was already sent.
fn serve(
    requests: mpsc::Receiver<mpsc::Sender<&'static str>>,
    stop: Arc<AtomicBool>,
    drains: bool,
) {
    loop {
        if stop.load(Ordering::SeqCst) && !drains {
            return;
        }
        match requests.recv_timeout(ms(1)) {
            Ok(reply) => {
                let _ = reply.send("served");
            }
            Err(mpsc::RecvTimeoutError::Timeout) if stop.load(Ordering::SeqCst) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn request_then_shut_down(drains: bool) -> Result<&'static str, mpsc::RecvTimeoutError> {
    let (requests, incoming) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let theirs = stop.clone();
    let server = thread::spawn(move || serve(incoming, theirs, drains));
    let (reply, answer) = mpsc::channel();
    requests.send(reply).unwrap();
    thread::sleep(ms(5)); // "it has picked the request up by now"
    stop.store(true, Ordering::SeqCst);
    let answer = answer.recv_timeout(ms(200));
    server.join().unwrap();
    answer
}

#[iris_test]
fn bug_shutdown_race() {
    assert_eq!(
        request_then_shut_down(false),
        Ok("served"),
        "the in-flight request was dropped"
    );
}

#[iris_test]
fn fixed_shutdown_race() {
    assert_eq!(request_then_shut_down(true), Ok("served"));
}

/// Nothing: what an iteration costs, with and without chaos.
#[iris_test]
fn empty() {}
