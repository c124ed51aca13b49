//! Readiness probes from the host: a TCP connect to the service port, and an HTTP GET of the
//! healthcheck path (on an engine reached over SSH, from the engine's host: `ssh::SshTunnel::dial`). A raw HTTP/1.0 request keeps an HTTP client (and its TLS stack) out of
//! the binary for what is one GET on a private address.

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn port_open(ip: &str, port: u16) -> bool {
    matches!(tokio::time::timeout(Duration::from_millis(500), TcpStream::connect((ip, port))).await, Ok(Ok(_)))
}

/// Status code of `GET path`, if the server answered.
pub async fn http_status(ip: &str, port: u16, path: &str, host: Option<&str>) -> Option<u16> {
    let attempt = async { http_status_over(TcpStream::connect((ip, port)).await.ok()?, path, host.unwrap_or(ip)).await };
    tokio::time::timeout(Duration::from_secs(2), attempt).await.ok().flatten()
}

/// Status code of `GET path` over an open connection (a TCP stream, or one through SSH).
pub async fn http_status_over(mut stream: impl AsyncRead + AsyncWrite + Unpin, path: &str, host: &str) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: nkdev\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    stream.flush().await.ok()?;
    let mut head = vec![0u8; 64];
    let n = stream.read(&mut head).await.ok()?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace().nth(1)?.parse().ok()
}

/// GET through the gateway (used by `status` and tests): the whole body.
pub async fn http_get(addr: &str, host: &str, path: &str) -> Option<(u16, String)> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut body = Vec::new();
        stream.read_to_end(&mut body).await.ok()?;
        let text = String::from_utf8_lossy(&body).to_string();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt).await.ok().flatten()
}
