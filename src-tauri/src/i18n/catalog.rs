//! The messages of the tray, the notifications and the command line, each in English and
//! Russian. One table row per message: the macro builds the enum, the list of every message and
//! the lookup from the same rows, so a row without both texts does not compile.

use super::Lang;

macro_rules! catalog {
    ($($name:ident => $en:literal, $ru:literal;)*) => {
        /// A message the Rust side shows to a person.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Msg {
            $($name,)*
        }

        impl Msg {
            /// Every message (for the completeness test).
            #[cfg_attr(not(test), allow(dead_code))]
            pub const ALL: &'static [Msg] = &[$(Msg::$name,)*];

            /// (English, Russian).
            pub fn texts(self) -> (&'static str, &'static str) {
                match self {
                    $(Msg::$name => ($en, $ru),)*
                }
            }
        }
    };
}

catalog! {
    // Tray headline and tooltip.
    TrayNoFolders => "No folders yet", "Папок пока нет";
    TrayUpToDate => "Up to date", "Всё синхронизировано";
    TraySyncingOf => "Syncing {done} of {total} files ({percent}%)", "Синхронизация: {done} из {total} ({percent}%)";
    TraySyncing => "Syncing…", "Синхронизация…";
    TrayPaused => "Paused", "Приостановлено";
    TrayNeedsAttention => "Needs attention", "Требуется внимание";
    TrayOffline => "Offline — will retry", "Нет связи — повторная попытка позже";
    TrayError => "Error: {message}", "Ошибка: {message}";
    TrayUnresolvedOne => "{count} unresolved conflict", "{count} неразрешённый конфликт";
    TrayUnresolvedFew => "{count} unresolved conflicts", "{count} неразрешённых конфликта";
    TrayUnresolvedMany => "{count} unresolved conflicts", "{count} неразрешённых конфликтов";
    // Tray menu.
    MenuOpenApp => "Open sber-tunnel", "Открыть sber-tunnel";
    MenuOpenFolder => "Open {path}", "Открыть {path}";
    MenuSyncNow => "Sync now", "Синхронизировать сейчас";
    MenuPause => "Pause", "Приостановить";
    MenuResume => "Resume", "Возобновить";
    MenuQuit => "Quit", "Выход";
    // The tray's recent-activity line.
    ActivitySent => "Sent {path}", "Отправлен {path}";
    ActivityReceived => "Received {path}", "Получен {path}";
    ActivityDeleted => "Deleted {path}", "Удалён {path}";
    ActivityConflict => "Conflict in {path}", "Конфликт: {path}";
    ActivityFailed => "Failed: {message}", "Сбой: {message}";
    // Notifications.
    NoteConflictTitle => "Conflict kept as a copy", "Конфликт сохранён как копия";
    NoteConflictBody => "{path} in {folder} changed on two computers; the other version is {copy}.", "{path} в папке {folder} изменён на двух компьютерах; другая версия — {copy}.";
    NoteStoppedTitle => "Sync of {folder} stopped", "Синхронизация папки {folder} остановлена";
    // Command line: status.
    CliConfluence => "Confluence: {url}", "Confluence: {url}";
    CliUser => "User:       {user}", "Пользователь: {user}";
    CliDevice => "Device:     {device}", "Устройство: {device}";
    CliConfig => "Config:     {path}", "Настройки:  {path}";
    CliServiceStopped => "Service:    not running (start it with `sber-tunnel start`)", "Служба:     не запущена (запуск: `sber-tunnel start`)";
    CliNoFolders => "No folders yet. Add one with `sber-tunnel add <folder>`.", "Папок пока нет. Добавить: `sber-tunnel add <папка>`.";
    CliNoFoldersToSync => "No folders to sync. Add one with `sber-tunnel add <folder>`.", "Нет папок для синхронизации. Добавить: `sber-tunnel add <папка>`.";
    CliServiceSyncing => "The running sync service is syncing now; see `sber-tunnel status`.", "Запущенная служба синхронизирует сейчас; см. `sber-tunnel status`.";
    CliRecent => "Recent:", "Недавно:";
    // Command line: init.
    InitUrl => "Confluence base URL", "Базовый адрес Confluence";
    InitUser => "User name (leave empty to use a personal access token)", "Имя пользователя (пусто — вход по персональному токену)";
    InitPassword => "Password (or API token)", "Пароль (или API-токен)";
    InitApiToken => "API token", "API-токен";
    InitPat => "Personal access token", "Персональный токен доступа";
    InitPageId => "Page ID for storing files", "ID страницы для хранения файлов";
    InitP12 => "Client certificate .p12 file (leave empty for none)", "Файл клиентского сертификата .p12 (пусто — без сертификата)";
    InitP12Password => "Certificate password", "Пароль сертификата";
    InitChecking => "Checking {url} …", "Проверка {url}…";
    InitConnected => "Connected to {url} as {user}. Page {page} (\"{title}\") accepts attachments.", "Подключено к {url} как {user}. Страница {page} («{title}») принимает вложения.";
    InitDevice => "This device is \"{device}\". Configuration saved in {path}.", "Это устройство: «{device}». Настройки сохранены в {path}.";
    InitNext => "Next: sber-tunnel add <folder>", "Дальше: sber-tunnel add <папка>";
}

impl Msg {
    /// The text in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (en, ru) = self.texts();
        match lang {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }

    /// The text in `lang` with each `{name}` replaced by its value.
    pub fn render(self, lang: Lang, params: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut out = self.text(lang).to_owned();
        for (name, value) in params {
            out = out.replace(&format!("{{{name}}}"), &value.to_string());
        }
        out
    }
}

/// The `{name}` placeholders of a text, sorted.
#[cfg(test)]
fn placeholders(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = text
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_both_texts_with_the_same_placeholders() {
        for msg in Msg::ALL {
            let (en, ru) = msg.texts();
            assert!(!en.trim().is_empty(), "{msg:?} has no English text");
            assert!(!ru.trim().is_empty(), "{msg:?} has no Russian text");
            assert_eq!(
                placeholders(en),
                placeholders(ru),
                "{msg:?}: the two texts take different placeholders"
            );
        }
    }

    #[test]
    fn russian_texts_are_russian() {
        // A row copied without translating shows up as Latin-only Russian text; the few rows
        // that are the same in both languages are listed here on purpose.
        let same = [Msg::CliConfluence];
        for msg in Msg::ALL.iter().filter(|m| !same.contains(m)) {
            let ru = msg.text(Lang::Ru);
            assert!(
                ru.chars()
                    .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c))),
                "{msg:?}: {ru:?} is not Russian"
            );
        }
    }

    #[test]
    fn render_fills_placeholders() {
        assert_eq!(
            Msg::MenuOpenFolder.render(Lang::Ru, &[("path", &"/a")]),
            "Открыть /a"
        );
        assert_eq!(
            Msg::TraySyncingOf.render(Lang::En, &[("done", &1), ("total", &4), ("percent", &25)]),
            "Syncing 1 of 4 files (25%)"
        );
        assert_eq!(placeholders("{a} and {b} and {a}"), ["a", "b"]);
    }
}
