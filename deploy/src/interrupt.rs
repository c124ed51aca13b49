//! SIGINT, SIGTERM and SIGHUP stop a deploy alike: Ctrl-C, a CI job's cancel and `timeout`
//! all get the same orderly stop (the deploy future is dropped, the lock released, the
//! process exits non-zero naming the signal) instead of dying with the lock held.
//!
//! The handlers are installed before the lock is taken, so a signal that arrives while it
//! is being taken is not lost: it stops the deploy as soon as it starts.

/// The three signals, listened to from `install` on.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Install the handlers (inside a Tokio runtime): from here on these signals no longer
    /// kill the process, `recv` reports them.
    pub fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The name of the next signal received.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
                _ = self.hup.recv() => "SIGHUP",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
