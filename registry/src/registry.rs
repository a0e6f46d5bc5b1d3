//! Scanning the search path, resolving references, loading libraries.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use agon_sdk::{ComponentInfo, ComponentKind, ABI_VERSION};

use crate::{
    error::{Refusal, RegistryError},
    index::{Index, IndexEntry, ManifestRecord, RefusalRecord},
    library_file,
    loader::{self, LoadedLibrary},
    requirement::PluginRequirement,
    search_path::{agon_home, Origin, SearchPath},
};

/// What a scan found for one file.
#[derive(Debug)]
pub enum ScanOutcome {
    /// Loaded and indexed.
    Accepted(Arc<LoadedLibrary>),
    /// Refused, with the reason.
    Refused(Refusal),
}

/// A component picked for a config.
#[derive(Clone, Debug)]
pub struct ResolvedComponent {
    /// The library it lives in.
    pub library: Arc<LoadedLibrary>,
    /// Its manifest entry.
    pub component: ComponentInfo,
    /// Other libraries on the search path with the same plugin at the same
    /// version, which lost the tie to `library` (an earlier directory wins):
    /// a copy the user may have meant to load.
    pub shadowed: Vec<PathBuf>,
}

impl ResolvedComponent {
    /// `namespace/name@version:component`.
    pub fn label(&self) -> String {
        format!(
            "{}@{}:{}",
            self.library.manifest.qualified_name(),
            self.library.manifest.version,
            self.component.name
        )
    }
}

/// Set by `agon --allow-unverified` (or `AGON_ALLOW_UNVERIFIED=1`).
static ALLOW_UNVERIFIED: AtomicBool = AtomicBool::new(false);

/// Lets registries made by [`Registry::from_environment`] from now on load
/// libraries that are not in the index or whose checksum changed (each
/// with a warning on standard error).
pub fn allow_unverified(allow: bool) {
    ALLOW_UNVERIFIED.store(allow, Ordering::SeqCst);
}

/// What a library that verifies needs before `agon train` can load it by
/// name ([`Registry::loading_needs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadingNeeds {
    /// It loads as it is.
    Nothing,
    /// It is on the search path but not indexed: `agon plugins scan`.
    Scan,
    /// It is on no directory of the search path.
    SearchPathAndScan,
}

/// Which libraries a registry loads.
///
/// * In the index with the same sha256: always.
/// * Found in the `agon` executable's own directory or in a directory named
///   explicitly: loaded and indexed (trust on first use), and, if only the
///   executable's owner can write the file, indexed again with a note when
///   it has changed (a rebuilt workspace runs without a scan). Nothing
///   proves such a library was built with agon: the executable's directory
///   is trusted as the executable is, since whoever can write there can
///   replace `agon` itself.
/// * Not in the index, found through `AGON_PLUGIN_PATH` or
///   `$AGON_HOME/plugins`: refused ([`Refusal::NotIndexed`]) until
///   `agon plugins scan` indexes it — never opened, since opening a library
///   runs its code. If a scan by this agon refused this very file (same
///   sha256), the refusal says why ([`Refusal::RefusedByScan`]) instead.
/// * Found elsewhere, in the index with another sha256: refused
///   ([`Refusal::ChecksumMismatch`]).
///
/// With `allow_unverified`, the last two are loaded (not indexed), with a
/// warning.
pub struct Registry {
    search_path: SearchPath,
    index: Index,
    loaded: HashMap<PathBuf, Arc<LoadedLibrary>>,
    allow_unverified: bool,
    /// The sha256 of each library file surveyed, with the length and
    /// modification time it had then: every `resolve` surveys the whole
    /// search path, and hashing each library (tens of MB) again for each
    /// component of each config made a sweep's check of its cells, and
    /// every `agon train`'s start, take seconds. (Loading a library does
    /// not use it: `loader::load` reads and hashes the file again.)
    hashed: HashMap<PathBuf, (FileStamp, String)>,
}

/// What says a file is the one hashed before: its inode (a library
/// replaced by a new file, as builds and copies do, gets another), length
/// and modification time.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            inode,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }
}

impl Registry {
    /// The search path from the environment and the index at
    /// `$AGON_HOME/plugins-index.json`.
    pub fn from_environment() -> Self {
        let mut registry = Self::new(
            SearchPath::from_environment(),
            &agon_home().join("plugins-index.json"),
        );
        registry.allow_unverified = ALLOW_UNVERIFIED.load(Ordering::SeqCst)
            || std::env::var_os("AGON_ALLOW_UNVERIFIED").is_some_and(|v| v == "1");
        registry
    }

    /// A registry over `search_path` with the index file `index_path`.
    pub fn new(search_path: SearchPath, index_path: &Path) -> Self {
        Registry {
            search_path,
            index: Index::load(index_path),
            loaded: HashMap::new(),
            allow_unverified: false,
            hashed: HashMap::new(),
        }
    }

    /// The sha256 of the file at `path`, hashed again only if its inode,
    /// length or modification time changed since this registry last
    /// hashed it.
    fn file_sha256(&mut self, path: &Path) -> Result<String, Refusal> {
        let stamp = FileStamp::of(path);
        if let (Some(stamp), Some((known, sha256))) = (&stamp, self.hashed.get(path)) {
            if stamp == known {
                return Ok(sha256.clone());
            }
        }
        let sha256 = library_file::sha256_hex(&library_file::read(path)?);
        if let Some(stamp) = stamp {
            self.hashed
                .insert(path.to_path_buf(), (stamp, sha256.clone()));
        }
        Ok(sha256)
    }

    /// Loads unverified libraries too (with a warning); see [`Registry`].
    pub fn set_allow_unverified(&mut self, allow: bool) {
        self.allow_unverified = allow;
    }

    /// What loading the library at `path` by name needs beyond its being a
    /// good library: a place on the search path, and there, unless its
    /// directory is trusted on first use (the build output, or one named
    /// explicitly), a place in the index.
    pub fn loading_needs(&self, path: &Path) -> LoadingNeeds {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match self.origin_of(&canonical) {
            None => LoadingNeeds::SearchPathAndScan,
            Some(Origin::BuildOutput | Origin::Explicit) => LoadingNeeds::Nothing,
            Some(Origin::Environment | Origin::User) if self.index.get(&canonical).is_some() => {
                LoadingNeeds::Nothing
            }
            Some(Origin::Environment | Origin::User) => LoadingNeeds::Scan,
        }
    }

    /// Whether the library at `canonical` lies in a directory whose
    /// libraries are trusted on first use: the executable's own, or one
    /// named explicitly.
    fn trusts_on_first_use(&self, canonical: &Path) -> bool {
        matches!(
            self.origin_of(canonical),
            Some(Origin::BuildOutput | Origin::Explicit)
        )
    }

    /// Whether a change to the library at `canonical` is indexed again
    /// when it is loaded rather than refused: it lies in a directory
    /// trusted on first use, and only the owner of the `agon` executable
    /// can write to it (a file others can write is refused as elsewhere).
    fn reindexes_changes(&self, canonical: &Path) -> bool {
        self.trusts_on_first_use(canonical) && writable_only_by_agons_owner(canonical)
    }

    /// The origin of the search directory holding `path`, if any.
    fn origin_of(&self, path: &Path) -> Option<Origin> {
        let parent = path.parent()?;
        self.search_path.dirs.iter().find_map(|dir| {
            let dir_path = std::fs::canonicalize(&dir.path).unwrap_or_else(|_| dir.path.clone());
            (dir_path == parent).then_some(dir.origin)
        })
    }

    /// The search path.
    pub fn search_path(&self) -> &SearchPath {
        &self.search_path
    }

    /// The index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Loads the library at `path` under the trust rules of [`Registry`];
    /// a library trusted on first use is added to the index and the index
    /// saved.
    pub fn load(&mut self, path: &Path) -> Result<Arc<LoadedLibrary>, RegistryError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(library) = self.loaded.get(&canonical) {
            return Ok(library.clone());
        }
        let refused = |refusal| RegistryError::Refused {
            path: canonical.clone(),
            refusal,
        };
        let trusted_directory = self.trusts_on_first_use(&canonical);
        match self.index.get(&canonical).map(|e| e.sha256.clone()) {
            // Rebuilt beside agon (or in a directory named explicitly), and
            // writable by agon's owner alone: trusted as on first use.
            Some(sha256) if self.reindexes_changes(&canonical) => {
                let library = self.open(&canonical, None)?;
                if library.sha256 != sha256 {
                    eprintln!(
                        "note: {} changed since it was indexed (sha256 {} → {}); indexed again, as a library beside agon is",
                        canonical.display(),
                        library_file::short_sha256(&sha256),
                        library_file::short_sha256(&library.sha256)
                    );
                    self.index.insert(entry_of(&library));
                    self.index.save()?;
                }
                Ok(library)
            }
            Some(sha256) => match self.verify(&canonical) {
                Err(RegistryError::Refused {
                    refusal: Refusal::ChecksumMismatch { actual, .. },
                    ..
                }) if self.allow_unverified => {
                    eprintln!(
                        "warning: --allow-unverified: loading {}, whose sha256 {actual} is not the indexed {sha256}",
                        canonical.display()
                    );
                    self.open(&canonical, None)
                }
                other => other,
            },
            None => {
                if trusted_directory {
                    let library = self.verify(&canonical)?;
                    self.index.insert(entry_of(&library));
                    self.index.save()?;
                    Ok(library)
                } else if self.allow_unverified {
                    let library = self.open(&canonical, None)?;
                    eprintln!(
                        "warning: --allow-unverified: loading {} (sha256 {}), which is not in the plugin index",
                        canonical.display(),
                        library.sha256
                    );
                    Ok(library)
                } else if let Some(reason) = self.refused_by_scan(&canonical) {
                    Err(refused(Refusal::RefusedByScan { reason }))
                } else {
                    Err(refused(Refusal::NotIndexed {
                        index: self.index.path().display().to_string(),
                    }))
                }
            }
        }
    }

    /// The reason a scan by this agon gave for refusing the file at
    /// `canonical`, if the file is unchanged since.
    fn refused_by_scan(&mut self, canonical: &Path) -> Option<String> {
        let record = self.index.refusal(canonical)?.clone();
        if record.checked_by != checked_by() {
            return None;
        }
        let sha256 = self.file_sha256(canonical).ok()?;
        (sha256 == record.sha256).then_some(record.reason)
    }

    /// Opens `path` (checking `sha256` when given) and keeps it loaded.
    fn open(
        &mut self,
        canonical: &Path,
        sha256: Option<&str>,
    ) -> Result<Arc<LoadedLibrary>, RegistryError> {
        let library =
            loader::load(canonical, sha256).map_err(|refusal| RegistryError::Refused {
                path: canonical.to_path_buf(),
                refusal,
            })?;
        let library = Arc::new(library);
        self.loaded.insert(canonical.to_path_buf(), library.clone());
        Ok(library)
    }

    /// Checks the library at `path` — against its indexed sha256 if it has
    /// one — and keeps it loaded; never writes the index. This is `agon
    /// plugins verify FILE`: an explicit request to examine a file, so it
    /// opens libraries the index does not know.
    pub fn verify(&mut self, path: &Path) -> Result<Arc<LoadedLibrary>, RegistryError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(library) = self.loaded.get(&canonical) {
            return Ok(library.clone());
        }
        // Such a library is indexed again when it changes.
        let indexed = match self.reindexes_changes(&canonical) {
            true => None,
            false => self.index.get(&canonical).map(|e| e.sha256.clone()),
        };
        self.open(&canonical, indexed.as_deref())
    }

    /// [`Registry::load`] of every library on the search path.
    pub fn load_all(
        &mut self,
    ) -> Vec<(PathBuf, Origin, Result<Arc<LoadedLibrary>, RegistryError>)> {
        self.search_path
            .candidates()
            .into_iter()
            .map(|(path, origin)| {
                let result = self.load(&path);
                (path, origin, result)
            })
            .collect()
    }

    /// Loads every library on the search path, re-indexing each one that
    /// loads (a deliberate re-scan accepts rebuilt libraries), recording why
    /// each other one was refused (so that loading it later says so), and
    /// dropping index entries whose file is gone. One bad library never stops
    /// the scan.
    pub fn scan(&mut self) -> Result<Vec<(PathBuf, Origin, ScanOutcome)>, RegistryError> {
        let mut outcomes = Vec::new();
        for (path, origin) in self.search_path.candidates() {
            let outcome = match self.loaded.get(&path) {
                Some(library) => ScanOutcome::Accepted(library.clone()),
                None => match loader::load(&path, None) {
                    Ok(library) => {
                        let library = Arc::new(library);
                        self.loaded.insert(path.clone(), library.clone());
                        ScanOutcome::Accepted(library)
                    }
                    Err(refusal) => ScanOutcome::Refused(refusal),
                },
            };
            match &outcome {
                ScanOutcome::Accepted(library) => {
                    self.index.insert(entry_of(library));
                    self.index.forget_refusal(&path);
                }
                ScanOutcome::Refused(refusal) => {
                    self.index.remove(&path);
                    match library_file::read(&path) {
                        Ok(bytes) => self.index.record_refusal(RefusalRecord {
                            path: path.clone(),
                            sha256: library_file::sha256_hex(&bytes),
                            reason: refusal.to_string(),
                            checked_by: checked_by(),
                        }),
                        Err(_) => {
                            self.index.forget_refusal(&path);
                        }
                    }
                }
            }
            outcomes.push((path, origin, outcome));
        }
        let stale: Vec<PathBuf> = self
            .index
            .entries()
            .filter(|e| !e.path.exists())
            .map(|e| e.path.clone())
            .collect();
        for path in stale {
            self.index.remove(&path);
        }
        let stale: Vec<PathBuf> = self
            .index
            .refusals()
            .filter(|r| !r.path.exists())
            .map(|r| r.path.clone())
            .collect();
        for path in stale {
            self.index.forget_refusal(&path);
        }
        self.index.save()?;
        Ok(outcomes)
    }

    /// What every library on the search path is, without loading any that
    /// the index already describes with a matching checksum.
    fn survey(&mut self) -> Vec<(PathBuf, Result<ManifestRecord, Refusal>)> {
        let mut survey = Vec::new();
        for (path, _) in self.search_path.candidates() {
            let result = match (self.loaded.get(&path), self.index.get(&path)) {
                (Some(library), _) => Ok(ManifestRecord::of(&library.manifest)),
                (None, Some(entry)) => {
                    let entry = entry.clone();
                    match self.file_sha256(&path) {
                        Ok(sha) if sha == entry.sha256 => Ok(entry.manifest.clone()),
                        Ok(_) if self.allow_unverified || self.reindexes_changes(&path) => self
                            .load(&path)
                            .map(|l| ManifestRecord::of(&l.manifest))
                            .map_err(|e| match e {
                                RegistryError::Refused { refusal, .. } => refusal,
                                other => Refusal::LoadFailed(other.to_string()),
                            }),
                        Ok(sha) => Err(Refusal::ChecksumMismatch {
                            indexed: entry.sha256.clone(),
                            actual: sha,
                        }),
                        Err(refusal) => Err(refusal),
                    }
                }
                (None, None) => self
                    .load(&path)
                    .map(|l| ManifestRecord::of(&l.manifest))
                    .map_err(|e| match e {
                        RegistryError::Refused { refusal, .. } => refusal,
                        other => Refusal::LoadFailed(other.to_string()),
                    }),
            };
            survey.push((path, result));
        }
        survey
    }

    /// The `namespace/name` of every library on the search path that
    /// loads (or that the index describes) and has a component of `kind`,
    /// each once: for "did you mean" where a reference lacks its namespace.
    pub fn qualified_names(&mut self, kind: Option<ComponentKind>) -> Vec<String> {
        let mut names: Vec<String> = self
            .survey()
            .into_iter()
            .filter_map(|(_, record)| record.ok())
            .filter(|record| record.provides(kind))
            .map(|record| record.qualified_name())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Finds the library for `requirement` (highest matching version; the
    /// earlier search directory on ties), loads it and picks the component
    /// of `kind` named `component` (or its only one).
    pub fn resolve(
        &mut self,
        requirement: &PluginRequirement,
        kind: ComponentKind,
        component: Option<&str>,
    ) -> Result<ResolvedComponent, RegistryError> {
        let (library, shadowed) = self.find_library_of(requirement, Some(kind))?;
        let component = pick_component(&library, kind, component)?;
        Ok(ResolvedComponent {
            library,
            component,
            shadowed,
        })
    }

    /// Finds and loads the library for `requirement` (highest matching
    /// version; the earlier search directory on ties). Without one, the
    /// error lists the libraries available and each refused one with its
    /// reason (not indexed, checksum, ABI…): `agon train` and `agon plugins
    /// show` report the same.
    pub fn find_library(
        &mut self,
        requirement: &PluginRequirement,
    ) -> Result<Arc<LoadedLibrary>, RegistryError> {
        self.find_library_of(requirement, None)
            .map(|(library, _)| library)
    }

    /// `find_library`, for a component of `kind` when one is given: then a
    /// miss lists, and suggests from, only the libraries with a component
    /// of that kind, since a reward's config cannot use a generator. With
    /// the library, the others that offered the same version and lost the
    /// tie.
    fn find_library_of(
        &mut self,
        requirement: &PluginRequirement,
        kind: Option<ComponentKind>,
    ) -> Result<(Arc<LoadedLibrary>, Vec<PathBuf>), RegistryError> {
        let survey = self.survey();
        let mut best: Option<(semver::Version, PathBuf)> = None;
        let mut ties = Vec::new();
        let mut refused_match = None;
        for (path, result) in &survey {
            match result {
                Ok(record)
                    if requirement.matches(&record.namespace, &record.name, &record.version) =>
                {
                    let version =
                        semver::Version::parse(&record.version).expect("matches() parsed it");
                    match &best {
                        Some((v, _)) if version == *v => ties.push(path.clone()),
                        Some((v, _)) if version < *v => {}
                        _ => {
                            best = Some((version, path.clone()));
                            ties.clear();
                        }
                    }
                }
                Err(refusal @ Refusal::ChecksumMismatch { .. })
                    if self.index.get(path).is_some_and(|e| {
                        requirement.qualified_name() == e.manifest.qualified_name()
                    }) =>
                {
                    refused_match.get_or_insert((path.clone(), refusal.clone()));
                }
                _ => {}
            }
        }
        let Some((_, path)) = best else {
            if let Some((path, refusal)) = refused_match {
                return Err(RegistryError::Refused { path, refusal });
            }
            // Indexed elsewhere: the directory a scan once had on its path.
            // The newest that would serve, by the index's record of it.
            let elsewhere = self
                .index
                .entries()
                .filter(|entry| {
                    requirement.matches(
                        &entry.manifest.namespace,
                        &entry.manifest.name,
                        &entry.manifest.version,
                    ) && entry.manifest.provides(kind)
                        && entry.path.is_file()
                        && !survey.iter().any(|(path, _)| *path == entry.path)
                })
                .max_by_key(|entry| semver::Version::parse(&entry.manifest.version).ok())
                .map(|entry| entry.path.clone());
            let mut error = not_found(requirement, kind, &survey, &self.search_path);
            if let (RegistryError::NotFound { found, .. }, Some(path)) = (&mut error, elsewhere) {
                let dir = path.parent().unwrap_or(Path::new("."));
                found.insert_str(0, &format!(
                    "; the plugin index knows {} at {}, whose directory is not searched now: add it with `export AGON_PLUGIN_PATH={}:$AGON_PLUGIN_PATH` (or install the library into {})",
                    requirement.qualified_name(),
                    path.display(),
                    dir.display(),
                    agon_home().join("plugins").display()
                ));
            }
            return Err(error);
        };
        let library = self.load(&path)?;
        // A byte-identical copy loads the same code: nothing to warn of.
        ties.retain(|tie| {
            self.file_sha256(tie)
                .map_or(true, |sha| sha != library.sha256)
        });
        Ok((library, ties))
    }
}

/// Which agon a refusal was recorded by: another version, or one of another
/// plugin ABI, may accept the same file.
fn checked_by() -> String {
    format!(
        "agon {} (plugin ABI {ABI_VERSION})",
        env!("CARGO_PKG_VERSION")
    )
}

/// Whether the file at `path` belongs to the owner of the running `agon`
/// and neither its group nor others may write it.
#[cfg(unix)]
fn writable_only_by_agons_owner(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let owner = |path: &Path| std::fs::metadata(path).ok().map(|m| (m.uid(), m.mode()));
    let executable = std::env::current_exe().ok();
    match (owner(path), executable.as_deref().and_then(owner)) {
        (Some((file_uid, mode)), Some((agon_uid, _))) => file_uid == agon_uid && mode & 0o022 == 0,
        _ => false,
    }
}

/// Elsewhere a changed library is always refused.
#[cfg(not(unix))]
fn writable_only_by_agons_owner(_path: &Path) -> bool {
    false
}

fn entry_of(library: &LoadedLibrary) -> IndexEntry {
    IndexEntry {
        path: library.path.clone(),
        sha256: library.sha256.clone(),
        size: library.size,
        manifest: ManifestRecord::of(&library.manifest),
    }
}

fn not_found(
    requirement: &PluginRequirement,
    kind: Option<ComponentKind>,
    survey: &[(PathBuf, Result<ManifestRecord, Refusal>)],
    search_path: &SearchPath,
) -> RegistryError {
    let loadable = || survey.iter().filter_map(|(_, r)| r.as_ref().ok());
    let provides_kind = |m: &&ManifestRecord| m.provides(kind);
    // Each once: the same build may sit in two searched directories.
    let mut found: Vec<String> = Vec::new();
    for m in loadable().filter(provides_kind) {
        let id = format!("{}@{}", m.qualified_name(), m.version);
        if !found.contains(&id) {
            found.push(id);
        }
    }
    let names: Vec<String> = loadable()
        .filter(provides_kind)
        .map(|m| m.qualified_name())
        .collect();
    let wanted = requirement.qualified_name();
    // The library is there, at versions the requirement excludes: say so,
    // and which requirement would take the newest of them.
    let mut versions: Vec<semver::Version> = survey
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .filter(|m| m.qualified_name() == wanted)
        .filter_map(|m| semver::Version::parse(&m.version).ok())
        .collect();
    versions.sort();
    versions.dedup();
    let hint = match versions.last() {
        Some(newest) => {
            // A pre-release matches only requirements that name it.
            let caret = if !newest.pre.is_empty() {
                format!("={newest}")
            } else if newest.major > 0 {
                format!("^{}", newest.major)
            } else {
                format!("^0.{}", newest.minor)
            };
            format!(
                "; `{wanted}` is installed at {}, which `{}` does not allow: ask for `{wanted}@{caret}`, or install a version it allows.",
                versions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                requirement.version
            )
        }
        // A library of the same name in another namespace is the likeliest
        // meaning (`agon/cnn-discriminator` for `seqgan-lab/…`), however far
        // apart the two namespaces are spelled.
        None => names
            .iter()
            .find(|name| name.split_once('/').map(|(_, n)| n) == Some(requirement.name.as_str()))
            .map(String::as_str)
            .or_else(|| agon_sdk::suggest::closest(&wanted, names.iter().map(String::as_str)))
            .map(|name| format!("; did you mean `{name}`?"))
            .unwrap_or_default(),
    };
    // Libraries refused for the same reason share it: "A, B (not in the
    // plugin index …)", in the order found.
    let mut reasons: Vec<(String, Vec<String>)> = Vec::new();
    for (path, refusal) in survey
        .iter()
        .filter_map(|(p, r)| Some((p, r.as_ref().err()?)))
    {
        let reason = refusal.to_string();
        let path = path.display().to_string();
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, paths)) => paths.push(path),
            None => reasons.push((reason, vec![path])),
        }
    }
    let refused: Vec<String> = reasons
        .into_iter()
        .map(|(reason, paths)| format!("{} ({reason})", paths.join(", ")))
        .collect();
    // A directory that is not there is the likeliest reason for a miss
    // (an AGON_PLUGIN_PATH written for another CARGO_TARGET_DIR).
    let mut dirs: Vec<String> = search_path
        .dirs
        .iter()
        .map(|d| match (d.origin, d.path.exists(), d.path.is_dir()) {
            (Origin::Environment, false, _) => format!("{} (does not exist)", d.path.display()),
            (Origin::Environment, true, false) => {
                format!("{} (not a directory)", d.path.display())
            }
            _ => d.path.display().to_string(),
        })
        .collect();
    // AGON_PLUGIN_PATH may name agon's own directory again.
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
    RegistryError::NotFound {
        requirement: requirement.to_string(),
        found: if loadable().next().is_none() {
            format!(
                "; no plugin libraries were found in {} (build them with `cargo build`, or add their directory to AGON_PLUGIN_PATH)",
                dirs.join(", ")
            )
        } else if found.is_empty() {
            let kind = kind.map_or("component", ComponentKind::as_str);
            let none = format!(
                "no library in {} has a {kind} (build or install one, or add its directory to AGON_PLUGIN_PATH)",
                dirs.join(", ")
            );
            after_hint(&hint, none)
        } else {
            let available = match kind {
                Some(kind) => format!("available with a {kind}: {}", found.join(", ")),
                None => format!("available: {}", found.join(", ")),
            };
            let available = format!("{available} (searched: {})", dirs.join(", "));
            after_hint(&hint, available)
        },
        refused: if refused.is_empty() {
            String::new()
        } else {
            format!("; refused: {}", refused.join("; "))
        },
    }
}

/// `clause` as the message's next clause: after "; ", or as a new sentence
/// after a hint (which ends with one).
fn after_hint(hint: &str, clause: String) -> String {
    if hint.is_empty() {
        return format!("; {clause}");
    }
    let mut sentence = clause;
    sentence[..1].make_ascii_uppercase();
    format!("{hint} {sentence}")
}

fn pick_component(
    library: &LoadedLibrary,
    kind: ComponentKind,
    name: Option<&str>,
) -> Result<ComponentInfo, RegistryError> {
    let label = format!(
        "{}@{}",
        library.manifest.qualified_name(),
        library.manifest.version
    );
    let of_kind: Vec<&ComponentInfo> = library
        .manifest
        .components
        .iter()
        .filter(|c| c.kind == kind)
        .collect();
    let names = |list: &[&ComponentInfo]| {
        if list.is_empty() {
            "none".to_string()
        } else {
            list.iter()
                .map(|c| c.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match name {
        Some(name) => {
            if let Some(found) = of_kind.iter().find(|c| c.name.as_str() == name) {
                return Ok((*found).clone());
            }
            if let Some(other) = library
                .manifest
                .components
                .iter()
                .find(|c| c.name.as_str() == name)
            {
                return Err(RegistryError::WrongKind {
                    library: label,
                    name: name.to_string(),
                    actual: other.kind.to_string(),
                    expected: kind.to_string(),
                });
            }
            let hint = agon_sdk::suggest::closest(name, of_kind.iter().map(|c| c.name.as_str()))
                .map(|close| format!(" (did you mean `{close}`?)"))
                .unwrap_or_default();
            Err(RegistryError::UnknownComponent {
                library: label,
                kind: kind.to_string(),
                name: name.to_string(),
                available: format!("{}{hint}", names(&of_kind)),
            })
        }
        None => match of_kind.as_slice() {
            [only] => Ok((*only).clone()),
            [] => {
                let others: Vec<String> = library
                    .manifest
                    .components
                    .iter()
                    .map(|c| format!("{} `{}`", c.kind, c.name))
                    .collect();
                Err(RegistryError::NoComponentOfKind {
                    library: label,
                    kind: kind.to_string(),
                    hint: if others.is_empty() {
                        String::new()
                    } else {
                        format!(" (it provides {})", others.join(", "))
                    },
                })
            }
            several => Err(RegistryError::AmbiguousComponent {
                library: label,
                kind: kind.to_string(),
                available: names(several),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{ComponentRecord, IndexEntry};

    #[test]
    fn a_surveyed_file_is_hashed_again_once_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::new(
            SearchPath::explicit(Vec::new()),
            &dir.path().join("index.json"),
        );
        let library = dir.path().join("libx.so");
        std::fs::write(&library, b"first").unwrap();
        let first = registry.file_sha256(&library).unwrap();
        assert_eq!(first, library_file::sha256_hex(b"first"));
        assert_eq!(registry.file_sha256(&library).unwrap(), first);
        // Replaced as a build or a copy does: a new file of the same length.
        let new = dir.path().join("libx.so.new");
        std::fs::write(&new, b"other").unwrap();
        std::fs::rename(&new, &library).unwrap();
        assert_eq!(
            registry.file_sha256(&library).unwrap(),
            library_file::sha256_hex(b"other")
        );
        std::fs::remove_file(&library).unwrap();
        assert_eq!(registry.file_sha256(&library), Err(Refusal::Missing));
    }

    /// The record of `lab/NAME` 0.1.0, a library with one discriminator.
    fn discriminator_library(name: &str) -> ManifestRecord {
        ManifestRecord {
            namespace: "lab".into(),
            name: name.into(),
            version: "0.1.0".into(),
            sdk_abi: "1.0".into(),
            devices: vec!["cpu".into()],
            components: vec![ComponentRecord {
                kind: "discriminator".into(),
                name: "d".into(),
                description: String::new(),
            }],
        }
    }

    /// A missing plugin's message lists each available build once, and
    /// libraries refused for one reason under that reason once.
    #[test]
    fn a_missing_plugins_message_names_each_build_and_reason_once() {
        let record = discriminator_library;
        let survey = vec![
            (PathBuf::from("/a/libcnn.so"), Ok(record("cnn"))),
            (PathBuf::from("/b/libcnn.so"), Ok(record("cnn"))),
            (PathBuf::from("/a/libbad.so"), Err(Refusal::NotAPlugin)),
            (PathBuf::from("/b/libbad.so"), Err(Refusal::NotAPlugin)),
            (PathBuf::from("/b/libgone.so"), Err(Refusal::Missing)),
        ];
        let requirement = PluginRequirement::parse("lab/cnm@^0.1").unwrap();
        let message = not_found(
            &requirement,
            Some(ComponentKind::Discriminator),
            &survey,
            &SearchPath::explicit(["/a", "/b", "/a"].map(PathBuf::from)),
        )
        .to_string();
        assert!(message.contains("did you mean `lab/cnn`?"), "{message}");
        assert_eq!(message.matches("lab/cnn@0.1.0").count(), 1, "{message}");
        assert!(message.contains("(searched: /a, /b)"), "{message}");
        assert!(
            message.contains(&format!(
                "refused: /a/libbad.so, /b/libbad.so ({}); /b/libgone.so ({})",
                Refusal::NotAPlugin,
                Refusal::Missing
            )),
            "{message}"
        );
    }

    /// A library the index knows in a directory no longer searched is
    /// named with the directory to add.
    #[test]
    fn a_library_indexed_off_the_search_path_is_named_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let (searched, elsewhere) = (dir.path().join("searched"), dir.path().join("elsewhere"));
        std::fs::create_dir_all(&searched).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        let library = elsewhere.join(format!("liblab_cnn{}", crate::search_path::LIBRARY_SUFFIX));
        std::fs::write(&library, b"not loaded").unwrap();
        let entry = IndexEntry {
            path: library.clone(),
            sha256: library_file::sha256_hex(b"not loaded"),
            size: 10,
            manifest: discriminator_library("cnn"),
        };
        let index = dir.path().join("index.json");
        std::fs::write(
            &index,
            serde_json::json!({"format": 1, "libraries": [entry]}).to_string(),
        )
        .unwrap();
        let mut registry = Registry::new(SearchPath::explicit([searched]), &index);
        let requirement = PluginRequirement::parse("lab/cnn@^0.1").unwrap();
        let message = match registry.resolve(&requirement, ComponentKind::Discriminator, None) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("resolved a library off the search path"),
        };
        assert!(
            message.contains(&format!(
                "the plugin index knows lab/cnn at {}, whose directory is not searched now: add it with `export AGON_PLUGIN_PATH={}:$AGON_PLUGIN_PATH`",
                library.display(),
                elsewhere.display()
            )),
            "{message}"
        );
        // Not for a kind it has no component of.
        let message = match registry.resolve(&requirement, ComponentKind::Generator, None) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("resolved a library off the search path"),
        };
        assert!(!message.contains("the plugin index knows"), "{message}");
    }
}
