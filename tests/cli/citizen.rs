//! A good citizen of the company's Confluence (issue 17, item 7), end to end through the
//! binary: the attachment size limit is found by itself (Confluence's own "too large" answer
//! and a proxy's 413 page), big files still sync and round-trip, and the learned limit is
//! remembered, so the next sync sends no request the server refuses.

use test_support::cli::{Device, Server};

const MIB: usize = 1024 * 1024;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ seed)
        .collect()
}

/// Requests the server refused as too large (413 from a proxy, 404 "exceeds its maximum
/// permitted size" from Confluence's own multipart layer).
fn refused(server: &Server) -> usize {
    server
        .emu()
        .requests()
        .iter()
        .filter(|r| r.status == 413 || (r.status == 404 && r.method == "POST"))
        .count()
}

fn round_trip_and_remember(server: Server) {
    let a = Device::ready(&server);
    let big = data(5 * MIB, 1);
    a.write("video.bin", &big);
    a.sync();
    assert!(
        refused(&server) > 0,
        "the default chunk (100 MB) is over this server's limit: the first sync met a refusal"
    );

    let b = Device::ready(&server);
    b.sync();
    assert!(
        b.read("video.bin") == big,
        "the big file arrives whole on another device"
    );

    let status = a.ok(&["status"]);
    assert!(
        status.contains("upload size limit"),
        "status says the limit was learned: {status}"
    );

    server.emu().clear_requests();
    a.write("second.bin", &data(5 * MIB, 2));
    a.sync();
    assert_eq!(
        refused(&server),
        0,
        "the learned limit is remembered: the next sync starts at the right size"
    );
    b.sync();
    assert!(b.read("second.bin") == data(5 * MIB, 2));
}

#[test]
fn confluences_own_size_limit_is_learned_and_remembered() {
    // Confluence's answer names its limit ("The field file exceeds its maximum permitted
    // size of N bytes.").
    round_trip_and_remember(Server::start_with(|b| {
        b.max_attachment_size(2 * MIB as u64).too_large_as_404(true)
    }));
}

#[test]
fn a_proxys_bare_413_is_learned_by_halving_and_remembered() {
    // nginx in front says only "413 Request Entity Too Large".
    round_trip_and_remember(Server::start_with(|b| b.proxy_body_limit(3 * MIB as u64)));
}
