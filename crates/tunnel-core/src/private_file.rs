//! Files only this user may read (the secrets file): mode 0600 on Unix; on Windows a protected
//! DACL (no inherited entries) with one entry, the current user with full access.
//!
//! Reading such a file is refused when others can read it: on Unix when the group or others
//! have any permission bit (`secrets.rs`); on Windows when its DACL lets anyone read it other
//! than this user, `SYSTEM` or the Administrators (who can read every file anyway), or when
//! it has no DACL at all (everyone may do everything). The decision, [`other_readers`], is a
//! pure function of the DACL's entries, tested on every platform; `sys` reads and writes real
//! DACLs on Windows.

/// Who an access-control entry is for, as far as the check cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trustee {
    /// The user this process runs as.
    CurrentUser,
    /// `NT AUTHORITY\SYSTEM` (S-1-5-18).
    System,
    /// `BUILTIN\Administrators` (S-1-5-32-544).
    Administrators,
    /// Anyone else, by SID string (`S-1-1-0` is Everyone).
    Other(String),
}

/// One entry of a DACL, reduced to what the check needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ace {
    /// An "access allowed" entry (anything else, a deny entry included, grants nothing).
    pub allows: bool,
    /// The access mask.
    pub mask: u32,
    /// Applies only to children (`INHERIT_ONLY_ACE`), not to the file itself.
    pub inherit_only: bool,
    /// Whom it is for.
    pub trustee: Trustee,
}

/// `FILE_READ_DATA`.
pub const FILE_READ_DATA: u32 = 0x1;
/// `GENERIC_READ`.
pub const GENERIC_READ: u32 = 0x8000_0000;
/// `GENERIC_ALL`.
pub const GENERIC_ALL: u32 = 0x1000_0000;

/// The mask bits that let their holder read a file's content.
const READS: u32 = FILE_READ_DATA | GENERIC_READ | GENERIC_ALL;

/// Who other than this user, SYSTEM and the Administrators may read a file with this DACL
/// (`None`: the file has no DACL, which lets everyone in). Empty: the file is private.
///
/// Deny entries are not weighed against allow entries: a file is private when no allow entry
/// lets anyone else read it (stricter than Windows' own evaluation, never looser).
pub fn other_readers(dacl: Option<&[Ace]>) -> Vec<String> {
    let Some(aces) = dacl else {
        return vec!["everyone (the file has no access list)".to_string()];
    };
    let mut out: Vec<String> = aces
        .iter()
        .filter(|a| a.allows && !a.inherit_only && a.mask & READS != 0)
        .filter_map(|a| match &a.trustee {
            Trustee::CurrentUser | Trustee::System | Trustee::Administrators => None,
            Trustee::Other(sid) => Some(sid.clone()),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(all(windows, test))]
pub(crate) use sys::share_with_everyone;
/// The system reported a private DACL set but keeps one that lets others read the file.
#[derive(Debug, thiserror::Error)]
#[error(
    "the system did not keep the access list set on the file ({} may still read it), so no secret is written to it; keep the secret in the Credential Manager or in SBER_TUNNEL_PASSWORD / SBER_TUNNEL_TOKEN instead",
    readers.join(", ")
)]
pub struct DaclNotKept {
    /// Who else may read the file.
    pub readers: Vec<String>,
}

#[cfg(windows)]
pub(crate) use sys::{dacl_of, restrict_to_current_user};

#[cfg(windows)]
mod sys {
    use std::ffi::c_void;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;

    use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, ERROR_SUCCESS, HANDLE};
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, GetNamedSecurityInfoW, GetSecurityInfo, SetSecurityInfo,
        SE_FILE_OBJECT,
    };
    use windows_sys::Win32::Security::{
        AclSizeInformation, AddAccessAllowedAce, CreateWellKnownSid, EqualSid, GetAce,
        GetAclInformation, GetLengthSid, GetTokenInformation, InitializeAcl, TokenUser,
        WinBuiltinAdministratorsSid, WinLocalSystemSid, ACCESS_ALLOWED_ACE, ACL, ACL_REVISION,
        ACL_SIZE_INFORMATION, DACL_SECURITY_INFORMATION, INHERIT_ONLY_ACE,
        PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_MAX_SID_SIZE,
        TOKEN_QUERY, TOKEN_USER,
    };
    use windows_sys::Win32::Storage::FileSystem::FILE_ALL_ACCESS;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    use super::{Ace, Trustee};

    /// `ACCESS_ALLOWED_ACE_TYPE`.
    const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;

    fn check(ok: i32) -> io::Result<()> {
        if ok == 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// The current user's SID, as the bytes of a `TOKEN_USER` buffer (kept alive by the
    /// caller; the SID points into it).
    struct UserSid {
        buf: Vec<u64>,
    }

    impl UserSid {
        fn current() -> io::Result<UserSid> {
            let mut token: HANDLE = std::ptr::null_mut();
            // SAFETY: a pseudo-handle for this process and an out-pointer to a local.
            check(unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) })?;
            let mut len = 0u32;
            // SAFETY: the first call asks for the size only.
            unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut len) };
            // u64 elements: the buffer is aligned for TOKEN_USER.
            let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
            // SAFETY: `buf` holds at least `len` bytes.
            let r = check(unsafe {
                GetTokenInformation(
                    token,
                    TokenUser,
                    buf.as_mut_ptr().cast::<c_void>(),
                    len,
                    &mut len,
                )
            });
            // SAFETY: the token was opened above.
            unsafe { CloseHandle(token) };
            r?;
            Ok(UserSid { buf })
        }

        fn sid(&self) -> PSID {
            // SAFETY: the buffer holds a TOKEN_USER written by GetTokenInformation.
            unsafe { (*self.buf.as_ptr().cast::<TOKEN_USER>()).User.Sid }
        }
    }

    /// A well-known SID (SYSTEM, Administrators).
    fn well_known(kind: i32) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; SECURITY_MAX_SID_SIZE as usize];
        let mut len = SECURITY_MAX_SID_SIZE;
        // SAFETY: `buf` holds `len` bytes.
        check(unsafe {
            CreateWellKnownSid(
                kind,
                std::ptr::null_mut(),
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        })?;
        Ok(buf)
    }

    /// Give the open file `file` a protected DACL (nothing inherited from its folder) whose
    /// only entry is the current user with full access. `file` must be opened with
    /// `WRITE_DAC` access.
    ///
    /// The DACL is read back: a system that reports success and keeps another one (Wine 8
    /// does: it drops a file's DACL and answers with a default that lets Everyone read) gets
    /// an error, so that nothing secret is written to a file others may read. `file` must
    /// also be opened with `READ_CONTROL` access.
    pub(crate) fn restrict_to_current_user(file: &std::fs::File) -> io::Result<()> {
        let user = UserSid::current()?;
        set_dacl(file, &[(user.sid(), FILE_ALL_ACCESS)])?;
        let readers = super::other_readers(dacl_of_file(file)?.as_deref());
        if readers.is_empty() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                super::DaclNotKept { readers },
            ))
        }
    }

    /// The DACL of the open file `file` (opened with `READ_CONTROL`).
    pub(crate) fn dacl_of_file(file: &std::fs::File) -> io::Result<Option<Vec<Ace>>> {
        let mut pacl: *mut ACL = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: an open handle; out-pointers to locals; `sd` freed below.
        let r = unsafe {
            GetSecurityInfo(
                file.as_raw_handle() as HANDLE,
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut pacl,
                std::ptr::null_mut(),
                &mut sd,
            )
        };
        if r != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(r as i32));
        }
        let result = read_aces(pacl);
        // SAFETY: allocated by GetSecurityInfo; `pacl` points into it and is not used after.
        unsafe { LocalFree(sd) };
        result
    }

    /// Tests: the current user with full access and Everyone with read access, as a file
    /// shared by mistake would have.
    #[cfg(test)]
    pub(crate) fn share_with_everyone(file: &std::fs::File) -> io::Result<()> {
        use windows_sys::Win32::Security::WinWorldSid;
        use windows_sys::Win32::Storage::FileSystem::FILE_GENERIC_READ;
        let user = UserSid::current()?;
        let mut everyone = well_known(WinWorldSid)?;
        set_dacl(
            file,
            &[
                (user.sid(), FILE_ALL_ACCESS),
                (everyone.as_mut_ptr().cast(), FILE_GENERIC_READ),
            ],
        )
    }

    /// Replace the DACL of `file` with a protected one of these (SID, access) entries.
    fn set_dacl(file: &std::fs::File, entries: &[(PSID, u32)]) -> io::Result<()> {
        // ACL header + per entry an ACCESS_ALLOWED_ACE whose SidStart is replaced by the SID.
        let mut acl_len = std::mem::size_of::<ACL>();
        for (sid, _) in entries {
            // SAFETY: valid SIDs from the caller.
            let sid_len = unsafe { GetLengthSid(*sid) } as usize;
            acl_len +=
                std::mem::size_of::<ACCESS_ALLOWED_ACE>() - std::mem::size_of::<u32>() + sid_len;
        }
        let mut acl = vec![0u64; acl_len.div_ceil(8)];
        let pacl = acl.as_mut_ptr().cast::<ACL>();
        // SAFETY: `acl` holds `acl_len` bytes, aligned.
        check(unsafe { InitializeAcl(pacl, acl_len as u32, ACL_REVISION) })?;
        for (sid, mask) in entries {
            // SAFETY: the ACL was sized for these entries; the SIDs are valid.
            check(unsafe { AddAccessAllowedAce(pacl, ACL_REVISION, *mask, *sid) })?;
        }
        // SAFETY: an open handle; owner, group and SACL left as they are.
        let r = unsafe {
            SetSecurityInfo(
                file.as_raw_handle() as HANDLE,
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                pacl,
                std::ptr::null(),
            )
        };
        if r != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(r as i32));
        }
        Ok(())
    }

    fn sid_string(sid: PSID) -> String {
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: a valid SID; the string is freed with LocalFree below.
        if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 || text.is_null() {
            return "an unknown account".to_string();
        }
        // SAFETY: a NUL-terminated string from ConvertSidToStringSidW.
        let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
        // SAFETY: `len` characters were just read.
        let s = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
        // SAFETY: allocated by ConvertSidToStringSidW.
        unsafe { LocalFree(text.cast()) };
        s
    }

    /// The DACL of `path`, its entries reduced to [`Ace`]s (`None`: it has no DACL).
    pub(crate) fn dacl_of(path: &Path) -> io::Result<Option<Vec<Ace>>> {
        let wide: Vec<u16> = path
            .as_os_str()
            .encode_wide()
            .chain(std::iter::once(0))
            .collect();
        let mut pacl: *mut ACL = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: a NUL-terminated path; out-pointers to locals; `sd` freed below.
        let r = unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut pacl,
                std::ptr::null_mut(),
                &mut sd,
            )
        };
        if r != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(r as i32));
        }
        let result = read_aces(pacl);
        // SAFETY: allocated by GetNamedSecurityInfoW; `pacl` points into it and is not used
        // after this.
        unsafe { LocalFree(sd) };
        result
    }

    fn read_aces(pacl: *mut ACL) -> io::Result<Option<Vec<Ace>>> {
        if pacl.is_null() {
            return Ok(None);
        }
        let user = UserSid::current()?;
        let mut system = well_known(WinLocalSystemSid)?;
        let mut admins = well_known(WinBuiltinAdministratorsSid)?;
        let mut info = ACL_SIZE_INFORMATION {
            AceCount: 0,
            AclBytesInUse: 0,
            AclBytesFree: 0,
        };
        // SAFETY: a valid ACL from the security descriptor; `info` is the right size.
        check(unsafe {
            GetAclInformation(
                pacl,
                (&mut info as *mut ACL_SIZE_INFORMATION).cast(),
                std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
                AclSizeInformation,
            )
        })?;
        let mut aces = Vec::new();
        for i in 0..info.AceCount {
            let mut ace: *mut c_void = std::ptr::null_mut();
            // SAFETY: `i` is below the ACL's entry count.
            check(unsafe { GetAce(pacl, i, &mut ace) })?;
            let ace = ace.cast::<ACCESS_ALLOWED_ACE>();
            // SAFETY: every ACE starts with an ACE_HEADER.
            let header = unsafe { (*ace).Header };
            if header.AceType != ACCESS_ALLOWED_ACE_TYPE {
                // Deny, audit and object entries grant nothing here.
                aces.push(Ace {
                    allows: false,
                    mask: 0,
                    inherit_only: false,
                    trustee: Trustee::Other(String::new()),
                });
                continue;
            }
            // SAFETY: an ACCESS_ALLOWED_ACE: the mask, then the SID from SidStart.
            let (mask, sid) = unsafe {
                (
                    (*ace).Mask,
                    std::ptr::addr_of_mut!((*ace).SidStart).cast::<c_void>(),
                )
            };
            // SAFETY: valid SIDs (the entry's, the token's and two made above).
            let trustee = unsafe {
                if EqualSid(sid, user.sid()) != 0 {
                    Trustee::CurrentUser
                } else if EqualSid(sid, system.as_mut_ptr().cast()) != 0 {
                    Trustee::System
                } else if EqualSid(sid, admins.as_mut_ptr().cast()) != 0 {
                    Trustee::Administrators
                } else {
                    Trustee::Other(sid_string(sid))
                }
            };
            aces.push(Ace {
                allows: true,
                mask,
                inherit_only: u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0,
                trustee,
            });
        }
        Ok(Some(aces))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ace(allows: bool, mask: u32, inherit_only: bool, trustee: Trustee) -> Ace {
        Ace {
            allows,
            mask,
            inherit_only,
            trustee,
        }
    }

    const EVERYONE: &str = "S-1-1-0";
    const USERS: &str = "S-1-5-32-545";

    #[test]
    fn only_other_readers_of_the_file_itself_count() {
        let me = || Trustee::CurrentUser;
        let other = |s: &str| Trustee::Other(s.to_string());
        let cases: Vec<(Option<Vec<Ace>>, Vec<&str>)> = vec![
            // No DACL: everyone may do everything.
            (None, vec!["everyone (the file has no access list)"]),
            // An empty DACL: nobody may (not even us; not a leak).
            (Some(vec![]), vec![]),
            // What we write: the user alone.
            (Some(vec![ace(true, 0x1F01FF, false, me())]), vec![]),
            // A profile folder's usual entries.
            (
                Some(vec![
                    ace(true, 0x1F01FF, false, me()),
                    ace(true, GENERIC_ALL, false, Trustee::System),
                    ace(true, 0x1F01FF, false, Trustee::Administrators),
                ]),
                vec![],
            ),
            // Others who may read, by each bit that reads.
            (
                Some(vec![ace(true, FILE_READ_DATA, false, other(EVERYONE))]),
                vec![EVERYONE],
            ),
            (
                Some(vec![ace(true, GENERIC_READ, false, other(USERS))]),
                vec![USERS],
            ),
            (
                Some(vec![ace(true, GENERIC_ALL, false, other(USERS))]),
                vec![USERS],
            ),
            // Others who may only read attributes or the ACL, or write: not readers.
            (
                Some(vec![
                    ace(true, 0x80 | 0x0002_0000, false, other(EVERYONE)),
                    ace(true, 0x2, false, other(USERS)),
                ]),
                vec![],
            ),
            // Deny entries grant nothing; inherit-only entries do not apply to the file.
            (
                Some(vec![
                    ace(false, GENERIC_ALL, false, other(EVERYONE)),
                    ace(true, GENERIC_READ, true, other(USERS)),
                ]),
                vec![],
            ),
            // Each reader once, sorted.
            (
                Some(vec![
                    ace(true, GENERIC_READ, false, other(USERS)),
                    ace(true, FILE_READ_DATA, false, other(EVERYONE)),
                    ace(true, GENERIC_ALL, false, other(USERS)),
                ]),
                vec![EVERYONE, USERS],
            ),
        ];
        for (dacl, want) in cases {
            assert_eq!(other_readers(dacl.as_deref()), want, "{dacl:?}");
        }
    }

    /// Windows: the file gets a protected DACL with the user alone, read back as such; or,
    /// on a system that does not keep it, an error that says so, truthfully. Measured: Wine
    /// 8 reports success for SetSecurityInfo and SetNamedSecurityInfoW (handle or path,
    /// protected or not) but stores nothing (no `user.wine.sd` attribute, no mode change) and
    /// reads back a default DACL (SYSTEM and the user full, Everyone read): under Wine the
    /// second branch runs. Real Windows keeps the DACL: the first branch.
    #[cfg(windows)]
    #[test]
    fn a_restricted_file_has_the_user_alone_in_its_dacl_or_fails_closed() {
        use std::os::windows::fs::OpenOptionsExt;
        const WRITE_DAC: u32 = 0x0004_0000;
        const READ_CONTROL: u32 = 0x0002_0000;
        const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.toml");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .access_mode(FILE_GENERIC_WRITE | WRITE_DAC | READ_CONTROL)
            .open(&path)
            .expect("create");
        let r = restrict_to_current_user(&file);
        drop(file);
        let dacl = dacl_of(&path).expect("read the DACL");
        match r {
            Ok(()) => assert_eq!(
                dacl,
                Some(vec![Ace {
                    allows: true,
                    mask: 0x1F01FF,
                    inherit_only: false,
                    trustee: Trustee::CurrentUser,
                }]),
                "the DACL as read back"
            ),
            Err(e) => {
                let readers = other_readers(dacl.as_deref());
                assert!(!readers.is_empty(), "refused, yet private: {dacl:?}");
                let inner = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<DaclNotKept>())
                    .expect("the DaclNotKept error");
                assert_eq!(inner.readers, readers);
                assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
            }
        }
    }
}
