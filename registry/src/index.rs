//! The index file: every library that was accepted, with its sha256, and
//! every library `agon plugins scan` refused, with the reason.
//!
//! JSON, at `$AGON_HOME/plugins-index.json` by default:
//! `{"format": 1, "libraries": [{"path", "sha256", "size", "manifest"}],
//! "refused": [{"path", "sha256", "reason", "checked_by"}]}`. `refused`
//! was added later without changing the format number: it is written only
//! when there is a refusal, an index without it has none, and older agons
//! ignore it. Entries are parsed one by one, so a damaged entry is reported
//! and dropped without affecting the others; the file is rewritten
//! atomically (temporary file, fsync, rename).

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use agon_sdk::Manifest;
use serde::{Deserialize, Serialize};

use crate::error::RegistryError;

const FORMAT: u64 = 1;

/// One component, as the index records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRecord {
    pub kind: String,
    pub name: String,
    pub description: String,
}

/// A library's manifest, as the index records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub sdk_abi: String,
    pub devices: Vec<String>,
    pub components: Vec<ComponentRecord>,
}

impl ManifestRecord {
    /// The record of a manifest.
    pub fn of(manifest: &Manifest) -> Self {
        ManifestRecord {
            namespace: manifest.namespace.to_string(),
            name: manifest.name.to_string(),
            version: manifest.version.to_string(),
            sdk_abi: manifest.sdk_abi.to_string(),
            devices: manifest.devices.iter().map(|d| d.to_string()).collect(),
            components: manifest
                .components
                .iter()
                .map(|c| ComponentRecord {
                    kind: c.kind.as_str().to_string(),
                    name: c.name.to_string(),
                    description: c.description.to_string(),
                })
                .collect(),
        }
    }

    /// `namespace/name`.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the library has a component of `kind` (any library, for
    /// `None`).
    pub fn provides(&self, kind: Option<agon_sdk::ComponentKind>) -> bool {
        kind.is_none_or(|kind| self.components.iter().any(|c| c.kind == kind.as_str()))
    }
}

/// One indexed library.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Canonical path of the file.
    pub path: PathBuf,
    /// Lower-case hex sha256 of the file when it was indexed.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// What the library said about itself.
    pub manifest: ManifestRecord,
}

/// A library `agon plugins scan` refused: loading it later (unindexed, so
/// unopened) reports this reason rather than asking for a scan, as long as
/// the file is unchanged and the same agon is asking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalRecord {
    /// Canonical path of the file.
    pub path: PathBuf,
    /// Lower-case hex sha256 of the file that was refused.
    pub sha256: String,
    /// The refusal, as the scan reported it (reason and fix).
    pub reason: String,
    /// The agon that refused it (version and plugin ABI): another agon may
    /// accept the same file.
    pub checked_by: String,
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    path: PathBuf,
    entries: BTreeMap<PathBuf, IndexEntry>,
    refused: BTreeMap<PathBuf, RefusalRecord>,
    /// This process's edits since the file was read (`None`: removed):
    /// what [`Index::save`] applies over the file as it is then, so that
    /// processes sharing an index (a sweep's cells) do not undo each
    /// other's entries.
    edited: BTreeMap<PathBuf, Option<IndexEntry>>,
    edited_refusals: BTreeMap<PathBuf, Option<RefusalRecord>>,
    /// Problems found while reading the file (damaged entries, bad JSON).
    pub warnings: Vec<String>,
}

impl Index {
    /// Reads the index at `path`; a missing file is an empty index, and
    /// damage is reported in [`Index::warnings`] rather than as an error.
    pub fn load(path: &Path) -> Self {
        let mut index = Index {
            path: path.to_path_buf(),
            ..Index::default()
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return index,
            Err(e) => {
                index.warnings.push(format!(
                    "cannot read the plugin index {}: {e}",
                    path.display()
                ));
                return index;
            }
        };
        index.read_entries(&text);
        index
    }

    /// The index of `text` (the contents of the file at `path`).
    pub fn parse(text: &str, path: &Path) -> Self {
        let mut index = Index {
            path: path.to_path_buf(),
            ..Index::default()
        };
        index.read_entries(text);
        index
    }

    /// Adds the entries of `text`, reporting damage in `warnings`.
    fn read_entries(&mut self, text: &str) {
        let path = self.path.clone();
        let index = self;
        let document: serde_json::Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                index.warnings.push(format!(
                    "the plugin index {} is not valid JSON ({e}); it will be rebuilt",
                    path.display()
                ));
                return;
            }
        };
        if document.get("format").and_then(|f| f.as_u64()) != Some(FORMAT) {
            index.warnings.push(format!(
                "the plugin index {} has an unknown format; it will be rebuilt",
                path.display()
            ));
            return;
        }
        let entries = document
            .get("libraries")
            .and_then(|l| l.as_array())
            .cloned()
            .unwrap_or_default();
        for (i, entry) in entries.into_iter().enumerate() {
            match serde_json::from_value::<IndexEntry>(entry) {
                Ok(entry) => {
                    index.entries.insert(entry.path.clone(), entry);
                }
                Err(e) => index.warnings.push(format!(
                    "{}: entry {i} is damaged ({e}) and was skipped",
                    path.display()
                )),
            }
        }
        let refused = match document.get("refused") {
            None => Vec::new(),
            Some(serde_json::Value::Array(refused)) => refused.clone(),
            Some(_) => {
                index.warnings.push(format!(
                    "{}: the list of refused libraries is damaged (not a list) and was skipped",
                    path.display()
                ));
                Vec::new()
            }
        };
        for (i, record) in refused.into_iter().enumerate() {
            match serde_json::from_value::<RefusalRecord>(record) {
                Ok(record) => {
                    index.refused.insert(record.path.clone(), record);
                }
                Err(e) => index.warnings.push(format!(
                    "{}: refused library {i} is damaged ({e}) and was skipped",
                    path.display()
                )),
            }
        }
    }

    /// Where the index lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry of a canonical path.
    pub fn get(&self, path: &Path) -> Option<&IndexEntry> {
        self.entries.get(path)
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, entry: IndexEntry) {
        self.edited.insert(entry.path.clone(), Some(entry.clone()));
        self.entries.insert(entry.path.clone(), entry);
    }

    /// Removes an entry.
    pub fn remove(&mut self, path: &Path) -> Option<IndexEntry> {
        self.edited.insert(path.to_path_buf(), None);
        self.entries.remove(path)
    }

    /// All entries, by path.
    pub fn entries(&self) -> impl Iterator<Item = &IndexEntry> {
        self.entries.values()
    }

    /// The refusal recorded for a canonical path.
    pub fn refusal(&self, path: &Path) -> Option<&RefusalRecord> {
        self.refused.get(path)
    }

    /// Records (or replaces) a refusal.
    pub fn record_refusal(&mut self, record: RefusalRecord) {
        self.edited_refusals
            .insert(record.path.clone(), Some(record.clone()));
        self.refused.insert(record.path.clone(), record);
    }

    /// Forgets the refusal of a path.
    pub fn forget_refusal(&mut self, path: &Path) -> Option<RefusalRecord> {
        self.edited_refusals.insert(path.to_path_buf(), None);
        self.refused.remove(path)
    }

    /// All recorded refusals, by path.
    pub fn refusals(&self) -> impl Iterator<Item = &RefusalRecord> {
        self.refused.values()
    }

    /// Writes the index atomically.
    pub fn save(&mut self) -> Result<(), RegistryError> {
        let fail = |reason: String| RegistryError::IndexWrite {
            path: self.path.clone(),
            reason,
        };
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        }
        // One writer at a time; each applies its own edits to the file as
        // the others left it.
        let _lock = IndexLock::take(&self.path).map_err(|e| fail(e.to_string()))?;
        let on_disk = Index::load(&self.path);
        let mut entries = on_disk.entries;
        for (path, edit) in std::mem::take(&mut self.edited) {
            match edit {
                Some(entry) => entries.insert(path, entry),
                None => entries.remove(&path),
            };
        }
        let mut refused = on_disk.refused;
        for (path, edit) in std::mem::take(&mut self.edited_refusals) {
            match edit {
                Some(record) => refused.insert(path, record),
                None => refused.remove(&path),
            };
        }
        self.entries = entries;
        self.refused = refused;
        let mut document = serde_json::json!({
            "format": FORMAT,
            "libraries": self.entries.values().collect::<Vec<_>>(),
        });
        if !self.refused.is_empty() {
            document["refused"] = serde_json::json!(self.refused.values().collect::<Vec<_>>());
        }
        let text = serde_json::to_string_pretty(&document).map_err(|e| fail(e.to_string()))?;
        let temporary = self
            .path
            .with_extension(format!("json.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            fail(e.to_string())
        })
    }
}

/// An exclusive `flock` on `<index>.lock`, released when dropped.
struct IndexLock {
    _file: std::fs::File,
}

impl IndexLock {
    fn take(index: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(index.with_extension("json.lock"))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a valid open descriptor; the lock goes with it.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(IndexLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_writers_keep_each_others_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugins-index.json");
        let mut a = Index::load(&path);
        let mut b = Index::load(&path);
        a.insert(entry("/p/liba.so"));
        b.insert(entry("/p/libb.so"));
        a.save().unwrap();
        b.save().unwrap();
        let both = Index::load(&path);
        assert!(both.get(Path::new("/p/liba.so")).is_some());
        assert!(both.get(Path::new("/p/libb.so")).is_some());
        // A removal is an edit too, and wins over the file's copy.
        let mut c = Index::load(&path);
        c.remove(Path::new("/p/liba.so"));
        c.save().unwrap();
        assert!(Index::load(&path).get(Path::new("/p/liba.so")).is_none());
    }

    fn entry(path: &str) -> IndexEntry {
        IndexEntry {
            path: PathBuf::from(path),
            sha256: "ab".repeat(32),
            size: 10,
            manifest: ManifestRecord {
                namespace: "t".into(),
                name: "n".into(),
                version: "0.1.0".into(),
                sdk_abi: "1.0".into(),
                devices: vec!["cpu".into()],
                components: vec![],
            },
        }
    }

    #[test]
    fn round_trips_and_a_damaged_entry_spares_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        let mut index = Index::load(&path);
        assert!(index.warnings.is_empty());
        index.insert(entry("/a.so"));
        index.insert(entry("/b.so"));
        index.save().unwrap();
        let mut document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        document["libraries"][0]["sha256"] = serde_json::json!(42);
        std::fs::write(&path, document.to_string()).unwrap();
        let reloaded = Index::load(&path);
        assert_eq!(reloaded.entries().count(), 1);
        assert!(reloaded.get(Path::new("/b.so")).is_some());
        assert_eq!(reloaded.warnings.len(), 1);
        assert!(
            reloaded.warnings[0].contains("entry 0 is damaged"),
            "{:?}",
            reloaded.warnings
        );
    }

    fn refusal(path: &str) -> RefusalRecord {
        RefusalRecord {
            path: PathBuf::from(path),
            sha256: "cd".repeat(32),
            reason: "built against agon plugin ABI 2.0".into(),
            checked_by: "agon 0.1.0 (plugin ABI 1.0)".into(),
        }
    }

    #[test]
    fn refusals_round_trip_and_a_damaged_one_spares_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        let mut index = Index::load(&path);
        index.insert(entry("/a.so"));
        index.record_refusal(refusal("/r.so"));
        index.record_refusal(refusal("/s.so"));
        index.save().unwrap();
        let reloaded = Index::load(&path);
        assert!(reloaded.warnings.is_empty(), "{:?}", reloaded.warnings);
        assert_eq!(
            reloaded.refusal(Path::new("/r.so")),
            Some(&refusal("/r.so"))
        );
        assert_eq!(reloaded.refusals().count(), 2);
        assert!(reloaded.get(Path::new("/a.so")).is_some());

        let mut document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        document["refused"][0]["reason"] = serde_json::json!(7);
        std::fs::write(&path, document.to_string()).unwrap();
        let reloaded = Index::load(&path);
        assert_eq!(reloaded.refusals().count(), 1);
        assert!(reloaded.refusal(Path::new("/s.so")).is_some());
        assert!(
            reloaded.warnings[0].contains("refused library 0 is damaged"),
            "{:?}",
            reloaded.warnings
        );
        assert_eq!(reloaded.entries().count(), 1, "the libraries are spared");
    }

    #[test]
    fn an_index_written_before_refusals_were_recorded_still_loads() {
        // The layout of every index file before the `refused` list existed.
        let text = r#"{"format": 1, "libraries": [{"path": "/a.so", "sha256": "abab",
            "size": 10, "manifest": {"namespace": "t", "name": "n", "version": "0.1.0",
            "sdk_abi": "1.0", "devices": ["cpu"], "components": []}}]}"#;
        let index = Index::parse(text, Path::new("/index.json"));
        assert!(index.warnings.is_empty(), "{:?}", index.warnings);
        assert_eq!(index.entries().count(), 1);
        assert_eq!(index.refusals().count(), 0);
    }

    #[test]
    fn no_refusals_no_refused_key() {
        // An index without refusals is byte-for-byte what older agons wrote.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        let mut index = Index::load(&path);
        index.insert(entry("/a.so"));
        index.save().unwrap();
        let document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(document.get("refused").is_none(), "{document}");
    }

    #[test]
    fn garbage_file_is_a_warning_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.json");
        std::fs::write(&path, "{not json").unwrap();
        let index = Index::load(&path);
        assert_eq!(index.entries().count(), 0);
        assert!(index.warnings[0].contains("not valid JSON"));
    }
}
