//! Unit tests of the key encoding, the state word and idle timeouts.

use super::state::*;
use super::*;

#[test]
fn keys_survive_the_word_encoding() {
    let k = FlowKey::v6(
        FlowOwner::new(u32::MAX),
        255,
        58,
        "2001:db8::1".parse().unwrap(),
        "fe80::ffff".parse().unwrap(),
        65535,
        1,
    );
    assert_eq!(FlowKey::from_words(&k.to_words()), k);
    let v4 = k.reversed();
    assert_eq!(FlowKey::from_words(&v4.to_words()), v4);
}

#[test]
fn key_words_from_addresses_are_the_keys_words() {
    for (src, dst) in [("10.1.1.4", "10.2.1.4"), ("2001:db8::1", "fe80::ffff")] {
        let (src, dst) = (src.parse().unwrap(), dst.parse().unwrap());
        let key = FlowKey::from_ips(FlowOwner::new(7), 1, 17, src, dst, 40000, 53).unwrap();
        let words = KeyWords::from_ips(FlowOwner::new(7), 1, 17, &src, &dst, 40000, 53).unwrap();
        assert_eq!(words, KeyWords::of(&key));
        assert_eq!(words.key(), key);
    }
    let (v4, v6) = ("10.0.0.1".parse().unwrap(), "::1".parse().unwrap());
    assert_eq!(
        KeyWords::from_ips(FlowOwner::new(0), 0, 6, &v4, &v6, 1, 2),
        None
    );
}

#[test]
fn shortened_idle_timeout_expires_the_flow_early_and_never_grows() {
    let table = FlowTable::new(64, 4, 64);
    let key = FlowKey::v4(
        FlowOwner::new(1),
        0,
        6,
        "10.1.1.4".parse().unwrap(),
        "10.2.1.4".parse().unwrap(),
        40000,
        7400,
    );
    table.insert(&key, 7, 1, 240_000, 1_000, Traffic::packet(60));
    let flow = table.lookup(&key, 1_000).unwrap();
    assert!(flow.shorten_idle_timeout(5_000));
    assert_eq!(flow.value().unwrap().idle_timeout_ms, 5_000);
    // A later, longer request leaves the shorter timeout.
    assert!(flow.shorten_idle_timeout(60_000));
    assert_eq!(flow.value().unwrap().idle_timeout_ms, 5_000);
    assert!(table.lookup(&key, 5_900).is_some());
    assert!(table.lookup(&key, 6_001).is_none());
    assert_eq!(table.sweep(6_001, 64), 1);
    // A handle to a flow that left its slot does nothing.
    assert!(!flow.shorten_idle_timeout(1));
}

#[test]
fn epochs_wrap_inside_their_fields() {
    let state = with_fingerprint(KEY_EPOCH_MASK | VERDICT_EPOCH_MASK | KIND_LIVE, 0xabcd);
    let owner = next_owner(state, KIND_CLAIMED);
    assert_eq!(kind(owner), KIND_CLAIMED);
    assert_eq!(owner & KEY_EPOCH_MASK, 0);
    assert_eq!(owner & VERDICT_EPOCH_MASK, VERDICT_EPOCH_MASK);
    assert_eq!(fingerprint(owner), 0xabcd);
    let verdict = next_verdict(state, KIND_UPDATING);
    assert_eq!(verdict & VERDICT_EPOCH_MASK, 0);
    assert_eq!(verdict & KEY_EPOCH_MASK, KEY_EPOCH_MASK);
    assert!(same_flow(state, with_kind(verdict, KIND_LIVE)));
    assert!(!same_flow(state, with_kind(owner, KIND_LIVE)));
    assert_ne!(state, with_kind(verdict, KIND_LIVE));
}

#[test]
fn an_owner_with_a_quota_of_its_own_holds_past_the_per_nic_one() {
    let table = FlowTable::new(1024, 4, 2).with_owner_quota(FlowOwner::new(3), 5);
    assert_eq!(table.quota_of(FlowOwner::new(3)), 5);
    assert_eq!(table.quota_of(FlowOwner::new(1)), 2);
    assert_eq!(table.quota_of(FlowOwner::new(9)), 0);
    let insert = |owner: u32, n: u32| {
        let key = FlowKey::v4(
            FlowOwner::new(owner),
            0,
            6,
            std::net::Ipv4Addr::from(0x0a00_0000 | n),
            std::net::Ipv4Addr::new(10, 1, 0, 4),
            1024,
            443,
        );
        let outcome = table.insert(&key, 0, 0, 60_000, 0, Traffic::default());
        matches!(outcome, InsertOutcome::Inserted)
    };
    // Past its quota an owner's new flow is refused or takes the place of
    // its own oldest: only the first `quota` are inserted.
    let held = |owner| (0..8).filter(|n| insert(owner, n * 100)).count();
    assert_eq!((held(1), held(3)), (2, 5));
}
