//! The window's catalogues (ui/i18n/en.js and ru.js) against each other and against their
//! users: the same keys in both languages, no empty text, the same {placeholders}, complete
//! plural forms, and every key the markup (`data-i18n…` attributes in ui/index.html) and the
//! scripts (`t('…')` in ui/js/*.js) use exists. Read as text, so the headless build runs it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

/// The JSON object between the first `{` and the last `}` of a catalogue module.
fn parse_catalog(source: &str) -> Result<BTreeMap<String, String>, String> {
    let start = source.find('{').ok_or("no object")?;
    let end = source.rfind('}').ok_or("no end of object")?;
    serde_json::from_str(&source[start..=end]).map_err(|e| e.to_string())
}

fn catalog(lang: &str) -> BTreeMap<String, String> {
    let path = ui_dir().join("i18n").join(format!("{lang}.js"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    parse_catalog(&source).unwrap_or_else(|e| panic!("{path:?} is not a JSON object: {e}"))
}

fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Every quoted key after `open` (e.g. `t('` or `data-i18n="`), up to `close`; `open` must
/// start a word (`closest('` is not a call of `t`).
fn keys_after(text: &str, open: &str, close: char) -> BTreeSet<String> {
    text.match_indices(open)
        .filter(|(at, _)| {
            !text[..*at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.' | '-'))
        })
        .filter_map(|(at, _)| {
            text[at + open.len()..]
                .split_once(close)
                .map(|(key, _)| key.to_owned())
        })
        .collect()
}

/// The problems of a pair of catalogues (empty when they agree).
fn compare(en: &BTreeMap<String, String>, ru: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, one, other) in [("en", en, ru), ("ru", ru, en)] {
        for key in one.keys().filter(|k| !other.contains_key(*k)) {
            problems.push(format!("{key:?} exists in {name}.js only"));
        }
        for (key, text) in one {
            if text.trim().is_empty() {
                problems.push(format!("{key:?} is empty in {name}.js"));
            }
            if let Some(base) = key.strip_suffix(".one") {
                for form in ["few", "many"] {
                    if !one.contains_key(&format!("{base}.{form}")) {
                        problems.push(format!("{base:?} has no .{form} form in {name}.js"));
                    }
                }
            }
        }
    }
    for (key, text) in en {
        if let Some(other) = ru.get(key) {
            if placeholders(text) != placeholders(other) {
                problems.push(format!(
                    "{key:?}: placeholders differ: {:?} in en.js, {:?} in ru.js",
                    placeholders(text),
                    placeholders(other)
                ));
            }
        }
    }
    problems
}

/// Keys used but missing from `catalog` (a plural key is used by its base name).
fn missing<'a>(
    used: impl IntoIterator<Item = &'a String>,
    catalog: &BTreeMap<String, String>,
) -> Vec<String> {
    used.into_iter()
        .filter(|k| !catalog.contains_key(*k) && !catalog.contains_key(&format!("{k}.one")))
        .cloned()
        .collect()
}

#[test]
fn both_languages_have_every_message() {
    let (en, ru) = (catalog("en"), catalog("ru"));
    assert!(en.len() > 50, "the catalogue was read: {} keys", en.len());
    let problems = compare(&en, &ru);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_key_the_window_uses_exists() {
    let en = catalog("en");
    let html = std::fs::read_to_string(ui_dir().join("index.html")).expect("index.html");
    let mut used = BTreeSet::new();
    for attr in [
        "data-i18n=\"",
        "data-i18n-placeholder=\"",
        "data-i18n-aria-label=\"",
    ] {
        used.extend(keys_after(&html, attr, '"'));
    }
    assert!(used.contains("tab.folders"), "markup keys were found");
    let mut scripts = 0;
    for entry in std::fs::read_dir(ui_dir().join("js")).expect("ui/js") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "js") {
            let source = std::fs::read_to_string(&path).expect("script");
            let keys = keys_after(&source, "t('", '\'');
            scripts += usize::from(!keys.is_empty());
            used.extend(keys);
        }
    }
    assert!(scripts >= 3, "t('…') calls were found in {scripts} scripts");
    let missing = missing(&used, &en);
    assert!(
        missing.is_empty(),
        "used but in no catalogue: {missing:?} (add them to ui/i18n/en.js and ru.js)"
    );
}

#[test]
fn a_message_in_one_language_only_is_caught() {
    let en: BTreeMap<String, String> = [
        ("a".to_owned(), "Hello {name}".to_owned()),
        ("b".to_owned(), "Only English".to_owned()),
        ("n.one".to_owned(), "{count} file".to_owned()),
    ]
    .into();
    let ru: BTreeMap<String, String> = [
        ("a".to_owned(), "Привет".to_owned()),
        ("c".to_owned(), " ".to_owned()),
        ("n.one".to_owned(), "{count} файл".to_owned()),
    ]
    .into();
    let problems = compare(&en, &ru);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("\"b\" exists in en.js only"), "{problems:?}");
    assert!(has("\"c\" exists in ru.js only"), "{problems:?}");
    assert!(has("\"c\" is empty in ru.js"), "{problems:?}");
    assert!(has("\"a\": placeholders differ"), "{problems:?}");
    assert!(has("\"n\" has no .few form in ru.js"), "{problems:?}");
    assert_eq!(
        keys_after(
            "t('x') + closest('.y') + at('z') + $t('w') + (t('v', {}))",
            "t('",
            '\''
        ),
        ["v".to_owned(), "x".to_owned()].into()
    );
    let used = ["n".to_owned(), "a".to_owned(), "zz".to_owned()];
    assert_eq!(missing(&used, &en), ["zz"]);
}
