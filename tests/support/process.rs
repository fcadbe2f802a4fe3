//! A child `attrsync` process whose stderr a test can wait on.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Proc {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    out: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts the binary in `dir` with only `env` (plus PATH).
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(super::bin())
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("ATTRSYNC__ADS__FILE__PATH", super::sample_ads())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let out: Arc<Mutex<Vec<String>>> = Arc::default();
        let (l, stderr) = (lines.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        let (o, stdout) = (out.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                o.lock().unwrap().push(line);
            }
        });
        Self { child, lines, out }
    }

    /// Waits until a stderr line contains `needle`; panics with the log after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "timed out waiting for {needle:?}; stderr:\n{}",
            self.stderr()
        );
    }

    /// The address the daemon's server bound (`server.bind` with port 0 lets the OS choose a
    /// free one, which the daemon logs; no port is picked, released and raced for).
    pub fn bound_addr(&self, timeout: Duration) -> String {
        let needle = "serving /healthz";
        self.wait_for(needle, timeout);
        let lines = self.lines.lock().unwrap();
        let line = lines.iter().find(|l| l.contains(needle)).unwrap();
        // `bind=127.0.0.1:41234` (pretty) or `"bind":"127.0.0.1:41234"` (json).
        let at = line.find("bind").expect("the log line names the address") + 4;
        line[at..]
            .trim_start_matches(['=', '"', ':'])
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
            .next()
            .unwrap()
            .to_string()
    }

    /// How many stderr lines contain `needle` so far.
    pub fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub fn stderr(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for exit (killing after `timeout`) and returns the exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Give the reader threads a moment to drain.
                std::thread::sleep(Duration::from_millis(50));
                return s.code();
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "process did not exit in {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
