//! The fuzz body on every CI run: arbitrary and near-valid bytes through the request handler.

use hickory_proto::rr::RecordType;
use proptest::prelude::*;

use super::client::query;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..700)) {
        haven_dns::fuzz::dns_request(&data);
    }

    #[test]
    fn mutated_queries(
        name in "[a-z0-9_]{1,20}(\\.[a-z0-9]{1,12}){0,3}",
        qtype in prop_oneof![Just(RecordType::A), Just(RecordType::AAAA), Just(RecordType::HTTPS), Just(RecordType::MX), Just(RecordType::ANY)],
        edns in proptest::option::of(0u16..5000),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let mut bytes = query(&name, qtype, edns).to_vec().unwrap();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] ^= b;
        }
        if let Some(c) = cut {
            bytes.truncate(c % (bytes.len() + 1));
        }
        haven_dns::fuzz::dns_request(&bytes);
    }
}

#[test]
fn known_nasty_inputs() {
    let mut loop_ = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    loop_.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    for input in [
        &[][..],
        &[0u8; 12][..],
        &loop_[..],
        &query("www.google.com", RecordType::A, None).to_vec().unwrap()[..],
        &query("use-application-dns.net", RecordType::A, Some(1232)).to_vec().unwrap()[..],
        &query("floor.test", RecordType::HTTPS, Some(4096)).to_vec().unwrap()[..],
        &query("bet.test", RecordType::A, None).to_vec().unwrap()[..],
        &query("www.yandex.ru", RecordType::A, None).to_vec().unwrap()[..],
    ] {
        haven_dns::fuzz::dns_request(input);
    }
}
