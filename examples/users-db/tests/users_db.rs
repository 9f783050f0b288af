//! The example binary over a real SQLite file, driven by reqwest: bcrypt hashes from Apache's
//! `htpasswd`, roles from the table, and a database outage (the table renamed away while the
//! server runs) answering 503, never 401, and locking no one out.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::SqlitePool;

/// The example binary; killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(db: &std::path::Path) -> (Example, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_example-users-db"))
        .args(["--db", db.to_str().unwrap()])
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start example-users-db");
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

/// A bcrypt hash from Apache's `htpasswd -nbB` (cost 5: cheap for a test).
fn bcrypt(user: &str, password: &str) -> String {
    let out = Command::new("htpasswd")
        .args(["-nbB", "-C", "5", user, password])
        .output()
        .expect("htpasswd (apache2-utils)");
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    line.trim().split_once(':').expect("user:hash").1.to_owned()
}

#[tokio::test]
async fn users_in_sqlite() {
    let dir = std::env::temp_dir().join(format!("users-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("users.sqlite");
    let _ = std::fs::remove_file(&path);
    let db = SqlitePool::connect(&format!("sqlite:{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::query("CREATE TABLE users(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, roles TEXT NOT NULL DEFAULT '')")
        .execute(&db)
        .await
        .unwrap();
    for (user, password, roles) in [("john", "hello", "user"), ("susan", "bye", "user admin")] {
        sqlx::query("INSERT INTO users VALUES (?, ?, ?)")
            .bind(user)
            .bind(bcrypt(user, password))
            .bind(roles)
            .execute(&db)
            .await
            .unwrap();
    }
    let (_example, base) = start(&path);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let get = |path: &str, user: &str, password: &str| {
        let req = client
            .get(format!("{base}{path}"))
            .basic_auth(user, Some(password));
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    assert_eq!(
        get("/me", "john", "hello").await,
        (200, "Hello, john!".into())
    );
    assert_eq!(get("/me", "john", "nope").await.0, 401);
    assert_eq!(get("/me", "nobody", "hello").await.0, 401);
    assert_eq!(get("/admin", "john", "hello").await.0, 403);
    assert_eq!(
        get("/admin", "susan", "bye").await,
        (200, "Hello, susan!".into())
    );
    // The database fails: 503 for every try (more than the throttle's 10 per user), never 401.
    sqlx::query("ALTER TABLE users RENAME TO users_away")
        .execute(&db)
        .await
        .unwrap();
    for _ in 0..12 {
        let res = client
            .get(format!("{base}/me"))
            .basic_auth("susan", Some("a wrong guess during the outage"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
    }
    sqlx::query("ALTER TABLE users_away RENAME TO users")
        .execute(&db)
        .await
        .unwrap();
    // Back: nobody was locked out.
    assert_eq!(
        get("/me", "susan", "bye").await,
        (200, "Hello, susan!".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// README's first example is this crate's code, word for word.
#[test]
fn readme_shows_this_code() {
    let main = include_str!("../src/main.rs");
    let start = main
        .find("// README: the first example")
        .expect("start marker");
    let start = start + main[start..].find('\n').unwrap() + 1;
    let end = main.find("// README: end.").expect("end marker");
    let code = main[start..end].trim();
    let readme = include_str!("../../../README.md");
    assert!(
        readme.contains(code),
        "README.md must show examples/users-db/src/main.rs between its markers, as is"
    );
}
