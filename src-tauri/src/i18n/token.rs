//! The personal access token's expiry notice in the reader's language. The core decides when
//! it is due and words it in English ([`TokenNotice::message`], which logs and `--json` keep);
//! here the same notice is worded from its fields.

use tunnel_core::token_notice::{expiry_date, TokenNotice};

use super::{Lang, Msg};

/// The notice's sentence in `lang` (English: the core's own words, unchanged).
pub fn message(n: &TokenNotice, lang: Lang) -> String {
    if lang == Lang::En {
        return n.message.clone();
    }
    let label = if n.name.is_empty() {
        Msg::TokenLabel.text(lang).to_string()
    } else {
        Msg::TokenLabelNamed.render(lang, &[("name", &n.name)])
    };
    let date = expiry_date(n.expires_at);
    if n.expired {
        return Msg::TokenExpired.render(lang, &[("label", &label), ("date", &date)]);
    }
    let when = match n.days_left {
        0 => Msg::TokenWithinDay.text(lang).to_string(),
        1 => Msg::TokenInOneDay.text(lang).to_string(),
        days => Msg::TokenInDays.render(lang, &[("n", &days)]),
    };
    Msg::TokenExpires.render(lang, &[("label", &label), ("when", &when), ("date", &date)])
}

/// The notice with its sentence in `lang` (what the app's banner shows).
#[cfg_attr(not(feature = "gui"), allow(dead_code))] // used by the desktop shell
pub fn localized(n: TokenNotice, lang: Lang) -> TokenNotice {
    let message = message(&n, lang);
    TokenNotice { message, ..n }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tunnel_core::token_notice::notice;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_796_000_000;

    #[test]
    fn english_is_the_core_sentence_and_russian_says_the_same() {
        let n = notice("laptop", NOW + 3 * DAY, NOW, 14).expect("due");
        assert_eq!(message(&n, Lang::En), n.message);
        let ru = message(&n, Lang::Ru);
        assert!(
            ru.starts_with("Персональный токен доступа «laptop» истекает через 3 дн. ("),
            "{ru}"
        );
        assert!(ru.contains(&expiry_date(n.expires_at)), "{ru}");
        let gone = notice("", NOW - DAY, NOW, 14).expect("expired");
        let ru = message(&gone, Lang::Ru);
        assert!(ru.starts_with("Персональный токен доступа истёк"), "{ru}");
        assert!(ru.contains("анонимным"), "{ru}");
        let soon = notice("t", NOW + 3600, NOW, 14).expect("an hour");
        assert!(message(&soon, Lang::Ru).contains("в течение суток"));
        assert_eq!(localized(soon.clone(), Lang::Ru).days_left, soon.days_left);
    }
}
