//! Rotating the Digest secret over two demo instances sharing Redis (a real `redis-server`),
//! restarted one at a time: `old` → `old` + `new` (the old one still issuing, the new one
//! verifying) → `new`. A client with the right password never gets a 401 that is not stale,
//! and at most one `stale=true`; a nonce made by the removed secret is refused as stale.

use crate::common::{self, Running};
use crate::digest_client::{challenge, parse_challenge, Client};
use crate::redis_two_instances::{accepted_nonce, free_port, send, stale, Redis, Scratch};

/// A client as `requests` and browsers are: it keeps its nonce until a stale answer, then
/// takes the challenge's fresh nonce.
struct Session {
    client: Client,
    nonce: Option<(String, String)>,
    nc: u32,
    stales: u32,
}

impl Session {
    fn new() -> Self {
        Self {
            client: Client::new("john", "hello", "/digest"),
            nonce: None,
            nc: 0,
            stales: 0,
        }
    }

    /// One request to `base` (retried once after a stale answer); it must succeed.
    async fn get(&mut self, base: &str) {
        let url = format!("{base}/digest");
        if self.nonce.is_none() {
            let (_, ch) = challenge(&url).await;
            self.nonce = Some((ch["nonce"].clone(), ch["opaque"].clone()));
            self.nc = 0;
        }
        for _ in 0..2 {
            let (nonce, opaque) = self.nonce.clone().unwrap();
            self.nc += 1;
            let header = self
                .client
                .header(&nonce, &opaque, &format!("{:08x}", self.nc));
            let (status, challenges, _) = send(&url, &header).await;
            if status == 200 {
                return;
            }
            assert_eq!(status, 401, "{url}");
            assert!(
                stale(&challenges),
                "a 401 that is not stale: {challenges:?}"
            );
            self.stales += 1;
            let ch = parse_challenge(&challenges[0]);
            self.nonce = Some((ch["nonce"].clone(), ch["opaque"].clone()));
            self.nc = 0;
        }
        panic!("no success after a stale answer on {url}");
    }
}

const OLD: &str = "the old secret of thirty-two bytes or more, going away";
const NEW: &str = "the new secret of thirty-two bytes or more, coming in";

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_rotation_asks_no_user_again() {
    let scratch = Scratch::new("rotation");
    let port = free_port();
    let _redis = Redis::start(port);
    let url = format!("redis://127.0.0.1:{port}/");
    let files = [
        ("old", format!("{OLD}\n")),
        ("both", format!("{OLD}\n{NEW}\n")),
        ("new", format!("{NEW}\n")),
    ];
    for (name, text) in &files {
        std::fs::write(scratch.path(name), text).unwrap();
    }
    let start = |secrets: &str| -> (Running, String) {
        let file = scratch.path(secrets);
        let args = [
            "--port",
            "0",
            "--secret-file",
            &file,
            "--redis",
            &url,
            "--redis-deadline-ms",
            "2000",
        ];
        common::start_demo(&args, None)
    };
    let mut a = start("old");
    let mut b = start("old");
    // Redis starts empty: nonces issued in its first second are refused as forgotten. Past
    // that, every stale answer below is the rotation's.
    accepted_nonce(&a.1, &Client::new("john", "hello", "/digest")).await;
    // A nonce of the old secret, kept unused until the end.
    let (_, kept) = challenge(&format!("{}/digest", a.1)).await;

    // Clients joining at each step, each alternating between the instances.
    let mut sessions: Vec<Session> = Vec::new();
    let steps = ["both", "both", "new", "new"];
    for (i, secrets) in steps.iter().enumerate() {
        sessions.push(Session::new());
        for session in &mut sessions {
            for base in [&a.1, &b.1, &a.1, &b.1] {
                session.get(base).await;
            }
        }
        // Restart one instance with the next file (A, then B, each twice).
        let next = start(secrets);
        if i % 2 == 0 {
            a = next;
        } else {
            b = next;
        }
    }
    sessions.push(Session::new());
    for session in &mut sessions {
        for base in [&a.1, &b.1, &a.1, &b.1] {
            session.get(base).await;
        }
    }
    for (i, session) in sessions.iter().enumerate() {
        assert!(
            session.stales <= 1,
            "client {i}: {} stale answers",
            session.stales
        );
    }
    // The first client held an old nonce through the rotation: exactly one stale.
    assert_eq!(sessions[0].stales, 1);

    // The removed secret's nonce: stale on both, never a plain 401.
    let john = Client::new("john", "hello", "/digest");
    for base in [&a.1, &b.1] {
        let (status, challenges, _) =
            send(&format!("{base}/digest"), &john.answer(&kept, "00000001")).await;
        assert_eq!((status, stale(&challenges)), (401, true), "{base}");
    }
}
