//! Where a code address is in the source: the function (and the functions inlined
//! into it), the file and the line, read from the DWARF debug information of the
//! file that holds the code (the executable, or a shared library such as the C
//! library), with the file's ELF symbol table where there is no debug information.
//!
//! Read with `addr2line` and `gimli` over `object`'s ELF reader, the crates the
//! `backtrace` crate uses underneath, without the rest of it: `backtrace` built
//! `object` with every object format (Mach-O, PE, XCOFF, archives) and a
//! decompressor, which every test build of a user's crate compiled and linked
//! (docs/benchmarks.md, "The everyday loop").
//!
//! Invariants:
//! - Read only when a report needs a place: never on the path of a passing test.
//! - A file is read once per process and kept: its bytes, its symbol table and
//!   its parsed debug information serve every later report.
//! - A return address is looked up one byte back (`ip - 1`): a call that ends a
//!   function returns to the first byte of the next.
//! - Nothing here panics on what a file holds: a file that cannot be read, or debug
//!   information that is compressed, split into other files or malformed, is
//!   "cannot tell", and the symbol table (or, failing it, the address) stands in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use object::{Object, ObjectSection, ObjectSegment};
use parking_lot::Mutex;

use addr2line::gimli;

type Reader = gimli::EndianSlice<'static, gimli::RunTimeEndian>;

/// One frame of what an address was doing: a function, and where in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Place {
    /// The function, demangled without its hash (`None` when nothing names it).
    pub(crate) function: Option<String>,
    /// The source file, as the debug information gives it (absolute for a crate
    /// built here).
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

/// The places of return address `ip`, innermost first (a call inlined into another
/// gives one place for each); empty when nothing is known of it.
pub(crate) fn places(ip: usize) -> Vec<Place> {
    let Some(probe) = ip.checked_sub(1) else {
        return Vec::new();
    };
    let Some((path, start)) = mapping_of(probe) else {
        return Vec::new();
    };
    let Some(file) = loaded(&path, start) else {
        return Vec::new();
    };
    let file = file.lock();
    let address = probe.wrapping_sub(file.bias) as u64;
    let mut found = Vec::new();
    if let Some(context) = &file.context {
        if let Ok(mut frames) = context.find_frames(address).skip_all_loads() {
            while let Ok(Some(frame)) = frames.next() {
                let function = frame
                    .function
                    .as_ref()
                    .and_then(|f| f.raw_name().ok())
                    .map(|raw| demangle(&raw));
                let (file_name, line) = frame
                    .location
                    .map_or((None, None), |l| (l.file.map(str::to_string), l.line));
                found.push(Place {
                    function,
                    file: file_name,
                    line,
                });
            }
        }
    }
    // The symbol table names what the debug information left unnamed, or the whole
    // place where there is none.
    let symbol = file.symbols.before(address).map(|s| demangle(s.name()));
    match found.last_mut() {
        Some(outermost) if outermost.function.is_none() => outermost.function = symbol,
        Some(_) => {}
        None => found.extend(symbol.map(|function| Place {
            function: Some(function),
            ..Place::default()
        })),
    }
    found
}

/// A symbol's name demangled as Rust (without the hash), or as it is.
fn demangle(raw: &str) -> String {
    match rustc_demangle::try_demangle(raw) {
        Ok(name) => format!("{name:#}"),
        Err(_) => raw.to_string(),
    }
}

/// A file of the process's code, read.
struct LoadedFile {
    /// Added to an address in the file to get where it runs.
    bias: usize,
    /// Its debug information, when it has some this reader understands.
    context: Option<addr2line::Context<Reader>>,
    /// Its symbol table (or, for a shared library, its dynamic one).
    symbols: object::read::SymbolMap<object::read::SymbolMapName<'static>>,
}

type Cache = Mutex<HashMap<PathBuf, Option<Arc<Mutex<LoadedFile>>>>>;

/// Every file read so far (`None`: it could not be).
static FILES: LazyLock<Cache> = LazyLock::new(Cache::default);

/// The file at `path`, mapped at `start` (its first mapping's address), read once.
fn loaded(path: &Path, start: usize) -> Option<Arc<Mutex<LoadedFile>>> {
    let mut files = FILES.lock();
    if let Some(known) = files.get(path) {
        return known.clone();
    }
    let file = read(path, start).map(|f| Arc::new(Mutex::new(f)));
    files.insert(path.to_path_buf(), file.clone());
    file
}

fn read(path: &Path, start: usize) -> Option<LoadedFile> {
    // Kept for the process: every report after the first reads the same bytes.
    let bytes: &'static [u8] = Box::leak(std::fs::read(path).ok()?.into_boxed_slice());
    let elf = object::File::parse(bytes).ok()?;
    // Where the file's first loadable segment is linked (0 for an executable built
    // as position-independent, the usual case, and for a shared library).
    let linked = elf
        .segments()
        .map(|s| s.address() as usize)
        .min()
        .unwrap_or(0)
        & !0xfff;
    let endian = if elf.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let section = |id: gimli::SectionId| -> Result<Reader, ()> {
        let data = elf
            .section_by_name(id.name())
            .filter(|s| {
                // Compressed sections would need a decompressor: cannot tell.
                s.compressed_file_range()
                    .is_ok_and(|r| r.format == object::CompressionFormat::None)
            })
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(gimli::EndianSlice::new(data, endian))
    };
    let context = gimli::Dwarf::load(section)
        .ok()
        .and_then(|dwarf| addr2line::Context::from_dwarf(dwarf).ok());
    Some(LoadedFile {
        bias: start.wrapping_sub(linked),
        context,
        symbols: elf.symbol_map(),
    })
}

/// The file mapped at `address`, and where that file's first mapping starts.
fn mapping_of(address: usize) -> Option<(PathBuf, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let mappings: Vec<(usize, usize, u64, &str)> = maps
        .lines()
        .filter_map(|line| {
            // start-end perms offset dev inode path
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let offset = fields.nth(1)?;
            let path = fields.nth(2)?;
            path.starts_with('/').then_some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
                u64::from_str_radix(offset, 16).ok()?,
                path,
            ))
        })
        .collect();
    let (_, _, _, path) = mappings
        .iter()
        .find(|(start, end, _, _)| (*start..*end).contains(&address))?;
    let first = mappings
        .iter()
        .filter(|(_, _, offset, p)| p == path && *offset == 0)
        .map(|(start, _, _, _)| *start)
        .min()?;
    Some((PathBuf::from(path), first))
}

/// Runs `f` while holding the lock a report holds when it reads a file.
#[cfg(test)]
pub(crate) fn while_reading<R>(f: impl FnOnce() -> R) -> R {
    let _reading = FILES.lock();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The innermost return addresses of the calling thread (the unwinder's own
    /// frame, this function's, then its caller's).
    #[inline(never)]
    fn here() -> Vec<usize> {
        let mut ips = Vec::new();
        super::super::hooks::trace(&mut |ip| {
            ips.push(ip);
            ips.len() < 8
        });
        std::hint::black_box(ips)
    }

    #[test]
    fn a_return_address_is_placed_in_its_function_file_and_line() {
        let ips = here();
        let line = line!() - 1;
        let places: Vec<Place> = ips.iter().flat_map(|ip| places(*ip)).collect();
        let test = places
            .iter()
            .find(|p| {
                p.function.as_deref().is_some_and(|f| {
                    f.ends_with("a_return_address_is_placed_in_its_function_file_and_line")
                })
            })
            .unwrap_or_else(|| panic!("the test's own frame in {places:?}"));
        if cfg!(debug_assertions) {
            assert!(
                test.file
                    .as_deref()
                    .is_some_and(|f| f.ends_with("debug_info.rs")),
                "{test:?}"
            );
            assert_eq!(test.line, Some(line), "{test:?}");
        }
    }

    #[test]
    fn a_c_library_function_is_named_from_its_symbol_table() {
        // `getpid` lives in the C library, which has no debug information here.
        let address = libc::getpid as *const () as usize + 1;
        let places = places(address);
        assert!(
            places
                .iter()
                .any(|p| p.function.as_deref().is_some_and(|f| f.contains("getpid"))),
            "{places:?}"
        );
    }

    #[test]
    fn an_address_outside_every_file_is_unknown() {
        assert!(places(0).is_empty());
        assert!(places(1).is_empty());
        assert!(places(usize::MAX).is_empty());
    }
}
