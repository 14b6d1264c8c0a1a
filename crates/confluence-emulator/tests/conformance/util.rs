//! Shared helpers: a standard emulator, a non-browser reqwest client, upload shortcuts.

use confluence_emulator::{EmulatorBuilder, EmulatorHandle};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

pub const PAGE: &str = "12345";
pub const UA: &str = "sber-tunnel-tests/0.1";

/// Users alice (rw, token PAT-A), bob (read-only), admin (space admin), page 12345 and 777.
pub fn builder() -> EmulatorBuilder {
    confluence_emulator::Emulator::builder()
        .user("alice", "secret")
        .read_only_user("bob", "pw")
        .user("admin", "adminpw")
        .space_admin("admin")
        .token("alice", "PAT-A")
        .page(PAGE)
        .page_titled("777", "Other page")
}

pub async fn start() -> EmulatorHandle {
    builder().spawn().await.expect("emulator starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(UA)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A client bound to one emulator as one user.
pub struct C {
    pub base: String,
    pub http: reqwest::Client,
    pub user: (String, String),
}

impl C {
    pub fn new(emu: &EmulatorHandle, user: &str, pw: &str) -> Self {
        C {
            base: emu.base_url(),
            http: http(),
            user: (user.into(), pw.into()),
        }
    }

    pub fn alice(emu: &EmulatorHandle) -> Self {
        Self::new(emu, "alice", "secret")
    }

    pub fn req(&self, m: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(m, format!("{}{}", self.base, path))
            .basic_auth(&self.user.0, Some(&self.user.1))
            .header("Accept", "application/json")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, path)
            .send()
            .await
            .expect("GET sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.get(path).await;
        let s = r.status().as_u16();
        (s, r.json().await.expect("JSON body"))
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .req(reqwest::Method::PUT, path)
            .json(body)
            .send()
            .await
            .expect("PUT sent");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .req(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("POST sent");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Multipart POST with the XSRF header; `files` are (name, bytes); `fields` extra text parts.
    pub async fn upload_to(
        &self,
        path: &str,
        files: &[(&str, &[u8])],
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = Form::new();
        for (name, bytes) in files {
            form = form.part(
                "file",
                Part::bytes(bytes.to_vec()).file_name(name.to_string()),
            );
        }
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        self.req(reqwest::Method::POST, path)
            .header("X-Atlassian-Token", "no-check")
            .multipart(form)
            .send()
            .await
            .expect("upload sent")
    }

    /// Creates attachments on PAGE with minorEdit=true for each file.
    pub async fn upload(&self, files: &[(&str, &[u8])]) -> (u16, Value) {
        let minor: Vec<(&str, &str)> = files.iter().map(|_| ("minorEdit", "true")).collect();
        let r = self
            .upload_to(
                &format!("/rest/api/content/{PAGE}/child/attachment"),
                files,
                &minor,
            )
            .await;
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Id of a freshly uploaded single attachment.
    pub async fn upload_one(&self, name: &str, bytes: &[u8]) -> String {
        let (s, v) = self.upload(&[(name, bytes)]).await;
        assert_eq!(s, 200, "upload of {name} succeeds: {v}");
        v["results"][0]["id"].as_str().expect("id").to_string()
    }
}
