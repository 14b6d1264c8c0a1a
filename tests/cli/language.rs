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

/// The English fragments of the Rust catalogue's rows: the text between placeholders, when it
/// is long enough to be a phrase and the Russian text does not share it (a URL label, say).
fn catalogue_english_fragments() -> Vec<String> {
    let source = include_str!("../../src-tauri/src/i18n/catalog.rs");
    let literal = |s: &str| -> Option<(String, usize)> {
        let start = s.find('"')? + 1;
        let mut out = String::new();
        let mut chars = s[start..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        out.push(next);
                    }
                }
                '"' => return Some((out, start + i + 1)),
                c => out.push(c),
            }
        }
        None
    };
    let mut fragments = Vec::new();
    for line in source.lines() {
        let Some((_, row)) = line.split_once(" => ") else {
            continue;
        };
        let Some((en, used)) = literal(row) else {
            continue;
        };
        let Some((ru, _)) = literal(&row[used..]) else {
            continue;
        };
        for part in en.split(['{', '}']).step_by(2) {
            let part = part.trim();
            if part.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 10
                && part.contains(' ')
                && !ru.contains(part)
            {
                fragments.push(part.to_string());
            }
        }
    }
    assert!(
        fragments.len() > 150,
        "the catalogue was read: {}",
        fragments.len()
    );
    fragments
}

/// Run `args` with `--lang ru` (LANG=C.UTF-8 as every test run); stdout and stderr together.
fn russian(d: &Device, args: &[&str]) -> (bool, String) {
    let mut all = vec!["--lang", "ru"];
    all.extend_from_slice(args);
    let out = d.run(&all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn has_cyrillic(s: &str) -> bool {
    s.chars()
        .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
}

/// Issue 17 item 5: a Russian reader sees Russian from every main command — the lines it
/// prints, the sync summary, the errors — and no line is a catalogue row's English text.
#[test]
fn every_main_command_speaks_russian_with_lang_ru() {
    let server = Server::start();
    let a = Device::ready(&server);
    let b = Device::ready(&server);
    let english = catalogue_english_fragments();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut check = |d: &Device, args: &[&str], ok: bool, wants: &[&str]| -> String {
        let (success, text) = russian(d, args);
        assert_eq!(success, ok, "`{}` exit: {text}", args.join(" "));
        for want in wants {
            assert!(
                text.contains(want),
                "`{}` says {want:?}: {text}",
                args.join(" ")
            );
        }
        for line in text.lines() {
            for fragment in &english {
                assert!(
                    !line.contains(fragment.as_str()),
                    "`{}` printed English {fragment:?}: {line}",
                    args.join(" ")
                );
            }
        }
        seen.push((args.join(" "), text.clone()));
        text
    };

    a.write("notes/plan.txt", b"plan");
    a.write("big.bin", &vec![7u8; 3 * 1024]);
    a.write("gone.txt", b"to be deleted");
    check(&a, &["sync"], true, &["отправлено: ", "(3,0 КБ)"]);
    check(&b, &["sync"], true, &["получено: "]);
    check(&b, &["sync"], true, &["всё синхронизировано"]);

    // A conflict: both edit, a syncs first, b's later edit wins and a's version is a copy.
    a.write("notes/plan.txt", b"from a");
    std::thread::sleep(std::time::Duration::from_millis(30));
    b.write("notes/plan.txt", b"from b");
    std::fs::remove_file(a.folder.join("gone.txt")).expect("delete");
    check(
        &a,
        &["sync"],
        true,
        &["отправлено: 1", "удалений отправлено: 1"],
    );
    check(&b, &["sync"], true, &["конфликтов сохранено как копии: 1"]);
    check(
        &b,
        &["conflicts"],
        true,
        &[
            "копия конфликта для notes/plan.txt",
            "моя",
            "чужая",
            "Разрешить:",
        ],
    );
    check(&a, &["conflicts"], true, &["Неразрешённых конфликтов нет."]);
    check(&b, &["trash"], true, &["удалено ("]);
    check(
        &b,
        &["trash", "restore", "nothing-here.txt"],
        false,
        &["нет в корзине"],
    );
    check(
        &b,
        &["trash", "empty"],
        true,
        &["Удалено из корзины файлов: 1."],
    );

    let plan = a.folder.join("notes/plan.txt");
    let plan = plan.to_str().expect("utf-8 path");
    check(
        &a,
        &["history", plan],
        true,
        &["Версия", "Устройство", "создан", "Восстановить версию:"],
    );
    check(
        &a,
        &["restore", plan, "--version", "1", "--dry-run"],
        true,
        &["Будет восстановлено состояние фиксации", "записать"],
    );

    let status = check(
        &a,
        &["status"],
        true,
        &[
            "Устройство:",
            "Служба:     не запущена",
            "(страница 12345)",
            "синхронизирована",
            "назад",
            "Недавно:",
            "отправлен Sync/",
        ],
    );
    assert!(has_cyrillic(&status));
    check(
        &a,
        &["usage"],
        true,
        &[
            "Вложения:",
            "Всего на странице:",
            "Сборка мусора освободит:",
        ],
    );
    check(
        &a,
        &["page"],
        true,
        &[
            "Страницу 12345 видят все, у кого есть доступ к пространству",
            "sber-tunnel page --make-private",
        ],
    );
    check(
        &a,
        &["exclude", "notes"],
        true,
        &["исключён на этом компьютере"],
    );
    check(&a, &["excluded"], true, &["notes"]);
    check(&a, &["include", "notes"], true, &["снова включён"]);
    check(&a, &["excluded"], true, &["Ничего не исключено"]);
    check(
        &a,
        &["ignore"],
        true,
        &["Общие шаблоны", "(нет)", "Всегда пропускаются"],
    );
    check(
        &a,
        &["ignore", "presets"],
        true,
        &["Результаты сборки", "Файлы блокировки Office"],
    );
    check(
        &a,
        &["ignore", "add", "*.log", "--dry-run"],
        true,
        &["пробный запуск"],
    );
    check(&a, &["pause"], true, &["Все папки приостановлены."]);
    check(&a, &["resume"], true, &["Все папки возобновлены."]);
    let folder = a.folder.to_str().expect("utf-8 path");
    check(&a, &["pause", folder], true, &["Приостановлено: "]);
    check(&a, &["status"], true, &["приостановлена"]);
    check(&a, &["resume", folder], true, &["Возобновлено: "]);
    check(&a, &["stop"], true, &["Служба синхронизации не запущена."]);
    check(
        &a,
        &["remove", "/nowhere/at/all"],
        false,
        &["sber-tunnel: ", "не синхронизируемая папка"],
    );
    check(
        &a,
        &["sync", "/nowhere/at/all"],
        false,
        &["не синхронизируемая папка"],
    );
    check(
        &a,
        &["--help"],
        true,
        &[
            "Синхронизирует папки",
            "Показать настройки и состояние каждой папки",
        ],
    );
    let fresh = Device::new();
    check(
        &fresh,
        &["status"],
        false,
        &["ещё не настроен", "sber-tunnel init"],
    );

    // --json stays machine-readable and English whatever the language.
    let (ok, json) = russian(&a, &["--json", "status"]);
    assert!(
        ok && !has_cyrillic(&json),
        "--json is language-neutral: {json}"
    );
    assert!(seen.len() > 25, "every command above was checked");
}
