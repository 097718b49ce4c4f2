//! Which functions a stack passes through, told from the executable's ELF symbol
//! table instead of its debug info.
//!
//! Resolving a stack from debug information (`debug_info.rs`) first parses the debug info of the
//! whole binary: about 0.4 s for a debug-built test binary, paid again by every test
//! process under nextest, and paid only to learn that a thread left alive by rayon's
//! global pool is on the ignore list. Matching an ignore glob needs far less: the
//! function each return address lies in, which the symbol table says after reading
//! two sections (a few MB) and demangling only the names that contain the glob's
//! longest word ([`required_word`]).
//!
//! Invariants:
//! - **A match is certain, a miss is not.** The symbol table knows only functions
//!   that were not inlined, and only the executable's own code (not shared libraries
//!   loaded beside it). [`passes_through`] answering `false` means "cannot tell";
//!   callers then resolve with debug info. So is a 32-bit executable: only ELF64 is
//!   read.
//! - **Addresses are where the code runs.** Symbol values are link-time addresses; the
//!   executable's load bias (from `/proc/self/maps`, its first mapping) is added.
//! - **A return address belongs to its call.** `ip - 1` is looked up, because a call
//!   that ends a function returns to the first byte of the next one.
//! - **Read once per glob and build.** Ranges found for a glob are kept for the
//!   process, and on disk beside the executable (`.iris-symbols/`), keyed by the
//!   file's identity, so that the next test process of the same binary (nextest runs
//!   one per test) reads a few lines instead of scanning. The sections read to find
//!   them are not kept.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, OnceLock};

use object::read::elf::{FileHeader, ProgramHeader, SectionHeader, Sym};
use object::{elf, Endianness, ReadCache};
use parking_lot::Mutex;

use crate::text::glob::{glob_matches, required_word};

type Elf = elf::FileHeader64<Endianness>;

/// The running code's address ranges of the functions whose demangled names match a
/// glob, sorted; `None` where the executable has no readable symbol table.
type Ranges = Option<Arc<[Range<usize>]>>;

static FOUND: LazyLock<Mutex<HashMap<String, Ranges>>> = LazyLock::new(Mutex::default);

/// Whether one of `ips` (return addresses, as a backtrace gives them) lies in a
/// function whose name matches one of `globs`. `false` also when it cannot tell.
pub(crate) fn passes_through(ips: &[usize], globs: &[String]) -> bool {
    first_through(ips, globs).is_some()
}

/// The index of the first of `ips` (return addresses) that lies in a function whose
/// name matches one of `globs`; `None` when none does, or when it cannot tell.
pub(crate) fn first_through(ips: &[usize], globs: &[String]) -> Option<usize> {
    let ranges = ranges_for(globs);
    ips.iter().position(|ip| {
        let at = ip.saturating_sub(1);
        ranges.iter().any(|r| contains_point(r, at))
    })
}

/// The ranges of each glob, finding those not seen before (from the cache on disk,
/// or from the executable).
fn ranges_for(globs: &[String]) -> Vec<Arc<[Range<usize>]>> {
    let mut found = FOUND.lock();
    let new: Vec<&String> = globs.iter().filter(|g| !found.contains_key(*g)).collect();
    if !new.is_empty() {
        let exe = Executable::running();
        let mut by_glob: HashMap<&String, Vec<Range<usize>>> = HashMap::new();
        let mut unknown = Vec::new();
        for glob in new.iter().copied() {
            match exe.and_then(|exe| exe.cached(glob)) {
                Some(ranges) => {
                    by_glob.insert(glob, ranges);
                }
                None => unknown.push(glob),
            }
        }
        if let Some(exe) = exe.filter(|_| !unknown.is_empty()) {
            if let Some(mut scanned) = matching_functions(&unknown) {
                for glob in unknown {
                    let ranges = scanned.remove(glob.as_str()).unwrap_or_default();
                    exe.store(glob, &ranges);
                    by_glob.insert(glob, ranges);
                }
            }
        }
        for glob in new {
            let ranges = match (exe, by_glob.remove(glob)) {
                (Some(exe), Some(ranges)) => Some(
                    ranges
                        .into_iter()
                        .map(|r| r.start.wrapping_add(exe.bias)..r.end.wrapping_add(exe.bias))
                        .collect(),
                ),
                _ => None,
            };
            found.insert(glob.clone(), ranges);
        }
    }
    globs
        .iter()
        .filter_map(|g| found.get(g).cloned().flatten())
        .collect()
}

/// The running executable: where it is loaded, and what identifies its file.
struct Executable {
    /// Added to a link-time address to get where the code runs.
    bias: usize,
    /// Its file's device, inode, size and modification time: a rebuilt binary is
    /// another file, so a cache entry made for the old one is never used for it.
    identity: String,
    /// Where its cache entries go: beside it, in a folder of the build's own.
    cache_dir: Option<PathBuf>,
}

impl Executable {
    /// The running executable, looked at once per process; `None` where it cannot be
    /// read (no `/proc`, not ELF64).
    fn running() -> Option<&'static Executable> {
        static RUNNING: OnceLock<Option<Executable>> = OnceLock::new();
        RUNNING
            .get_or_init(|| {
                let file = File::open("/proc/self/exe").ok()?;
                let meta = file.metadata().ok()?;
                let cache = ReadCache::new(file);
                let header = Elf::parse(&cache).ok()?;
                let endian = header.endian().ok()?;
                let linked = first_segment_address(header, endian, &cache)?;
                let path = std::fs::read_link("/proc/self/exe").ok();
                Some(Executable {
                    bias: first_mapping_start()?.wrapping_sub(linked),
                    identity: format!(
                        "{} {} {} {:?}",
                        meta.dev(),
                        meta.ino(),
                        meta.len(),
                        meta.modified().ok()
                    ),
                    cache_dir: path.as_deref().and_then(|path| {
                        let name = path.file_name()?.to_str()?;
                        Some(path.parent()?.join(".iris-symbols").join(name))
                    }),
                })
            })
            .as_ref()
    }

    /// The cache entry of `glob`: one file per executable name and glob, named by a
    /// hash of the glob, so a rebuild overwrites its entry instead of adding one. It
    /// holds the executable's identity and the glob in full: an entry of another
    /// build, or of another glob with the same hash, is a miss, not a mistake.
    fn entry(&self, glob: &str) -> Option<PathBuf> {
        let mut hasher = std::hash::DefaultHasher::new();
        (CACHE_FORMAT, glob).hash(&mut hasher);
        Some(
            self.cache_dir
                .as_ref()?
                .join(format!("{:016x}", hasher.finish())),
        )
    }

    /// The link-time ranges of `glob`'s functions, as an earlier process of this
    /// same executable found them.
    fn cached(&self, glob: &str) -> Option<Vec<Range<usize>>> {
        let text = std::fs::read_to_string(self.entry(glob)?).ok()?;
        let mut lines = text.lines();
        if lines.next()? != CACHE_FORMAT || lines.next()? != self.identity || lines.next()? != glob
        {
            return None;
        }
        lines
            .map(|line| {
                let (start, end) = line.split_once(' ')?;
                Some(usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?)
            })
            .collect()
    }

    /// Keeps `ranges` for later processes; best effort (a read-only build folder
    /// only costs them the scan). Written aside and renamed, so a reader never sees
    /// half an entry.
    fn store(&self, glob: &str, ranges: &[Range<usize>]) {
        let Some(entry) = self.entry(glob) else {
            return;
        };
        let mut text = format!("{CACHE_FORMAT}\n{}\n{glob}\n", self.identity);
        for range in ranges {
            text.push_str(&format!("{:x} {:x}\n", range.start, range.end));
        }
        let aside = entry.with_extension(format!("{}.part", std::process::id()));
        let stored = entry
            .parent()
            .is_some_and(|dir| std::fs::create_dir_all(dir).is_ok())
            && std::fs::write(&aside, text).is_ok()
            && std::fs::rename(&aside, &entry).is_ok();
        if !stored {
            let _ = std::fs::remove_file(&aside);
        }
    }
}

/// The first line of a cache entry; a change of format is a change of name.
const CACHE_FORMAT: &str = "iris symbol ranges 2";

/// What marks a glob as one of `known`'s rules: it never matches the toolchain's
/// functions or Iris's own (`known::rule_applies`).
const RULE_MARK: &str = "rule: ";

/// `glob` as one of `known`'s rules, for [`passes_through`].
pub(crate) fn rule(glob: &str) -> String {
    format!("{RULE_MARK}{glob}")
}

/// Reads the executable's symbol table once and returns, per glob, the sorted
/// link-time address ranges of the functions it matches.
fn matching_functions(globs: &[&String]) -> Option<HashMap<String, Vec<Range<usize>>>> {
    let cache = ReadCache::new(File::open("/proc/self/exe").ok()?);
    let header = Elf::parse(&cache).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, &cache).ok()?;
    let symtab = sections
        .iter()
        .find(|s| s.sh_type(endian) == elf::SHT_SYMTAB)?;
    let strtab = sections
        .section(object::SectionIndex(symtab.sh_link(endian) as usize))
        .ok()?;
    // The two big sections are read whole, by std (optimised even in a debug build,
    // unlike a zero-filled buffer of our own).
    let mut file = File::open("/proc/self/exe").ok()?;
    let symbol_bytes = read_section(&mut file, symtab.file_range(endian)?)?;
    let symbols: &[elf::Sym64<Endianness>] =
        object::pod::slice_from_all_bytes(&symbol_bytes).ok()?;
    let strings = read_section(&mut file, strtab.file_range(endian)?)?;

    // The functions, by where their names start in the string table.
    let mut functions: Vec<(usize, Range<usize>)> = symbols
        .iter()
        .filter(|s| {
            s.st_type() == elf::STT_FUNC && s.st_size(endian) > 0 && !s.is_undefined(endian)
        })
        .map(|s| {
            let start = s.st_value(endian) as usize;
            (
                s.st_name(endian) as usize,
                start..start + s.st_size(endian) as usize,
            )
        })
        .collect();
    functions.sort_unstable_by_key(|(name, _)| *name);
    // Demangling is the cost, and most names lack every glob's word: one search of
    // the string table per glob finds the names that have it, and only those
    // functions are demangled (each once, whatever the number of globs).
    let mut demangled: HashMap<usize, Option<String>> = HashMap::new();
    let mut by_glob: HashMap<String, Vec<Range<usize>>> = HashMap::new();
    for glob in globs {
        let (pattern, rule) = match glob.strip_prefix(RULE_MARK) {
            Some(pattern) => (pattern, true),
            None => (glob.as_str(), false),
        };
        let holders: Vec<Range<usize>> = match required_word(pattern) {
            Some(word) => names_containing(&strings, word.as_bytes()),
            None => std::iter::once(0..strings.len()).collect(),
        };
        for holder in holders {
            let first = functions.partition_point(|(name, _)| *name < holder.start);
            let last = functions.partition_point(|(name, _)| *name < holder.end);
            for (name_offset, code) in &functions[first..last] {
                let name = demangled.entry(*name_offset).or_insert_with(|| {
                    let raw = std::str::from_utf8(name_at(&strings, *name_offset)?).ok()?;
                    Some(match rustc_demangle::try_demangle(raw) {
                        Ok(demangled) => format!("{demangled:#}"),
                        Err(_) => raw.to_string(),
                    })
                });
                if name.as_deref().is_some_and(|name| {
                    glob_matches(pattern, name) && (!rule || super::known::rule_applies(name))
                }) {
                    by_glob
                        .entry((*glob).clone())
                        .or_default()
                        .push(code.clone());
                }
            }
        }
    }
    for ranges in by_glob.values_mut() {
        *ranges = disjoint(std::mem::take(ranges));
    }
    Some(by_glob)
}

/// `ranges` sorted and merged where they overlap or touch, so that a binary search
/// finds any address they cover (aliases and folded functions share addresses).
fn disjoint(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// The bytes of the file at `(offset, size)`.
fn read_section(file: &mut File, (offset, size): (u64, u64)) -> Option<Vec<u8>> {
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut bytes = Vec::new();
    file.take(size).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 == size).then_some(bytes)
}

/// Where a name holding `word` may start, for each occurrence of `word` in the
/// string table: from the start of the NUL-terminated string it is in to the
/// occurrence itself (a symbol may name a suffix of a string). Sorted by start;
/// occurrences in one string share a start, and the later one's range holds the
/// earlier one's.
fn names_containing(strings: &[u8], word: &[u8]) -> Vec<Range<usize>> {
    super::hooks::occurrences(strings, word)
        .into_iter()
        .map(|at| {
            let string_start = memchr::memrchr(0, &strings[..at]).map_or(0, |nul| nul + 1);
            string_start..at + 1
        })
        .collect()
}

/// Whether `point` lies in one of `ranges`, sorted by start: disjoint ones (as
/// [`disjoint`] makes them), or as [`names_containing`] gives them. Either way the
/// last range starting at or before `point` is the widest that can hold it.
fn contains_point(ranges: &[Range<usize>], point: usize) -> bool {
    let after = ranges.partition_point(|r| r.start <= point);
    after > 0 && ranges[after - 1].contains(&point)
}

/// The NUL-terminated name at `offset` in a string table.
fn name_at(strings: &[u8], offset: usize) -> Option<&[u8]> {
    let rest = strings.get(offset..)?;
    let end = memchr::memchr(0, rest)?;
    Some(&rest[..end])
}

/// The link-time address of the executable's segment that starts the file.
fn first_segment_address(
    header: &Elf,
    endian: Endianness,
    cache: &ReadCache<File>,
) -> Option<usize> {
    let segments: &[elf::ProgramHeader64<Endianness>] =
        header.program_headers(endian, cache).ok()?;
    segments
        .iter()
        .find(|p| p.p_type(endian) == elf::PT_LOAD && p.p_offset(endian) == 0)
        .map(|p| p.p_vaddr(endian) as usize)
}

/// Where the executable's first mapping in `/proc/self/maps` starts: where the
/// segment that starts the file was loaded.
fn first_mapping_start() -> Option<usize> {
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let exe = exe.to_str()?;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        // start-end perms offset dev inode path
        let mut fields = line.split_whitespace();
        let range = fields.next()?;
        let offset = fields.nth(1)?;
        let path = fields.nth(2)?;
        if path != exe || u64::from_str_radix(offset, 16).ok()? != 0 {
            return None;
        }
        usize::from_str_radix(range.split('-').next()?, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_function_the_symbol_table_knows() -> Vec<usize> {
        let mut ips = Vec::new();
        super::super::hooks::trace(&mut |ip| {
            ips.push(ip);
            true
        });
        std::hint::black_box(ips)
    }

    #[test]
    fn a_stack_through_a_matching_function_is_found_without_debug_info() {
        let ips = a_function_the_symbol_table_knows();
        assert!(passes_through(
            &ips,
            &["*symbols::tests::a_function_the_symbol_table_knows".to_string()]
        ));
        assert!(passes_through(
            &ips,
            &[
                "no::such::function".into(),
                "*a_function_the_symbol_*".into()
            ]
        ));
    }

    #[test]
    fn overlapping_functions_are_merged_so_every_covered_address_is_found() {
        let merged = disjoint(vec![50..60, 0..100, 10..20, 100..120, 200..210]);
        assert_eq!(merged, [0..120, 200..210]);
    }

    #[test]
    fn a_glob_nothing_matches_says_nothing() {
        let ips = a_function_the_symbol_table_knows();
        assert!(!passes_through(
            &ips,
            &["*no_function_has_this_name".into()]
        ));
        assert!(!passes_through(&[], &["*".into()]));
        assert!(!passes_through(&ips, &[]));
    }

    #[test]
    fn addresses_outside_the_function_do_not_match() {
        let glob = ["*symbols::tests::a_function_the_symbol_table_knows".to_string()];
        let ranges = ranges_for(&glob);
        let range = ranges[0][0].clone();
        // The first byte is not a return address into it; one past its end is.
        assert!(!passes_through(&[range.start], &glob));
        assert!(passes_through(&[range.start + 1], &glob));
        assert!(passes_through(&[range.end], &glob));
        assert!(!passes_through(&[range.end + 1], &glob));
    }

    #[test]
    fn ranges_are_kept_on_disk_for_the_next_process_of_the_same_binary() {
        let exe = Executable::running().expect("a test binary is readable ELF");
        let glob = format!("no::such::glob_{}", std::process::id());
        assert_eq!(exe.cached(&glob), None, "nothing before a store");
        exe.store(&glob, &[0x10..0x20, 0x400..0x480]);
        assert_eq!(exe.cached(&glob), Some(vec![0x10..0x20, 0x400..0x480]));

        // An entry written for another build of the binary is not used.
        let entry = exe.entry(&glob).unwrap();
        let text = std::fs::read_to_string(&entry).unwrap();
        let other_build = text.replacen(&exe.identity, "0 0 0 None", 1);
        std::fs::write(&entry, other_build).unwrap();
        assert_eq!(exe.cached(&glob), None);
        // This build's scan then takes the same file: entries do not pile up.
        exe.store(&glob, &[0x30..0x40, 0x50..0x60]);
        assert_eq!(exe.entry(&glob).unwrap(), entry);
        assert_eq!(exe.cached(&glob), Some(vec![0x30..0x40, 0x50..0x60]));
        std::fs::write(&entry, "garbage").unwrap();
        assert_eq!(exe.cached(&glob), None);
        std::fs::remove_file(entry).unwrap();
    }

    #[test]
    fn a_cached_scan_gives_what_the_scan_gives() {
        let glob = "*symbols::tests::a_function_the_symbol_table_knows".to_string();
        let scanned = matching_functions(&[&glob]).unwrap().remove(&glob).unwrap();
        assert_eq!(scanned.len(), 1, "{scanned:?}");
        let _ = ranges_for(std::slice::from_ref(&glob));
        let exe = Executable::running().unwrap();
        if exe.cache_dir.is_some() {
            assert_eq!(exe.cached(&glob), Some(scanned));
        }
    }
}
