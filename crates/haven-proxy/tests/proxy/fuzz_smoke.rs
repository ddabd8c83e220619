//! The fuzz bodies on every CI run: arbitrary and mutated ClientHellos, arbitrary credentials.

use proptest::prelude::*;

/// A well-formed ClientHello record for `name`, as browsers send it (one record, SNI first).
fn hello(name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
    sni.extend_from_slice(n);
    let mut exts = vec![0, 0];
    exts.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    exts.extend_from_slice(&sni);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[9u8; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
    rec.push(0x01);
    rec.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    rec.extend_from_slice(&body);
    rec
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        haven_proxy::client_hello::fuzz_body(&data);
    }

    #[test]
    fn valid_hellos_are_read(name in "[a-z0-9]{1,20}(\\.[a-z0-9-]{1,12}){0,3}") {
        let got = haven_proxy::client_hello::peek_server_name(&hello(&name));
        prop_assert_eq!(got, Ok(haven_proxy::client_hello::Peek::Hello(Some(name))));
    }

    #[test]
    fn mutated_hellos(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..5), cut in any::<usize>()) {
        let mut bytes = hello("www.example.com");
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] ^= b;
        }
        let n = bytes.len();
        bytes.truncate(n - cut % (n / 2));
        haven_proxy::client_hello::fuzz_body(&bytes);
    }

    #[test]
    fn arbitrary_credentials(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Some((user, _)) = haven_proxy::parse_basic(&data) {
            prop_assert!(!user.is_empty());
        }
    }
}
