//! The thread every document analysis runs on, one at a time.
//!
//! Why one thread and not tokio's blocking pool: an analysis of a large file allocates and
//! frees tens of thousands of small values. On the pool, consecutive analyses landed on
//! different threads, so on different malloc arenas whose memory was cold: a keystroke's
//! analysis took half as long again as the same analysis run in a loop, and the server's
//! memory doubled. One thread keeps reusing the memory the previous analysis freed.
//!
//! The snapshots a new analysis displaces are freed on a second thread: freeing a large
//! analysis takes a sixth of the time of making it, and the next keystroke's analysis must
//! not queue behind it. (Memory freed there goes back to the analysis thread's arena.)

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug)]
pub struct Analyzer {
    analysis: Worker,
    reclaim: Worker,
}

impl Analyzer {
    pub fn start() -> Self {
        Analyzer { analysis: Worker::start("analysis"), reclaim: Worker::start("reclaim") }
    }

    /// Queues `f` on the analysis thread now; the future yields its result, `None` if it panicked.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> impl Future<Output = Option<T>> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.analysis.submit(move || {
            let _ = done.send(f());
        });
        async move { result.await.ok() }
    }

    /// Frees `value` on the reclaim thread, without waiting.
    pub fn drop_later<T: Send + 'static>(&self, value: T) {
        self.reclaim.submit(move || drop(value));
    }
}

/// A named thread running jobs in the order they were submitted.
#[derive(Debug)]
struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    fn start(name: &str) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = name.to_string();
        std::thread::Builder::new()
            .name(thread.clone())
            .spawn(move || {
                for job in queue {
                    // A panic fails this job (an analysis's caller sees `None`), not the thread.
                    if catch_unwind(AssertUnwindSafe(job)).is_err() {
                        eprintln!("nanokit-lsp: internal error: a job on the {thread} thread panicked");
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the {name} thread: {e}"));
        Worker { jobs }
    }

    fn submit(&self, job: impl FnOnce() + Send + 'static) {
        // The thread only ends when the process does; then there is nothing left to do.
        let _ = self.jobs.send(Box::new(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_goes_on() {
        let analyzer = Analyzer::start();
        assert_eq!(analyzer.run(|| 1 + 1).await, Some(2));
        let panicked: Option<()> = analyzer.run(|| panic!("a bug in one analysis")).await;
        assert_eq!(panicked, None);
        assert_eq!(analyzer.run(|| "still here").await, Some("still here"));
    }

    #[tokio::test]
    async fn jobs_run_in_the_order_they_were_queued() {
        let analyzer = Analyzer::start();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        // All twenty are queued before the first is awaited.
        let pending: Vec<_> = (0..20)
            .map(|i| {
                let order = order.clone();
                analyzer.run(move || order.lock().unwrap().push(i))
            })
            .collect();
        for job in pending {
            job.await;
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }
}
