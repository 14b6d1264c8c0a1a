// Event names pushed by Rust, mirroring the constants in src-tauri/src/desktop/event_bridge.rs
// and window.rs, and a small subscribe helper.

export const SYNC_EVENT = 'sync://event';
export const SYNC_STATUS = 'sync://status';
export const NAVIGATE = 'app://navigate';

/** Call `handler(payload)` for every `name` event; resolves to an unsubscribe function. */
export function on(name, handler) {
  return window.__TAURI__.event.listen(name, (event) => handler(event.payload));
}
