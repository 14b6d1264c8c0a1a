; The Windows installer of sber-tunnel, built by makensis (Debian's `nsis`) from
; scripts/windows-lane.sh --installer. Tauri's own NSIS bundler cannot run here: on Linux it
; downloads nsis_tauri_utils.dll from GitHub releases and checks its SHA-1, and only the package
; registries are reachable from this build machine (docs/platforms.md).
;
; A per-user install, as Tauri's "currentUser" mode does: no administrator rights, files in
; %LOCALAPPDATA%\Programs\sber-tunnel, a Start menu entry, an entry in "Apps & features"
; (HKCU\...\Uninstall\sber-tunnel). Configuration, the journal, secrets and logs are the user's
; data and stay when the program is removed, as every sync client does.
;
; Defines given by the lane: VERSION, STAGE (the folder with sber-tunnel.exe,
; sber-tunnel-cli.exe and WebView2Loader.dll), ROOT (the repository), OUTFILE; FAST_COMPRESSION
; for a quick debug check (lzma takes minutes on a debug build).

; A 64-bit installer for a 64-bit program (Debian's nsis has the amd64 stubs); Wine without its
; 32-bit half runs it too.
Target amd64-unicode
!ifdef FAST_COMPRESSION
SetCompressor zlib
!else
SetCompressor /SOLID lzma
!endif
RequestExecutionLevel user
ManifestDPIAware true

!define APP "sber-tunnel"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
; Microsoft Edge WebView2 Runtime's client id (the same on every Windows).
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${APP}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
BrandingText "${APP} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "${APP}"
VIAddVersionKey /LANG=0 "FileDescription" "${APP} installer"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "MIT licence"

!include "MUI2.nsh"
!define MUI_ICON "${ROOT}/icons/icon.ico"
!define MUI_UNICON "${ROOT}/icons/icon.ico"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\sber-tunnel.exe"
!insertmacro MUI_PAGE_LICENSE "${ROOT}/LICENSE"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
; The installer speaks the system's language when it is one of these (NSIS picks it by itself),
; else the first: our users read Russian first.
!insertmacro MUI_LANGUAGE "Russian"
!insertmacro MUI_LANGUAGE "English"

LangString WebView2Missing ${LANG_ENGLISH} "The sber-tunnel window needs the Microsoft Edge WebView2 Runtime, which this computer does not have. Windows 10 and 11 usually include it; it is also available from Microsoft. The command line (sber-tunnel-cli.exe) works without it."
LangString WebView2Missing ${LANG_RUSSIAN} "Для окна sber-tunnel нужен Microsoft Edge WebView2 Runtime, которого на этом компьютере нет. Обычно он входит в Windows 10 и 11; его также можно загрузить у Microsoft. Командная строка (sber-tunnel-cli.exe) работает и без него."

Section "sber-tunnel" Main
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A running service or tray app keeps sber-tunnel.exe open: ask it to stop first (it finishes
  ; or checkpoints the transfer in progress). Nothing running is fine too.
  IfFileExists "$INSTDIR\sber-tunnel-cli.exe" 0 +2
    nsExec::Exec '"$INSTDIR\sber-tunnel-cli.exe" stop'
  File "${STAGE}/sber-tunnel.exe"
  File "${STAGE}/sber-tunnel-cli.exe"
  File /nonfatal "${STAGE}/WebView2Loader.dll"
  File "/oname=LICENSE.txt" "${ROOT}/LICENSE"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\sber-tunnel.exe"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "sber-tunnel"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\sber-tunnel.exe"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1

  ; The window needs WebView2; say so (not in a silent install) rather than fail later.
  ClearErrors
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 webview2_ok
  ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 webview2_ok
  IfSilent webview2_ok
  MessageBox MB_OK|MB_ICONINFORMATION "$(WebView2Missing)"
  webview2_ok:
SectionEnd

Section "Uninstall"
  nsExec::Exec '"$INSTDIR\sber-tunnel-cli.exe" stop'
  ; The app's own "start at login" entry (tauri-plugin-autostart writes it under Run).
  DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${APP}"
  Delete "$SMPROGRAMS\${APP}.lnk"
  Delete "$INSTDIR\sber-tunnel.exe"
  Delete "$INSTDIR\sber-tunnel-cli.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd
