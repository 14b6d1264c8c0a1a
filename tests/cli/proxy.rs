//! Behind a corporate proxy (the home PC's case): the proxy from the environment carries every
//! request, NO_PROXY is obeyed, and a proxy that is down gives an error that names it.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use test_support::cli::{Device, Server};

/// A minimal forward proxy. Plain HTTP: reads the first request line (absolute form,
/// `GET http://host:port/path HTTP/1.1`), connects to that host and then passes bytes both
/// ways unchanged (servers accept the absolute form, so later requests on the same connection
/// need no rewriting). HTTPS: answers `CONNECT host:port` and tunnels the TLS bytes. Counts
/// the connections it carried.
struct Proxy {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let addr = listener.local_addr().expect("address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    if carry(client).is_ok() {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Proxy { addr, connections }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Run a `sync` meant to go through this proxy; it must succeed, and through the proxy.
    fn sync_through(&self, cmd: &mut std::process::Command) {
        let out = cmd.output().expect("sync runs");
        assert!(
            out.status.success(),
            "sync through the proxy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            self.connections.load(Ordering::SeqCst) > 0,
            "the proxy carried nothing: the client went around it"
        );
    }
}

fn carry(client: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut words = first.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let uri = words.next().unwrap_or_default().to_owned();
    let mut server = if method == "CONNECT" {
        // HTTPS: `CONNECT host:port`, headers, a blank line; then an opaque TLS tunnel.
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
        }
        let server = TcpStream::connect(&uri)?;
        let mut reply = client.try_clone()?;
        reply.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        server
    } else {
        let target = uri
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| std::io::Error::other(format!("not a proxy request: {first:?}")))?;
        let mut server = TcpStream::connect(target)?;
        server.write_all(first.as_bytes())?;
        server
    };
    // What the reader buffered beyond what was parsed goes first, then the rest of the stream.
    server.write_all(reader.buffer())?;
    let mut to_server = server.try_clone()?;
    let mut from_client = client.try_clone()?;
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let mut to_client = client;
    let _ = std::io::copy(&mut server, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = upstream.join();
    Ok(())
}

#[test]
fn every_request_goes_through_the_proxy_from_the_environment() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    let proxy = Proxy::start();
    a.write("through-the-proxy.txt", b"sent by way of the proxy");
    proxy.sync_through(a.cmd(&["sync"]).env("HTTP_PROXY", proxy.url()));
    // The other device (no proxy) sees the file: what went through the proxy arrived whole.
    b.sync();
    assert_eq!(b.read("through-the-proxy.txt"), b"sent by way of the proxy");
}

#[test]
fn no_proxy_lets_the_server_be_reached_directly() {
    let server = Server::start();
    let a = Device::ready(&server);
    let proxy = Proxy::start();
    a.write("direct.txt", b"straight to the server");
    let out = a
        .cmd(&["sync"])
        .env("HTTP_PROXY", proxy.url())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("sync runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        proxy.connections.load(Ordering::SeqCst),
        0,
        "NO_PROXY is obeyed"
    );
}

#[test]
fn a_proxy_that_is_down_gives_a_clear_error() {
    let server = Server::start();
    let a = Device::ready(&server);
    // A port nothing listens on: bound, then closed.
    let dead = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    a.write("stays.txt", b"not sent");
    let out = a
        .cmd(&["sync"])
        .env("HTTP_PROXY", format!("http://{dead}"))
        .output()
        .expect("sync runs");
    assert!(
        !out.status.success(),
        "nothing can be reached through a dead proxy"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot connect to the proxy http://{dead} (set by HTTP_PROXY)"
        )),
        "the message names the proxy, not only the server: {err}"
    );
    assert!(!err.contains("panicked") && !err.contains("ERROR"), "{err}");
    assert!(a.exists("stays.txt"), "nothing local is touched");
}

#[test]
fn an_https_confluence_with_a_client_certificate_works_through_a_connect_proxy() {
    let tls = test_support::cli::TlsServer::start();
    let a = tls.device();
    let b = tls.device();
    let proxy = Proxy::start();
    a.write("over-tls.txt", b"tunnelled through CONNECT");
    proxy.sync_through(tls.cmd(&a, &["sync"]).env("HTTPS_PROXY", proxy.url()));
    tls.sync(&b);
    assert_eq!(b.read("over-tls.txt"), b"tunnelled through CONNECT");
}
