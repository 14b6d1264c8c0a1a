use super::*;

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

#[test]
fn every_preset_line_is_a_valid_pattern_and_names_are_unique() {
    let mut names = std::collections::BTreeSet::new();
    for p in PRESETS {
        assert!(names.insert(p.name), "duplicate preset {}", p.name);
        validate_lines(p.lines).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert!(!p.lines.is_empty());
        assert!(
            p.title_ru.chars().any(|c| ('а'..='я').contains(&c)) && p.title_ru != p.title,
            "{}: the Russian title is missing or English",
            p.name
        );
        assert_eq!(p.title_in(crate::lang::Lang::Ru), p.title_ru);
    }
    for wanted in ["build", "node-modules", "vcs", "office-locks", "os-junk"] {
        assert!(preset(wanted).is_ok(), "{wanted}");
    }
    assert!(matches!(
        preset("nope"),
        Err(IgnoreRulesError::UnknownPreset(_))
    ));
    let build = preset("build").expect("build");
    for l in [
        "target/",
        "build/",
        "dist/",
        "out/",
        "__pycache__/",
        "*.pyc",
        ".gradle/",
    ] {
        assert!(build.lines.contains(&l), "{l}");
    }
    assert!(preset("office-locks").expect("p").lines.contains(&"~$*"));
}

#[test]
fn a_preset_is_added_once_and_removed_without_touching_other_lines() {
    let p = preset("vcs").expect("vcs");
    let text = "# mine\n*.log\n.git/\n";
    let with = apply_preset(text, p);
    assert_eq!(with, "# mine\n*.log\n.git/\n.svn/\n.hg/\n");
    assert!(has_preset(&with, p));
    assert!(!has_preset(text, p));
    assert_eq!(
        apply_preset(&with, p),
        with,
        "applying twice changes nothing"
    );
    assert_eq!(remove_preset(&with, p), "# mine\n*.log\n");
    assert_eq!(remove_preset("", p), "");
}

#[test]
fn patterns_are_added_once_checked_and_removed() {
    assert_eq!(
        add_pattern("a", "*.bak").expect("ok").as_deref(),
        Some("a\n*.bak\n")
    );
    assert_eq!(add_pattern("*.bak\n", "*.bak").expect("ok"), None);
    assert!(matches!(
        add_pattern("", "{unclosed"),
        Err(IgnoreRulesError::BadPattern { .. })
    ));
    assert_eq!(
        remove_pattern("a\n*.bak\nb\n", "*.bak").as_deref(),
        Some("a\nb\n")
    );
    assert_eq!(remove_pattern("a\n", "*.bak"), None);
    assert_eq!(rule_lines("# c\n\n*.o\r\n x\n"), vec!["*.o", " x"]);
    match validate_text("ok\n{bad\n") {
        Err(IgnoreRulesError::BadPattern { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn saving_folder_rules_writes_atomically_refuses_bad_text_and_empty_removes() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    assert_eq!(read_folder_rules(root).expect("read"), "");
    save_folder_rules(root, "*.log").expect("save");
    assert_eq!(read_folder_rules(root).expect("read"), "*.log\n");
    assert!(save_folder_rules(root, "{bad").is_err());
    assert_eq!(
        read_folder_rules(root).expect("read"),
        "*.log\n",
        "a refused text leaves the file alone"
    );
    let names: Vec<_> = std::fs::read_dir(root)
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from(IGNORE_FILE)],
        "no temp left"
    );
    save_folder_rules(root, "  \n").expect("clear");
    assert!(!root.join(IGNORE_FILE).exists());
    assert!(save_folder_rules(&root.join("missing"), "*.log").is_err());
}

#[test]
fn preview_lists_newly_excluded_and_included_paths_with_counts() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    put(root, ".sbtignore", b"*.log\n");
    put(root, "a.log", b"12345");
    put(root, "src/main.rs", b"fn main");
    put(root, "target/debug/app", b"0123456789");
    put(root, "target/debug/app.d", b"01");
    put(root, "target/.hidden", b"x");
    put(root, "node_modules/x/index.js", b"js");
    put(root, ".git/HEAD", b"ref");
    put(root, "~$report.docx", b"lock");

    let proposed = apply_preset(
        &read_folder_rules(root).expect("read"),
        preset("build").expect("p"),
    );
    let proposed = remove_pattern(&proposed, "*.log").expect("there");
    let p = preview(root, &[], &Proposed::FolderRules(proposed)).expect("preview");
    assert_eq!(p.excluded, vec!["target/"], "{p:?}");
    assert_eq!(p.excluded_files, 2, "hidden files are not counted: {p:?}");
    assert_eq!(p.excluded_bytes, 12);
    assert_eq!(p.included, vec!["a.log"]);
    assert_eq!((p.included_files, p.included_bytes), (1, 5));
    assert!(!p.truncated);

    // The same rules proposed globally, with today's .sbtignore still there.
    let p = preview(
        root,
        &[],
        &Proposed::Global(vec!["node_modules/".into(), "*.rs".into()]),
    )
    .expect("preview");
    assert_eq!(p.excluded, vec!["node_modules/", "src/main.rs"], "{p:?}");
    assert!(p.included.is_empty(), "the .sbtignore still ignores a.log");

    // And the reverse: dropping a global pattern includes what it excluded.
    let p = preview(root, &["src/".into()], &Proposed::Global(vec![])).expect("preview");
    assert_eq!(p.included, vec!["src/"]);
    assert_eq!(p.included_files, 1);

    // Nothing changes: nothing listed.
    let p = preview(root, &[], &Proposed::FolderRules("*.log\n".into())).expect("preview");
    assert_eq!(p, Preview::default());
}

#[test]
fn preview_honours_nested_rules_and_is_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    put(root, "sub/.sbtignore", b"!keep.txt\n");
    put(root, "sub/keep.txt", b"k");
    put(root, "sub/drop.txt", b"d");
    for i in 0..(PREVIEW_LIMIT + 5) {
        put(root, &format!("zz/f{i:03}.txt"), b"x");
    }
    let p = preview(root, &[], &Proposed::FolderRules("*.txt\n".into())).expect("preview");
    assert!(
        !p.excluded.iter().any(|s| s == "sub/keep.txt"),
        "the nested !keep.txt re-includes it: {p:?}"
    );
    assert!(p.excluded.iter().any(|s| s == "sub/drop.txt"));
    assert_eq!(p.excluded_files, (PREVIEW_LIMIT + 5 + 1) as u64);
    assert_eq!(p.excluded.len(), PREVIEW_LIMIT);
    assert!(p.truncated);
    assert!(preview(root, &[], &Proposed::FolderRules("{bad".into())).is_err());
    assert!(preview(&root.join("missing"), &[], &Proposed::Global(vec![])).is_err());
}
