//! The fuzz target's body on every CI run: random bytes and mutated valid packets never panic.

use haven_radius::fuzz_body;
use haven_radius::packet::RequestBuilder;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_body(&bytes);
    }

    #[test]
    fn mutated_valid_packets_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8), cut in any::<usize>()) {
        let mut p = RequestBuilder::new(3, 1).user("SCHOOL\\j.smith").framed_ip([10, 0, 0, 1].into()).session("s").attr(85, &[0, 0, 1, 44]).build(b"fuzz-secret");
        for (at, v) in flips {
            let n = p.len();
            p[at % n] ^= v;
        }
        let keep = cut % (p.len() + 1);
        p.truncate(keep.max(1));
        fuzz_body(&p);
    }
}

#[test]
fn a_valid_signed_packet_passes_the_body() {
    let p = RequestBuilder::new(1, 1).user("a").build(b"fuzz-secret");
    assert!(haven_radius::packet::verify_request(&p, b"fuzz-secret"));
    fuzz_body(&p);
}
