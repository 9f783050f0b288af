//! Basic credential decoding on arbitrary token68 text: never panics, never returns control
//! characters, and splits at the first colon.
#![no_main]

use httpauth::basic::BasicCredentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(creds) = BasicCredentials::decode(text) {
        assert!(!creds.username().contains(':'));
        assert!(!creds
            .username()
            .chars()
            .chain(creds.password().chars())
            .any(char::is_control));
    }
});
