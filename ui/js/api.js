// The only file that talks to Rust: one function per command, errors turned into ApiError
// {code, message}. The codes mirror `ErrorCode` in crates/tunnel-core/src/error.rs, the one set
// the app, the command line and the sync events use (a Rust test in src-tauri/src/app/app_error.rs
// compares the two lists).

const { invoke } = window.__TAURI__.core;

/** The closed set of error codes the UI may branch on. */
export const ErrorCode = Object.freeze({
  AUTH: 'auth',
  CERTIFICATE: 'certificate',
  PERMISSION: 'permission',
  NOT_FOUND: 'not-found',
  UNREACHABLE: 'unreachable',
  REMOTE_FORMAT: 'remote-format',
  MASS_DELETION: 'mass-deletion',
  FOLDER_MISSING: 'folder-missing',
  FOLDER_REPLACED: 'folder-replaced',
  LOCAL: 'local',
  INVALID: 'invalid',
  NOT_CONFIGURED: 'not-configured',
  INTERNAL: 'internal',
});

/** An error from a command: `code` is one of ErrorCode, `message` is for a person. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function call(cmd, args = {}) {
  try {
    return await invoke(cmd, args);
  } catch (e) {
    if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
      throw new ApiError(e.code, e.message);
    }
    throw new ApiError(ErrorCode.INTERNAL, String(e));
  }
}

export const api = {
  getConnection: () => call('get_connection'),
  testConnection: (form) => call('test_connection', { form }),
  saveConnection: (form) => call('save_connection', { form }),
  listFolders: () => call('list_folders'),
  addFolder: (path, pageId) => call('add_folder', { path, page_id: pageId || null }),
  removeFolder: (path) => call('remove_folder', { path }),
  setPaused: (path, paused) => call('set_paused', { path, paused }),
  syncNow: (path) => call('sync_now', { path }),
  getSettings: () => call('get_settings'),
  saveSettings: (settings) => call('save_settings', { settings }),
  getStatus: () => call('get_status'),
  recentActivity: () => call('recent_activity'),
  appInfo: () => call('app_info'),
  pickFolder: () => call('pick_folder'),
  pickFile: (kind) => call('pick_file', { kind }),
  openFolder: (path) => call('open_folder', { path }),
  openFile: (folder, path) => call('open_file', { folder, path }),
  revealFile: (folder, path) => call('reveal_file', { folder, path }),
  openLogFolder: () => call('open_log_folder'),
  folderChoice: (path) => call('get_folder_choice', { path }),
  setExcluded: (path, subpath, excluded) => call('set_excluded', { path, subpath, excluded }),
  pageUsage: (path) => call('page_usage', { path: path || null }),
  tokenNotice: () => call('token_notice'),
  listConflicts: () => call('list_conflicts'),
  resolveConflict: (folder, path, keep) => call('resolve_conflict', { folder, path, keep }),
  pagePrivacy: (pageId) => call('page_privacy', { page_id: pageId || null }),
  makePagePrivate: (pageId) => call('make_page_private', { page_id: pageId || null }),
  ignoreRules: (folder) => call('get_ignore_rules', { folder: folder || null }),
  previewIgnoreRules: (folder, text) => call('preview_ignore_rules', { folder: folder || null, text }),
  saveIgnoreRules: (folder, text) => call('save_ignore_rules', { folder: folder || null, text }),
  getLanguage: () => call('get_language'),
  listHistoryPaths: (folder) => call('list_history_paths', { folder }),
  listPathVersions: (folder, path) => call('list_path_versions', { folder, path: path || null }),
  restoreVersion: (folder, path, pick, to, dryRun) => call('restore_version', {
    folder, path: path || null, pick, to: to || null, dry_run: dryRun,
  }),
  pickCopyFolder: () => call('pick_copy_folder'),
  listTrash: () => call('list_trash'),
  putBackFromTrash: (folder, inTrash) => call('put_back_from_trash', { folder, in_trash: inTrash }),
  emptyTrash: (folder) => call('empty_trash', { folder }),
};
