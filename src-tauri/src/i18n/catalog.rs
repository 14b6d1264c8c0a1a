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
    TipToGo => "{size} to go", "осталось {size}";
    TipRate => "{rate}/s", "{rate}/с";
    TipLeft => "{time} left", "ещё {time}";
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
    InitUrlScheme => "the URL must start with https:// (or http:// for a test server): {url}", "адрес должен начинаться с https:// (или http:// для тестового сервера): {url}";
    InitMissing => "missing value for \"{question}\" (and --non-interactive was given)", "не задано значение для «{question}» (а указан --non-interactive)";
    InitMissingSecret => "missing value for \"{question}\": set it in the environment (SBER_TUNNEL_PASSWORD, SBER_TUNNEL_TOKEN or SBER_TUNNEL_P12_PASSWORD)", "не задано значение для «{question}»: задайте его в окружении (SBER_TUNNEL_PASSWORD, SBER_TUNNEL_TOKEN или SBER_TUNNEL_P12_PASSWORD)";
    InitNoAnswer => "no answer for \"{question}\"", "нет ответа на «{question}»";
    InitInsecure => "warning: server certificate verification is OFF (--insecure)", "внимание: проверка сертификата сервера ОТКЛЮЧЕНА (--insecure)";
    CtxCheckingConnection => "checking the connection", "проверка подключения";
    CtxCheckingWrite => "checking that {user} may add attachments to page {page}", "проверка, может ли {user} добавлять вложения на страницу {page}";
    CtxReadingSecret => "reading the secret", "чтение секрета";
    // Command line: add, remove.
    AddNoPage => "no page ID: pass --page-id or run `sber-tunnel init`", "нет ID страницы: укажите --page-id или выполните `sber-tunnel init`";
    CtxCheckingPage => "checking page {page}", "проверка страницы {page}";
    AddSyncing => "Syncing {path} with page {page} (\"{title}\"). Run `sber-tunnel sync` to sync now.", "Папка {path} синхронизируется со страницей {page} («{title}»). Синхронизировать сейчас: `sber-tunnel sync`.";
    RemoveDone => "No longer syncing {path}. Its files are untouched.", "Папка {path} больше не синхронизируется. Её файлы не тронуты.";
    // Command line: status.
    StatusToken => "Token:      {message}", "Токен:      {message}";
    StatusServiceRunning => "Service:    running ({status})", "Служба:     работает ({status})";
    StatusTransfer => "Transfer:   {files_done} of {files_total} files, {bytes_done} of {bytes_total}", "Передача:   файлов {files_done} из {files_total}, {bytes_done} из {bytes_total}";
    StatusNextCheck => "Next check: {when}", "Следующая проверка: {when}";
    StatusLimits => "Limits:     upload {up}, download {down}", "Ограничения: отправка {up}, загрузка {down}";
    StatusUnlimited => "unlimited", "без ограничений";
    StatusRate => "{kib} KiB/s", "{kib} КБ/с";
    FolderMissing => "MISSING", "ОТСУТСТВУЕТ";
    FolderSyncing => "syncing", "синхронизация";
    FolderSyncingProgress => "syncing ({progress})", "синхронизация ({progress})";
    FolderError => "error: {message}", "ошибка: {message}";
    FolderPaused => "paused", "приостановлена";
    FolderSynced => "synced {ago}", "синхронизирована {ago}";
    FolderNotSynced => "not synced yet", "ещё не синхронизирована";
    FolderPolling => "  [local changes found by polling every {secs} s]", "  [локальные изменения ищутся опросом каждые {secs} с]";
    FolderNotWatched => "  [not watched: local changes found by the periodic rescan]", "  [без слежения: локальные изменения находит периодическая проверка]";
    FolderLine => "  {path}  (page {page})  {state}{watch}", "  {path}  (страница {page})  {state}{watch}";
    FolderWaiting => "    waiting: {reason}", "    ожидание: {reason}";
    FolderInUse => "    {count} file(s) in use by another program, tried again at the next check: {files}", "    файлов занято другой программой: {count}, повтор при следующей проверке: {files}";
    FolderUploadLimit => "    upload size limit: {size} ({source}); chunks and packs are cut to fit", "    предел размера вложения: {size} ({source}); части и пакеты режутся под него";
    LimitNamed => "named by the server", "сообщил сервер";
    LimitLearned => "learned from a proxy's refusals", "выяснен по отказам прокси";
    FolderUnstorable => "    {count} item(s) from other devices cannot be stored on this computer (left alone, not deleted):", "    объектов с других устройств, которые нельзя сохранить на этом компьютере: {count} (оставлены как есть, не удалены):";
    FolderUnstorableMore => "      … and {count} more (status --json lists them all)", "      … и ещё {count} (все перечисляет status --json)";
    UnstorableControl => "a control character in the name", "в имени управляющий символ";
    UnstorableForbidden => "one of < > : \" | ? * \\ in the name", "в имени один из символов < > : \" | ? * \\";
    UnstorableTrailing => "the name ends with a dot or a space", "имя оканчивается точкой или пробелом";
    UnstorableDevice => "a device name Windows reserves", "имя устройства, зарезервированное Windows";
    RecentSent => "sent {path} ({size})", "отправлен {path} ({size})";
    RecentReceived => "received {path} ({size})", "получен {path} ({size})";
    RecentDeletionSent => "deletion of {path} sent", "удаление {path} отправлено";
    RecentDeletedHere => "deleted {path} here", "{path} удалён здесь";
    RecentConflict => "conflict on {path}; other version kept as {copy}", "конфликт в {path}; другая версия сохранена как {copy}";
    RecentFailed => "sync of {folder} failed: {message}", "сбой синхронизации {folder}: {message}";
    TimeNow => "now", "сейчас";
    TimeInSecs => "in {n} s", "через {n} с";
    TimeInMin => "in {n} min", "через {n} мин";
    AgoSecs => "{n} s ago", "{n} с назад";
    AgoMin => "{n} min ago", "{n} мин назад";
    AgoHours => "{n} h ago", "{n} ч назад";
    AgoDays => "{n} days ago", "{n} дн. назад";
    // The personal access token's expiry (status, usage, the app's banner).
    TokenLabel => "The personal access token", "Персональный токен доступа";
    TokenLabelNamed => "The personal access token \"{name}\"", "Персональный токен доступа «{name}»";
    TokenExpired => "{label} expired on {date}: Confluence now treats sber-tunnel as an anonymous user. Create a new token in Confluence (profile → Settings → Personal Access Tokens) and enter it in the connection settings.", "{label} истёк {date}: Confluence теперь считает sber-tunnel анонимным пользователем. Создайте новый токен в Confluence (профиль → Настройки → Personal Access Tokens) и введите его в настройках подключения.";
    TokenExpires => "{label} expires {when} ({date}). Create a new one in Confluence (profile → Settings → Personal Access Tokens) and enter it in the connection settings before then, or syncing stops.", "{label} истекает {when} ({date}). До этого создайте новый в Confluence (профиль → Настройки → Personal Access Tokens) и введите его в настройках подключения, иначе синхронизация остановится.";
    TokenWithinDay => "within a day", "в течение суток";
    TokenInOneDay => "in 1 day", "через 1 день";
    TokenInDays => "in {n} days", "через {n} дн.";
    // Command line: sync.
    SumSent => "{count} sent ({size})", "отправлено: {count} ({size})";
    SumReceived => "{count} received ({size})", "получено: {count} ({size})";
    SumDeletedHere => "{count} deleted here", "удалено здесь: {count}";
    SumDeletionsSent => "{count} deletions sent", "удалений отправлено: {count}";
    SumConflicts => "{count} conflict(s) kept as copies", "конфликтов сохранено как копии: {count}";
    SumCaseRenamed => "renamed {count} name(s) that clash on this disk (kept as \"(Case Conflict)\" copies)", "переименовано имён, совпадающих на этом диске без учёта регистра: {count} (сохранены как копии «(Case Conflict)»)";
    SumEvicted => "{count} excluded item(s) removed from this computer (kept on the page)", "исключённых объектов убрано с этого компьютера: {count} (на странице остались)";
    SumSkipped => "{count} file(s) skipped this time (unreadable or changing)", "файлов пропущено в этот раз: {count} (не читаются или меняются)";
    SumInUse => "{count} in use by another program, tried again next sync: {files}", "занято другой программой: {count}, повтор при следующей синхронизации: {files}";
    SumUpToDate => "up to date", "всё синхронизировано";
    SumSkippedRemote => "; {count} file(s) from other devices not stored here (hidden or ignored on this computer)", "; файлов с других устройств не сохранено здесь: {count} (скрытые или игнорируемые на этом компьютере)";
    SumUnstorable => "; {count} item(s) from other devices cannot be stored on this computer (see `status`)", "; объектов с других устройств нельзя сохранить на этом компьютере: {count} (см. `status`)";
    SyncBusy => "another sber-tunnel is syncing this configuration; try again in a moment", "другой sber-tunnel синхронизирует эту конфигурацию; попробуйте чуть позже";
    ProgressFiles => "{done} of {total} files", "файлов {done} из {total}";
    CtxPreparing => "preparing the connection", "подготовка подключения";
    // Command line: conflicts.
    ConflictsNone => "No unresolved conflicts.", "Неразрешённых конфликтов нет.";
    ConflictCopyOf => "    conflict copy of {path}", "    копия конфликта для {path}";
    ConflictCaseClash => "    case clash with {path}", "    совпадает без учёта регистра с {path}";
    ConflictVersion => "    {label} {path}  by {device}, {time}, {size}", "    {label} {path}  устройство {device}, {time}, {size}";
    ConflictMine => "mine", "моя";
    ConflictTheirs => "theirs", "чужая";
    ConflictsHint => "Resolve one with `sber-tunnel conflicts resolve PATH --keep mine|theirs|both`.", "Разрешить: `sber-tunnel conflicts resolve ПУТЬ --keep mine|theirs|both`.";
    ConflictSeveral => "{path} names a conflict in several folders; give the full path", "{path} указывает на конфликт в нескольких папках; укажите полный путь";
    InvalidPath => "{path} is not a valid path", "{path} — недопустимый путь";
    ConflictKeptBoth => "Kept both {original} and {copy}; they are no longer a conflict.", "Оставлены оба файла, {original} и {copy}; конфликта больше нет.";
    ConflictKeptMine => "Kept mine (the {side} by {device}) at {path}.", "Оставлена моя версия ({side}, устройство {device}): {path}.";
    ConflictKeptTheirs => "Kept theirs (the {side} by {device}) at {path}.", "Оставлена чужая версия ({side}, устройство {device}): {path}.";
    SideOriginal => "original", "оригинал";
    SideCopy => "copy", "копия";
    ConflictOtherInTrash => "The other version is in the trash: {path}", "Другая версия — в корзине: {path}";
    ConflictNextSync => "It reaches your other devices with the next sync (`sber-tunnel sync`).", "На другие устройства это попадёт при следующей синхронизации (`sber-tunnel sync`).";
    CtxListConflicts => "listing the conflicts of {path}", "список конфликтов папки {path}";
    // Command line: trash.
    TrashDeletedBy => "deleted by {device}", "удалено ({device})";
    TrashReplacedBy => "replaced by {device}", "заменено ({device})";
    TrashResolvedBy => "conflict resolved, version of {device}", "конфликт разрешён, версия ({device})";
    TrashNoRecord => "trashed (no record)", "в корзине (без записи)";
    TrashAnotherDevice => "another device", "другое устройство";
    TrashEmpty => "The trash is empty.", "Корзина пуста.";
    TrashNotIn => "{path} is not in the trash (see `sber-tunnel trash`)", "{path} нет в корзине (см. `sber-tunnel trash`)";
    TrashSeveral => "{path} is in the trash of several folders; give the full path", "{path} есть в корзине нескольких папок; укажите полный путь";
    TrashRestored => "Restored {path}", "Восстановлено: {path}";
    TrashRemoved => "Removed {count} file(s) from the trash.", "Удалено из корзины файлов: {count}.";
    CtxReadTrash => "reading the trash of {path}", "чтение корзины папки {path}";
    CtxRestoring => "restoring {path}", "восстановление {path}";
    CtxEmptyTrash => "emptying the trash of {path}", "очистка корзины папки {path}";
    // Desktop app: the Trash view.
    TrashItemGone => "{path} is no longer in the trash.", "{path} больше нет в корзине.";
    // Command line: usage.
    UsageHeader => "{path}  (page {page})", "{path}  (страница {page})";
    UsageAttachments => "  Attachments:      {count} ({size} in current versions)", "  Вложения:         {count} ({size} в текущих версиях)";
    UsageOldVersions => "  Old versions:     {count} ({size}{estimated})", "  Старые версии:    {count} ({size}{estimated})";
    UsageEstimated => ", partly estimated", ", частично оценка";
    UsageTotal => "  Total on page:    {size}", "  Всего на странице: {size}";
    UsageInUse => "  In use:           {count} attachment(s), {size}", "  Используется:     вложений {count}, {size}";
    UsageForeign => "  Not sber-tunnel's: {count} attachment(s) (never touched)", "  Не от sber-tunnel: вложений {count} (никогда не трогаются)";
    UsageCollectable => "  Garbage collection would free: {count} attachment(s), {size} (moved to the space trash)", "  Сборка мусора освободит: вложений {count}, {size} (в корзину пространства)";
    UsageWaiting => "  Unreferenced but kept for now: {count} attachment(s), {size} (younger than {hours} h)", "  Без ссылок, но пока хранятся: вложений {count}, {size} (моложе {hours} ч)";
    UsageNoTrash => "  The space trash is not shown: Confluence's API does not list trashed attachments; they count against the space until a space admin purges them.", "  Корзина пространства не показана: API Confluence не перечисляет удалённые вложения; они занимают место, пока администратор пространства не очистит корзину.";
    WarningCapital => "Warning: {message}", "Внимание: {message}";
    WarningLower => "warning: {message}", "внимание: {message}";
    // Command line: page, and the privacy check of init and add.
    PageNowPrivate => "Page {page} is now private: only you can view and edit it.", "Страница {page} теперь закрыта: просматривать и редактировать её можете только вы.";
    PageHint => "To restrict it to you later: sber-tunnel page --make-private", "Чтобы позже закрыть её для всех, кроме вас: sber-tunnel page --make-private";
    PageNone => "no page to check: pass --page-id or run `sber-tunnel init`", "нечего проверять: укажите --page-id или выполните `sber-tunnel init`";
    CtxReadPrivacy => "reading who may view page {page}", "чтение прав просмотра страницы {page}";
    CtxMakePrivate => "making page {page} private", "закрытие страницы {page}";
    PageCheckFailed => "warning: could not check who may view page {page}: {error}", "внимание: не удалось проверить, кто может просматривать страницу {page}: {error}";
    PageLeftFlag => "Left as it is (--keep-sharing). {hint}", "Оставлено как есть (--keep-sharing). {hint}";
    PageAsk => "Restrict the page so that only you can view and edit it? [y/N]", "Закрыть страницу, чтобы просматривать и редактировать её могли только вы? [д/Н]";
    PageLeft => "Left as it is. {hint}", "Оставлено как есть. {hint}";
    PageNotChanged => "Not changed (--non-interactive). {hint}", "Не изменено (--non-interactive). {hint}";
    PageMakePrivateFailed => "warning: could not make page {page} private: {error}", "внимание: не удалось закрыть страницу {page}: {error}";
    CtxStdin => "reading standard input", "чтение стандартного ввода";
    PrivacyVisible => "Page {page} is visible to {viewers}: they can download every file you sync through it.", "Страницу {page} видят {viewers}: они могут скачать любой файл, который вы через неё синхронизируете.";
    PrivacyEditorsToo => " {editors} may also change or delete them.", " {editors} также могут изменять и удалять их.";
    PrivacyTheyEditToo => " They may also change or delete them.", " Они также могут изменять и удалять их.";
    PrivacyEditable => "Only you can view page {page}, but {editors} may edit it (change or delete your synced files).", "Просматривать страницу {page} можете только вы, но {editors} могут её редактировать (изменять и удалять ваши синхронизируемые файлы).";
    PrivacyPrivate => "Page {page} is private: only you can view and edit it.", "Страница {page} закрыта: просматривать и редактировать её можете только вы.";
    AudienceOnlyYou => "only you", "только вы";
    AudienceSpace => "everyone with access to the space", "все, у кого есть доступ к пространству";
    AudienceGroup => "group {name}", "группа {name}";
    AudienceAnd => "{list} and {last}", "{list} и {last}";
    // Command line: exclude, include, excluded.
    SelExcluded => "Excluded {path} on this computer: the next sync removes its copies here (the page keeps them; changes made here are sent first).", "{path} исключён на этом компьютере: следующая синхронизация уберёт его копии здесь (на странице они останутся; сделанные здесь изменения сначала отправятся).";
    SelAlreadyExcluded => "{path} is already excluded (by {by}).", "{path} уже исключён (через {by}).";
    SelIncluded => "Included {path} again: the next sync downloads it.", "{path} снова включён: следующая синхронизация его скачает.";
    SelIncludedSplit => "Included {path} again: the next sync downloads it. The rest of {from} stays excluded:", "{path} снова включён: следующая синхронизация его скачает. Остальное в {from} остаётся исключённым:";
    SelNotExcluded => "{path} is not excluded.", "{path} не исключён.";
    SelSize => "{files} file(s), {size}", "файлов: {files}, {size}";
    SelNothing => "Nothing is excluded: every subfolder lives on this computer.", "Ничего не исключено: все подпапки есть на этом компьютере.";
    SelNotInside => "{path} is not inside a synced folder (see `sber-tunnel status`)", "{path} не внутри синхронизируемой папки (см. `sber-tunnel status`)";
    SelWholeFolder => "{path} is a whole synced folder: to stop syncing it use `sber-tunnel remove`", "{path} — синхронизируемая папка целиком: чтобы перестать её синхронизировать, используйте `sber-tunnel remove`";
    SelCannotSync => "{path} cannot be synced: {error}", "{path} нельзя синхронизировать: {error}";
    CtxStoreExcluded => "storing the excluded path", "сохранение исключённого пути";
    CtxStoreIncluded => "storing the included path", "сохранение включённого пути";
    CtxReadChoice => "reading the choice", "чтение выбора подпапок";
    NotSyncedFolder => "{path} is not a synced folder (see `sber-tunnel status`)", "{path} — не синхронизируемая папка (см. `sber-tunnel status`)";
    // Command line: ignore.
    IgnGlobalHeader => "Global patterns (sync.ignore, every folder):", "Общие шаблоны (sync.ignore, для всех папок):";
    IgnFolderHeader => "{path} (stays on this computer):", "{path} (остаётся на этом компьютере):";
    IgnAlways => "Always left out: hidden names (.git, .DS_Store …), temporary and lock files (~$…, .~lock.…#, *.tmp), links.", "Всегда пропускаются: скрытые имена (.git, .DS_Store …), временные файлы и файлы блокировки (~$…, .~lock.…#, *.tmp), ссылки.";
    IgnNone => "  (none)", "  (нет)";
    IgnGlobalName => "the global patterns (sync.ignore)", "общие шаблоны (sync.ignore)";
    IgnNoChange => "No change to {name}.", "Без изменений: {name}.";
    IgnWouldChange => "Would change {name} (dry run, nothing saved):", "Изменилось бы: {name} (пробный запуск, ничего не сохранено):";
    IgnSaved => "Saved {name}:", "Сохранено: {name}:";
    IgnRestartHint => "A running service takes the global patterns when it restarts (sber-tunnel stop, start).", "Запущенная служба применит общие шаблоны после перезапуска (sber-tunnel stop, start).";
    IgnNoFileChanges => "{folder}: no existing file changes.", "{folder}: существующие файлы не затронуты.";
    IgnNewlyExcluded => "{folder}: newly excluded {count} file(s), {size} (kept here and on the page; no longer synced from this computer):", "{folder}: новых исключённых файлов: {count}, {size} (остаются здесь и на странице; с этого компьютера больше не синхронизируются):";
    IgnNewlyIncluded => "{folder}: newly included {count} file(s), {size} (synced at the next sync):", "{folder}: новых включённых файлов: {count}, {size} (синхронизируются при следующей синхронизации):";
    IgnAndMore => "  … and more (only the first {limit} of each are listed)", "  … и другие (показаны только первые {limit} каждого вида)";
    IgnNotSynced => "{path} is not a synced folder", "{path} — не синхронизируемая папка";
    IgnNoFolder => "no folder is synced yet (sber-tunnel add FOLDER)", "ни одна папка ещё не синхронизируется (sber-tunnel add ПАПКА)";
    IgnSeveral => "several folders are synced: name one with --folder, or use --global", "синхронизируется несколько папок: укажите одну через --folder или используйте --global";
    // Command line: log.
    LogNone => "No log files in {path} yet.", "В {path} пока нет журналов.";
    CtxReading => "reading {path}", "чтение {path}";
    // Command line: the service.
    SvcAlreadyRunning => "The sync service is already running.", "Служба синхронизации уже запущена.";
    SvcStarted => "Sync service started (pid {pid}). Logs: {path}", "Служба синхронизации запущена (pid {pid}). Журналы: {path}";
    SvcStoppedAtOnce => "sber-tunnel: the sync service stopped at once (exit code {code}); see the logs in {path}", "sber-tunnel: служба синхронизации сразу остановилась (код выхода {code}); см. журналы в {path}";
    SvcNotUp => "the sync service did not come up; see the logs in {path}", "служба синхронизации не запустилась; см. журналы в {path}";
    SvcNoneRunning => "No sync service is running.", "Служба синхронизации не запущена.";
    SvcStopped => "Sync service stopped.", "Служба синхронизации остановлена.";
    SvcStillFinishing => "the sync service is still finishing; it stops after the current transfer", "служба синхронизации ещё завершает работу; она остановится после текущей передачи";
    SvcPausedAll => "Paused all folders.", "Все папки приостановлены.";
    SvcResumedAll => "Resumed all folders.", "Все папки возобновлены.";
    SvcPaused => "Paused {path}.", "Приостановлено: {path}.";
    SvcResumed => "Resumed {path}.", "Возобновлено: {path}.";
    CtxFindingBinary => "finding the sber-tunnel binary", "поиск программы sber-tunnel";
    CtxStartingService => "starting the sync service", "запуск службы синхронизации";
    CtxWatchingService => "watching the sync service", "наблюдение за службой синхронизации";
    // Command line: --help (the about line and each command's summary).
    HelpAbout => "Keeps folders in sync between machines through a Confluence page", "Синхронизирует папки между компьютерами через страницу Confluence";
    HelpInit => "Set up the connection to Confluence (asks for what flags do not give).", "Настроить подключение к Confluence (спросит то, что не задано флагами).";
    HelpAdd => "Start syncing a folder.", "Начать синхронизацию папки.";
    HelpRemove => "Stop syncing a folder (its files stay where they are).", "Прекратить синхронизацию папки (её файлы остаются на месте).";
    HelpSync => "Sync now, once: every folder, or the one given.", "Синхронизировать сейчас, один раз: все папки или указанную.";
    HelpStatus => "Show the configuration and every folder's state.", "Показать настройки и состояние каждой папки.";
    HelpConflicts => "Conflicts: list them with both versions, or resolve one (keep mine, theirs or both).", "Конфликты: список с обеими версиями или разрешение одного (оставить мою, чужую или обе).";
    HelpTrash => "The local trash: list, restore or empty what other devices' changes deleted or replaced.", "Локальная корзина: список, восстановление или очистка того, что удалили или заменили изменения с других устройств.";
    HelpDemo => "See it work: a built-in Confluence emulator and two devices that sync.", "Посмотреть в работе: встроенный эмулятор Confluence и два синхронизирующихся устройства.";
    HelpLog => "Where the logs are (or print the newest one).", "Где журналы (или вывести самый новый).";
    HelpStart => "Start the sync service in the background (syncs on every change and every 30 s).", "Запустить службу синхронизации в фоне (синхронизирует при каждом изменении и каждые 30 с).";
    HelpRun => "Run the sync service in the foreground (for systemd and containers).", "Запустить службу синхронизации на переднем плане (для systemd и контейнеров).";
    HelpStop => "Stop the background sync service.", "Остановить фоновую службу синхронизации.";
    HelpPause => "Pause syncing (one folder or all); remembered across restarts.", "Приостановить синхронизацию (одной папки или всех); сохраняется после перезапуска.";
    HelpResume => "Resume syncing (one folder or all).", "Возобновить синхронизацию (одной папки или всех).";
    HelpExclude => "Keep a subfolder off this computer (selective sync): its copies here leave at the next sync, the page and other devices keep it.", "Не держать подпапку на этом компьютере (выборочная синхронизация): её копии здесь уберёт следующая синхронизация, страница и другие устройства её сохранят.";
    HelpInclude => "Bring an excluded subfolder back to this computer (downloaded at the next sync).", "Вернуть исключённую подпапку на этот компьютер (скачается при следующей синхронизации).";
    HelpExcluded => "List what this computer excludes (every folder, or the one given).", "Показать, что исключено на этом компьютере (во всех папках или в указанной).";
    HelpUsage => "What the Confluence page holds (attachments, old versions) and what garbage collection would free.", "Что хранит страница Confluence (вложения, старые версии) и что освободит сборка мусора.";
    HelpPage => "Who besides you may view and edit the page(s) your files sync through; --make-private restricts them to you.", "Кто кроме вас может просматривать и редактировать страницы, через которые синхронизируются ваши файлы; --make-private оставляет доступ только вам.";
    HelpHistory => "The retained versions of a file or folder on the page (time, device, size, change).", "Сохранённые версии файла или папки на странице (время, устройство, размер, изменение).";
    HelpRestore => "Restore a file, a folder or a whole synced folder as it was at a time or version.", "Восстановить файл, папку или всю синхронизируемую папку такими, какими они были в момент времени или в версии.";
    StatusHistoryCost => "    history on the page: {size} kept only for restores ({days} days)", "    история на странице: {size} хранится только для восстановления ({days} дн.)";
    UsageHistory => "  Kept for history: {count} attachment(s), {size} (see `sber-tunnel history`)", "  Хранится для истории: вложений {count}, {size} (см. `sber-tunnel history`)";
    HistCtxReading => "while reading the history of {path}", "при чтении истории {path}";
    HistNone => "No retained versions of {path}.", "Нет сохранённых версий {path}.";
    HistColVersion => "Version", "Версия";
    HistColCommit => "Commit", "Фиксация";
    HistColTime => "Time", "Время";
    HistColDevice => "Device", "Устройство";
    HistColChange => "Change", "Изменение";
    HistColSize => "Size", "Размер";
    HistColDetails => "Details", "Подробности";
    HistHint => "Restore one with `sber-tunnel restore {path} --version N` or `--at TIME`.", "Восстановить версию: `sber-tunnel restore {path} --version N` или `--at ВРЕМЯ`.";
    HistFolderDetails => "{files} file(s); +{created} ~{modified} -{deleted}", "файлов: {files}; +{created} ~{modified} -{deleted}";
    HistActChanged => "changed", "изменена";
    HistActCreated => "created", "создан";
    HistActDeleted => "deleted", "удалён";
    HistActModified => "modified", "изменён";
    HistSeveral => "{path} names a path in several synced folders; give its full path", "{path} есть в нескольких синхронизируемых папках; укажите полный путь";
    RestGiveWhat => "give a PATH or --folder", "укажите ПУТЬ или --folder";
    RestNotFolder => "{path} is not a synced folder; restore a path inside one without --folder", "{path} не синхронизируемая папка; путь внутри папки восстанавливается без --folder";
    RestGiveWhen => "give --at TIME or --version N", "укажите --at ВРЕМЯ или --version N";
    RestToInside => "--to {path} is inside the synced folder; restore into place instead", "--to {path} внутри синхронизируемой папки; восстановите на место, без --to";
    RestCtx => "while restoring {path}", "при восстановлении {path}";
    RestWould => "Would restore the state of commit {seq} ({time}):", "Будет восстановлено состояние фиксации {seq} ({time}):";
    RestDone => "Restored the state of commit {seq} ({time}):", "Восстановлено состояние фиксации {seq} ({time}):";
    RestWrite => "write", "записать";
    RestCreateFolder => "create folder", "создать папку";
    RestToTrash => "to local trash", "в локальную корзину";
    RestExists => "exists, left alone", "уже есть, не тронуто";
    RestNothing => "  nothing to change: it is already as it was", "  менять нечего: всё уже как было";
    RestNext => "The next sync sends this to every device; what it replaced is in the local trash.", "Следующая синхронизация передаст это всем устройствам; заменённое лежит в локальной корзине.";
    HelpIgnore => "Ignore rules: show them, or add/remove a pattern or a preset, globally or in a folder's .sbtignore, with a preview of the files it newly excludes or includes (--dry-run).", "Правила игнорирования: показать, добавить или убрать шаблон или набор, общий или в .sbtignore папки, с предпросмотром файлов, которые станут исключены или включены (--dry-run).";
    HelpExitCodes => "Exit codes:", "Коды выхода:";
    Exit0 => "success", "успех";
    Exit1 => "failure not covered below", "сбой, не описанный ниже";
    Exit2 => "bad command-line usage, or a folder that is not synced or cannot be added", "неверный вызов или папка, которая не синхронизируется или не может быть добавлена";
    Exit3 => "authentication, certificate or permission problem, or page not found: fix the configuration", "проблема входа, сертификата или прав, или страница не найдена: исправьте настройки";
    Exit4 => "server unreachable, rate limited or busy: try again later", "сервер недоступен, ограничил частоту запросов или занят: попробуйте позже";
    Exit5 => "the sync would delete many files: re-run with `--confirm-deletions` if intended", "синхронизация удалила бы много файлов: если так и задумано, повторите с `--confirm-deletions`";
    Exit6 => "a synced folder is missing, unmounted, or replaced by another folder", "синхронизируемая папка отсутствует, не смонтирована или заменена другой папкой";
    Exit7 => "the remote data is invalid or written by a newer sber-tunnel", "данные на странице неверны или записаны более новой версией sber-tunnel";
    Exit8 => "not set up yet: run `init`", "ещё не настроено: выполните `init`";
    Exit9 => "synced, but some files could not be synced this time (the rest was; they are retried next sync)", "синхронизировано, но часть файлов в этот раз не удалось синхронизировать (остальные синхронизированы; эти повторятся при следующей синхронизации)";
    // The desktop app's own refusals and the shared edge's contexts.
    DeskStartAtLogin => "Could not change start at login: {error}", "Не удалось изменить автозапуск: {error}";
    DeskUnknownKind => "unknown file kind “{kind}”", "неизвестный вид файла «{kind}»";
    DeskGone => "{path} is no longer there.", "{path} больше нет.";
    DeskCouldNotShow => "Could not show {path}: {error}", "Не удалось показать {path}: {error}";
    DeskCouldNotCreate => "Could not create {path}: {error}", "Не удалось создать {path}: {error}";
    DeskNoPicker => "The file picker is not available.", "Окно выбора файла недоступно.";
    DeskPickerClosed => "The file picker closed unexpectedly.", "Окно выбора файла неожиданно закрылось.";
    DeskNotLocal => "Not a local path: {error}", "Не локальный путь: {error}";
    DeskNotTracked => "{path} is not a tracked folder.", "{path} — не синхронизируемая папка.";
    DeskCouldNotOpen => "Could not open {path}: {error}", "Не удалось открыть {path}: {error}";
    DeskNotInside => "“{path}” is not a path inside the folder.", "«{path}» — не путь внутри папки.";
    DeskWhichPage => "which page? The connection has none.", "какая страница? В подключении её нет.";
    DeskConnectFirst => "connect to Confluence first", "сначала подключитесь к Confluence";
    DeskWhichPageFolder => "which page should store this folder?", "на какой странице хранить эту папку?";
    DeskNotListed => "the folder was added but is not listed", "папка добавлена, но не появилась в списке";
    DeskNotSyncedDot => "{path} is not a synced folder.", "{path} — не синхронизируемая папка.";
    DeskNotAPath => "{path} is not a path in the folder: {error}", "{path} — не путь в папке: {error}";
    CtxCreating => "creating {path}", "создание {path}";
    CtxResolving => "resolving {path}", "определение пути {path}";
    CtxSavingSecret => "saving the secret", "сохранение секрета";
    CtxSavingCertPassword => "saving the certificate password", "сохранение пароля сертификата";
    CtxSavingConfig => "saving the configuration", "сохранение настроек";
    CtxLocking => "locking {path}", "блокировка {path}";
    CtxOpening => "opening {path}", "открытие {path}";
    CtxOpeningJournal => "opening the journal {path}", "открытие журнала {path}";
    CtxWriting => "writing {path}", "запись {path}";
    CtxCwd => "reading the current directory", "чтение текущего каталога";
    CtxConfigFolder => "finding the configuration folder", "поиск папки настроек";
    CtxPageOf => "while reading page {page} of {path}", "при чтении страницы {page} папки {path}";
    // Errors as a person reads them (the library's own words stay the detail).
    ErrAuth => "authentication failed: {detail}", "ошибка входа: {detail}";
    ErrPermission => "permission denied: {detail}", "доступ запрещён: {detail}";
    ErrNotFound => "not found: {detail}", "не найдено: {detail}";
    ErrHeadChanged => "the remote head changed", "данные на странице изменились";
    ErrTooLarge => "too large for this server: {detail}", "слишком большой файл для этого сервера: {detail}";
    ErrCertificate => "certificate problem: {detail}", "проблема с сертификатом: {detail}";
    ErrUnreachable => "server unreachable: {detail}", "сервер недоступен: {detail}";
    ErrRateLimited => "rate limited by the server: {detail}", "сервер ограничил частоту запросов: {detail}";
    ErrServer => "server error {status}: {detail}", "ошибка сервера {status}: {detail}";
    ErrProtocol => "unexpected answer from the server: {detail}", "неожиданный ответ сервера: {detail}";
    ErrIntegrity => "integrity check failed: {detail}", "проверка целостности не пройдена: {detail}";
    ErrSourceChanged => "{path} changed while it was being uploaded", "{path} изменился во время отправки";
    ErrLocalIo => "local I/O error: {detail}", "локальная ошибка ввода-вывода: {detail}";
    ErrManifest => "the remote file list cannot be used: {detail}", "список файлов на странице нельзя использовать: {detail}";
    ErrJournal => "local journal: {detail}", "локальный журнал: {detail}";
    ErrFolderMissing => "the folder {path} is missing or no longer the synced folder (its marker file is gone); if it was moved, remove and add it again; nothing was deleted", "папка {path} отсутствует или больше не та, что синхронизировалась (её файл-метка пропал); если её переместили, удалите её и добавьте снова; ничего не удалено";
    ErrFolderReplaced => "the folder {folder} is not the folder synced there: {found}. Nothing was uploaded or deleted. If another folder was moved or restored there by mistake, put the synced folder back; to sync what is there now with this folder's page, remove the folder from sber-tunnel and add it again (files on both sides are kept)", "папка {folder} — не та папка, что синхронизировалась там: {found}. Ничего не отправлено и не удалено. Если туда по ошибке переместили или восстановили другую папку, верните синхронизируемую на место; чтобы синхронизировать то, что там сейчас, со страницей этой папки, удалите папку из sber-tunnel и добавьте снова (файлы с обеих сторон сохранятся)";
    ErrMassDeletion => "this sync would delete {count} of {total} files in {folder}; nothing was changed. If that is intended, run `sber-tunnel sync --confirm-deletions`", "эта синхронизация удалила бы {count} из {total} файлов в {folder}; ничего не изменено. Если так и задумано, выполните `sber-tunnel sync --confirm-deletions`";
    ErrCommitContention => "gave up after {count} attempts to commit: other devices kept changing the folder; try again", "отказ после {count} попыток записи: другие устройства всё время меняли папку; попробуйте ещё раз";
    ErrUnknownFolder => "{path} is not a synced folder", "{path} — не синхронизируемая папка";
    ErrServiceStopped => "the sync service has stopped", "служба синхронизации остановлена";
    ErrNotConfigured => "sber-tunnel is not set up here yet ({path} is missing): run `sber-tunnel init` first", "sber-tunnel здесь ещё не настроен ({path} отсутствует): сначала выполните `sber-tunnel init`";
    ErrNotAConflict => "{path} is not an unresolved conflict (see `sber-tunnel conflicts`)", "{path} — не неразрешённый конфликт (см. `sber-tunnel conflicts`)";
    ErrAmbiguousConflict => "{path} has {count} conflict copies; name the copy to resolve", "у {path} несколько копий конфликта ({count}); укажите, какую разрешить";
    ErrConflictChanged => "{path} changed since the last sync; sync first, then resolve", "{path} изменился после последней синхронизации; сначала синхронизируйте, потом разрешайте";
    ErrInternal => "internal error: {detail}", "внутренняя ошибка: {detail}";
    ErrAlreadyRunning => "a sync service is already running for {path} (stop it with `sber-tunnel stop`)", "для {path} уже работает служба синхронизации (остановить: `sber-tunnel stop`)";
    // The desktop's Versions view (issue 16 item 3).
    VerPickCopyTitle => "Choose where to save the copy", "Выберите, куда сохранить копию";
    VerCopyNotFull => "{path} is not a full path: choose a folder for the copy", "{path} — не полный путь: выберите папку для копии";
    VerCopyInside => "{path} is inside the synced folder: save the copy outside it, or restore into place", "{path} внутри синхронизируемой папки: сохраните копию вне её или восстановите на место";
    VerBadTime => "“{text}” is not a time: write it as 2026-03-01 14:30 (local time) or 2026-03-01T14:30:00+03:00", "«{text}» — не время: напишите его как 2026-03-01 14:30 (местное время) или 2026-03-01T14:30:00+03:00";
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
