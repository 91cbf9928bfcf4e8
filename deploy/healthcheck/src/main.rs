//! `parapet-healthcheck [ADDR] [PATH]`: a Docker `HEALTHCHECK` for images without a shell.
//!
//! Sends `GET PATH HTTP/1.0` to ADDR and exits 0 if the status is 200, 1 otherwise (with
//! the reason on stderr). ADDR defaults to `$PARAPET_ADMIN_LISTEN`, else `127.0.0.1:9464`;
//! an unspecified host (`0.0.0.0`, `[::]`) is probed on loopback. PATH defaults to
//! `/healthz`. Connect, write and read each time out after 2 seconds.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

const DEFAULT_ADDR: &str = "127.0.0.1:9464";
const TIMEOUT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .or_else(|| std::env::var("PARAPET_ADMIN_LISTEN").ok())
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let path = args.next().unwrap_or_else(|| "/healthz".to_owned());
    match probe(&addr, &path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parapet-healthcheck: {addr}{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn probe(addr: &str, path: &str) -> Result<(), String> {
    let mut target: SocketAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an address such as 127.0.0.1:9464"))?;
    if target.ip().is_unspecified() {
        target.set_ip(match target.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    if !path.starts_with('/')
        || path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(format!("`{path}` is not an absolute path"));
    }
    let mut stream = TcpStream::connect_timeout(&target, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    // The status line is all we need; 64 bytes hold "HTTP/1.1 200 OK\r\n" and then some.
    let mut buf = [0u8; 64];
    let mut len = 0;
    while len < buf.len() && !buf[..len].contains(&b'\n') {
        match stream.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some("200")) if v.starts_with("HTTP/") => Ok(()),
        _ => Err(format!("unhealthy: {status_line:?}")),
    }
}
