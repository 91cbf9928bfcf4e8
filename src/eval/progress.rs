//! A progress line on stderr (count, rate, ETA), drawn only when stderr is a
//! terminal and at most ten times a second; a no-op otherwise.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_millis(100);
const BAR: usize = 24;

struct State {
    label: String,
    total: Option<u64>,
    done: u64,
    start: Instant,
    drawn: Option<Instant>,
}

/// Progress of a long loop. Shareable across threads (`&self` methods).
pub struct Progress {
    state: Option<Mutex<State>>,
}

impl Progress {
    /// A bar labelled `label` counting to `total` (None: unknown), shown only when
    /// stderr is a terminal.
    pub fn new(label: &str, total: Option<u64>) -> Self {
        if std::io::stderr().is_terminal() {
            Self::forced(label, total)
        } else {
            Self::hidden()
        }
    }

    /// A bar that draws nothing.
    pub fn hidden() -> Self {
        Self { state: None }
    }

    fn forced(label: &str, total: Option<u64>) -> Self {
        let state = State {
            label: label.to_string(),
            total,
            done: 0,
            start: Instant::now(),
            drawn: None,
        };
        Self {
            state: Some(Mutex::new(state)),
        }
    }

    /// Counts `n` more items done; redraws when the last draw is 100 ms old.
    pub fn inc(&self, n: u64) {
        let Some(m) = &self.state else { return };
        let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
        st.done += n;
        let now = Instant::now();
        if st.drawn.is_none_or(|d| now.duration_since(d) >= EVERY) {
            st.drawn = Some(now);
            let line = st.line(now);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    }

    /// Clears the line. Also done on drop.
    pub fn finish(&self) {
        let Some(m) = &self.state else { return };
        let mut st = m.lock().unwrap_or_else(|e| e.into_inner());
        if st.drawn.take().is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl State {
    fn line(&self, now: Instant) -> String {
        let secs = now.duration_since(self.start).as_secs_f64();
        let rate = if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        };
        let Some(total) = self.total.filter(|t| *t > 0) else {
            return format!("{} {} ({rate:.0}/s)", self.label, self.done);
        };
        let frac = (self.done as f64 / total as f64).min(1.0);
        let filled = (frac * BAR as f64).round() as usize;
        let eta = if rate > 0.0 {
            clock(total.saturating_sub(self.done) as f64 / rate)
        } else {
            "?".into()
        };
        format!(
            "{} [{}{}] {}/{total} {:.0}% {rate:.0}/s ETA {eta}",
            self.label,
            "#".repeat(filled),
            "-".repeat(BAR - filled),
            self.done,
            frac * 100.0
        )
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_count_rate_eta() {
        let p = Progress::forced("eval", Some(100));
        let m = p.state.as_ref().unwrap();
        let mut st = m.lock().unwrap();
        st.done = 25;
        let at = st.start + Duration::from_secs(5);
        assert_eq!(
            st.line(at),
            format!("eval [######{}] 25/100 25% 5/s ETA 0:15", "-".repeat(18))
        );
        st.total = None;
        assert_eq!(st.line(at), "eval 25 (5/s)");
        assert_eq!(clock(3725.0), "1:02:05");
    }

    #[test]
    fn hidden_is_a_no_op() {
        let p = Progress::hidden();
        p.inc(5);
        p.finish();
    }
}
