//! Fuzz target: any bytes through every parser entry point and the event serialiser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parsers::{parse_line, parse_netlink, Event, Parsed};

fuzz_target!(|data: &[u8]| {
    for p in [parse_line(data), parse_netlink(1326, data)] {
        if let Ok(Parsed::Seccomp(r)) = p {
            if let Ok(e) = Event::from_record(&r) {
                let mut out = Vec::new();
                e.write_json(&mut out);
                let _: Event = serde_json::from_slice(&out).expect("own JSON reads back");
            }
        }
    }
});
