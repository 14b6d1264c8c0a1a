//! Which language to speak: the setting, a `--lang` flag, the operating system's locale.
//!
//! Decisions are pure functions of their inputs; only [`system_language`] reads the process
//! environment or asks Windows for the user's default UI language.

use tunnel_core::config::LanguageSetting;

use super::Lang;

/// The language for a setting: an explicit choice wins, `system` asks the OS; English when the
/// OS speaks neither language.
pub fn resolve(setting: LanguageSetting, system: Option<Lang>) -> Lang {
    match setting {
        LanguageSetting::En => Lang::En,
        LanguageSetting::Ru => Lang::Ru,
        LanguageSetting::System => system.unwrap_or(Lang::En),
    }
}

/// The language POSIX locale variables ask for, in their order of precedence: `LC_ALL`, then
/// `LC_MESSAGES`, then `LANG` (the first one set and non-empty decides; `C`/`POSIX` mean
/// English). `LANGUAGE`'s list is honoured first when the locale is not `C`, as gettext does.
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<Lang> {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let locale = set("LC_ALL")
        .or_else(|| set("LC_MESSAGES"))
        .or_else(|| set("LANG"))?;
    let primary = locale.split(['.', '@']).next().unwrap_or("");
    if primary == "C" || primary == "POSIX" {
        return Some(Lang::En);
    }
    if let Some(list) = set("LANGUAGE") {
        if let Some(lang) = list.split(':').find_map(Lang::from_code) {
            return Some(lang);
        }
    }
    Lang::from_code(&locale).or(Some(Lang::En))
}

/// The operating system's language for this user: the POSIX locale variables where they are set
/// (also on Windows, for terminals that set `LANG`), else on Windows the user's display language.
pub fn system_language() -> Option<Lang> {
    let from_vars = from_env(|name| std::env::var(name).ok());
    #[cfg(windows)]
    {
        from_vars.or_else(windows_ui_language)
    }
    #[cfg(not(windows))]
    {
        from_vars
    }
}

/// Windows: the user's default UI language (`GetUserDefaultUILanguage`); a LANGID's low ten
/// bits are its primary language, 0x19 is Russian, 0x09 English.
#[cfg(windows)]
fn windows_ui_language() -> Option<Lang> {
    #[link(name = "kernel32")]
    extern "system" {
        fn GetUserDefaultUILanguage() -> u16;
    }
    // SAFETY: no arguments, returns a value; documented never to fail.
    let langid = unsafe { GetUserDefaultUILanguage() };
    Some(from_langid(langid))
}

/// The language of a Windows LANGID.
#[cfg_attr(not(windows), allow(dead_code))]
pub fn from_langid(langid: u16) -> Lang {
    match langid & 0x3ff {
        0x19 => Lang::Ru,
        _ => Lang::En,
    }
}

/// The language for the configured setting on this machine.
pub fn for_setting(setting: LanguageSetting) -> Lang {
    resolve(setting, system_language())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn explicit_setting_wins_over_the_system() {
        assert_eq!(resolve(LanguageSetting::En, Some(Lang::Ru)), Lang::En);
        assert_eq!(resolve(LanguageSetting::Ru, Some(Lang::En)), Lang::Ru);
        assert_eq!(resolve(LanguageSetting::System, Some(Lang::Ru)), Lang::Ru);
        assert_eq!(resolve(LanguageSetting::System, None), Lang::En);
    }

    #[test]
    fn posix_variables_in_precedence_order() {
        assert_eq!(from_env(env(&[("LANG", "ru_RU.UTF-8")])), Some(Lang::Ru));
        assert_eq!(
            from_env(env(&[
                ("LANG", "ru_RU.UTF-8"),
                ("LC_MESSAGES", "en_US.UTF-8")
            ])),
            Some(Lang::En)
        );
        assert_eq!(
            from_env(env(&[
                ("LC_ALL", "ru_RU.UTF-8"),
                ("LC_MESSAGES", "en_US.UTF-8")
            ])),
            Some(Lang::Ru)
        );
        assert_eq!(
            from_env(env(&[("LC_ALL", ""), ("LANG", "ru_RU")])),
            Some(Lang::Ru)
        );
        assert_eq!(from_env(env(&[("LANG", "C.UTF-8")])), Some(Lang::En));
        assert_eq!(
            from_env(env(&[("LANG", "C"), ("LANGUAGE", "ru")])),
            Some(Lang::En)
        );
        assert_eq!(
            from_env(env(&[("LANG", "de_DE.UTF-8"), ("LANGUAGE", "ru:en")])),
            Some(Lang::Ru)
        );
        assert_eq!(from_env(env(&[("LANG", "de_DE.UTF-8")])), Some(Lang::En));
        assert_eq!(from_env(env(&[])), None);
    }

    #[test]
    fn windows_langids() {
        assert_eq!(from_langid(0x0419), Lang::Ru);
        assert_eq!(from_langid(0x0409), Lang::En);
        assert_eq!(from_langid(0x0407), Lang::En);
    }
}
