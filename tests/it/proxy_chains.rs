//! The client address behind reverse proxies, over real HTTP against the demo binary (the
//! test client, on loopback, plays the proxy): trusted proxies as ranges, several
//! `X-Forwarded-For` lines as one list, RFC 7239 `Forwarded`, and the known attacks: a spoofed
//! `X-Forwarded-For` from an untrusted peer, a hop that does not parse, a forwarding header
//! named in `Connection:`.

use crate::common::{basic, raw_get, raw_request, raw_status, start_demo, Running};

/// A demo that allows 3 failures per client address (none per username).
fn demo(extra: &[&str]) -> (Running, String) {
    let mut args = vec![
        "--port",
        "0",
        "--max-failures-per-user",
        "0",
        "--max-failures-per-addr",
        "3",
    ];
    args.extend(extra);
    start_demo(&args, None)
}

/// GET /basic with a password and extra header lines; the status.
fn get(base: &str, password: &str, lines: &[&str]) -> u16 {
    let auth = format!("Authorization: {}", basic("john", password));
    let mut headers: Vec<&[u8]> = vec![auth.as_bytes()];
    headers.extend(lines.iter().map(|l| l.as_bytes()));
    raw_status(&raw_request(base, &raw_get("/basic", &headers)))
}

/// Three wrong passwords, each with its own `lines`.
fn three_failures(base: &str, lines: impl Fn(usize) -> Vec<String>) {
    for i in 0..3 {
        let lines = lines(i);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(get(base, "wrong", &lines), 401, "{lines:?}");
    }
}

#[test]
fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    // The proxies are 10.0.0.0/8; the peer (127.0.0.1) is not one of them.
    let (_demo, base) = demo(&["--trusted-proxy", "10.0.0.0/8"]);
    three_failures(&base, |i| vec![format!("X-Forwarded-For: 198.51.100.{i}")]);
    // Every attempt was the peer's: a fresh forged address does not help.
    assert_eq!(
        get(&base, "hello", &["X-Forwarded-For: 198.51.100.77"]),
        429
    );
    assert_eq!(get(&base, "hello", &["Forwarded: for=198.51.100.78"]), 429);
}

#[test]
fn behind_a_trusted_range_each_forwarded_client_counts_alone() {
    let (_demo, base) = demo(&["--trusted-proxy", "127.0.0.0/8"]);
    three_failures(&base, |i| {
        // The client-written hops on the left rotate; the proxy wrote the last one.
        vec![format!("X-Forwarded-For: 192.0.2.{i}, 203.0.113.9")]
    });
    assert_eq!(get(&base, "hello", &["X-Forwarded-For: 203.0.113.9"]), 429);
    // Several lines are one list: the last line's last hop is the client.
    assert_eq!(
        get(
            &base,
            "hello",
            &[
                "X-Forwarded-For: 198.51.100.7",
                "X-Forwarded-For: 203.0.113.9"
            ]
        ),
        429
    );
    assert_eq!(
        get(
            &base,
            "hello",
            &[
                "X-Forwarded-For: 203.0.113.9",
                "X-Forwarded-For: 203.0.113.10"
            ]
        ),
        200
    );
    // Another client behind the proxy is not affected, nor is the proxy itself.
    assert_eq!(get(&base, "hello", &["X-Forwarded-For: 203.0.113.10"]), 200);
    assert_eq!(get(&base, "hello", &[]), 200);

    // A header named in `Connection:` is still read: the blocked client stays blocked.
    for connection in [
        "Connection: X-Forwarded-For",
        "Connection: keep-alive, x-forwarded-for, forwarded",
    ] {
        assert_eq!(
            get(
                &base,
                "hello",
                &[connection, "X-Forwarded-For: 203.0.113.9"]
            ),
            429,
            "{connection}"
        );
    }
}

#[test]
fn a_hop_that_does_not_parse_ends_the_walk_at_the_proxy() {
    let (_demo, base) = demo(&["--trusted-proxy", "127.0.0.1"]);
    // Whatever lies left of the garbage is the client's to choose: the attempts are the
    // proxy's, so rotating it does not escape the limit.
    three_failures(&base, |i| {
        vec![format!("X-Forwarded-For: 198.51.100.{i}, not-an-address")]
    });
    assert_eq!(
        get(
            &base,
            "hello",
            &["X-Forwarded-For: 198.51.100.99, not-an-address"]
        ),
        429
    );
    assert_eq!(get(&base, "hello", &[]), 429);
    // A client the proxy did name is its own.
    assert_eq!(get(&base, "hello", &["X-Forwarded-For: 203.0.113.10"]), 200);
}

#[test]
fn forwarded_is_read_when_the_proxies_write_it() {
    let (_demo, base) = demo(&[
        "--trusted-proxy",
        "127.0.0.0/8",
        "--proxy-header",
        "forwarded",
    ]);
    three_failures(&base, |i| {
        vec![format!(
            "Forwarded: for=192.0.2.{i};proto=https, for=\"[2001:db8:1:2::9]:4711\""
        )]
    });
    // The same /64, on a line of its own.
    assert_eq!(
        get(
            &base,
            "hello",
            &[
                "Forwarded: for=198.51.100.1",
                "Forwarded: for=\"[2001:db8:1:2::77]\""
            ]
        ),
        429
    );
    // X-Forwarded-For is not read then: the client cannot pick an address through it.
    assert_eq!(
        get(
            &base,
            "hello",
            &[
                "Forwarded: for=\"[2001:db8:1:2::9]\"",
                "X-Forwarded-For: 203.0.113.1"
            ]
        ),
        429
    );
    assert_eq!(get(&base, "hello", &["Forwarded: for=203.0.113.10"]), 200);
    // `unknown` ends the walk at the proxy (not blocked).
    assert_eq!(get(&base, "hello", &["Forwarded: for=unknown"]), 200);
}
