//! The example binary on a free port, driven by reqwest.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The example binary; killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> (Example, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_example-hyper"))
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start example-hyper");
    let stdout = child.stdout.take().expect("stdout");
    let example = Example(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (example, base)
}

#[tokio::test]
async fn basic_over_hyper() {
    let (_example, base) = start();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let get = |user: Option<(&str, &str)>| {
        let mut req = client.get(&base);
        if let Some((user, password)) = user {
            req = req.basic_auth(user, Some(password));
        }
        async move {
            let res = req.send().await.unwrap();
            let challenge = res
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (res.status().as_u16(), challenge, res.text().await.unwrap())
        }
    };
    let (status, challenge, _) = get(None).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenge.unwrap(),
        r#"Basic realm="Authentication Required""#
    );
    assert_eq!(get(Some(("john", "hello"))).await.2, "Hello, john!");
    assert_eq!(get(Some(("susan", "bye"))).await.2, "Hello, susan!");
    // Ten wrong passwords for a username, then it is refused before any check (429).
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(get(Some(("susan", "wrong"))).await.0);
    }
    assert_eq!(statuses, [[401; 10].as_slice(), &[429]].concat());
    assert_eq!(get(Some(("susan", "bye"))).await.0, 429);
    assert_eq!(get(Some(("john", "hello"))).await.2, "Hello, john!");

    // The peer address the example puts in the extensions is counted too: 100 failures from
    // one address (over any usernames), then even john is refused from it.
    let mut tries = 0;
    while tries < 120 && get(Some((&format!("guess{tries}"), "x"))).await.0 == 401 {
        tries += 1;
    }
    assert!((80..=100).contains(&tries), "refused after {tries} guesses");
    assert_eq!(get(Some(("john", "hello"))).await.0, 429);
}
