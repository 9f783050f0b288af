//! Slow clients against the demo binary's server loop: a header trickled one byte a second is
//! cut off at the header-read timeout, a connection that sends nothing at the same timeout, a
//! kept-alive connection left silent at the idle timeout, and connections beyond the limit
//! wait until one closes. Every wait is bounded.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::start_demo;

/// Connects to `base` (`http://127.0.0.1:PORT`) with a read timeout.
fn connect(base: &str) -> TcpStream {
    let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Reads until the server closes (or the read timeout); the bytes read.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

#[test]
fn a_trickled_header_is_cut_off_at_the_header_read_timeout() {
    let (_demo, base) = start_demo(&["--port", "0", "--header-read-timeout", "2"], None);
    let mut stream = connect(&base);
    let head = b"GET /public HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let start = Instant::now();
    let mut sent = 0;
    // One byte a second: the whole head would take a minute.
    for byte in head {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_secs(1));
        // The server closed: a write may still succeed once, a read sees the end.
        stream.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 64];
        let closed = match stream.read(&mut probe) {
            Ok(0) => true,
            Ok(_) => panic!("an answer to half a head"),
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        } || start.elapsed() > Duration::from_secs(12);
        stream.set_nonblocking(false).unwrap();
        if closed {
            break;
        }
    }
    let elapsed = start.elapsed();
    assert!(
        sent < head.len() / 2,
        "the server read {sent} trickled bytes"
    );
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}"
    );
    // The server is still there for others.
    let mut other = connect(&base);
    other
        .write_all(b"GET /public HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let answer = String::from_utf8_lossy(&read_to_close(&mut other)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_silent_connection_is_closed_at_the_header_read_timeout() {
    let (_demo, base) = start_demo(&["--port", "0", "--header-read-timeout", "2"], None);
    let mut stream = connect(&base);
    let start = Instant::now();
    assert!(read_to_close(&mut stream).is_empty());
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}"
    );
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    let (_demo, base) = start_demo(
        &[
            "--port",
            "0",
            "--max-connections",
            "2",
            "--header-read-timeout",
            "30",
        ],
        None,
    );
    // Two keep-alive connections hold both slots.
    let request = b"GET /public HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = connect(&base);
            s.write_all(request).unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
            s
        })
        .collect();
    // A third connects (the kernel's backlog takes it) but is not served.
    let mut third = connect(&base);
    third
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    third.write_all(request).unwrap();
    let mut buf = [0u8; 512];
    let waited = third.read(&mut buf);
    assert!(
        matches!(&waited, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "served beyond the limit: {waited:?}"
    );
    // One closes: the third is served.
    drop(held.pop());
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = third.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[test]
fn a_connection_idle_between_requests_is_closed_at_the_idle_timeout() {
    let (_demo, base) = start_demo(
        &[
            "--port",
            "0",
            "--header-read-timeout",
            "30",
            "--idle-timeout",
            "2",
        ],
        None,
    );
    let mut stream = connect(&base);
    stream
        .write_all(b"GET /public HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Kept alive, then silent: the idle timeout (2 s), not the header timeout (30 s), ends it.
    let start = Instant::now();
    assert!(read_to_close(&mut stream).is_empty());
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(8),
        "closed after {elapsed:?}"
    );
}
