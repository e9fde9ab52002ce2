//! Shared helpers of the file and object-storage tests: a moto S3 server started by the test on
//! a free loopback port (killed on drop), and feeding batches into a sink.
//!
//! Included with `#[path = "file_support.rs"] mod file_support;`.

#![allow(dead_code)]

use arrow_array::RecordBatch;
use sluice_connectors::{batch_channel, ShardCounters, ShardIdentity, Sink, WriteOutcome};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const INSTALL_HINT: &str = "moto_server is needed for the S3 tests: pip install 'moto[server]'";

/// A moto S3 server on 127.0.0.1, killed when dropped.
pub struct Moto {
    child: Child,
    /// Port it listens on.
    pub port: u16,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("free port");
        let child = match Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(error) => panic!("cannot start moto_server: {error}. {INSTALL_HINT}"),
        };
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Returns the endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto does not check signatures).
    pub fn create_bucket(&self, bucket: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            stream,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .expect("send");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "create bucket {bucket}: {answer}"
        );
    }

    /// Returns the inline connection of `bucket` under `prefix`, with extra options.
    pub fn connection_yaml(&self, bucket: &str, prefix: &str, extra: &str) -> String {
        format!(
            "{{type: s3, endpoint: \"{}\", region: us-east-1, bucket: {bucket}, prefix: \"{prefix}\", access_key_id: test, secret_access_key: test{extra}}}",
            self.endpoint()
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `batches` as one shard attempt.
pub async fn write_batches(
    sink: &dyn Sink,
    shard: &ShardIdentity,
    batches: Vec<RecordBatch>,
) -> (WriteOutcome, Arc<ShardCounters>) {
    let counters = Arc::new(ShardCounters::default());
    let (sender, receiver) = batch_channel(4, Arc::clone(&counters));
    let feeder = async move {
        for batch in batches {
            if sender.send(batch).await.is_err() {
                return;
            }
        }
        let _ = sender.finish().await;
    };
    let ((), outcome) = tokio::join!(feeder, sink.write_shard(shard, receiver));
    (outcome.expect("write shard"), counters)
}

/// Lists the files under `directory`, relative, sorted.
pub fn files_under(directory: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![directory.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                names.push(
                    path.strip_prefix(directory)
                        .expect("relative")
                        .to_string_lossy()
                        .to_string(),
                );
            }
        }
    }
    names.sort();
    names
}
