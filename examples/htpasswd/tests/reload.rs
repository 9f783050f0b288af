//! The example binary over a file that Apache's `htpasswd` edits while it runs; reqwest sees
//! each change without a restart.

use std::io::{BufRead, BufReader};
use std::path::Path;
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

/// Apache's `htpasswd` with these arguments (installed by scripts/test.sh).
fn htpasswd(args: &[&str], file: &Path) {
    let out = Command::new("htpasswd")
        .args(&args[..1])
        .arg(file)
        .args(&args[1..])
        .output()
        .expect("htpasswd (apache2-utils) is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn users_change_without_a_restart() {
    let dir = std::env::temp_dir().join(format!("example-htpasswd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.htpasswd");
    htpasswd(&["-cbB", "john", "hello"], &file);

    let mut child = Command::new(env!("CARGO_BIN_EXE_example-htpasswd"))
        .arg("--htpasswd")
        .arg(&file)
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start example-htpasswd");
    let stdout = child.stdout.take().unwrap();
    let _example = Example(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let status = |user: &'static str, password: &'static str| {
        let req = client.get(&base).basic_auth(user, Some(password));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Polls until the server answers `want` (the file is checked at most once a second): at
    // most 12 tries, half a second apart.
    let until = |user: &'static str, password: &'static str, want: u16| {
        let status = &status;
        async move {
            let mut last = 0;
            for _ in 0..12 {
                last = status(user, password).await;
                if last == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            panic!("{user}: {last}, not {want}");
        }
    };

    assert_eq!(status("john", "hello").await, 200);
    assert_eq!(status("susan", "bye").await, 401);

    htpasswd(&["-bB", "susan", "bye"], &file);
    until("susan", "bye", 200).await;

    // A changed password: the new one works, the old one (cached as verified) no longer does.
    htpasswd(&["-bB", "john", "hello-again"], &file);
    until("john", "hello-again", 200).await;
    assert_eq!(status("john", "hello").await, 401);

    htpasswd(&["-D", "susan"], &file);
    until("susan", "bye", 401).await;
    assert_eq!(status("john", "hello-again").await, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
