//! Check of exercise 6, reconnection: `scripts/workshop check 6`.

use std::time::Duration;

use wirelab_workshop::ex06_reconnect::{delay, request_headers};

#[test]
fn waits_double_up_to_the_cap_and_keep_half_of_it() {
    let (base, max) = (Duration::from_millis(100), Duration::from_secs(5));
    for attempt in 1..=12u32 {
        let ceiling = (base * 2u32.pow(attempt - 1)).min(max);
        let half = ceiling / 2;
        for random in [0, 1, 7, 12_345, u32::MAX / 3, u32::MAX] {
            let wait = delay(attempt, base, max, random);
            let jitter = u64::from(random) % (half.as_millis() as u64 + 1);
            assert_eq!(
                wait,
                half + Duration::from_millis(jitter),
                "attempt {attempt}, random {random}"
            );
            assert!(wait >= half && wait <= ceiling);
        }
    }
}

#[test]
fn a_first_attempt_is_never_immediate() {
    let wait = delay(1, Duration::from_millis(100), Duration::from_secs(5), 0);
    assert_eq!(wait, Duration::from_millis(50));
}

#[test]
fn the_reconnection_says_where_it_stopped() {
    let sorted = |mut headers: Vec<(&'static str, String)>| {
        headers.sort();
        headers
    };
    assert_eq!(
        sorted(request_headers("")),
        [
            ("Accept", "text/event-stream".to_owned()),
            ("Cache-Control", "no-cache".to_owned())
        ]
    );
    assert_eq!(
        sorted(request_headers("42")),
        [
            ("Accept", "text/event-stream".to_owned()),
            ("Cache-Control", "no-cache".to_owned()),
            ("Last-Event-ID", "42".to_owned())
        ]
    );
}
