//! Checks on a library file before the dynamic loader sees it.
//!
//! `dlopen` maps the file and trusts its headers: a truncated ELF makes the
//! process die of SIGBUS when the loader touches a page past the end of the
//! file, long before any error can be returned. So every file is read and
//! its ELF headers are checked against its real size first: the file-header
//! magic, class and machine, and that the program-header table, every
//! loadable segment and the section-header table lie inside the file.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::Refusal;

/// The file's bytes, after checking it exists and is readable.
pub fn read(path: &Path) -> Result<Vec<u8>, Refusal> {
    if !path.exists() {
        return Err(Refusal::Missing);
    }
    std::fs::read(path).map_err(|e| Refusal::Unreadable(e.to_string()))
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks that `bytes` can be handed to the dynamic loader safely.
pub fn validate(bytes: &[u8]) -> Result<(), Refusal> {
    if cfg!(target_os = "linux") {
        validate_elf(bytes)
    } else {
        Ok(())
    }
}

fn read_uint(bytes: &[u8], offset: usize, width: usize, little: bool) -> Option<u64> {
    let slice = bytes.get(offset..offset + width)?;
    let mut value = 0u64;
    for i in 0..width {
        let byte = if little {
            slice[width - 1 - i]
        } else {
            slice[i]
        };
        value = (value << 8) | u64::from(byte);
    }
    Some(value)
}

/// ELF checks (see the module docs).
pub fn validate_elf(bytes: &[u8]) -> Result<(), Refusal> {
    let size = bytes.len() as u64;
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(Refusal::NotASharedLibrary(if bytes.is_empty() {
            "the file is empty".into()
        } else {
            "it has no ELF header".into()
        }));
    }
    let truncated = |what: &str| {
        Refusal::Truncated(format!(
            "{what} extends past the end of the file ({size} bytes)"
        ))
    };
    if bytes.len() < 64 {
        return Err(truncated("the ELF header"));
    }
    let is_64 = match bytes[4] {
        1 => false,
        2 => true,
        other => {
            return Err(Refusal::NotASharedLibrary(format!(
                "unknown ELF class {other}"
            )))
        }
    };
    let little = match bytes[5] {
        1 => true,
        2 => false,
        other => {
            return Err(Refusal::NotASharedLibrary(format!(
                "unknown ELF byte order {other}"
            )))
        }
    };
    if is_64 != cfg!(target_pointer_width = "64") {
        return Err(Refusal::NotASharedLibrary(
            "it is built for another pointer width".into(),
        ));
    }
    let u16_at = |o| read_uint(bytes, o, 2, little).ok_or_else(|| truncated("the ELF header"));
    let word = if is_64 { 8 } else { 4 };
    let uword_at = |o| read_uint(bytes, o, word, little).ok_or_else(|| truncated("the ELF header"));
    let elf_type = u16_at(16)?;
    if elf_type != 3 {
        return Err(Refusal::NotASharedLibrary(format!(
            "ELF type {elf_type} is not a shared object (3)"
        )));
    }
    let machine = u16_at(18)?;
    if let Some(expected) = host_machine() {
        if machine != expected {
            return Err(Refusal::NotASharedLibrary(format!(
                "it is built for ELF machine {machine}, this computer is {expected} ({})",
                std::env::consts::ARCH
            )));
        }
    }
    let (ph_off, sh_off, rest) = if is_64 { (32, 40, 52) } else { (28, 32, 40) };
    let phoff = uword_at(ph_off)?;
    let shoff = uword_at(sh_off)?;
    let phentsize = u16_at(rest + 2)?;
    let phnum = u16_at(rest + 4)?;
    let shentsize = u16_at(rest + 6)?;
    let shnum = u16_at(rest + 8)?;
    let table_end = |off: u64, n: u64, each: u64| off.checked_add(n.checked_mul(each)?);
    if table_end(phoff, phnum, phentsize).is_none_or(|end| end > size) {
        return Err(truncated("the program-header table"));
    }
    for i in 0..phnum {
        let header = (phoff + i * phentsize) as usize;
        let p_type =
            read_uint(bytes, header, 4, little).ok_or_else(|| truncated("a program header"))?;
        const PT_LOAD: u64 = 1;
        if p_type != PT_LOAD {
            continue;
        }
        let (offset, filesz) = if is_64 {
            (
                read_uint(bytes, header + 8, 8, little),
                read_uint(bytes, header + 32, 8, little),
            )
        } else {
            (
                read_uint(bytes, header + 4, 4, little),
                read_uint(bytes, header + 16, 4, little),
            )
        };
        let (Some(offset), Some(filesz)) = (offset, filesz) else {
            return Err(truncated("a program header"));
        };
        if offset.checked_add(filesz).is_none_or(|end| end > size) {
            return Err(truncated(&format!("loadable segment {i}")));
        }
    }
    if shnum > 0 && table_end(shoff, shnum, shentsize).is_none_or(|end| end > size) {
        return Err(truncated("the section-header table"));
    }
    Ok(())
}

fn host_machine() -> Option<u64> {
    match std::env::consts::ARCH {
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        "x86" => Some(3),
        "arm" => Some(40),
        "riscv64" => Some(243),
        _ => None,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn own_shared_object() -> Vec<u8> {
        // Any shared object on the machine will do; libc is always there.
        for candidate in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libc.so.6",
            "/usr/lib/libc.so.6",
            "/lib64/libc.so.6",
        ] {
            if let Ok(bytes) = std::fs::read(candidate) {
                return bytes;
            }
        }
        panic!("no libc.so.6 found to test against");
    }

    #[test]
    fn a_real_shared_object_passes() {
        validate_elf(&own_shared_object()).unwrap();
    }

    #[test]
    fn truncation_anywhere_is_caught() {
        let bytes = own_shared_object();
        for cut in [
            10,
            63,
            200,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let err = validate_elf(&bytes[..cut]).unwrap_err();
            assert!(matches!(err, Refusal::Truncated(_)), "cut at {cut}: {err}");
        }
    }

    #[test]
    fn non_elf_files_are_not_shared_libraries() {
        assert!(matches!(
            validate_elf(b"#!/bin/sh\necho hi\n"),
            Err(Refusal::NotASharedLibrary(_))
        ));
        assert!(matches!(
            validate_elf(b""),
            Err(Refusal::NotASharedLibrary(_))
        ));
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

/// The first 12 hex digits of a sha256, enough to tell builds apart in a
/// message.
pub fn short_sha256(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}
