//! The command under test: how a suite starts it, feeds it and reads it, always bounded.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A command and its arguments, as given after `--`.
#[derive(Debug, Clone)]
pub struct Program {
    /// The program to run.
    pub command: String,
    /// Its arguments; a suite may append one (the URL to connect to).
    pub args: Vec<String>,
}

/// What a command that ran to its end wrote.
#[derive(Debug)]
pub struct Finished {
    /// Its standard output, whole.
    pub stdout: Vec<u8>,
    /// The end of its standard error, for failure lines.
    pub stderr: String,
    /// Whether it exited with status 0.
    pub success: bool,
}

impl Program {
    /// A program from the words after `--`: the first is the command.
    ///
    /// # Errors
    ///
    /// No words: there is no command to run.
    pub fn from_words(words: &[String]) -> Result<Program, String> {
        let (command, args) = (words.split_first()).ok_or("a command to run is needed after --")?;
        Ok(Program {
            command: command.clone(),
            args: args.to_vec(),
        })
    }

    fn command(&self, extra: Option<&str>) -> Command {
        let mut command = Command::new(&self.command);
        command.args(&self.args).args(extra).kill_on_drop(true);
        command
    }

    /// Runs the command with `input` on its standard input (then closed) and waits for it to
    /// exit, for at most `timeout`; a command still running then is killed.
    pub async fn run_with_input(
        &self,
        input: &[u8],
        timeout: Duration,
    ) -> Result<Finished, String> {
        let mut child = self
            .command(None)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.command))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let input = input.to_vec();
        // Written beside the reading: a command may print before it has read everything.
        let writing = tokio::spawn(async move {
            // A command that exits without reading all of it is judged by its output.
            let _ = stdin.write_all(&input).await;
        });
        let output = tokio::time::timeout(timeout, child.wait_with_output()).await;
        writing.abort();
        let output = output
            .map_err(|_| format!("still running after {} ms: killed", timeout.as_millis()))?
            .map_err(|e| format!("waiting for {}: {e}", self.command))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        Ok(Finished {
            stdout: output.stdout,
            stderr: crate::check::excerpt(stderr.trim(), 300),
            success: output.status.success(),
        })
    }

    /// Starts the command with `url` as its last argument, stdin closed, stderr discarded;
    /// each line it prints on stdout arrives on the returned channel. The command is killed
    /// when the [`Running`] is dropped.
    pub fn start(&self, url: &str) -> Result<Running, String> {
        let mut child = self
            .command(Some(url))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.command))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        // Bounded: a command that prints without end is read no faster than it is judged.
        let (tx, lines) = mpsc::channel(256);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).await.is_err() {
                    break;
                }
            }
        });
        Ok(Running { child, lines })
    }
}

/// A command started by [`Program::start`].
#[derive(Debug)]
pub struct Running {
    /// The process, killed on drop.
    pub child: Child,
    /// Its standard output, a line at a time; closed when it closes its stdout.
    pub lines: mpsc::Receiver<String>,
}

impl Running {
    /// Every line printed so far, without waiting.
    pub fn lines_so_far(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            lines.push(line);
        }
        lines
    }

    /// Lines until `done` says the lines so far are enough, the output ends, or `timeout`.
    pub async fn lines_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[String]) -> bool,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&lines) {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => lines.push(line),
                Ok(None) | Err(_) => break,
            }
        }
        lines
    }
}
