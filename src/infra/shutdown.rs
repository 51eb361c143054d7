//! One shutdown signal for a server's background loops: `Shutdown::fire` once, and every
//! `Stop` handed out resolves `stopped()`. Dropping the `Shutdown` fires it too, so a loop
//! never outlives the server that started it.
use tokio::sync::watch;

pub struct Shutdown(watch::Sender<bool>);

#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (Shutdown, Stop) {
        let (tx, rx) = watch::channel(false);
        (Shutdown(tx), Stop(rx))
    }

    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Stop {
    /// Resolves once the signal has fired (or its `Shutdown` is gone).
    pub async fn stopped(&mut self) {
        let _ = self.0.wait_for(|fired| *fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_stop_sees_the_signal_and_a_dropped_shutdown() {
        let (shutdown, mut stop) = Shutdown::new();
        let mut other = stop.clone();
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), stop.stopped()).await;
        assert!(pending.is_err(), "nothing fired yet");
        shutdown.fire();
        stop.stopped().await;
        other.stopped().await;
        let (shutdown, mut stop) = Shutdown::new();
        drop(shutdown);
        stop.stopped().await;
    }
}
