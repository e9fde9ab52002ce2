//! A moto S3-compatible server on a free loopback port, started by the test and killed on drop.

use crate::free_port;
use crate::process::ChildGuard;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A running `moto_server`.
pub struct Moto {
    /// Its endpoint, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    port: u16,
    _process: ChildGuard,
}

impl Moto {
    /// Starts moto, logging into `logs`, and waits until it accepts connections.
    pub fn start(logs: &Path) -> Moto {
        let found = Command::new("moto_server")
            .arg("--help")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        assert!(
            found.is_ok_and(|status| status.success()),
            "moto_server is not installed: run `pip install 'moto[server]'` (scripts/setup.sh does)"
        );
        let port = free_port();
        let mut command = Command::new("moto_server");
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let process = ChildGuard::spawn("moto", command, logs.join("moto.log"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 30 s; log: {}",
                process.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            _process: process,
        }
    }

    /// Creates a bucket (moto does not check signatures).
    pub fn create_bucket(&self, bucket: &str) {
        let answer = self.request("PUT", &format!("/{bucket}"));
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "create bucket {bucket}: {answer}"
        );
    }

    /// Returns the keys of the objects under `prefix` in `bucket` (one listing page, up to
    /// 1000 keys).
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let answer = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "list {bucket}/{prefix}: {answer}"
        );
        answer
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }

    /// Returns the inline connection of `bucket` under `prefix`, with extra options.
    pub fn connection_yaml(&self, bucket: &str, prefix: &str, extra: &str) -> String {
        format!(
            "{{type: s3, endpoint: \"{}\", region: us-east-1, bucket: {bucket}, prefix: \"{prefix}\", \
             access_key_id: test, secret_access_key: test{extra}}}",
            self.endpoint
        )
    }

    fn request(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to moto");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .expect("send to moto");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("moto answer");
        answer
    }
}
