//! Russian and English on the command line (issue 17 item 5): the system's locale decides by
//! default, `[ui] language` in the configuration overrides it, `--lang` overrides both.

use test_support::cli::{insert_into_section, Device, Server};

fn status(d: &Device, args: &[&str], lang_env: &str) -> String {
    let mut all = args.to_vec();
    all.push("status");
    let out = d
        .cmd(&all)
        .env("LANG", lang_env)
        .output()
        .expect("binary runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn status_speaks_the_locale_the_setting_or_the_flag() {
    let server = Server::start();
    let d = Device::ready(&server);

    let english = status(&d, &[], "C.UTF-8");
    assert!(english.contains("Device:"), "{english}");
    let russian = status(&d, &[], "ru_RU.UTF-8");
    assert!(
        russian.contains("Устройство:") && !russian.contains("Device:"),
        "LANG=ru_RU speaks Russian: {russian}"
    );
    let flagged = status(&d, &["--lang", "en"], "ru_RU.UTF-8");
    assert!(flagged.contains("Device:"), "--lang en wins: {flagged}");
    let flagged = status(&d, &["--lang", "ru"], "C.UTF-8");
    assert!(flagged.contains("Устройство:"), "--lang ru wins: {flagged}");

    // The setting beats the locale; the flag beats the setting.
    let cfg = d.config.join("config.toml");
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        insert_into_section(&text, "ui", "language = \"en\"\n"),
    )
    .expect("write");
    let set = status(&d, &[], "ru_RU.UTF-8");
    assert!(set.contains("Device:"), "[ui] language = en: {set}");
    let flagged = status(&d, &["--lang", "ru"], "C.UTF-8");
    assert!(flagged.contains("Устройство:"), "{flagged}");

    let refused = d.run(&["--lang", "de", "status"]);
    assert!(
        !refused.status.success(),
        "an unknown language is a usage error"
    );
}
