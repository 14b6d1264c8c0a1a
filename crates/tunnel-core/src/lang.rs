//! The languages the core's few words for a person come in (issue 17 item 5): the progress
//! and wait lines ([`crate::progress::text`]) and the ignore presets' titles. The desktop shell
//! and the command line keep their own catalogue; this enum is the only thing they share with
//! the core, so the core never depends on them. English is the default and its texts are the
//! ones tests and scripts have always seen.

/// A language a person reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// The code the UI and the flags use: `en` or `ru`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// `en` / `ru` (also `en-US`, `ru_RU.UTF-8`…); `None` for anything else.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code
            .trim()
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// `en` in English, `ru` in Russian.
    pub fn pick<T>(self, en: T, ru: T) -> T {
        match self {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }

    /// The Russian noun form for a count: `one` for 1, 21, 101…; `few` for 2–4, 22–24…;
    /// `many` for 0, 5–20, 25…. English takes `one` for 1 and `many` otherwise (`few` unused).
    pub fn plural<'a>(self, n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
        match self {
            Lang::En if n == 1 => one,
            Lang::En => many,
            Lang::Ru => {
                let (d10, d100) = (n % 10, n % 100);
                if d10 == 1 && d100 != 11 {
                    one
                } else if (2..=4).contains(&d10) && !(12..=14).contains(&d100) {
                    few
                } else {
                    many
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_plurals() {
        assert_eq!(Lang::from_code("ru_RU.UTF-8"), Some(Lang::Ru));
        assert_eq!(Lang::from_code("en-US"), Some(Lang::En));
        assert_eq!(Lang::from_code("de"), None);
        let forms: Vec<&str> = [0, 1, 2, 5, 11, 21, 22, 112]
            .iter()
            .map(|&n| Lang::Ru.plural(n, "файл", "файла", "файлов"))
            .collect();
        assert_eq!(
            forms,
            [
                "файлов",
                "файл",
                "файла",
                "файлов",
                "файлов",
                "файл",
                "файла",
                "файлов"
            ]
        );
        assert_eq!(Lang::En.plural(1, "file", "files", "files"), "file");
        assert_eq!(Lang::En.plural(2, "file", "files", "files"), "files");
    }
}
