//! Which proxy the environment sets for a URL, so that a connection failure can name it:
//! "cannot connect to the proxy http://proxy.corp:3128 (set by HTTPS_PROXY)" tells a person
//! behind a corporate proxy where to look, where "cannot connect" alone points at Confluence.
//!
//! The requests themselves go through reqwest's own proxy support; this only words errors.
//! It reads the same variables in the same order (lowercase first, then uppercase, then
//! `ALL_PROXY`) and honours `NO_PROXY`; when a `NO_PROXY` entry is of a kind it does not
//! evaluate (address ranges, ports), it says nothing rather than something wrong. Credentials
//! in a proxy URL are never shown.

use url::Url;

/// The proxy a URL's requests go through, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProxyHint {
    /// The proxy's URL without user name or password.
    pub url: String,
    /// The environment variable it came from.
    pub var: &'static str,
}

/// The proxy for `target` given the environment `get` (`std::env::var` in the client).
pub(crate) fn proxy_for(target: &Url, get: impl Fn(&str) -> Option<String>) -> Option<ProxyHint> {
    let vars: &[&'static str] = match target.scheme() {
        "https" => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
        "http" => &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
        _ => return None,
    };
    let (var, value) = vars.iter().find_map(|v| {
        get(v)
            .filter(|s| !s.trim().is_empty())
            .map(|s| (*v, s.trim().to_owned()))
    })?;
    let host = target
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let no_proxy = get("no_proxy")
        .or_else(|| get("NO_PROXY"))
        .unwrap_or_default();
    if !certainly_proxied(&host, &no_proxy) {
        return None;
    }
    // `proxy.corp:3128` without a scheme means http, as reqwest reads it.
    let with_scheme = if value.contains("://") {
        value
    } else {
        format!("http://{value}")
    };
    let mut url = Url::parse(&with_scheme).ok()?;
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let shown = url.as_str().trim_end_matches('/').to_owned();
    Some(ProxyHint { url: shown, var })
}

/// True when no `NO_PROXY` entry exempts `host` and every entry could be evaluated.
fn certainly_proxied(host: &str, no_proxy: &str) -> bool {
    for entry in no_proxy.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if entry == "*" {
            return false;
        }
        let is_ipv6 = entry.contains("::") || entry.starts_with('[');
        if entry.contains('/') || (entry.contains(':') && !is_ipv6) {
            return false; // a range or a port: not evaluated here, so no claim
        }
        let domain = entry
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if host == domain || host.ends_with(&format!(".{domain}")) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn hint(target: &str, env: &[(&str, &str)]) -> Option<ProxyHint> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        proxy_for(&Url::parse(target).unwrap(), |k| env.get(k).cloned())
    }

    fn proxy(url: &str, var: &'static str) -> Option<ProxyHint> {
        Some(ProxyHint {
            url: url.to_owned(),
            var,
        })
    }

    #[test]
    fn the_variable_for_the_scheme_is_used_lowercase_first() {
        let env = [
            ("HTTPS_PROXY", "http://upper:3128"),
            ("https_proxy", "http://lower:3128"),
            ("HTTP_PROXY", "http://plain:8080"),
        ];
        assert_eq!(
            hint("https://wiki.corp/confluence", &env),
            proxy("http://lower:3128", "https_proxy")
        );
        assert_eq!(
            hint("http://wiki.corp/", &env),
            proxy("http://plain:8080", "HTTP_PROXY")
        );
        assert_eq!(
            hint("https://wiki.corp/", &[("ALL_PROXY", "socks5://s:1080")]),
            proxy("socks5://s:1080", "ALL_PROXY")
        );
        assert_eq!(hint("https://wiki.corp/", &[]), None);
        assert_eq!(hint("https://wiki.corp/", &[("HTTPS_PROXY", "  ")]), None);
    }

    #[test]
    fn credentials_in_the_proxy_url_are_never_shown() {
        let h = hint(
            "https://wiki.corp/",
            &[("HTTPS_PROXY", "http://bob:hunter2@proxy.corp:3128")],
        )
        .unwrap();
        assert_eq!(h.url, "http://proxy.corp:3128");
        assert!(!format!("{h:?}").contains("hunter2"));
    }

    #[test]
    fn a_bare_host_and_port_means_http() {
        assert_eq!(
            hint("https://wiki.corp/", &[("HTTPS_PROXY", "proxy.corp:3128")]),
            proxy("http://proxy.corp:3128", "HTTPS_PROXY")
        );
    }

    #[test]
    fn no_proxy_exempts_hosts_and_domains() {
        let p = ("HTTPS_PROXY", "http://proxy:3128");
        for np in [
            "wiki.corp",
            ".corp",
            "corp",
            "*.corp",
            "other, WIKI.CORP",
            "*",
        ] {
            assert_eq!(
                hint("https://wiki.corp/x", &[p, ("NO_PROXY", np)]),
                None,
                "{np}"
            );
        }
        assert_eq!(
            hint(
                "https://wiki.corp/x",
                &[p, ("no_proxy", "example.org,corp.example")]
            ),
            proxy("http://proxy:3128", "HTTPS_PROXY"),
            "unrelated entries and a mere suffix of the name do not exempt it"
        );
        assert_eq!(
            hint(
                "https://notwiki.corp.evil/x",
                &[p, ("NO_PROXY", "wiki.corp")]
            ),
            proxy("http://proxy:3128", "HTTPS_PROXY")
        );
        assert_eq!(
            hint("https://127.0.0.1:8090/", &[p, ("NO_PROXY", "127.0.0.1")]),
            None
        );
        assert_eq!(hint("https://[::1]:8090/", &[p, ("NO_PROXY", "::1")]), None);
    }

    #[test]
    fn entries_it_cannot_evaluate_make_it_say_nothing() {
        let p = ("HTTPS_PROXY", "http://proxy:3128");
        assert_eq!(
            hint("https://10.1.2.3/", &[p, ("NO_PROXY", "10.0.0.0/8")]),
            None
        );
        assert_eq!(
            hint("https://wiki.corp/", &[p, ("NO_PROXY", "wiki.corp:443")]),
            None
        );
    }
}
