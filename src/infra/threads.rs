//! A few long-lived threads for CPU-heavy jobs that allocate a lot (photo decodes).
//!
//! A photo decode allocates tens of megabytes and frees them at once. On tokio's blocking
//! pool it would run on whichever thread is idle (a pool of up to hundreds, created and
//! retired as load comes and goes), and the allocator keeps freed memory with the thread
//! that freed it for a while: every thread a decode has visited holds its share, and peak
//! RSS grows with the threads rather than with the decodes in flight. On a few threads of
//! their own, each job reuses what the previous one on its thread freed.
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue.
pub struct Threads {
    queue: mpsc::Sender<Job>,
}

impl Threads {
    /// Starts `threads` threads named `name`.
    pub fn start(name: &str, threads: usize) -> std::io::Result<Threads> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for _ in 0..threads.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new().name(name.into()).spawn(move || loop {
                // The lock is held only while waiting for the next job, not while running it.
                let job = match jobs.lock() {
                    Ok(jobs) => jobs.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })?;
        }
        Ok(Threads { queue })
    }

    /// Run `work` on one of the threads and wait for its answer; None if it panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = answer.send(result.ok());
        });
        self.queue.send(job).ok()?;
        answered.await.ok().flatten()
    }
}
