//! End-to-end test fixtures: an emulator per test ([`Server`], [`TlsServer`]) and devices that
//! run the real `sber-tunnel` binary ([`Device`]), each with its own configuration folder and
//! synced folder in a temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use confluence_emulator::{Emulator, EmulatorHandle};

use crate::tree::tree_with_dirs;

/// The emulator's user, its password and the page the devices sync through.
pub const USER: &str = "alice";
/// The password of [`USER`].
pub const PASSWORD: &str = "s3cret-pw";
/// The page every device uses (another one, `777`, exists too).
pub const PAGE: &str = "12345";

/// The environment variables a proxy is configured with.
pub const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// The `sber-tunnel` binary under test: `SBER_TUNNEL_BIN` if set, else the one cargo built
/// beside this test executable (`target/<profile>/sber-tunnel`; test executables live in
/// `target/<profile>/deps/`). Cargo builds it for the root package's integration tests.
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SBER_TUNNEL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test knows its executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps");
    let bin = profile_dir.join(format!("sber-tunnel{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run these tests through cargo test (or set SBER_TUNNEL_BIN)",
        bin.display()
    );
    bin
}

/// An emulator with its own tokio runtime, alive for the whole test.
pub struct Server {
    /// The runtime the emulator runs on (tests may use it too).
    pub rt: tokio::runtime::Runtime,
    /// The emulator; `None` once a test stopped it.
    pub emu: Option<EmulatorHandle>,
}

impl Server {
    /// An emulator with [`USER`] and the pages [`PAGE`] and `777`.
    pub fn start() -> Server {
        Self::start_with(|b| b)
    }

    /// Like [`Server::start`], with the builder adjusted by `f` (faults, limits, TLS…).
    pub fn start_with(
        f: impl FnOnce(confluence_emulator::EmulatorBuilder) -> confluence_emulator::EmulatorBuilder,
    ) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        let builder = f(Emulator::builder()
            .user(USER, PASSWORD)
            .page(PAGE)
            .page("777"));
        let emu = rt.block_on(builder.spawn()).expect("emulator starts");
        Server { rt, emu: Some(emu) }
    }

    /// The running emulator.
    pub fn emu(&self) -> &EmulatorHandle {
        self.emu.as_ref().expect("emulator running")
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        self.emu().base_url()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(e) = self.emu.take() {
            self.rt.block_on(e.shutdown());
        }
    }
}

/// One device: a configuration folder and a synced folder in a temp dir.
pub struct Device {
    /// Removed with the device.
    pub _tmp: tempfile::TempDir,
    /// `--config-dir` of every command.
    pub config: PathBuf,
    /// The synced folder (created by `add`).
    pub folder: PathBuf,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    /// A device that has run nothing yet.
    pub fn new() -> Device {
        let tmp = tempfile::tempdir().expect("temp dir");
        let config = tmp.path().join("config");
        let folder = tmp.path().join("Sync");
        Device {
            config,
            folder,
            _tmp: tmp,
        }
    }

    /// A device that ran `init` and `add` against `server`.
    pub fn ready(server: &Server) -> Device {
        Self::ready_with(server, "")
    }

    /// Like `ready`, with extra `[sync]` settings written into config.toml before `add`.
    pub fn ready_with(server: &Server, sync_settings: &str) -> Device {
        let d = Device::new();
        d.ok(&[
            "init",
            "--url",
            &server.url(),
            "--username",
            USER,
            "--page-id",
            PAGE,
        ]);
        if !sync_settings.is_empty() {
            let cfg = d.config.join("config.toml");
            let text = std::fs::read_to_string(&cfg).expect("config written by init");
            let text = insert_into_section(&text, "sync", sync_settings);
            std::fs::write(&cfg, text).expect("config rewritten");
        }
        d.ok(&["add", d.folder.to_str().expect("utf-8 path")]);
        d
    }

    /// `sber-tunnel --cli --config-dir … ARGS` with the password in the environment and
    /// nothing from the machine's environment that would change what it does.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--cli")
            .arg("--config-dir")
            .arg(&self.config)
            .args(args)
            .env("SBER_TUNNEL_PASSWORD", PASSWORD)
            .env_remove("SBER_TUNNEL_TOKEN")
            .env_remove("SBER_TUNNEL_HOME")
            .env_remove("RUST_LOG")
            // English messages whatever the machine's locale (tests/cli/language.rs sets one).
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANGUAGE")
            .stdin(Stdio::null());
        // The emulator is on loopback: a proxy from the machine's environment stays out of it
        // (tests/cli/proxy.rs sets one on purpose).
        for var in PROXY_VARS {
            c.env_remove(var);
        }
        c
    }

    /// Run a command and return what it did.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("binary runs")
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeded(args, self.run(args))
    }

    /// `--json` and `args`, required to succeed; its output parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{all:?} printed no JSON ({e}): {out}"))
    }

    /// The device id `init` gave this device (its config's `[device]` section).
    pub fn id(&self) -> String {
        let text = std::fs::read_to_string(self.config.join("config.toml")).expect("config");
        let device = text.split("[device]").nth(1).expect("[device] section");
        let line = device
            .lines()
            .find(|l| l.trim_start().starts_with("id ="))
            .expect("device id");
        line.split('"').nth(1).expect("quoted id").to_string()
    }

    /// `sync`, required to succeed.
    pub fn sync(&self) -> String {
        self.ok(&["sync"])
    }

    /// Write a file into the synced folder (parents created).
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.folder.join(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
    }

    /// Read a file of the synced folder.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.folder.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// Whether `rel` exists in the synced folder.
    pub fn exists(&self, rel: &str) -> bool {
        self.folder.join(rel).exists()
    }

    /// Every visible file with its content, and every visible folder as `dir/` (hidden names
    /// are not synced).
    pub fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        tree_with_dirs(&self.folder)
    }
}

/// A service `start`ed for a device; `stop` when dropped, so no service outlives its test.
pub struct RunningService<'a>(&'a Device);

impl<'a> RunningService<'a> {
    /// `start` the device's service (it may already run).
    pub fn start(d: &'a Device) -> RunningService<'a> {
        RunningService::start_as(d, d.cmd(&["start"]))
    }

    /// `start` run as `start` (the device's `start` command with more environment, say).
    pub fn start_as(d: &'a Device, mut start: Command) -> RunningService<'a> {
        let out = start.output().expect("binary runs");
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success()
                && (printed.contains("started") || printed.contains("already running")),
            "start: {out:?}"
        );
        RunningService(d)
    }
}

impl Drop for RunningService<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["stop"]);
    }
}

/// Set `key = value` lines in `[section]`, replacing keys that are already there.
pub fn insert_into_section(toml: &str, section: &str, lines: &str) -> String {
    let header = format!("[{section}]");
    let mut out: Vec<String> = toml.lines().map(String::from).collect();
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let key = line.split('=').next().unwrap_or("").trim().to_string();
        let start = out.iter().position(|l| l.trim() == header);
        let Some(start) = start else {
            out.push(header.clone());
            out.push(line.to_string());
            continue;
        };
        let end = out[start + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with('['))
            .map(|i| start + 1 + i)
            .unwrap_or(out.len());
        match out[start + 1..end]
            .iter()
            .position(|l| l.split('=').next().map(str::trim) == Some(key.as_str()))
        {
            Some(i) => out[start + 1 + i] = line.to_string(),
            None => out.insert(start + 1, line.to_string()),
        }
    }
    out.join("\n") + "\n"
}

/// Require that `sber-tunnel ARGS` succeeded; returns its stdout.
fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "`sber-tunnel {}` failed with {:?}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An emulator on HTTPS that requires a client certificate (mutual TLS), with its test PKI.
pub struct TlsServer {
    /// The emulator.
    pub server: Server,
    /// Its CA, server and client certificates.
    pub pki: confluence_emulator::testcerts::TestPki,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// An emulator that requires a client certificate signed by its test CA.
    pub fn start() -> TlsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = confluence_emulator::testcerts::generate(dir.path()).expect("test PKI");
        let tls = confluence_emulator::TlsConfig {
            cert_pem: pki.server_cert_pem.clone(),
            key_pem: pki.server_key_pem.clone(),
            client_ca_pem: Some(pki.ca_pem.clone()),
        };
        let server = Server::start_with(|b| b.tls(tls));
        assert!(server.url().starts_with("https://"));
        TlsServer {
            server,
            pki,
            _dir: dir,
        }
    }

    /// A command of `d` with the client certificate's password in its environment.
    pub fn cmd(&self, d: &Device, args: &[&str]) -> Command {
        let mut c = d.cmd(args);
        c.env("SBER_TUNNEL_P12_PASSWORD", &self.pki.client_p12_password);
        c
    }

    /// Run and require success; returns stdout.
    pub fn ok(&self, d: &Device, args: &[&str]) -> String {
        succeeded(args, self.cmd(d, args).output().expect("binary runs"))
    }

    /// A device that ran `init` with the CA file and the client certificate, then `add`.
    pub fn device(&self) -> Device {
        let d = Device::new();
        let ca = self.pki.ca_pem.to_str().expect("utf-8 path").to_owned();
        let p12 = self.pki.client_p12.to_str().expect("utf-8 path").to_owned();
        self.ok(
            &d,
            &[
                "init",
                "--url",
                &self.server.url(),
                "--username",
                USER,
                "--page-id",
                PAGE,
                "--ca",
                &ca,
                "--p12",
                &p12,
            ],
        );
        self.ok(&d, &["add", d.folder.to_str().expect("utf-8 path")]);
        d
    }

    /// `sync` of `d`, required to succeed.
    pub fn sync(&self, d: &Device) -> String {
        self.ok(d, &["sync"])
    }
}

#[cfg(test)]
mod tests {
    use super::insert_into_section;

    #[test]
    fn settings_replace_keys_of_their_section_only() {
        let toml = "[remote]\nurl = 'x'\n[sync]\nchunk-size = 1\n";
        let out = insert_into_section(toml, "sync", "chunk-size = 2\npack-threshold = 3");
        assert_eq!(
            out,
            "[remote]\nurl = 'x'\n[sync]\npack-threshold = 3\nchunk-size = 2\n"
        );
        let added = insert_into_section("[remote]\n", "log", "level = 'debug'");
        assert_eq!(added, "[remote]\n[log]\nlevel = 'debug'\n");
    }
}
