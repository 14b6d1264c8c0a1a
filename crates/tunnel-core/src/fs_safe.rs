//! File system access inside a synced folder that never follows a symbolic link below the
//! root.
//!
//! A path is checked when it is scanned or planned and used a moment later; in between, a file
//! can be replaced by a link to `~/.ssh/id_rsa`, or a folder by a link to somewhere else. Every
//! operation here therefore walks from the root one component at a time, opening each folder
//! with `O_NOFOLLOW | O_DIRECTORY` (a link or a file in the way fails with `ELOOP`/`ENOTDIR`),
//! and works relative to the folder handle it ended on (`openat`, `mkdirat`, `renameat`,
//! `unlinkat`, `fstatat` without following). The root itself is opened normally: it is the
//! user's choice and may well be a link.
//!
//! On Windows, where those calls do not exist, every reparse point counts as a link: symbolic
//! links, junctions, mount points and cloud placeholders (OneDrive's files-on-demand) alike
//! (see [`attrs`]). Each folder on the way is opened with `FILE_FLAG_OPEN_REPARSE_POINT`
//! (so a reparse point is opened itself, never followed, and refused) and held open without
//! `FILE_SHARE_DELETE` while it is used: a held folder cannot be renamed, deleted or swapped
//! for a junction, so the operations, which act by path there, stay inside the folders that
//! were checked. The final name is opened with `FILE_FLAG_OPEN_REPARSE_POINT` too.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::rel_path::RelPath;

/// What a name in a folder is, read without following links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link (never followed); on Windows any reparse point (a symbolic link, a
    /// junction, a mount point, a cloud placeholder).
    Symlink,
    /// A socket, FIFO or device.
    Other,
}

/// The metadata of a name, read without following links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Size in bytes.
    pub len: u64,
    /// Modification time, nanoseconds since the Unix epoch (as [`crate::chunk::mtime_ns`]).
    pub mtime_ns: i64,
    /// Device and inode (0, 0 where the platform has none).
    pub dev: u64,
    /// Inode number (0 where the platform has none).
    pub ino: u64,
}

impl Meta {
    /// The metadata of an open file (or of a `symlink_metadata` result).
    pub fn of(m: &std::fs::Metadata) -> Meta {
        let ft = m.file_type();
        let kind = if ft.is_symlink() || attrs::is_reparse_point(attrs::of(m)) {
            Kind::Symlink
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        };
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        };
        #[cfg(not(unix))]
        let (dev, ino) = (0, 0);
        Meta {
            kind,
            len: m.len(),
            mtime_ns: crate::chunk::mtime_ns(m),
            dev,
            ino,
        }
    }

    /// Whether `self` and `other` are the same file: same device and inode where the platform
    /// has them, the same kind, size and mtime everywhere.
    pub fn same_file(&self, other: &Meta) -> bool {
        let ids =
            (self.dev, self.ino) == (other.dev, other.ino) || (self.ino == 0 && other.ino == 0);
        ids && self.kind == other.kind && self.len == other.len && self.mtime_ns == other.mtime_ns
    }
}

/// Windows file attributes, as pure functions of the attribute bits so that every platform
/// tests them (on Unix [`of`] is always 0: nothing there is hidden by an attribute or a
/// reparse point).
pub mod attrs {
    /// `FILE_ATTRIBUTE_HIDDEN`.
    pub const HIDDEN: u32 = 0x2;
    /// `FILE_ATTRIBUTE_SYSTEM`.
    pub const SYSTEM: u32 = 0x4;
    /// `FILE_ATTRIBUTE_DIRECTORY`.
    pub const DIRECTORY: u32 = 0x10;
    /// `FILE_ATTRIBUTE_ARCHIVE`.
    pub const ARCHIVE: u32 = 0x20;
    /// `FILE_ATTRIBUTE_NORMAL`.
    pub const NORMAL: u32 = 0x80;
    /// `FILE_ATTRIBUTE_READONLY`.
    pub const READONLY: u32 = 0x1;
    /// `FILE_ATTRIBUTE_REPARSE_POINT`: a symbolic link, junction, mount point, or a cloud
    /// placeholder (OneDrive files-on-demand, which Windows downloads when it is read).
    pub const REPARSE_POINT: u32 = 0x400;
    /// `FILE_ATTRIBUTE_OFFLINE`.
    pub const OFFLINE: u32 = 0x1000;
    /// `FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS` (a cloud file not on this disk).
    pub const RECALL_ON_DATA_ACCESS: u32 = 0x0040_0000;

    /// The attributes of `meta` (read with it, no further system call); 0 on Unix.
    pub fn of(meta: &std::fs::Metadata) -> u32 {
        #[cfg(windows)]
        {
            use std::os::windows::fs::MetadataExt;
            meta.file_attributes()
        }
        #[cfg(not(windows))]
        {
            let _ = meta;
            0
        }
    }

    /// Hidden the Windows way: `HIDDEN`, or `SYSTEM` (files Windows keeps for itself in a
    /// user's folders, `desktop.ini` and `Thumbs.db`, are both; Explorer hides system files
    /// even when hidden ones are shown, and they describe this computer's view of the folder,
    /// not the user's data). Treated exactly as a name with a leading `.`.
    pub fn is_hidden(attributes: u32) -> bool {
        attributes & (HIDDEN | SYSTEM) != 0
    }

    /// Any reparse point: never followed, never synced, like a symbolic link on Unix.
    pub fn is_reparse_point(attributes: u32) -> bool {
        attributes & REPARSE_POINT != 0
    }
}

/// An error for "something other than a folder is in the way".
fn not_a_folder(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotADirectory,
        format!(
            "{} is not a folder (a link or a file is in the way)",
            path.display()
        ),
    )
}

/// A folder inside (or being) a synced folder's root, opened without following links below
/// the root.
#[derive(Debug)]
pub struct Dir {
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
    /// This folder and every folder above it up to the root, held open (see the module
    /// documentation).
    #[cfg(windows)]
    held: Vec<std::sync::Arc<File>>,
    /// For messages (and for acting by path where there are no `*at` calls).
    path: PathBuf,
}

#[cfg(unix)]
mod sys {
    use super::*;
    use rustix::fs::{AtFlags, Mode, OFlags, CWD};
    use std::os::fd::OwnedFd;

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::CLOEXEC);

    pub(super) fn open_root(root: &Path) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat(CWD, root, DIR_FLAGS, Mode::empty())?)
    }

    pub(super) fn open_child_dir(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat(
            dir,
            name,
            DIR_FLAGS | OFlags::NOFOLLOW,
            Mode::empty(),
        )?)
    }

    pub(super) fn mkdir(dir: &OwnedFd, name: &str) -> io::Result<()> {
        Ok(rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777))?)
    }

    pub(super) fn open_file(dir: &OwnedFd, name: &str) -> io::Result<File> {
        // NONBLOCK: a FIFO swapped in is opened without waiting for a writer (and refused
        // below as not a regular file).
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        let file = File::from(fd);
        // Reads from a regular file never block; clear NONBLOCK for the file's readers anyway.
        rustix::fs::fcntl_setfl(&file, OFlags::empty())?;
        Ok(file)
    }

    pub(super) fn create_new(dir: &OwnedFd, name: &str) -> io::Result<File> {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )?;
        Ok(File::from(fd))
    }

    #[allow(clippy::unnecessary_cast)]
    pub(super) fn stat(dir: &OwnedFd, name: &str) -> io::Result<Meta> {
        let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = match rustix::fs::FileType::from_raw_mode(st.st_mode as _) {
            rustix::fs::FileType::RegularFile => Kind::File,
            rustix::fs::FileType::Directory => Kind::Dir,
            rustix::fs::FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        let mtime = st.st_mtime as i64;
        Ok(Meta {
            kind,
            len: st.st_size as u64,
            mtime_ns: mtime
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_mtime_nsec as i64),
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
        })
    }

    pub(super) fn rename(from: &OwnedFd, a: &str, to: &OwnedFd, b: &str) -> io::Result<()> {
        Ok(rustix::fs::renameat(from, a, to, b)?)
    }

    pub(super) fn remove_file(dir: &OwnedFd, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?)
    }

    pub(super) fn hard_link(from: &OwnedFd, a: &str, to: &OwnedFd, b: &str) -> io::Result<()> {
        // Without AT_SYMLINK_FOLLOW: a link at `a` is linked itself, never followed.
        Ok(rustix::fs::linkat(from, a, to, b, AtFlags::empty())?)
    }

    pub(super) fn remove_dir(dir: &OwnedFd, name: &str) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
    }
}

#[cfg(windows)]
mod sys {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::windows::fs::OpenOptionsExt;

    /// Open a reparse point itself instead of what it points to.
    pub(super) const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    /// Needed to open a folder.
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    const FILE_LIST_DIRECTORY: u32 = 0x1;
    const FILE_READ_ATTRIBUTES: u32 = 0x80;
    const SYNCHRONIZE: u32 = 0x0010_0000;
    const FILE_SHARE_READ: u32 = 0x1;
    const FILE_SHARE_WRITE: u32 = 0x2;
    const FILE_SHARE_DELETE: u32 = 0x4;
    const DELETE: u32 = 0x0001_0000;

    /// Open the folder `path` and hold it: shared for reading and writing but not for
    /// deletion, so that while it is held nobody renames, deletes or replaces it. `follow`:
    /// the root, which may be a link or a junction of the user's choosing; below it a reparse
    /// point is opened itself and refused.
    pub(super) fn hold_dir(path: &Path, follow: bool) -> io::Result<File> {
        let flags = if follow {
            FILE_FLAG_BACKUP_SEMANTICS
        } else {
            FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT
        };
        let dir = OpenOptions::new()
            .access_mode(FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | SYNCHRONIZE)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
            .custom_flags(flags)
            .open(path)?;
        let m = dir.metadata()?;
        if attrs::is_reparse_point(attrs::of(&m)) || !m.is_dir() {
            return Err(not_a_folder(path));
        }
        Ok(dir)
    }

    /// Open the file `path` for reading; a reparse point there is opened itself (and refused
    /// by the caller), never followed.
    pub(super) fn open_file(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)
    }

    /// Create the new file `path`: fails when any name, a reparse point included, is there.
    pub(super) fn create_new(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)
    }

    /// Windows refuses to replace, rename or delete a file another program holds open with
    /// `ERROR_ACCESS_DENIED` as often as with a sharing violation. When `err` is a denial,
    /// ask the file itself: opening it for deletion while every other program's sharing is
    /// respected fails with a sharing violation exactly when one holds it. That error is
    /// returned instead, so that the file is reported as in use; any other answer leaves `err`.
    pub(super) fn explain_denied(err: io::Error, path: &Path) -> io::Error {
        if err.kind() != io::ErrorKind::PermissionDenied {
            return err;
        }
        match OpenOptions::new()
            .access_mode(DELETE | FILE_READ_ATTRIBUTES)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
            .open(path)
        {
            Err(probe) if crate::in_use::is_in_use(&probe) => probe,
            _ => err,
        }
    }
}

impl Dir {
    /// Open the root of a synced folder (links are followed for the root itself).
    pub fn root(root: &Path) -> io::Result<Dir> {
        #[cfg(unix)]
        {
            Ok(Dir {
                fd: sys::open_root(root)?,
                path: root.to_path_buf(),
            })
        }
        #[cfg(windows)]
        {
            Ok(Dir {
                held: vec![std::sync::Arc::new(sys::hold_dir(root, true)?)],
                path: root.to_path_buf(),
            })
        }
    }

    /// Where this folder is (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open the folder `name` inside this one; a link or a file there is an error.
    pub fn open_dir(&self, name: &str) -> io::Result<Dir> {
        let path = self.path.join(name);
        #[cfg(unix)]
        {
            match sys::open_child_dir(&self.fd, name) {
                Ok(fd) => Ok(Dir { fd, path }),
                Err(e) if is_in_the_way(&e) => Err(not_a_folder(&path)),
                Err(e) => Err(e),
            }
        }
        #[cfg(windows)]
        {
            let mut held = self.held.clone();
            held.push(std::sync::Arc::new(sys::hold_dir(&path, false)?));
            Ok(Dir { held, path })
        }
    }

    /// Open the folder `name` inside this one, creating it when missing.
    pub fn open_or_create_dir(&self, name: &str) -> io::Result<Dir> {
        match self.open_dir(name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => match self.mkdir(name) {
                Ok(()) => self.open_dir(name),
                // Created by someone else meanwhile: open what is there (checked again).
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.open_dir(name),
                Err(e) => Err(e),
            },
            other => other,
        }
    }

    /// Create the folder `name` inside this one.
    pub fn mkdir(&self, name: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            sys::mkdir(&self.fd, name)
        }
        #[cfg(windows)]
        {
            std::fs::create_dir(self.path.join(name))
        }
    }

    /// Open the regular file `name` for reading; a link, folder or special file is an error.
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        #[cfg(test)]
        crate::in_use::inject::check(&self.path.join(name))?;
        #[cfg(unix)]
        let file = sys::open_file(&self.fd, name)?;
        #[cfg(windows)]
        let file = {
            let path = self.path.join(name);
            let file = sys::open_file(&path)?;
            if attrs::is_reparse_point(attrs::of(&file.metadata()?)) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{} is a link, junction or cloud placeholder",
                        path.display()
                    ),
                ));
            }
            file
        };
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", self.path.join(name).display()),
            ));
        }
        Ok(file)
    }

    /// Create the new file `name` (read-write); fails when anything is there already.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        #[cfg(unix)]
        {
            sys::create_new(&self.fd, name)
        }
        #[cfg(windows)]
        {
            sys::create_new(&self.path.join(name))
        }
    }

    /// The metadata of `name` without following a link; `None` when nothing is there.
    pub fn stat(&self, name: &str) -> io::Result<Option<Meta>> {
        #[cfg(unix)]
        let r = sys::stat(&self.fd, name);
        #[cfg(windows)]
        let r = std::fs::symlink_metadata(self.path.join(name)).map(|m| Meta::of(&m));
        match r {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Rename `from` in this folder to `to` in folder `dest` (replacing a file there, as
    /// `rename` does).
    pub fn rename(&self, from: &str, dest: &Dir, to: &str) -> io::Result<()> {
        #[cfg(test)]
        {
            crate::in_use::inject::check(&self.path.join(from))?;
            crate::in_use::inject::check(&dest.path.join(to))?;
        }
        #[cfg(unix)]
        {
            sys::rename(&self.fd, from, &dest.fd, to)
        }
        #[cfg(windows)]
        {
            let (a, b) = (self.path.join(from), dest.path.join(to));
            std::fs::rename(&a, &b)
                .map_err(|e| sys::explain_denied(e, &b))
                .map_err(|e| sys::explain_denied(e, &a))
        }
    }

    /// Add the name `to` in folder `dest` for the file `from` in this folder (a hard link; the
    /// file keeps its name here too). Fails when `to` exists or the disk has no hard links.
    pub fn hard_link(&self, from: &str, dest: &Dir, to: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            sys::hard_link(&self.fd, from, &dest.fd, to)
        }
        #[cfg(not(unix))]
        {
            std::fs::hard_link(self.path.join(from), dest.path.join(to))
        }
    }

    /// Remove the file (or link) `name`.
    pub fn remove_file(&self, name: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            sys::remove_file(&self.fd, name)
        }
        #[cfg(windows)]
        {
            let path = self.path.join(name);
            std::fs::remove_file(&path).map_err(|e| sys::explain_denied(e, &path))
        }
    }

    /// Remove the empty folder `name`.
    pub fn remove_dir(&self, name: &str) -> io::Result<()> {
        #[cfg(unix)]
        {
            sys::remove_dir(&self.fd, name)
        }
        #[cfg(windows)]
        {
            std::fs::remove_dir(self.path.join(name))
        }
    }

    /// Flush this folder's entries (after a rename) where the platform can.
    pub fn sync(&self) {
        #[cfg(unix)]
        {
            let _ = rustix::fs::fsync(&self.fd);
        }
    }

    /// Walk `components` down from this folder, each one a real folder (never a link);
    /// `create` makes the missing ones.
    pub fn walk<'a>(
        &self,
        components: impl IntoIterator<Item = &'a str>,
        create: bool,
    ) -> io::Result<Dir> {
        let mut dir: Option<Dir> = None;
        for name in components {
            let here = dir.as_ref().unwrap_or(self);
            let next = if create {
                here.open_or_create_dir(name)?
            } else {
                here.open_dir(name)?
            };
            dir = Some(next);
        }
        match dir {
            Some(d) => Ok(d),
            None => self.try_clone(),
        }
    }

    fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            #[cfg(unix)]
            fd: self.fd.try_clone()?,
            #[cfg(windows)]
            held: self.held.clone(),
            path: self.path.clone(),
        })
    }
}

/// ELOOP (a link where a folder was expected with `O_NOFOLLOW`) or ENOTDIR (a file).
#[cfg(unix)]
fn is_in_the_way(e: &io::Error) -> bool {
    let raw = e.raw_os_error();
    raw == Some(rustix::io::Errno::LOOP.raw_os_error())
        || raw == Some(rustix::io::Errno::NOTDIR.raw_os_error())
}

/// The folder holding `rel` (walked from `root` without following links) and `rel`'s name.
pub fn parent_of<'a>(root: &Path, rel: &'a RelPath, create: bool) -> io::Result<(Dir, &'a str)> {
    let top = Dir::root(root)?;
    let parts: Vec<&str> = rel.components().collect();
    let (name, dirs) = parts
        .split_last()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty path"))?;
    Ok((top.walk(dirs.iter().copied(), create)?, name))
}

/// Open the regular file `root/rel` for reading, no link followed anywhere below `root`.
pub fn open_file(root: &Path, rel: &RelPath) -> io::Result<File> {
    let (dir, name) = parent_of(root, rel, false)?;
    dir.open_file(name)
}

/// The metadata of `root/rel` without following links. `None` when it is absent (or a folder
/// above it is absent); an error when a link or a file stands where a folder above it should be.
pub fn stat(root: &Path, rel: &RelPath) -> io::Result<Option<Meta>> {
    match parent_of(root, rel, false) {
        Ok((dir, name)) => dir.stat(name),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Create the folder `root/rel` and the missing folders above it, never through a link.
pub fn create_dir_all(root: &Path, rel: &RelPath) -> io::Result<()> {
    Dir::root(root)?.walk(rel.components(), true).map(|_| ())
}

/// Remove the file `root/rel` (its folder reached without following links).
pub fn remove_file(root: &Path, rel: &RelPath) -> io::Result<()> {
    let (dir, name) = parent_of(root, rel, false)?;
    dir.remove_file(name)
}

/// Remove the empty folder `root/rel` (its parent reached without following links).
pub fn remove_dir(root: &Path, rel: &RelPath) -> io::Result<()> {
    let (dir, name) = parent_of(root, rel, false)?;
    dir.remove_dir(name)
}

/// Rename `root/from` to `root/to`, both reached without following links (the folder of `to`
/// is created when missing).
pub fn rename(root: &Path, from: &RelPath, to: &RelPath) -> io::Result<()> {
    let (src, a) = parent_of(root, from, false)?;
    let (dest, b) = parent_of(root, to, true)?;
    src.rename(a, &dest, b)
}

// Unix only: every test here makes symbolic links. Under Wine 8 CreateSymbolicLinkW reports
// success and makes nothing, and Windows lets a user make links only in Developer Mode or as an
// administrator; the Windows fallback above (checks by path) is exercised by the scan and sync
// tests that run under Wine.
#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::symlink;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid")
    }

    struct Fixture {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        outside: PathBuf,
    }

    /// A root with `d/f.txt`, and an outside folder with `secret` and `d/f.txt`.
    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("d")).expect("mkdir");
        std::fs::create_dir_all(outside.join("d")).expect("mkdir");
        std::fs::write(root.join("d/f.txt"), b"inside").expect("write");
        std::fs::write(outside.join("secret"), b"SECRET").expect("write");
        std::fs::write(outside.join("d/f.txt"), b"SECRET").expect("write");
        Fixture {
            _tmp: tmp,
            root,
            outside,
        }
    }

    #[test]
    fn opens_real_files_and_refuses_links_at_the_end_or_on_the_way() {
        let f = fixture();
        let mut s = String::new();
        open_file(&f.root, &rel("d/f.txt"))
            .expect("a real file opens")
            .read_to_string(&mut s)
            .expect("read");
        assert_eq!(s, "inside");

        symlink(f.outside.join("secret"), f.root.join("link")).expect("symlink");
        assert!(open_file(&f.root, &rel("link")).is_err(), "final link");

        std::fs::remove_dir_all(f.root.join("d")).expect("rm");
        symlink(f.outside.join("d"), f.root.join("d")).expect("symlink");
        let err = open_file(&f.root, &rel("d/f.txt")).expect_err("a link on the way");
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory, "{err}");
        assert!(open_file(&f.root, &rel("d")).is_err(), "a link to a folder");
    }

    #[test]
    fn stat_does_not_follow_and_tells_absent_from_blocked() {
        let f = fixture();
        symlink(f.outside.join("secret"), f.root.join("link")).expect("symlink");
        assert_eq!(
            stat(&f.root, &rel("link")).expect("stat").map(|m| m.kind),
            Some(Kind::Symlink)
        );
        assert_eq!(stat(&f.root, &rel("nope/x")).expect("stat"), None);
        std::fs::remove_dir_all(f.root.join("d")).expect("rm");
        symlink(f.outside.join("d"), f.root.join("d")).expect("symlink");
        assert!(stat(&f.root, &rel("d/f.txt")).is_err(), "a link on the way");
    }

    #[test]
    fn creating_and_renaming_never_goes_through_a_link() {
        let f = fixture();
        std::fs::remove_dir_all(f.root.join("d")).expect("rm");
        symlink(f.outside.join("d"), f.root.join("d")).expect("symlink");
        assert!(create_dir_all(&f.root, &rel("d/new")).is_err());
        assert!(!f.outside.join("d/new").exists(), "nothing made outside");
        std::fs::write(f.root.join("x"), b"x").expect("write");
        assert!(rename(&f.root, &rel("x"), &rel("d/x")).is_err());
        assert!(!f.outside.join("d/x").exists(), "nothing moved outside");
        assert!(remove_file(&f.root, &rel("d/f.txt")).is_err());
        assert!(
            f.outside.join("d/f.txt").exists(),
            "nothing removed outside"
        );

        create_dir_all(&f.root, &rel("e/g/h")).expect("real folders are made");
        rename(&f.root, &rel("x"), &rel("e/g/h/x")).expect("rename inside");
        assert_eq!(
            std::fs::read(f.root.join("e/g/h/x")).expect("moved"),
            b"x".to_vec()
        );
    }
}

// Windows: what a held folder guarantees. (Reparse points cannot be made under Wine 8: its
// CreateSymbolicLinkW reports success and makes nothing, and it shows a Unix symbolic link as
// the plain file or folder it points to, without FILE_ATTRIBUTE_REPARSE_POINT (measured).
// The attribute rule itself is tested on every platform in scan's tests.)
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    fn rel(s: &str) -> RelPath {
        RelPath::new(s).expect("valid")
    }

    #[test]
    fn a_folder_in_use_cannot_be_swapped_while_it_is_held() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("d")).expect("mkdir");
        std::fs::write(root.join("d").join("f.txt"), b"inside").expect("write");
        let path = rel("d/f.txt");
        let (dir, name) = parent_of(&root, &path, false).expect("walked");
        assert_eq!(name, "f.txt");
        // Another program tries to move the folder away (to put a junction in its place).
        let moved = std::fs::rename(root.join("d"), root.join("away"));
        assert!(moved.is_err(), "a held folder stays where it is");
        let mut f = dir.create_new("new.partial").expect("create inside");
        std::io::Write::write_all(&mut f, b"new").expect("write");
        drop(f);
        dir.rename("new.partial", &dir, "g.txt")
            .expect("rename inside");
        drop(dir);
        std::fs::rename(root.join("d"), root.join("away")).expect("free once let go");
        assert_eq!(
            std::fs::read(root.join("away").join("g.txt")).expect("read"),
            b"new".to_vec()
        );
    }

    #[test]
    fn a_file_where_a_folder_should_be_is_in_the_way() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        std::fs::write(root.join("f"), b"a file").expect("write");
        let err = create_dir_all(root, &rel("f/x")).expect_err("a file in the way");
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory, "{err}");
        let err = open_file(root, &rel("f/x")).expect_err("a file in the way");
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory, "{err}");
        assert_eq!(
            stat(root, &rel("f")).expect("stat").map(|m| m.kind),
            Some(Kind::File)
        );
    }
}
