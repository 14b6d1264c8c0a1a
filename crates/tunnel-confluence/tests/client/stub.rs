//! A scripted HTTP/1.1 server for the few behaviours the emulator does not reproduce: DC's
//! listing bug past 200 attachments (CONFSERVER-95396) and a server that reads uploads slowly
//! or not at all, and a server that stops sending in the middle of an answer. One request
//! per connection (`Connection: close`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the stub saw of one request.
#[derive(Clone, Debug)]
pub struct StubRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Request body bytes read.
    pub body_len: u64,
    /// The `Range` header, when sent.
    pub range: Option<String>,
}

/// How the stub treats the request body and what it answers.
pub struct StubReply {
    /// Read the body at this many bytes per second (`None`: as fast as it comes).
    pub read_rate: Option<u64>,
    /// Never read the body nor answer (a stalled server).
    pub stall: bool,
    /// Announce the whole answer body but send only this many bytes of it, then hold the
    /// connection silently (a server stalled mid-download).
    pub stall_after: Option<usize>,
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

impl StubReply {
    /// A 200 JSON answer.
    pub fn json(body: String) -> Self {
        StubReply {
            read_rate: None,
            stall: false,
            stall_after: None,
            status: 200,
            body,
        }
    }
}

/// A running stub.
pub struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Requests in arrival order (recorded when the head is read).
    pub seen: Arc<Mutex<Vec<StubRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Handler = dyn Fn(&StubRequest, &str) -> StubReply + Send + Sync;

impl Stub {
    /// Serve `handler(request, base_url)` on `127.0.0.1:0`.
    pub async fn spawn(
        handler: impl Fn(&StubRequest, &str) -> StubReply + Send + Sync + 'static,
    ) -> Stub {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small receive buffer keeps "bytes the client wrote" close to "bytes we read".
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener: TcpListener = socket.listen(16).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let task = {
            let seen = seen.clone();
            let base = base.clone();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (seen, base, handler) = (seen.clone(), base.clone(), handler.clone());
                    tokio::spawn(async move {
                        let _ = serve(tcp, &seen, &base, &*handler).await;
                    });
                }
            })
        };
        Stub { base, seen, task }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<StubRequest> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    mut tcp: TcpStream,
    seen: &Mutex<Vec<StubRequest>>,
    base: &str,
    handler: &Handler,
) -> std::io::Result<()> {
    // Read the head.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("").to_owned();
    let header = |name: &str| {
        lines
            .clone()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let content_length: u64 = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let range = header("range");
    let mut req = StubRequest {
        method,
        target,
        body_len: 0,
        range,
    };
    let reply = handler(&req, base);
    if reply.stall {
        seen.lock().unwrap().push(req);
        // Hold the connection open without reading until the client gives up.
        tokio::time::sleep(Duration::from_secs(60)).await;
        return Ok(());
    }
    // Read the body, paced when asked.
    let mut left = content_length;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = tcp.read(&mut buf[..want]).await?;
        if n == 0 {
            break;
        }
        left -= n as u64;
        req.body_len += n as u64;
        if let Some(rate) = reply.read_rate {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
        }
    }
    seen.lock().unwrap().push(req);
    let answer = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-AUSERNAME: svc\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
    if let Some(sent) = reply.stall_after {
        let cut = answer.len() - reply.body.len() + sent.min(reply.body.len());
        tcp.write_all(&answer.as_bytes()[..cut]).await?;
        tcp.flush().await?;
        tokio::time::sleep(Duration::from_secs(60)).await;
        return Ok(());
    }
    tcp.write_all(answer.as_bytes()).await?;
    tcp.shutdown().await
}

/// A DC attachment object.
pub fn attachment_json(i: usize, size: u64) -> serde_json::Value {
    serde_json::json!({
        "id": format!("att{i}"),
        "type": "attachment",
        "status": "current",
        "title": format!("c{i:04}.bin"),
        "version": { "number": 1, "minorEdit": true },
        "extensions": { "mediaType": "application/octet-stream", "fileSize": size },
    })
}
