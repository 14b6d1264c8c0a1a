//! Russian and English for the tray, the notifications and the command line.
//!
//! [`Lang`] is the language in use; [`locale`] resolves it from the `ui.language` setting, a
//! `--lang` flag and the operating system's locale. [`Msg`] is the catalogue: every message
//! gives its English and its Russian text in one `match` arm, so a message cannot exist in one
//! language only (the compiler refuses a missing arm; a test refuses an empty text or
//! placeholders that differ).

mod catalog;
pub mod errors;
pub mod locale;
pub mod token;
#[cfg(test)]
mod ui_catalog;

use std::sync::atomic::{AtomicU8, Ordering};

pub use catalog::Msg;

/// A language the program speaks: the core's, so the core's words (progress lines, units,
/// preset titles) take the same value.
pub use tunnel_core::lang::Lang;

static CURRENT: AtomicU8 = AtomicU8::new(0);

/// The language the process speaks now (English until [`set_current`] says otherwise).
pub fn current() -> Lang {
    match CURRENT.load(Ordering::Relaxed) {
        1 => Lang::Ru,
        _ => Lang::En,
    }
}

/// Speak `lang` from now on (at start, and when Settings change the language).
pub fn set_current(lang: Lang) {
    CURRENT.store(
        match lang {
            Lang::En => 0,
            Lang::Ru => 1,
        },
        Ordering::Relaxed,
    );
}

/// `t!(Name)` or `t!(Name, key = value, …)`: the catalogue's message `Name` in the current
/// language with its `{key}` placeholders filled.
macro_rules! t {
    ($msg:ident $(, $k:ident = $v:expr)* $(,)?) => {
        $crate::i18n::tr(
            $crate::i18n::Msg::$msg,
            &[$((stringify!($k), &$v as &dyn ::std::fmt::Display)),*],
        )
    };
}
pub(crate) use t;

/// The language the process speaks now, for the core's `*_in(lang, …)` texts.
pub fn lang() -> Lang {
    current()
}

/// The message in the current language, `{name}` placeholders filled from `params`.
pub fn tr(msg: Msg, params: &[(&str, &dyn std::fmt::Display)]) -> String {
    msg.render(current(), params)
}

/// Which plural form a count takes in `lang`: English one/other; Russian one (1, 21, 101…),
/// few (2–4, 22–24…) and many (0, 5–20, 25…).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // used by the desktop shell
pub enum Plural {
    One,
    Few,
    Many,
}

#[cfg_attr(not(feature = "gui"), allow(dead_code))] // used by the desktop shell
pub fn plural(lang: Lang, n: u64) -> Plural {
    match lang {
        Lang::En if n == 1 => Plural::One,
        Lang::En => Plural::Many,
        Lang::Ru => {
            let (d10, d100) = (n % 10, n % 100);
            if d10 == 1 && d100 != 11 {
                Plural::One
            } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
                Plural::Few
            } else {
                Plural::Many
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_plural_forms() {
        use Plural::{Few, Many, One};
        let forms: Vec<Plural> = [0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 1_000_002]
            .iter()
            .map(|&n| plural(Lang::Ru, n))
            .collect();
        assert_eq!(
            forms,
            [Many, One, Few, Few, Many, Many, Many, Many, One, Few, Many, One, Many, Few]
        );
        assert_eq!(plural(Lang::En, 1), One);
        assert_eq!(plural(Lang::En, 0), Many);
        assert_eq!(plural(Lang::En, 2), Many);
    }

    #[test]
    fn codes_parse_with_region_and_encoding() {
        assert_eq!(Lang::from_code("ru_RU.UTF-8"), Some(Lang::Ru));
        assert_eq!(Lang::from_code("en-US"), Some(Lang::En));
        assert_eq!(Lang::from_code("RU"), Some(Lang::Ru));
        assert_eq!(Lang::from_code("de_DE"), None);
        assert_eq!(Lang::from_code(""), None);
        assert_eq!(Lang::Ru.code(), "ru");
    }
}
