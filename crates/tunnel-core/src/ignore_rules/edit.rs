//! Adding, removing and checking patterns in a gitignore text, keeping every other line
//! (comments, blank lines, order) as the user wrote it.

use ignore::gitignore::GitignoreBuilder;

use super::IgnoreRulesError;

/// The lines of `text` that are rules: not blank, not comments.
pub fn rule_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Check every line of a rule text (gitignore syntax); the first bad line is the error.
pub fn validate_text(text: &str) -> Result<(), IgnoreRulesError> {
    let lines: Vec<&str> = text.lines().collect();
    validate_lines(&lines)
}

/// Check patterns (one per item, as `sync.ignore` holds them).
pub fn validate_lines<S: AsRef<str>>(lines: &[S]) -> Result<(), IgnoreRulesError> {
    let mut builder = GitignoreBuilder::new("/");
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref().trim_end_matches('\r');
        builder
            .add_line(None, line)
            .map_err(|e| IgnoreRulesError::BadPattern {
                line: i + 1,
                pattern: line.to_string(),
                message: e.to_string(),
            })?;
    }
    builder
        .build()
        .map(|_| ())
        .map_err(|e| IgnoreRulesError::BadPattern {
            line: 0,
            pattern: lines
                .iter()
                .map(|l| l.as_ref().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            message: e.to_string(),
        })
}

/// `text` with `pattern` appended as a line unless the same line is already there (then
/// `None`). The pattern is checked first.
pub fn add_pattern(text: &str, pattern: &str) -> Result<Option<String>, IgnoreRulesError> {
    let pattern = pattern.trim_end_matches(['\r', '\n']);
    validate_lines(&[pattern])?;
    if text.lines().any(|l| l.trim_end_matches('\r') == pattern) {
        return Ok(None);
    }
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(pattern);
    out.push('\n');
    Ok(Some(out))
}

/// `text` without the lines equal to `pattern` (`None`: there were none).
pub fn remove_pattern(text: &str, pattern: &str) -> Option<String> {
    let pattern = pattern.trim_end_matches(['\r', '\n']);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_end_matches('\r') != pattern)
        .collect();
    if kept.len() == text.lines().count() {
        return None;
    }
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Some(out)
}
